"""The ``%%dagron`` / ``%dagron`` magics, driven through IPython's real testing shell.

Tests that need a *running* event loop (``--async`` the way ipykernel runs a
cell) run in a subprocess: ``nest_asyncio`` patches asyncio for the whole
process, and the rest of the suite must keep the stock asyncio.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from dagron_nb import DAG, ExecutionResult, NodeStatus, Pipeline
from dagron_nb.notebook.iterate import NotebookSession
from dagron_nb.notebook.magics import (
    DEFAULT_RESULT_VAR,
    Picture,
    RunFailedError,
    compact_traceback,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shell() -> Iterator[Any]:
    """IPython's test shell with the extension loaded; the namespace is restored after."""
    ip = globalipapp.get_ipython()  # looked up each time: the first call replaces it
    ip.run_line_magic("load_ext", "dagron_nb")
    # each test starts with an empty result cache (it lives as long as the kernel)
    ip.magics_manager.registry["DagronMagics"].session = NotebookSession()
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


def run(shell: Any, line: str, cell: str) -> ExecutionResult:
    """Run a ``%%dagron`` cell without the live view and return the stored result
    (``--no-raise``: a failed run prints its traceback instead of raising it)."""
    shell.run_cell_magic("dagron", f"--no-live --no-raise {line}", textwrap.dedent(cell))
    name = line.split("-o ", 1)[1].split()[0] if "-o " in line else DEFAULT_RESULT_VAR
    result = shell.user_ns[name]
    assert isinstance(result, ExecutionResult)
    return result


def statuses(result: ExecutionResult) -> dict[str, NodeStatus]:
    return dict(zip(result.names, result.statuses))


class Spy:
    """A callbacks object recording (event, node) pairs, passed with --callbacks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.cancelled = threading.Event()

    def on_node_start(self, name: str) -> None:
        self.events.append(("start", name))

    def on_node_complete(self, name: str, value: object) -> None:
        self.events.append(("complete", name))

    def on_node_cancel(self, name: str) -> None:
        self.events.append(("cancel", name))
        self.cancelled.set()


# -- running a cell ---------------------------------------------------------------
def test_cell_functions_become_a_pipeline_in_definition_order(shell: Any) -> None:
    result = run(
        shell,
        "",
        """
        def load():
            return [3, 1, 2]
        def clean(load):
            return sorted(load)
        def total(clean, load):
            return sum(clean) + len(load)
        """,
    )
    assert result.names == ["load", "clean", "total"]
    assert result["total"].result == 9
    assert set(result.dag.edges()) == {("load", "clean"), ("clean", "total"), ("load", "total")}
    # the functions are defined in the notebook afterwards, like any cell's
    assert shell.user_ns["clean"]([2, 1]) == [1, 2]


def test_output_variable_option(shell: Any) -> None:
    result = run(shell, "-o my_run", "def a():\n    return 1\n")
    assert shell.user_ns["my_run"] is result
    assert (
        DEFAULT_RESULT_VAR not in shell.user_ns or shell.user_ns[DEFAULT_RESULT_VAR] is not result
    )


def test_inputs_come_from_the_notebook_not_from_the_cell(shell: Any) -> None:
    shell.user_ns["rate"] = 3
    shell.user_ns["clean"] = "a notebook variable that the cell's function replaces"

    def scale(v: int) -> int:  # a function from an earlier cell: an input, not a task
        return v * 10

    shell.user_ns["scale"] = scale
    shell.user_ns["n"] = 1000  # a default parameter keeps its default
    result = run(
        shell,
        "",
        """
        offset = 1                # a variable the cell sets is an input too
        def raw(rate, offset):
            return rate + offset
        def clean(raw, scale, n=2):
            return scale(raw) * n
        def _helper():            # underscore: a helper, not a task
            raise AssertionError("helpers do not run")
        class Model:              # classes are not tasks
            pass
        """,
    )
    assert result.names == ["raw", "clean"]
    assert result["clean"].result == (3 + 1) * 10 * 2
    assert callable(shell.user_ns["clean"])


def test_async_functions_run_without_a_running_loop(shell: Any) -> None:
    result = run(
        shell,
        "",
        """
        import asyncio
        async def fetch():
            await asyncio.sleep(0)
            return 2
        def double(fetch):
            return fetch * 2
        """,
    )
    assert result["double"].result == 4
    assert all(w is not None and w.startswith("async-") for w in result.workers)


def test_callbacks_option_adds_listeners(shell: Any) -> None:
    spy = Spy()
    shell.user_ns["spy"] = spy
    run(shell, "--callbacks spy -w 1", "def a():\n    return 1\ndef b(a):\n    return 2\n")
    assert spy.events == [("start", "a"), ("complete", "a"), ("start", "b"), ("complete", "b")]


def test_workers_option_limits_the_threads(shell: Any) -> None:
    cell = "".join(f"def t{i}():\n    return {i}\n" for i in range(6))
    result = run(shell, "-w 1", cell)
    assert result.succeeded == 6
    assert set(result.workers) == {"dagron-worker-0"}
    # two tasks that can only pass a 2-party barrier together prove 2 workers ran at once
    shell.user_ns["barrier"] = threading.Barrier(2, timeout=10)
    result = run(
        shell,
        "-w 2",
        "def left(barrier):\n    barrier.wait()\ndef right(barrier):\n    barrier.wait()\n",
    )
    assert result.succeeded == 2
    assert len(set(result.workers)) == 2


def test_timeout_option(shell: Any) -> None:
    gate = threading.Event()
    shell.user_ns["gate"] = gate
    try:
        result = run(
            shell,
            "-t 0.3",
            """
            def stuck(gate):
                gate.wait(30)
            def later(stuck):
                return 1
            """,
        )
    finally:
        gate.set()  # release the abandoned thread
    assert statuses(result) == {"stuck": NodeStatus.TIMED_OUT, "later": NodeStatus.CANCELLED}


BRANCHES = """
def bad():
    raise ValueError("broken input")
