"""The teaching notebooks in ``notebooks/`` run from top to bottom and show their pictures.

``test_notebooks_pass_nbval`` runs nbval (``pytest --nbval-lax``) on every notebook,
in a pytest of its own, because nbval is a plugin that collects ``.ipynb`` files as
test items: each code cell is one item, every cell must run without an error except
the ones marked ``# NBVAL_RAISES_EXCEPTION``, and the cells marked
``# NBVAL_CHECK_OUTPUT`` (only outputs free of timings, worker names and widget ids)
must print what the committed notebook shows. ``test_getting_started_...`` executes
notebook 01 with nbclient, as ``jupyter nbconvert --execute`` would, and checks what
a saved copy shows: the finished run as a static SVG, not a widget that needs a live
kernel. The last test reads the committed files, which GitHub renders as they are.
To refresh the committed outputs after editing a notebook:
``jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the dev extra")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the dev extra")
pytest.importorskip("nbval", reason="the notebook tests need the dev extra")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GETTING_STARTED = ROOT / "notebooks" / "01_getting_started.ipynb"
RAISES = "# NBVAL_RAISES_EXCEPTION"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def node_statuses(svg: str) -> dict[str, str]:
    """``{node name: data-status}`` of the node groups of a dagron_nb SVG."""
    root = ET.fromstring(svg)
    return {
        g.attrib["data-node"]: g.attrib["data-status"]
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "data-node" in g.attrib
    }


def final_pictures(notebook: Any) -> list[dict[str, str]]:
    """The statuses drawn by each ``live.show()`` cell's output, in cell order."""
    pictures = []
    for cell in code_cells(notebook):
        if "live.show()" not in cell.source:
            continue
        (shown,) = [o for o in cell.outputs if o.output_type == "display_data"]
        # the run is over: the widget replaced itself with the static picture
        assert WIDGET_VIEW not in shown.data, cell.source
        # the picture is stored once, in the text/html
        (svg,) = re.findall(r"<svg\b.*?</svg>", shown.data["text/html"], re.S)
        pictures.append(node_statuses(svg))
    return pictures


def check_getting_started_pictures(notebook: Any) -> None:
    first, best_effort = final_pictures(notebook)
    assert first == dict.fromkeys(
        ["download", "settings", "parse", "count_words", "report"], "completed"
    )
    assert best_effort == {
        "load": "completed",
        "validate": "failed",
        "publish": "skipped",
        "thumbnails": "completed",
        "upload_thumbnails": "completed",
    }


def test_there_are_notebooks_to_test() -> None:
    """Every ``notebooks/NN_name.ipynb`` is tested; a new one needs no edit here.

    The numbers (see notebooks/README.md): 00 quickstart, 01 getting started, 02 magics,
    03 what took the time, 04 Dask, 05 async I/O, 06 failures, 07 the cached %%dagron loop.
    """
    names = [p.name for p in NOTEBOOKS]
    assert {"01_getting_started.ipynb", "02_magics.ipynb", "03_what_took_the_time.ipynb"} <= set(
        names
    )
    numbers = [name.split("_", 1)[0] for name in names]
    assert all(re.fullmatch(r"\d\d", n) for n in numbers), names
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {names}"


@pytest.mark.slow
@pytest.mark.timeout(600)  # every notebook, the Dask one included, on two shared cores
def test_notebooks_pass_nbval() -> None:
    cells = sum(len(code_cells(nbformat.read(p, as_version=4))) for p in NOTEBOOKS)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",  # the kernel runs this interpreter, not whatever "python3" is
        "-p",
        "no:cacheprovider",
        "-q",
        # The failing cell carries both the comment (for nbval) and the tag
        # "raises-exception" (so that Jupyter's "run all" goes on past it).
        "-W",
        "ignore:Overlapping options from comments and metadata:UserWarning",
        *map(str, NOTEBOOKS),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540)
    report = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    summary = done.stdout.strip().splitlines()[-1]
    assert re.match(rf"{cells} passed in ", summary), report  # none failed, skipped or erred


@pytest.mark.slow
def test_getting_started_saves_the_final_picture_of_each_run(tmp_path: Path) -> None:
    notebook = nbformat.read(GETTING_STARTED, as_version=4)
    for cell in code_cells(notebook):
        cell.outputs = []
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,  # the failing cell's error is checked below
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = nbformat.read(path, as_version=4)

    for cell in code_cells(saved):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        # IPython prints an ExceptionGroup to stderr instead of an error output
        stderr = "".join(o.text for o in cell.outputs if o.get("name") == "stderr")
        if RAISES in cell.source:
            assert "raises-exception" in cell.metadata.get("tags", [])
            shown = "".join(o.evalue for o in errors) + stderr
            assert "1 node(s) failed: ['validate']" in shown
        else:
            assert errors == [], cell.source
            assert "Traceback" not in stderr, cell.source
    check_getting_started_pictures(saved)


def test_committed_notebooks_are_executed_and_show_static_pictures() -> None:
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in code_cells(notebook):
            assert cell.execution_count is not None, f"{path.name}: run it before committing"
            for output in cell.outputs:
                # a widget view is blank without a kernel (GitHub, nbviewer)
                assert WIDGET_VIEW not in output.get("data", {}), f"{path.name}: {cell.source}"
                if RAISES not in cell.source:
                    assert output.output_type != "error", f"{path.name}: {cell.source}"
        assert "widgets" not in notebook.metadata, f"{path.name}: saved widget state"
        assert path.stat().st_size < 150_000, f"{path.name} is too big for a teaching notebook"
    check_getting_started_pictures(nbformat.read(GETTING_STARTED, as_version=4))


def _marked_as_failing(cell: Any) -> bool:
    """A cell that shows an error on purpose: tagged as nbval and JupyterLab understand."""
    return "raises-exception" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_saved_notebook_shows_a_final_coloured_dag_and_a_table(path: Path) -> None:
    """What a reader sees on GitHub: a run's DAG as SVG, a table, errors only on purpose."""
    notebook = nbformat.read(path, as_version=4)
    statuses: set[str] = set()
    tables = 0
    for cell in code_cells(notebook):
        for output in cell.outputs:
            data = output.get("data", {})
            # a DAG as image/svg+xml, or a finished widget's picture inline in its text/html
            pictures = data.get("image/svg+xml", "") + data.get("text/html", "")
            statuses |= set(re.findall(r'data-status="([a-z-]+)"', pictures))
            tables += "<table" in data.get("text/html", "")
            shows_error = output.output_type == "error" or (
                output.get("name") == "stderr" and "Traceback" in output.text
            )
            assert not shows_error or _marked_as_failing(cell), (
                f"{path.name}: an error in a cell not tagged raises-exception:\n{cell.source}"
            )
        if RAISES in cell.source:
            assert _marked_as_failing(cell), f"{path.name}: tag raises-exception:\n{cell.source}"
    assert statuses - {"pending"}, f"{path.name}: no SVG of a DAG coloured by a run"
    assert tables, f"{path.name}: no table"
