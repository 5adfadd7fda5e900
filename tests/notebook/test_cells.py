"""cells.py: a cell's tasks, inputs and report, tested without an IPython shell."""

from __future__ import annotations

import ast
import doctest
import threading

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.notebook import cells
from dagron_nb.notebook.cells import (
    compact_traceback,
    report,
    resolve_inputs,
    top_level_functions,
)


def test_docstring_examples() -> None:
    outcome = doctest.testmod(cells, optionflags=doctest.ELLIPSIS)
    assert outcome.attempted > 0
    assert outcome.failed == 0


def test_top_level_functions_in_definition_order_once_each() -> None:
    source = """
import math
def load(): return 1
class Model:
    def fit(self): pass
async def fetch(load): return load
def _helper(): pass
if True:
    def hidden(): pass
def load(): return 2
lam = lambda: 3
"""
    assert top_level_functions(ast.parse(source)) == ["load", "fetch", "_helper"]


def test_top_level_functions_of_a_cell_without_any() -> None:
    assert top_level_functions(ast.parse("x = 1\nprint(x)")) == []


def test_resolve_inputs_takes_notebook_values_keeps_defaults_and_lists_the_missing() -> None:
    def load(path: str, sep: str = ",") -> str:
        return path

    def fit(load: str, rate: float, seed: int) -> str:
        return load

    pipeline = dagron.Pipeline([load, fit])
    ns = {"path": "a.csv", "sep": ";", "seed": 0, "load": "not this"}
    inputs, missing = resolve_inputs(pipeline, ns)
    assert inputs == {"path": "a.csv", "seed": 0}  # sep keeps its default; load is a task
    assert missing == ["fit(rate)"]


def run(tasks: dict[str, object], edges: list[tuple[str, str]]) -> dagron.ExecutionResult:
    builder = dagron.DAG.builder()
    for name in tasks:
        builder.add_node(name)
    for source, target in edges:
        builder.add_edge(source, target)
    return dagron.DAGExecutor(builder.build()).execute(tasks)


def test_report_of_a_clean_run_is_one_line_on_stdout() -> None:
    result = run({"a": lambda: 1, "b": lambda: 2}, [("a", "b")])
    text = report(result, "r")
    assert text.out == f"{result.summary()} -> r"
    assert text.err == ""


class SignalOnError:
    """Sets ``failed`` once ``name`` has failed (its result recorded)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failed = threading.Event()

    def on_node_error(self, name: str, error: BaseException) -> None:
        if name == self.name:
            self.failed.set()


def test_report_groups_skips_and_shows_the_first_failure_with_user_frames_only() -> None:
    signal = SignalOnError("early")

    def early() -> None:
        raise ValueError("bad rows")

    def late() -> None:
        signal.failed.wait(30)  # hang guard: `late` fails after `early` has failed
        raise KeyError("gone")

    tasks: dict[str, object] = {"early": early, "late": late}
    tasks.update({f"down{i}": (lambda: None) for i in range(10)})
    builder = dagron.DAG.builder().add_node("early").add_node("late")
    for i in range(10):
        builder.add_edge("early", f"down{i}")
    result = dagron.DAGExecutor(builder.build(), fail_fast=False, callbacks=signal).execute(tasks)
    text = report(result, "out")
    out = text.out.split("\n")
    assert out[0] == f"{result.summary()} -> out"
    reason = result.reasons[result.names.index("down0")]
    assert out[1:] == [
        "  skipped: 'down0', 'down1', 'down2', 'down3', 'down4', 'down5', 'down6', "
        f"'down7' and 2 more ({reason})"
    ]
    assert text.err.startswith("task 'early' failed:\nTraceback (most recent call last):\n")
    assert 'raise ValueError("bad rows")' in text.err
    assert text.err.count("Traceback (most recent call last):") == 1
    assert "/dagron_nb/" not in text.err  # no executor frames
    assert text.err.endswith("ValueError: bad rows\nalso failed: 'late': KeyError: 'gone'\n")


def test_compact_traceback_keeps_the_chain_and_drops_machinery_frames() -> None:
    def parse() -> None:
        raise ValueError("not a number")

    def task() -> None:
        try:
            parse()
        except ValueError as exc:
            raise RuntimeError("loading failed") from exc

    result = run({"t": task}, [])
    error = result.errors[0]
    assert error is not None
    text = compact_traceback(error)
    assert "ValueError: not a number" in text
    assert "The above exception was the direct cause" in text
    assert text.endswith("RuntimeError: loading failed\n")
    assert "in parse" in text
    assert "in task" in text
    assert "threads.py" not in text
    assert "threading.py" not in text


def test_report_says_timed_out_for_a_timeout() -> None:
    stop = threading.Event()

    def slow() -> None:
        stop.wait(30)  # hang guard; the node timeout ends the wait for the run

    dag = dagron.DAG.builder().add_node("slow").build()
    try:
        result = dagron.DAGExecutor(dag).execute({"slow": slow}, node_timeouts={"slow": 0.05})
    finally:
        stop.set()
    assert result.statuses[0] is NodeStatus.TIMED_OUT
    assert report(result, "r").err.startswith("task 'slow' timed out:\n")


def test_frames_inside_an_installed_library_collapse_to_one_line() -> None:
    pandas = pytest.importorskip("pandas", reason="the example error comes from pandas")
    frame = pandas.DataFrame({"a": [1]})

    def pick() -> object:
        return frame["missing"]

    try:
        pick()
    except KeyError as exc:
        text = compact_traceback(exc)
    else:
        pytest.fail("pandas did not raise")
    assert 'return frame["missing"]' in text  # the user's own line stays
    assert "frames inside pandas ..." in text
    assert "indexes/base.py" not in text  # pandas' internals are folded away
    assert text.rstrip().endswith("KeyError: 'missing'")