def after_bad(bad):
    return 1
def good():
    return 2
"""


def test_fail_fast_by_default_and_best_effort_option(shell: Any) -> None:
    # one worker and bottom-level priority: 'bad' (a chain of two) runs first
    result = run(shell, "-w 1", BRANCHES)
    assert statuses(result) == {
        "bad": NodeStatus.FAILED,
        "after_bad": NodeStatus.SKIPPED,
        "good": NodeStatus.SKIPPED,
    }
    result = run(shell, "-w 1 --best-effort", BRANCHES)
    assert statuses(result) == {
        "bad": NodeStatus.FAILED,
        "after_bad": NodeStatus.SKIPPED,
        "good": NodeStatus.COMPLETED,
    }
    assert result["after_bad"].reason == "upstream 'bad' failed"


# -- the summary and the one compact traceback -------------------------------------
def test_failure_shows_one_compact_traceback_of_user_frames(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        shell,
        "-o r",
        """
        def _parse(text):
            return int(text)
        def read():
            return "12x"
        def parse(read):
            return _parse(read)
        def use1(parse):
            return parse
        def use2(parse):
            return parse
        def use3(use1, use2):
            return 0
        """,
    )
    out, err = capsys.readouterr()
    assert out.splitlines()[0].endswith("1 completed, 1 failed, 3 skipped -> r")
    assert "skipped: 'use1', 'use2', 'use3' (upstream 'parse' failed)" in out
    assert err.count("Traceback (most recent call last)") == 1
    assert err.startswith("task 'parse' failed:\n")
    lines = err.splitlines()
    # user frames only: the task, then the helper it called, with their source lines
    frames = [ln.strip() for ln in lines if ", line " in ln]
    assert len(frames) == 2
    assert frames[0].startswith("Cell In[")
    assert frames[0].endswith("in parse")
    assert frames[1].endswith("in _parse")
    assert "return int(text)" in err
    assert lines[-1] == "ValueError: invalid literal for int() with base 10: '12x'"
    for machinery in ("dagron_nb", "threads.py", "pipeline.py", "threading.py", "concurrent"):
        assert machinery not in err


def test_traceback_names_the_cell_like_ipython(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    info = shell.run_cell(
        "%%dagron --no-live --no-raise\ndef broken():\n    1 / 0\n", store_history=True
    )
    err = capsys.readouterr().err
    # line 3 of the cell: the %%dagron line counts, as IPython numbers the cell
    assert f"  Cell In[{info.execution_count}], line 3, in broken\n    1 / 0\n" in err
    assert err.endswith("ZeroDivisionError: division by zero\n")


def test_several_failures_give_one_traceback_and_one_line_each(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.user_ns["first_failed"] = threading.Event()
    run(
        shell,
        "--best-effort -w 2",
        """
        def one():
            first_failed.set()
            raise KeyError("one")
        def two():
            first_failed.wait(10)   # fail second, so the report order is known
            raise RuntimeError("two <b>&amp;</b>")
        """,
    )
    err = capsys.readouterr().err
    assert err.count("Traceback (most recent call last)") == 1
    assert err.startswith("task 'one' failed:")
    assert err.rstrip().endswith("also failed: 'two': RuntimeError: two <b>&amp;</b>")


def test_compact_traceback_keeps_the_cause_chain() -> None:
    def inner() -> None:
        raise KeyError("k")

    def outer() -> None:
        try:
            inner()
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    try:
        outer()
    except ValueError as exc:
        text = compact_traceback(exc)
    assert text.index("KeyError: 'k'") < text.index("direct cause") < text.index("ValueError")
    assert "in inner" in text
    assert "in outer" in text


# -- interrupting a run ------------------------------------------------------------
def test_interrupt_cancels_the_rest_and_keeps_the_partial_result(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy()
    shell.user_ns.update(spy=spy, cancelled=spy.cancelled)
    cell = """
    import signal, threading
    def first(cancelled):
        # what the kernel does on "interrupt": SIGINT to the main thread
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        if not cancelled.wait(10):
            raise RuntimeError("the interrupt cancelled nothing")
        return 1
    def second(first):
        return 2
    def third(second):
        return 3
    """
    with pytest.raises(KeyboardInterrupt, match="partial result is in part"):
        shell.run_cell_magic("dagron", "--no-live -o part --callbacks spy", textwrap.dedent(cell))
    result = shell.user_ns["part"]
    assert statuses(result) == {
        "first": NodeStatus.COMPLETED,  # the running task finished normally
        "second": NodeStatus.CANCELLED,
        "third": NodeStatus.CANCELLED,
    }
    assert result["second"].reason is not None
    assert "interrupted" in result["second"].reason
    assert ("start", "second") not in spy.events
    assert "2 cancelled -> part" in capsys.readouterr().out


def test_a_second_interrupt_abandons_the_running_task_and_says_so(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy()
    woke, release = threading.Event(), threading.Event()
    shell.user_ns.update(spy=spy, cancelled=spy.cancelled, woke=woke, release=release)
    cell = """
    import signal, threading
    def sleeper(cancelled):
        main = threading.main_thread().ident
        signal.pthread_kill(main, signal.SIGINT)  # first: cancels 'after', waits for us
        cancelled.wait(10)
        signal.pthread_kill(main, signal.SIGINT)  # second: stop waiting for us
        release.wait(30)
        woke.set()
    def after(sleeper):
        return 1
    """
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            shell.run_cell_magic("dagron", "--no-live --callbacks spy", textwrap.dedent(cell))
        assert not woke.is_set()  # the cell returned while the task still sleeps
    finally:
        release.set()
    assert info.value._render_traceback_() == [  # type: ignore[attr-defined]
        f"KeyboardInterrupt: the run was interrupted; the partial result is in {DEFAULT_RESULT_VAR}"
    ]
    result = shell.user_ns[DEFAULT_RESULT_VAR]
    assert statuses(result) == {"sleeper": NodeStatus.CANCELLED, "after": NodeStatus.CANCELLED}
    out = capsys.readouterr().out
    assert "  abandoned: 'sleeper' (interrupted twice" in out
    assert "not waited for, it may still be running)" in out
    assert "  cancelled: 'after' (interrupted (KeyboardInterrupt))" in out


# -- the live view ----------------------------------------------------------------
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def painted_statuses(svg: str) -> dict[str, str]:
    """``{node name: data-status}`` of the node groups of a painted SVG."""
    groups = ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
    return {g.get("data-node", ""): g.get("data-status", "") for g in groups if g.get("data-node")}


def final_svg(data: dict[str, Any]) -> str:
    """The SVG of a final static picture (stored once, inside its text/html)."""
    assert "image/svg+xml" not in data
    (svg,) = re.findall(r"<svg\b.*?</svg>", data["text/html"], re.S)
    return str(svg)


@pytest.fixture
def layout_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The end of a run waits for the layout (however busy the machine), so the
    final output is the drawn graph, not the summary shown until it is ready."""
    from dagron_nb.notebook import live

    monkeypatch.setattr(live, "LAYOUT_GRACE", 60.0)


