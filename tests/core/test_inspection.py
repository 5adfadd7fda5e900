"""inspection.py: one node's data, from a finished result and from a live run."""

from __future__ import annotations

import html.parser
import json
import linecache
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus as S
from dagron_nb.core.callbacks import RunView
from dagron_nb.core.inspection import (
    PREVIEW_CHARS,
    PREVIEW_ROWS,
    CancelState,
    NodeInspection,
    cancel_state,
    inspect_node,
    preview_value,
    task_source,
)
from dagron_nb.core.results import ExecutionResult


def load() -> list[int]:
    return [1, 2, 3]


def parse(load: list[int]) -> int:
    return _helper(load)


def _helper(rows: list[int]) -> int:
    raise ValueError(f"bad rows: {rows}")


def report(parse: int) -> str:
    return "never"


def test_a_finished_run_inspected_node_by_node() -> None:
    result = dagron.Pipeline([load, parse, report]).execute()
    ok = result.inspect("load")
    assert (ok.status, ok.attempts, ok.error_type) == (S.COMPLETED, 1, None)
    assert ok.value is not None
    assert ok.value.text == "[1, 2, 3]"
    assert ok.value.length == 3
    assert ok.duration is not None
    assert ok.started_at is not None
    assert ok.worker
    assert ok.downstream == ("parse",)
    assert ok.source is not None
    assert ok.source.startswith("def load() -> list[int]:")

    bad = result.inspect("parse")
    assert (bad.status, bad.error_type, bad.error_message) == (
        S.FAILED,
        "ValueError",
        "bad rows: [1, 2, 3]",
    )
    assert bad.value is None
    assert bad.traceback is not None
    # user frames, in order, and none of the executor's
    assert bad.traceback.index("in parse") < bad.traceback.index("in _helper")
    assert "dagron_nb" not in bad.traceback.replace("test_inspection", "")

    skipped = result.inspect("report")
    assert (skipped.status, skipped.reason, skipped.attempts) == (
        S.SKIPPED,
        "upstream 'parse' failed",
        0,
    )
    assert skipped.duration is None
    assert skipped.traceback is None


def test_an_unknown_node_names_the_nodes() -> None:
    result = dagron.Pipeline([load]).execute()
    with pytest.raises(KeyError, match=r"no node 'lod' in this result; its nodes are \['load'\]"):
        result.inspect("lod")


def test_a_cache_hit_says_so() -> None:
    dag = dagron.DAG().add_nodes(["c"])
    result = ExecutionResult(
        dag.snapshot(),
        ["c"],
        [S.CACHE_HIT],
        values=[7],
        errors=[None],
        started=[None],
        finished=[None],
        workers=[None],
        reasons=[None],
        total_duration_seconds=0.1,
    )
    node = result.inspect("c")
    assert (node.cache, node.attempts, node.value and node.value.text) == ("hit", 0, "7")


def test_a_cache_miss_is_read_from_the_trace() -> None:
    dag = dagron.DAG().add_nodes(["m"])
    result = dagron.DAGExecutor(dag, enable_tracing=True).execute({"m": lambda: 1})
    assert result.inspect("m").cache is None
    assert result.trace is not None
    result.trace.record(dagron.TraceEventType.NODE_CACHE_MISS, "m", 0.0)
    assert result.inspect("m").cache == "miss"


# -- value previews -------------------------------------------------------------------
def test_a_dataframe_preview_has_shape_dtypes_and_head_as_plain_data() -> None:
    frame = pd.DataFrame({"x": range(1000), "name": ["a<b>"] * 1000, "f": [0.5] * 1000})
    preview = preview_value(frame)
    assert (preview.kind, preview.shape, preview.truncated) == ("dataframe", (1000, 3), True)
    assert preview.columns == ("x", "name", "f")
    assert preview.dtypes[0] == "int64"
    assert preview.dtypes[2] == "float64"
    assert len(preview.rows) == PREVIEW_ROWS
    assert preview.rows[1] == ("1", "1", "a<b>", "0.5")  # index first, every cell a string
    json.dumps(preview.rows)


def test_a_numpy_array_preview_has_shape_and_dtype() -> None:
    preview = preview_value(np.zeros((2000, 3), dtype=np.float32))
    assert (preview.kind, preview.shape, preview.dtype) == ("array", (2000, 3), "float32")
    assert len(preview.text) <= PREVIEW_CHARS


def test_a_series_preview() -> None:
    preview = preview_value(pd.Series([1, 2], name="s"))
    assert (preview.kind, preview.shape, preview.dtype) == ("series", (2,), "int64")


def test_large_values_are_summarised_never_printed_whole() -> None:
    big = list(range(5_000_000))
    preview = preview_value(big)
    assert preview.length == 5_000_000
    assert len(preview.text) < 400
    text = preview_value("x" * 10**6)
    assert len(text.text) <= PREVIEW_CHARS
    nested = preview_value({i: list(range(1000)) for i in range(1000)})
    assert len(nested.text) <= PREVIEW_CHARS
    assert nested.length == 1000


