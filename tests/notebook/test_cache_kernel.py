"""The disk cache survives a kernel restart: two kernels, one after the other, one directory.

nbclient runs each notebook in a fresh kernel (as after "Restart Kernel"); the second
finds every result of the first on disk and runs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the kernel tests need the dev extra")
nbclient = pytest.importorskip("nbclient", reason="the kernel tests need the dev extra")

pytestmark = pytest.mark.slow

CELL = """\
%%dagron --no-live
import pandas as pd

def frame():
    return pd.DataFrame({"x": range(1000)})

def total(frame):
    return int(frame["x"].sum())
"""


def run_kernel(cache_dir: Path, tmp_path: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "%load_ext dagron_nb",
            f"%dagron cache dir {cache_dir}",
            CELL,
            "print({n: s.value for n, s in zip(_dagron_result.names, _dagron_result.statuses)})",
        )
    ]
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return "".join(_text(cell) for cell in notebook.cells)


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_results_on_disk_survive_a_kernel_restart(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = run_kernel(cache_dir, tmp_path)
    assert "{'frame': 'completed', 'total': 'completed'}" in first
    second = run_kernel(cache_dir, tmp_path)
    assert "{'frame': 'cache-hit', 'total': 'cache-hit'}" in second
    assert "2 from cache, 0 ran" in second