def test_live_view_above_becomes_the_final_picture(shell: Any, layout_in_time: None) -> None:
    from dagron_nb.notebook.render import STATUS_COLORS

    with capture_output() as captured, pytest.raises(RunFailedError):
        shell.run_cell_magic("dagron", "-w 1 -n etl", textwrap.dedent(BRANCHES))
    first, *_, last = captured.outputs
    assert WIDGET_VIEW in first.data  # the live widget comes first, above the summary
    svg = final_svg(last.data)  # ... and is replaced by the final static picture
    result = shell.user_ns[DEFAULT_RESULT_VAR]
    assert painted_statuses(svg) == {n: s.value for n, s in statuses(result).items()}
    assert STATUS_COLORS[NodeStatus.FAILED] in svg
    assert captured.stdout.startswith("3 nodes in ")  # the summary, before the error
    assert captured.stderr == ""  # the traceback is the error's, not printed twice


def test_interrupt_with_the_live_view_shows_the_cancelled_nodes(
    shell: Any, layout_in_time: None
) -> None:
    spy = Spy()
    shell.user_ns.update(spy=spy, cancelled=spy.cancelled)
    cell = """
    import signal, threading
    def first(cancelled):
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        cancelled.wait(10)
    def second(first):
        return 2
    """
    with capture_output() as captured, pytest.raises(KeyboardInterrupt):
        shell.run_cell_magic("dagron", "--callbacks spy", textwrap.dedent(cell))
    final = painted_statuses(final_svg(captured.outputs[-1].data))
    assert final == {"first": "completed", "second": "cancelled"}
    assert shell.user_ns[DEFAULT_RESULT_VAR]["second"].status is NodeStatus.CANCELLED