def test_a_value_whose_repr_raises_is_described() -> None:
    class Odd:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert "Odd instance" in preview_value(Odd()).text  # reprlib's stand-in, no exception


# -- source -----------------------------------------------------------------------------
def test_source_behind_wrappers_and_of_a_notebook_cell() -> None:
    import functools

    assert task_source(functools.partial(load)) == task_source(load)
    assert task_source(dagron.task(load)) == task_source(load)
    assert task_source(print) is None
    assert task_source(None) is None

    # IPython keeps a cell's source in linecache under a made-up file name
    filename = "<ipython-input-3-0123abcd>"
    cell = "x = 1\ndef from_cell(a):\n    return a + 1\n"
    linecache.cache[filename] = (len(cell), None, cell.splitlines(True), filename)
    try:
        namespace: dict[str, Any] = {}
        exec(compile(cell, filename, "exec"), namespace)
        assert task_source(namespace["from_cell"]) == "def from_cell(a):\n    return a + 1\n"
    finally:
        del linecache.cache[filename]


# -- mid-run, from the live columns -----------------------------------------------------
class _Watcher:
    def __init__(self) -> None:
        self.view: RunView | None = None

    def watch_run(self, view: RunView) -> None:
        self.view = view


def test_a_running_node_inspected_from_the_live_columns() -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        print("half way")
        started.set()
        release.wait(10)
        return 5

    watcher = _Watcher()
    dag = dagron.DAG.builder().add_edge("slow", "after").build()
    executor = dagron.DAGExecutor(dag, callbacks=[watcher, dagron.OutputCapture()])
    box: dict[str, ExecutionResult] = {}
    runner = threading.Thread(
        target=lambda: box.setdefault("r", executor.execute({"slow": slow, "after": lambda: 1}))
    )
    runner.start()
    try:
        assert started.wait(10)
        assert watcher.view is not None
        mid = inspect_node(watcher.view, "slow")
        assert (mid.status, mid.output, mid.duration, mid.value) == (
            S.RUNNING,
            "half way\n",
            None,
            None,
        )
        assert mid.source is not None
        assert "def slow()" in mid.source
        assert inspect_node(watcher.view, "after").status is S.PENDING
    finally:
        release.set()
        runner.join(10)
    final = box["r"].inspect("slow")
    assert (final.status, final.output, final.value and final.value.text) == (
        S.COMPLETED,
        "half way\n",
        "5",
    )


# -- static output ------------------------------------------------------------------------
class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_escaped_and_json_is_plain() -> None:
    def boom() -> None:
        print("<b>printed</b>")
        raise RuntimeError("<script>alert(1)</script>")

    dag = dagron.DAG().add_nodes(["<img src=x>"])
    result = dagron.DAGExecutor(dag, callbacks=dagron.OutputCapture()).execute(
        {"<img src=x>": boom}
    )
    node = result.inspect("<img src=x>")
    page = node._repr_html_()
    parser = _Text()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert "b" not in parser.tags
    text = "".join(parser.text)
    assert "<script>alert(1)</script>" in text
    assert "<b>printed</b>" in text
    data = node.to_dict()
    assert data["status"] == "failed"
    assert data["output"] == "<b>printed</b>\n"
    json.dumps(data)
    assert isinstance(node, NodeInspection)
    assert "RuntimeError" in str(node)


def test_a_dataframe_value_in_html_is_a_table() -> None:
    dag = dagron.DAG().add_nodes(["df"])
    result = dagron.DAGExecutor(dag).execute({"df": lambda: pd.DataFrame({"a": [1, 2]})})
    page = result.inspect("df")._repr_html_()
    assert "<table>" in page
    assert "int64" in page
    assert "2 rows x 1 columns" in page


def test_cancel_state_names_the_tasks_a_cancel_waits_for() -> None:
    started, release = threading.Event(), threading.Event()
    cancelled = threading.Event()
    watcher = _Watcher()
    spy = dagron.ExecutionCallbacks(on_skip=lambda name: cancelled.set())
    stop = threading.Event()
    dag = dagron.DAG.builder().add_edge("slow", "after").add_node("other").build()
    executor = dagron.DAGExecutor(dag, max_workers=2, callbacks=[watcher, spy])

    def slow() -> None:
        started.set()
        release.wait(10)

    runner = threading.Thread(
        target=executor.execute,
        args=({"slow": slow, "after": lambda: 1, "other": lambda: started.wait(10)}, None, stop),
    )
    runner.start()
    try:
        assert started.wait(10)
        assert watcher.view is not None
        assert cancel_state(watcher.view) is None
        stop.set()
        assert cancelled.wait(10)  # on_node_cancel falls back to on_skip
        state = cancel_state(watcher.view)
        assert state is not None
        assert state.reason == "cancelled: cancel_event was set"
        assert state.running == ("slow",)
        assert state.message == "cancelling: waiting for 1 running task: slow"
    finally:
        release.set()
        runner.join(10)
    assert CancelState("why", ("a", "b")).message == "cancelling: waiting for 2 running tasks: a, b"
    assert CancelState("why", ()).message == "cancelled (why)"
