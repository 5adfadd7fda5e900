"""A notebook executed headless with nbclient keeps each picture of the live view once.

A 1,900-node run: the cell returns without waiting for Graphviz (the run takes
milliseconds, the layout seconds), the final picture replaces the live view in
the output when the layout is ready, and the saved file holds that picture once:
in the output's ``text/html`` only, not also as ``image/svg+xml`` nor in the
widget state (whose ``svg`` trait is emptied once the output is static).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

NODES = 1900

BUILD = f"""\
import time
import dagron_nb as dagron
from dagron_nb.notebook import LiveDAG

builder = dagron.DAG.builder()
for i in range({NODES}):
    builder.add_node(f"n{{i}}")
for i in range(1, {NODES}):
    builder.add_edge(f"n{{(i - 1) // 3}}", f"n{{i}}")
dag = builder.build()
tasks = {{name: int for name in dag.nodes()}}
"""
RUN = """\
started = time.perf_counter()
live = LiveDAG(dag, title="big run")
live.show()
result = dagron.DAGExecutor(dag, callbacks=live).execute(tasks)
cell_seconds = time.perf_counter() - started
layout_done_at_return = live.wait_for_layout(0)
"""
# the next cell waits for the layout, so the final picture lands while nbclient listens
WAIT = """\
assert live.wait_for_layout(300)
print(f"cell {cell_seconds:.3f} s; layout ready at return: {layout_done_at_return}")
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_1900_node_notebook_stores_its_picture_once(dot: None, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (BUILD, RUN, WAIT)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    began = time.perf_counter()
    client.execute()
    print(f"nbclient: {time.perf_counter() - began:.1f} s")
    path = tmp_path / "big.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    saved = json.loads(text)

    run_cell, wait_cell = saved["cells"][1], saved["cells"][2]
    printed = "".join("".join(o.get("text", "")) for o in wait_cell["outputs"])
    print(printed, f"saved notebook: {len(text) / 1e6:.2f} MB")
    (picture,) = [o for o in run_cell["outputs"] if o["output_type"] == "display_data"]
    data: dict[str, Any] = picture["data"]
    assert "application/vnd.jupyter.widget-view+json" not in data  # static, final
    assert "image/svg+xml" not in data
    html = "".join(data["text/html"])
    assert html.count("<svg") == 1
    nodes = re.findall(r'<g [^>]*data-status="completed"', html)
    assert len(nodes) == NODES  # the drawn graph
    assert text.count("<svg") == 1  # nowhere else in the file: not in the widget state
    widgets = saved["metadata"].get("widgets", {})
    for model in (
        widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {}).values()
    ):
        assert model["state"].get("svg", "") == ""