# -- --plan and the line magic ----------------------------------------------------
def test_plan_option_shows_graph_and_table_without_running(
    shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a kernel publishes every format; the terminal test shell only text/plain
    formats = ["text/plain", "text/html", "image/svg+xml"]
    monkeypatch.setattr(shell.display_formatter, "active_types", formats)
    shell.user_ns["calls"] = calls = []
    shell.user_ns["size"] = 4
    with capture_output() as captured:
        shell.run_cell_magic(
            "dagron",
            "--plan -o planned",
            "def a(size):\n    calls.append('a')\ndef b(a, missing):\n    calls.append('b')\n",
        )
    assert calls == []
    assert "planned" not in shell.user_ns
    kinds = [set(output.data) for output in captured.outputs]
    assert any("image/svg+xml" in k for k in kinds)  # the graph
    table = [o.data["text/html"] for o in captured.outputs if "text/html" in o.data]
    assert table
    assert "bottom_level" in table[0]
    assert "inputs from the notebook: size" in captured.stdout
    assert "b(missing)" in captured.stdout


def test_plan_line_magic_returns_a_dataframe(shell: Any) -> None:
    dag = DAG.builder().add_edge("a", "b").add_edge("a", "c").add_edge("c", "d").build()
    shell.user_ns.update(dag=dag, costs={"b": 5.0})
    frame = shell.run_line_magic("dagron", "plan dag")
    assert {"level", "cost", "bottom_level"} <= set(frame.columns)
    assert frame.index.name == "node"
    assert list(frame.index) == ["a", "c", "b", "d"]  # level by level, most urgent first
    assert (frame.loc["a", "level"], frame.loc["d", "level"]) == (0, 2)
    assert frame.loc["a", "bottom_level"] == 3.0
    frame = shell.run_line_magic("dagron", "plan dag -c costs")
    assert frame.loc["b", "cost"] == 5.0
    assert frame.loc["a", "bottom_level"] == 6.0
    # a Pipeline or a result works the same, through its DAG; expressions too
    shell.user_ns["pipe"] = Pipeline([_first, _second])
    assert list(shell.run_line_magic("dagron", "plan pipe").index) == ["_first", "_second"]
    assert list(shell.run_line_magic("dagron", "plan pipe.dag").index) == ["_first", "_second"]


def _first() -> int:
    return 1


def _second(_first: int) -> int:
    return _first + 1


def test_show_line_magic_colours_by_result(shell: Any) -> None:
    from dagron_nb.notebook.render import STATUS_COLORS

    result = run(shell, "-o r", BRANCHES)
    shell.user_ns["pipe_dag"] = result.dag
    for line in ("show r", "show pipe_dag r"):
        picture = shell.run_line_magic("dagron", line)
        assert isinstance(picture, Picture)
        svg = picture._repr_mimebundle_()["image/svg+xml"]
        assert svg.lstrip().startswith(("<svg", "<?xml"))
        assert STATUS_COLORS[NodeStatus.FAILED].lower() in svg.lower()
        assert STATUS_COLORS[NodeStatus.SKIPPED].lower() in svg.lower()
    plain = shell.run_line_magic("dagron", "show pipe_dag")
    assert repr(plain) == "<DAG picture: 3 nodes, 1 edges>"
    assert STATUS_COLORS[NodeStatus.FAILED].lower() not in plain.svg().lower()


def test_extension_registers_the_rich_display(shell: Any) -> None:
    # the terminal test shell disables these formats; look the functions up instead
    formats = shell.display_formatter.formatters
    dag = DAG.builder().add_edge("a", "b").build()
    assert formats["image/svg+xml"].lookup(dag)(dag).startswith("<svg")
    result = run(shell, "", "def a():\n    return 1\n")
    assert 'data-node="a"' in formats["text/html"].lookup(result)(result)


def test_without_graphviz_the_magics_run_and_say_how_to_install_it(
    shell: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on it
    with capture_output() as captured:
        shell.run_cell_magic("dagron", "-o r", "def a():\n    return 1\ndef b(a):\n    return 2\n")
    assert shell.user_ns["r"].succeeded == 2
    assert captured.stdout.startswith("2 nodes in ")
    picture = shell.run_line_magic("dagron", "show r")._repr_mimebundle_()
    assert "image/svg+xml" not in picture
    assert "apt-get install graphviz" in picture["text/plain"]
    assert "apt-get install graphviz" in picture["text/html"]
    with capture_output() as captured:
        shell.run_cell_magic("dagron", "--plan", "def a():\n    return 1\n")
    assert "plan only: 1 tasks" in captured.stdout


def test_huge_dag_picture_is_a_note_not_a_layout(shell: Any) -> None:
    from dagron_nb.notebook.render import LAYOUT_LIMIT

    builder = DAG.builder()
    for i in range(LAYOUT_LIMIT + 1):
        builder.add_node(f"n{i}")
    shell.user_ns["huge"] = builder.build()
    bundle = shell.run_line_magic("dagron", "show huge")._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert f"more than the {LAYOUT_LIMIT}" in bundle["text/plain"]


# -- mistakes get IPython's UsageError with a message that helps ---------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--bogus", r"unrecognized arguments: --bogus\nusage: %%dagron \[-w N\]"),
        ("-w two", r"argument -w/--workers: invalid int value: 'two'\nusage: %%dagron"),
        ("-w 0", r"-w/--workers must be at least 1, got 0"),
        ("-t -1", r"-t/--timeout must be a number of seconds > 0"),
        ("-o 1x", r"-o needs a Python variable name, got '1x'"),
        ("--callbacks nothing_here", r"no variable named 'nothing_here'"),
    ],
)
def test_bad_cell_options_raise_usage_error(shell: Any, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        shell.run_cell_magic("dagron", line, "def a():\n    return 1\n")


def test_bad_task_settings_are_a_usage_error_before_anything_runs(shell: Any) -> None:
    shell.user_ns["calls"] = calls = []
    cell = "from dagron_nb import task\n@task(timeout=-1)\ndef a():\n    calls.append(1)\n"
    with pytest.raises(UsageError, match=r"timeout of task 'a' must be a number of seconds > 0"):
        shell.run_cell_magic("dagron", "--no-live", cell)
    assert calls == []


def test_cell_without_functions_or_with_unresolved_parameter(shell: Any) -> None:
    with pytest.raises(UsageError, match="defines no top-level functions"):
        shell.run_cell_magic("dagron", "--no-live", "x = 1\n")
    with pytest.raises(UsageError, match=r"cannot resolve parameter\(s\) b\(nowhere\)"):
        shell.run_cell_magic(
            "dagron", "--no-live", "def a():\n    pass\ndef b(a, nowhere):\n    pass\n"
        )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", r"the following arguments are required: command\nusage: %dagron"),
        ("run dag", r"invalid choice: 'run' \(choose from 'plan', 'show', 'cache'\)"),
        ("plan nope", r"no variable named 'nope' in the notebook\. DAGs, pipelines and results"),
        ("plan number", r"number is a int, not a DAG, Pipeline or ExecutionResult"),
        ("plan dag extra", r"plan takes one target"),
        ("show dag number", r"number is a int, not an ExecutionResult"),
        ("show dag -c costs", r"-c/--costs belongs to plan"),
        ("plan dag.nodes(", r"could not evaluate the target 'dag.nodes\('"),
        ("plan dag -c bad_costs", r"cost of node 'a' must be a finite number"),
    ],
)
def test_bad_line_magic_raises_usage_error(shell: Any, line: str, message: str) -> None:
    shell.user_ns.update(
        dag=DAG.builder().add_edge("a", "b").build(),
        number=3,
        costs={"a": 1.0},
        bad_costs={"a": -1},
    )
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("dagron", line)


