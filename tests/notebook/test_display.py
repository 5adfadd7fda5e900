"""display.py and saved notebooks: rich display, and the final picture left behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.notebook import display, render

RED = render.STATUS_COLORS[NodeStatus.FAILED]


def failing_run() -> dagron.ExecutionResult:
    dag = dagron.DAG.builder().add_edge("ok", "bad").add_edge("bad", "after").build()

    def bad() -> None:
        raise ValueError("boom <b>&</b>")

    return dagron.DAGExecutor(dag, fail_fast=False).execute({"ok": int, "bad": bad, "after": int})


def test_formatters_draw_dags_and_results(dot: None, captured_shell: Any, svg_nodes: Any) -> None:
    display.register(captured_shell)
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    data, _ = captured_shell.display_formatter.format(dag)
    assert set(svg_nodes(data["image/svg+xml"])) == {"a", "b"}
    assert data["text/plain"] == "DAG(nodes=2, edges=1)"
    assert "text/html" not in data  # the SVG is the picture

    result = failing_run()
    data, _ = captured_shell.display_formatter.format(result)
    html = data["text/html"]
    assert "1/3 done" in html  # the legend's categories: failed and skipped apart
    assert "1 failed" in html
    assert "1 skipped" in html
    svg = re.search(r"<svg.*</svg>", html, re.S)
    assert svg is not None
    nodes = svg_nodes(svg.group())
    assert nodes["bad"].fill == RED
    assert nodes["after"].status == "skipped"
    assert "ValueError: boom &lt;b&gt;&amp;&lt;/b&gt;" in html  # the failure list, escaped
    assert data["text/plain"].startswith("<ExecutionResult 3 nodes")


def test_without_dot_dags_and_results_say_how_to_install(
    captured_shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphviz

    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY", "dot-is-not-installed")
    display.register(captured_shell)
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    data, _ = captured_shell.display_formatter.format(dag)
    assert "image/svg+xml" not in data
    assert "apt-get install graphviz" in data["text/html"]
    data, _ = captured_shell.display_formatter.format(failing_run())
    assert "apt-get install graphviz" in data["text/html"]
    assert "failed (1)" in data["text/html"]  # the summary instead of the picture


def test_huge_results_show_a_summary(captured_shell: Any) -> None:
    display.register(captured_shell)
    n = render.LAYOUT_LIMIT + 1
    dag = dagron.DAG.builder().add_nodes([f"t{i}" for i in range(n)]).build()
    result = dagron.DAGExecutor(dag).execute({f"t{i}": int for i in range(n)})
    data, _ = captured_shell.display_formatter.format(result)
    assert "node limit for a drawn graph" in data["text/html"]
    assert "<svg" not in data["text/html"]
    data, _ = captured_shell.display_formatter.format(dag)
    assert "image/svg+xml" not in data


def test_load_ext_of_the_display_module(captured_shell: Any) -> None:
    captured_shell.run_line_magic("load_ext", "dagron_nb.notebook.display")
    html_formatter = captured_shell.display_formatter.formatters["text/html"]
    assert html_formatter.lookup_by_type(dagron.ExecutionResult) is display.result_html


def run_python(code: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    return done.stdout.strip().splitlines()[-1]


def test_import_loads_no_notebook_stack_but_live_dag_is_there_on_demand(tmp_path: Path) -> None:
    out = run_python(
        """
        import json, sys
        import dagron_nb
        heavy = ["IPython", "ipywidgets", "anywidget", "pandas", "graphviz", "dask"]
        before = [m for m in heavy if m in sys.modules]
        cls = dagron_nb.LiveDAG
        print(json.dumps({"before": before, "cls": cls.__name__,
                          "run_live": dagron_nb.run_live.__name__}))
        """,
        tmp_path,
    )
    assert json.loads(out) == {"before": [], "cls": "LiveDAG", "run_live": "run_live"}


def test_import_inside_a_running_ipython_registers_the_display(tmp_path: Path) -> None:
    out = run_python(
        """
        import json
        import IPython  # imported, but no shell yet: import dagron_nb must not fail
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        import dagron_nb
        html = ip.display_formatter.formatters["text/html"]
        print(json.dumps(html.lookup_by_type(dagron_nb.ExecutionResult).__name__))
        """,
        tmp_path,
    )
    assert json.loads(out) == "result_html"


def test_import_with_ipython_but_no_shell_registers_nothing(tmp_path: Path) -> None:
    out = run_python(
        """
        import IPython
        import dagron_nb
        from dagron_nb.notebook.display import register_if_active
        print(register_if_active())
        """,
        tmp_path,
    )
    assert out == "False"


NOTEBOOK_CELLS = [
    """\
import dagron_nb as dagron
from dagron_nb.notebook import run_live

dag = (dagron.DAG.builder()
       .add_edge("ok", "bad").add_edge("bad", "after").add_node("<i>odd & 'name'</i>")
       .build())

def bad():
    raise ValueError("boom <script>alert(1)</script>")

result = run_live(dag, {"ok": int, "bad": bad, "after": int, "<i>odd & 'name'</i>": int},
                  fail_fast=False, title="saved run")""",
    "dag",
    "result",
]


@pytest.mark.slow
def test_saved_notebook_and_html_export_keep_the_final_coloured_dag(
    dot: None, tmp_path: Path, svg_nodes: Any, picture_nodes: Any
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)

    run_cell, dag_cell, result_cell = saved.cells
    assert [o for o in run_cell.outputs if o.output_type == "error"] == []
    (picture,) = [o for o in run_cell.outputs if o.output_type == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" not in picture.data  # static, final
    nodes = picture_nodes(picture.data)
    assert nodes["bad"].status == "failed"
    assert nodes["bad"].fill == RED
    assert nodes["after"].status == "skipped"
    assert nodes["<i>odd & 'name'</i>"].status == "completed"
    assert "boom <script>alert(1)</script>" in nodes["bad"].tooltip
    assert "saved run" in picture.data["text/html"]
    assert "2/4 done" in picture.data["text/html"]

    # the DAG and the result display themselves (formatters registered at import)
    (dag_out,) = dag_cell.outputs
    assert set(svg_nodes(dag_out.data["image/svg+xml"])) == {
        "ok",
        "bad",
        "after",
        "<i>odd & 'name'</i>",
    }
    (result_out,) = result_cell.outputs
    assert RED in result_out.data["text/html"]

    # nbconvert's HTML (no widget state needed) shows the same final picture
    html, _ = nbconvert.HTMLExporter().from_notebook_node(saved)
    svgs = [svg_nodes(m.group()) for m in re.finditer(r"<svg.*?</svg>", html, re.S)]
    failed = [n["bad"] for n in svgs if "bad" in n]
    assert failed
    assert all(node.fill == RED and node.status == "failed" for node in failed)
    assert "<script>alert(1)</script>" not in html  # the error text stays text