def test_unknown_name_lists_what_exists(shell: Any) -> None:
    shell.user_ns["my_dag"] = DAG.builder().add_node("a").build()
    with pytest.raises(UsageError, match=r"in the notebook: .*my_dag"):
        shell.run_line_magic("dagron", "show my_dga")


# -- --async on the notebook's running loop (in a subprocess) -------------------------
ASYNC_SCRIPT = r"""
import asyncio, json, signal, sys, threading
from IPython.testing.globalipapp import get_ipython

shell = get_ipython()
shell.run_line_magic("load_ext", "dagron_nb")
report = {}

# 1. no running loop (a terminal IPython): asyncio.run, and asyncio stays unpatched
shell.run_cell_magic("dagron", "--no-live --async -o plain", "def a():\n    return 1\n")
report["plain"] = shell.user_ns["plain"].summary()
report["patched_without_loop"] = hasattr(asyncio, "_nest_patched")

CELL = '''%%dagron --no-live --async -o res
import asyncio, threading
async def fetch():
    seen["fetch_loop"] = id(asyncio.get_running_loop())
    await asyncio.sleep(0.01)
    return 20
def parse(fetch):                       # a plain function: runs in a thread
    seen["parse_thread"] = threading.current_thread().name
    return fetch + 1
async def store(parse):
    seen["store_loop"] = id(asyncio.get_running_loop())
    return parse * 2
'''

INTERRUPT = '''%%dagron --no-live --async -o part
import asyncio, signal, threading
async def slow():
    # Ctrl-C while the loop waits: SIGINT reaches the main thread from a loop callback
    asyncio.get_running_loop().call_soon(
        signal.pthread_kill, threading.main_thread().ident, signal.SIGINT)
    await asyncio.sleep(30)
async def never(slow):
    return 1
'''

async def kernel_like():
    # ipykernel runs a cell with no top-level await by calling shell.run_cell
    # from a coroutine on its running loop
    shell.user_ns["seen"] = {}
    outer = id(asyncio.get_running_loop())
    ok = shell.run_cell(CELL)
    res = shell.user_ns["res"]
    report["success"] = ok.success
    report["store"] = res["store"].result
    seen = shell.user_ns["seen"]
    report["same_loop"] = seen["fetch_loop"] == outer == seen["store_loop"]
    report["parse_thread_is_main"] = seen["parse_thread"] == "MainThread"
    bad = shell.run_cell(INTERRUPT)
    report["interrupt_error"] = type(bad.error_in_exec).__name__
    part = shell.user_ns["part"]
    report["interrupt_statuses"] = {n: s.value for n, s in zip(part.names, part.statuses)}
    # the loop is still usable after the interrupt
    await asyncio.sleep(0)
    report["after"] = shell.run_cell(CELL).success

loop = asyncio.new_event_loop()
loop.run_until_complete(kernel_like())
print("REPORT " + json.dumps(report))
"""


def test_async_option_runs_on_the_running_loop_like_in_a_kernel(tmp_path: Path) -> None:
    script = tmp_path / "kernel_like.py"
    script.write_text(ASYNC_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"no report; stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    report = json.loads(lines[-1][len("REPORT ") :])
    assert report["plain"].endswith("1 completed")
    assert report["patched_without_loop"] is False
    assert report["success"] is True
    assert report["store"] == 42
    assert report["same_loop"] is True
    assert report["parse_thread_is_main"] is False
    assert report["interrupt_error"] == "KeyboardInterrupt"
    assert report["interrupt_statuses"] == {"slow": "cancelled", "never": "cancelled"}
    assert report["after"] is True


# -- a failed run fails the cell ---------------------------------------------------
FAILING = """\
def read():
    return "12x"

def parse(read):
    return int(read)
"""


def test_a_failed_run_raises_after_the_summary_with_the_tasks_own_traceback(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RunFailedError, match=r"^task 'parse' failed: ValueError: invalid") as info:
        shell.run_cell_magic("dagron", "--no-live -o r", FAILING)
    out, err = capsys.readouterr()
    assert out.startswith("2 nodes in ")
    assert "1 failed -> r" in out
    assert err == ""  # the traceback is the exception's, shown once
    assert info.value.result is shell.user_ns["r"]
    shown = info.value._render_traceback_()
    assert shown[0] == "task 'parse' failed:"
    # line 6 of the cell: the %%dagron line is line 1
    assert any(line.endswith(", line 6, in parse") for line in shown)
    assert shown[-2] == "ValueError: invalid literal for int() with base 10: '12x'"
    assert shown[-1].startswith("(the result is in r; %%dagron --no-raise")
    assert not any("dagron_nb" in line or "site-packages" in line for line in shown)


def test_run_cell_marks_the_cell_failed(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    info = shell.run_cell("%%dagron --no-live\n" + FAILING, store_history=True)
    assert not info.success
    assert isinstance(info.error_in_exec, RunFailedError)
    assert isinstance(shell.user_ns[DEFAULT_RESULT_VAR], ExecutionResult)
    out = capsys.readouterr().out  # the terminal shell prints tracebacks to stdout
    assert f"Cell In[{info.execution_count}], line 6, in parse" in out
    assert "interactiveshell.py" not in out
    assert "magics.py" not in out


def test_no_raise_keeps_going_and_a_timed_out_run_raises_too(shell: Any) -> None:
    result = run(shell, "", FAILING)  # run() passes --no-raise
    assert result.failed == 1
    shell.user_ns["gate"] = gate = threading.Event()
    try:
        with pytest.raises(RunFailedError, match="task 'stuck' timed out"):
            shell.run_cell_magic(
                "dagron", "--no-live -t 0.2", "def stuck(gate):\n    gate.wait(10)\n"
            )
    finally:
        gate.set()


def test_a_syntax_error_is_pythons_own_at_the_cells_line(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = "%%dagron --no-live\ndef a():\n    return 1\n\ndef b(a:\n    return a\n"
    info = shell.run_cell(cell, store_history=True)
    error = info.error_before_exec
    assert type(error) is SyntaxError
    assert error.lineno == 5
    out = capsys.readouterr().out
    assert f"Cell In[{info.execution_count}], line 5" in out
    assert "dagron_nb" not in out
    assert "Traceback" not in out
    # called directly (no input transformers): still a SyntaxError at the cell's line
    with pytest.raises(SyntaxError) as direct:
        shell.run_cell_magic("dagron", "--no-live", cell.split("\n", 1)[1])
    assert direct.value.lineno == 5


def test_task_lines_count_the_blank_lines_ipython_drops(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    info = shell.run_cell(
        "%%dagron --no-live --no-raise\n\n\ndef a():\n    1 / 0\n", store_history=True
    )
    assert f"Cell In[{info.execution_count}], line 5, in a" in capsys.readouterr().err


def test_options_are_shell_words(shell: Any) -> None:
    from dagron_nb.notebook.magics import DagronMagics, _parse

    magic = DagronMagics(shell=shell).dagron_cell
    assert _parse(magic, "-n 'my run' -o r", shell_words=True).name == "my run"
    assert _parse(magic, '--name "a \\"b\\""', shell_words=True).name == 'a "b"'
    with pytest.raises(UsageError, match="No closing quotation"):
        _parse(magic, "-n 'open", shell_words=True)


# -- what tasks print ---------------------------------------------------------------
PRINTING = """\
import logging
import re
def load():
    print("loading")
    logging.getLogger("etl").warning("slow disk")
    return 1

def use(load):
    print("using", load)
"""


@contextlib.contextmanager
def etl_log() -> Iterator[None]:
    """The "etl" logger writing to stderr, as ``logging.basicConfig()`` would set it up
    (pytest's own log capture would otherwise take the records first)."""
    log = logging.getLogger("etl")
    handler = logging.StreamHandler(sys.stderr)
    log.addHandler(handler)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = True


def test_task_output_is_kept_per_node_and_the_cell_stays_clean(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with etl_log():
        run(shell, "-o r", PRINTING)
    out, err = capsys.readouterr()
    assert "loading" not in out + err
    assert "using" not in out + err
    assert "slow disk" not in out + err
    result = shell.user_ns["r"]
    assert result.inspect("load").output == "loading\nslow disk\n"
    assert result.inspect("use").output == "using 1\n"


def test_show_output_shows_it_as_well(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with etl_log():
        run(shell, "-o r --show-output", PRINTING)
    out, err = capsys.readouterr()
    assert "loading\n" in out
    assert "using 1\n" in out
    assert "slow disk\n" in err
    assert shell.user_ns["r"].captured_output["use"] == "using 1\n"


def test_ipython_syntax_in_a_cell_still_works_at_the_right_lines(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = "%%dagron --no-live --no-raise\n\ndef a():\n    out = !echo hi\n    return out[0]\n"
    cell += "def b(a):\n    raise KeyError(a)\n"
    info = shell.run_cell(cell, store_history=True)
    assert info.success
    assert shell.user_ns[DEFAULT_RESULT_VAR]["a"].result == "hi"
    assert f"Cell In[{info.execution_count}], line 7, in b" in capsys.readouterr().err
