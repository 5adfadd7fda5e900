"""live.py: the LiveDAG widget driven through its traits by real runs."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from ipywidgets.widgets.widget import _remove_buffers

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.core.errors import ConfigurationError
from dagron_nb.notebook import live as live_module
from dagron_nb.notebook import render
from dagron_nb.notebook.live import CODES, LiveDAG, run_live, run_live_async

SVG = "{http://www.w3.org/2000/svg}"
PATIENCE = 30.0  # hang guard for things that should happen soon (dot on a busy machine)
STATUS_OF_CODE = {code: status for status, code in CODES.items()}
LIVE_JS = live_module.STATIC / "live.js"


def delta_nodes(delta: dict[str, Any]) -> list[int]:
    """A delta's node indices, read from its bytes as the browser reads them."""
    raw = bytes(delta["nodes"])
    return list(struct.unpack(f"<{len(raw) // 4}i", raw))


class Recorder:
    """Records every value the ``delta`` and ``snapshot`` traits take."""

    def __init__(self, live: LiveDAG) -> None:
        self.deltas: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.times: list[float] = []
        live.observe(self._delta, names="delta")
        live.observe(lambda ch: self.snapshots.append(ch["new"]), names="snapshot")

    def _delta(self, change: dict[str, Any]) -> None:
        self.deltas.append(change["new"])
        self.times.append(time.perf_counter())

    def replay(self, n: int) -> list[NodeStatus]:
        """The statuses a browser view gets by applying every delta in order."""
        statuses = [NodeStatus.PENDING] * n
        for delta in self.deltas:
            for i, code in zip(delta_nodes(delta), delta["codes"], strict=True):
                statuses[i] = STATUS_OF_CODE[code]
        return statuses


def snapshot_statuses(live: LiveDAG) -> dict[str, NodeStatus]:
    return {name: STATUS_OF_CODE[code] for name, code in zip(live.names, live.snapshot["codes"])}


def mixed_dag() -> dagron.DAG:
    """ok -> bad -> after_bad; slow -> after_slow; free."""
    return (
        dagron.DAG.builder()
        .add_edge("ok", "bad")
        .add_edge("bad", "after_bad")
        .add_edge("slow", "after_slow")
        .add_node("free")
        .build()
    )


EXPECTED_MIXED = {
    "ok": NodeStatus.COMPLETED,
    "bad": NodeStatus.FAILED,
    "after_bad": NodeStatus.SKIPPED,
    "slow": NodeStatus.TIMED_OUT,
    "after_slow": NodeStatus.SKIPPED,
    "free": NodeStatus.COMPLETED,
}


def mixed_tasks(release: threading.Event) -> dict[str, Callable[[], Any]]:
    def bad() -> None:
        raise ValueError('bad <row> & "quote"\nsecond line')

    return {
        "ok": lambda: 1,
        "bad": bad,
        "after_bad": lambda: 2,
        "slow": lambda: release.wait(PATIENCE),
        "after_slow": lambda: 3,
        "free": lambda: 4,
    }


def check_mixed(live: LiveDAG, recorder: Recorder) -> None:
    assert live.statuses == EXPECTED_MIXED
    assert snapshot_statuses(live) == EXPECTED_MIXED
    assert live.phase == "done"
    names = live.names
    assert dict(zip(names, recorder.replay(len(names)))) == EXPECTED_MIXED
    messages = {names[int(i)]: m for i, m in live.snapshot["messages"].items()}
    assert messages["bad"] == 'ValueError: bad <row> & "quote"\nsecond line'
    assert messages["after_bad"] == "upstream 'bad' failed"
    assert "NodeTimeoutError" in messages["slow"]
    durations = dict(zip(names, live.snapshot["durations"]))
    assert durations["ok"] is not None
    assert durations["after_bad"] is None  # never started
    seqs = [d["seq"] for d in recorder.deltas]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_statuses_after_a_threaded_run_with_failure_skip_and_timeout() -> None:
    dag = mixed_dag()
    live = LiveDAG(dag, title="mixed")
    recorder = Recorder(live)
    release = threading.Event()
    try:
        dagron.DAGExecutor(dag, max_workers=4, callbacks=live, fail_fast=False).execute(
            mixed_tasks(release), node_timeouts={"slow": 0.2}
        )
    finally:
        release.set()
    check_mixed(live, recorder)


def test_statuses_after_an_async_run_with_failure_skip_and_timeout() -> None:
    dag = mixed_dag()
    live = LiveDAG(dag)
    recorder = Recorder(live)
    release = threading.Event()

    class Release:
        # asyncio.run waits for the thread pool: let the abandoned task end with the run
        def on_run_end(self, result: dagron.ExecutionResult) -> None:
            release.set()

    async def main() -> None:
        executor = dagron.AsyncDAGExecutor(dag, callbacks=[live, Release()], fail_fast=False)
        await executor.execute(mixed_tasks(release), node_timeouts={"slow": 0.2})

    try:
        asyncio.run(main())
    finally:
        release.set()
    check_mixed(live, recorder)


def test_pipeline_with_live_and_own_callbacks_together() -> None:
    @dagron.task
    def load() -> int:
        return 1

    @dagron.task
    def clean(load: int) -> int:
        raise RuntimeError("dirty data")

    @dagron.task
    def report(clean: int) -> int:
        return clean

    pipeline = dagron.Pipeline([load, clean, report], name="etl")
    live = LiveDAG(pipeline)
    heard: list[str] = []

    class Mine:
        def on_node_error(self, name: str, error: BaseException) -> None:
            heard.append(name)

    pipeline.execute(callbacks=[live, Mine()], fail_fast=False)
    assert heard == ["clean"]
    assert live.statuses == {
        "load": NodeStatus.COMPLETED,
        "clean": NodeStatus.FAILED,
        "report": NodeStatus.SKIPPED,
    }


def test_cancelled_nodes_show_as_cancelled() -> None:
    dag = dagron.DAG.builder().add_edge("first", "second").add_edge("second", "third").build()
    cancel = threading.Event()
    live = LiveDAG(dag)

    def first() -> None:
        cancel.set()

    dagron.DAGExecutor(dag, callbacks=live).execute(
        {"first": first, "second": lambda: 1, "third": lambda: 2}, cancel_event=cancel
    )
    assert live.statuses["second"] is NodeStatus.CANCELLED
    assert snapshot_statuses(live)["third"] is NodeStatus.CANCELLED


def test_deltas_are_batched_for_a_5000_node_run() -> None:
    n = 5000
    dag = dagron.DAG.builder().add_nodes([f"t{i}" for i in range(n)]).build()
    live = LiveDAG(dag)
    assert live.view == "summary"  # above the layout limit: no dot for this one
    recorder = Recorder(live)

    def work() -> None:
        time.sleep(0.0002)  # long enough that the run spans several flushes

    started = time.perf_counter()
    result = dagron.DAGExecutor(dag, max_workers=4, callbacks=live).execute(
        {f"t{i}": work for i in range(n)}
    )
    took = time.perf_counter() - started
    assert result.succeeded == n
    # ~10 deltas per second of run plus the final flush, never one per event (10,000)
    assert 1 <= len(recorder.deltas) <= took / live.flush_interval + 3
    assert len(recorder.deltas) < 200
    # all but the final flush come from the flusher, which waits a full interval
    gaps = [b - a for a, b in zip(recorder.times, recorder.times[1:-1])]
    assert all(gap >= live.flush_interval * 0.9 for gap in gaps), gaps
    assert recorder.replay(n) == [NodeStatus.COMPLETED] * n
    assert set(live.snapshot["codes"]) == {"c"}


def test_final_flush_sends_what_the_flusher_never_saw() -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_node("c").build()
    live = LiveDAG(dag, flush_interval=3600)  # the flusher never fires during this run
    recorder = Recorder(live)
    dagron.DAGExecutor(dag, callbacks=live).execute({"a": int, "b": int, "c": int})
    assert len(recorder.deltas) == 1
    final = recorder.deltas[0]
    assert sorted(delta_nodes(final)) == [0, 1, 2]
    assert final["codes"] == "ccc"
    assert recorder.replay(3) == [NodeStatus.COMPLETED] * 3
    assert live.phase == "done"


def test_final_delta_lists_only_what_changed_since_the_last_one() -> None:
    dag = dagron.DAG.builder().add_edge("first", "second").add_edge("second", "third").build()
    live = LiveDAG(dag, flush_interval=3600)  # deltas only when this test flushes
    recorder = Recorder(live)

    def second() -> int:
        live._flush()  # what the flusher does: the browser now knows first, second
        return 2

    dagron.DAGExecutor(dag, callbacks=live).execute({"first": int, "second": second, "third": int})
    mid, final = recorder.deltas
    assert dict(zip(delta_nodes(mid), mid["codes"], strict=True)) == {0: "c", 1: "r"}
    assert delta_nodes(final) == [1, 2]
    assert final["codes"] == "cc"
    assert recorder.replay(3) == [NodeStatus.COMPLETED] * 3


def run_node(script: str, tmp_path: Any) -> Any:
    """Run ``script`` (an ES module importing ./live.mjs) under Node; its JSON output."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: cannot run live.js's decoder outside a browser")
    (tmp_path / "live.mjs").write_bytes(LIVE_JS.read_bytes())
    (tmp_path / "main.mjs").write_text(script)
    done = subprocess.run(
        [node, str(tmp_path / "main.mjs")], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_delta_nodes_travel_as_one_int32_buffer_that_live_js_decodes(tmp_path: Any) -> None:
    n = 3000  # above the layout limit: the summary view, no dot needed
    dag = dagron.DAG.builder().add_nodes([f"t{i}" for i in range(n)]).build()
    live = LiveDAG(dag, flush_interval=3600)
    recorder = Recorder(live)
    live.on_run_start(dag.snapshot())
    some = [2999, 0, 1234, 7]  # queued in this order, not sorted
    for i in some:
        live.on_node_start(f"t{i}")
    live._flush()
    tasks: dict[str, Callable[[], Any]] = dict.fromkeys(dag.nodes(), int)
    result = dagron.DAGExecutor(dag, callbacks=live).execute(tasks)
    live.close()
    assert result.succeeded == n
    partial, *_, final = recorder.deltas
    # little-endian int32, one per listed node, in the order the codes list them
    assert bytes(partial["nodes"]) == struct.pack("<4i", *some)
    assert partial["codes"] == "rrrr"
    assert sorted(delta_nodes(final)) == list(range(n))
    # on the wire: the indices are a binary buffer at delta.nodes, not JSON
    state, paths, buffers = _remove_buffers({"delta": partial})
    assert paths == [["delta", "nodes"]]
    assert "nodes" not in state["delta"]
    json.dumps(state)  # the rest is plain JSON
    # and live.js reads them back, from an aligned DataView (what the widget
    # manager hands over) and from one at an odd offset
    wire = [base64.b64encode(bytes(b)).decode() for b in (buffers[0], final["nodes"])]
    decoded = run_node(
        textwrap.dedent(
            f"""
            import {{ nodeIndices }} from "./live.mjs";
            const wire = {json.dumps(wire)};
            const out = wire.map((text) => {{
              const bytes = Buffer.from(text, "base64");
              const aligned = new Uint8Array(bytes.length);
              aligned.set(bytes);
              const odd = new Uint8Array(bytes.length + 1);
              odd.set(bytes, 1);
              return [
                Array.from(nodeIndices(new DataView(aligned.buffer))),
                Array.from(nodeIndices(new DataView(odd.buffer, 1, bytes.length))),
              ];
            }});
            console.log(JSON.stringify(out));
            """
        ),
        tmp_path,
    )
    assert decoded[0] == [some, some]
    assert decoded[1] == [delta_nodes(final)] * 2


def test_one_flusher_thread_serves_many_runs_and_ends_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    live = LiveDAG(dag)
    flusher = live._flusher
    assert flusher is not None  # started with the widget, not inside the first run
    executor = dagron.DAGExecutor(dag, callbacks=live)
    executor.execute({"a": int, "b": int})
    assert live._flusher is flusher
    assert flusher.is_alive()  # still ticking after the run's end
    executor.execute({"a": int, "b": int})
    assert live._flusher is flusher  # the second run started no thread
    monkeypatch.setattr(live_module, "FLUSHER_IDLE", 0.01)
    flusher.join(PATIENCE)  # no run for FLUSHER_IDLE seconds: it ends at its next tick
    assert not flusher.is_alive()
    assert live._flusher is None
    monkeypatch.undo()  # the real idle limit again
    recorder = Recorder(live)
    executor.execute({"a": int, "b": lambda: 1 / 0})  # a new run starts a new one
    assert live.statuses["b"] is NodeStatus.FAILED
    assert recorder.replay(2) == [NodeStatus.COMPLETED, NodeStatus.FAILED]
    again = live._flusher
    assert again is not None
    assert again is not flusher
    live.close()
    assert not again.is_alive()  # close() ends it (and joins it)
    assert live._flusher is None


def test_updates_reach_the_browser_while_a_node_is_still_running() -> None:
    dag = dagron.DAG.builder().add_edge("long", "after").build()
    live = LiveDAG(dag)
    seen_running = threading.Event()

    def watch(change: dict[str, Any]) -> None:
        delta = change["new"]
        if dict(zip(delta_nodes(delta), delta["codes"])).get(0) == "r":
            seen_running.set()

    live.observe(watch, names="delta")

    def long() -> bool:
        # the run can only go on once a delta told the browser that this node runs
        return seen_running.wait(PATIENCE)

    result = dagron.DAGExecutor(dag, callbacks=live).execute({"long": long, "after": int})
    assert result["long"].result is True
    assert live.statuses["after"] is NodeStatus.COMPLETED


def test_thread_safety_under_many_workers() -> None:
    n = 3000
    builder = dagron.DAG.builder().add_nodes([f"r{i}" for i in range(50)])
    for i in range(50, n):
        builder.add_edge(f"r{i % 50}", f"n{i}")
    dag = builder.build()
    live = LiveDAG(dag, flush_interval=0.01)  # flush as often as possible meanwhile
    recorder = Recorder(live)
    gate = threading.Barrier(32, timeout=PATIENCE)

    def first_wave() -> None:
        gate.wait()  # 32 workers really run callbacks at the same moment

    tasks: dict[str, Callable[[], Any]] = dict.fromkeys(dag.nodes(), int)
    for i in range(32):
        tasks[f"r{i}"] = first_wave
    for i in range(50, n, 7):
        tasks[f"n{i}"] = lambda: 1 / 0  # some failures among them
    result = dagron.DAGExecutor(dag, max_workers=32, callbacks=live, fail_fast=False).execute(tasks)
    expected = dict(zip(result.names, result.statuses))
    assert live.statuses == expected
    assert snapshot_statuses(live) == expected
    assert dict(zip(live.names, recorder.replay(n))) == expected
    failed = [i for i, s in enumerate(result.statuses) if s is NodeStatus.FAILED]
    assert sorted(int(i) for i in live.snapshot["messages"]) == failed


def test_nasty_names_survive_traits_and_json(nasty_dag: dagron.DAG, nasty_names: list[str]) -> None:
    live = LiveDAG(nasty_dag, title="<b>title</b>")

    def boom() -> None:
        raise ValueError("<script>alert('x')</script> & \\ \"q\"")

    tasks: dict[str, Callable[[], Any]] = dict.fromkeys(nasty_names, int)
    tasks[nasty_names[3]] = boom
    dagron.DAGExecutor(nasty_dag, callbacks=live, fail_fast=False).execute(tasks)
    # what goes over the wire: ipywidgets moves binary values (delta.nodes) into
    # message buffers and sends the rest as JSON
    state, _, _ = _remove_buffers(live.get_state())
    state = json.loads(json.dumps(state))
    assert state["names"] == nasty_names
    message = state["snapshot"]["messages"]["3"]
    assert message == "ValueError: <script>alert('x')</script> & \\ \"q\""
    assert state["title"] == "<b>title</b>"


def test_a_layout_after_the_run_still_reaches_a_widget_shown_nowhere_else(
    dot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run that ends before Graphviz does: with no show() outputs to put a static
    # picture in, the svg trait is the only picture there is, so it must be sent
    # (it used to be left out, which made the test below fail on a busy machine).
    laid_out = render.layout_svg
    go = threading.Event()

    def slow_layout(dag: dagron.DAG, **kwargs: Any) -> str:
        assert go.wait(PATIENCE)
        return laid_out(dag, **kwargs)

    monkeypatch.setattr(render, "layout_svg", slow_layout)
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    live = LiveDAG(dag)
    svgs: list[str] = []
    live.observe(lambda ch: svgs.append(ch["new"]), names="svg")
    result = dagron.DAGExecutor(dag, callbacks=live).execute({"a": int, "b": int})
    assert result.succeeded == 2
    go.set()
    assert live.wait_for_layout(PATIENCE)
    assert live.view == "graph"
    assert len([s for s in svgs if s]) == 1


def test_layout_arrives_once_in_the_background(dot: None, picture_nodes: Any) -> None:
    dag = mixed_dag()
    live = LiveDAG(dag)
    svgs: list[str] = []
    live.observe(lambda ch: svgs.append(ch["new"]), names="svg")
    release = threading.Event()
    try:
        dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute(
            mixed_tasks(release), node_timeouts={"slow": 0.2}
        )
    finally:
        release.set()
    assert live.wait_for_layout(PATIENCE)
    assert live.view == "graph"
    assert len([s for s in svgs if s]) == 1  # sent once; only statuses travel afterwards
    # Graphviz's own SVG: the browser paints it, finding nodes by their index ids
    root = ET.fromstring(live.svg)
    ids = {g.get("id") for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()}
    assert ids == {f"n{i}" for i in range(6)}
    assert picture_nodes(live.static_bundle()).keys() == set(dag.nodes())


def test_run_never_waits_for_the_layout(
    dot: None, monkeypatch: pytest.MonkeyPatch, picture_nodes: Any
) -> None:
    run_done = threading.Event()
    real_layout = render.layout_svg

    def slow_layout(dag: dagron.DAG, *args: Any, **kwargs: Any) -> str:
        # the layout may only finish after the run did: if the run waited, it would hang
        assert run_done.wait(PATIENCE)
        return real_layout(dag, *args, **kwargs)

    monkeypatch.setattr(live_module.render, "layout_svg", slow_layout)
    dag = mixed_dag()
    live = LiveDAG(dag)
    release = threading.Event()
    try:
        dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute(
            mixed_tasks(release), node_timeouts={"slow": 0.2}
        )
    finally:
        release.set()
    assert live.view == "loading"
    assert live.statuses == EXPECTED_MIXED  # statuses gathered without a picture
    run_done.set()
    assert live.wait_for_layout(PATIENCE)
    assert live.view == "graph"
    # the static picture built now applies the statuses gathered meanwhile
    nodes = picture_nodes(live.static_bundle())
    assert {name: NodeStatus(node.status) for name, node in nodes.items()} == EXPECTED_MIXED
    assert nodes["bad"].fill == render.STATUS_COLORS[NodeStatus.FAILED]
    assert "ValueError: bad <row>" in nodes["bad"].tooltip


def test_first_picture_of_a_1000_node_dag(dot: None) -> None:
    n = 1000
    builder = dagron.DAG.builder()
    for i in range(1, n):
        builder.add_edge(f"n{(i - 1) // 3}", f"n{i}")
    live = LiveDAG(builder.build())
    assert live.view == "loading"  # the constructor did not wait for dot
    assert live.wait_for_layout(PATIENCE)
    assert live.view == "graph"
    groups = ET.fromstring(live.svg).iter(f"{SVG}g")
    assert sum("node" in g.get("class", "").split() for g in groups) == n


def test_summary_view_above_the_limit_says_why() -> None:
    n = render.LAYOUT_LIMIT + 1
    dag = dagron.DAG.builder().add_nodes([f"t{i}" for i in range(n)]).build()
    live = LiveDAG(dag)
    assert live.view == "summary"
    assert live.svg == ""
    assert f"{n:,} nodes is above the {render.LAYOUT_LIMIT:,}-node limit" in live.note
    tasks: dict[str, Callable[[], Any]] = {f"t{i}": int for i in range(n)}
    tasks["t7"] = lambda: 1 / 0
    dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute(tasks)
    assert live.snapshot["durations"] is None  # no per-node tooltips to feed
    assert live.snapshot["messages"] == {"7": "ZeroDivisionError: division by zero"}
    html = live.static_bundle()["text/html"]
    assert "image/svg+xml" not in live.static_bundle()
    assert "failed (1)" in html
    assert "ZeroDivisionError: division by zero" in html
    assert "limit" in html


def test_small_limit_gives_the_summary_for_small_graphs_too() -> None:
    live = LiveDAG(mixed_dag(), max_layout_nodes=3)
    assert live.view == "summary"
    assert "above the 3-node limit" in live.note


def test_without_dot_the_widget_says_how_to_install_and_the_run_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import graphviz

    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY", "dot-is-not-installed")
    dag = mixed_dag()
    live = LiveDAG(dag)
    assert live.view == "summary"
    assert "apt-get install graphviz" in live.note
    assert "conda install -c conda-forge graphviz" in live.note
    release = threading.Event()
    try:
        dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute(
            mixed_tasks(release), node_timeouts={"slow": 0.2}
        )
    finally:
        release.set()
    assert live.statuses == EXPECTED_MIXED
    html = live.static_bundle()["text/html"]
    assert "apt-get install graphviz" in html
    assert "failed (2)" in html  # bad and slow


def test_without_dot_on_the_path_in_a_fresh_interpreter(tmp_path: Any) -> None:
    script = textwrap.dedent(
        """
        import json
        import dagron_nb as dagron
        from dagron_nb.notebook import LiveDAG
        dag = dagron.DAG.builder().add_edge("a", "b").build()
        live = LiveDAG(dag)
        def fail():
            raise KeyError("k")
        dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute({"a": fail, "b": int})
        print(json.dumps({"view": live.view, "note": live.note,
                          "statuses": {k: v.value for k, v in live.statuses.items()}}))
        """
    )
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH with no dot at all
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": str(empty), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["view"] == "summary"
    assert "apt-get install graphviz" in out["note"]
    assert out["statuses"] == {"a": "failed", "b": "skipped"}


def test_a_second_run_starts_from_pending() -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    live = LiveDAG(dag)
    executor = dagron.DAGExecutor(dag, callbacks=live, fail_fast=False)
    executor.execute({"a": lambda: 1 / 0, "b": int})
    assert live.statuses["a"] is NodeStatus.FAILED
    first_seq = live.snapshot["seq"]
    recorder = Recorder(live)
    executor.execute({"a": int, "b": int})
    reset = recorder.snapshots[0]
    assert reset["codes"] == "pp"
    assert reset["seq"] > first_seq
    assert reset["messages"] == {}
    assert live.statuses == {"a": NodeStatus.COMPLETED, "b": NodeStatus.COMPLETED}


def test_a_run_of_another_dag_switches_the_picture() -> None:
    live = LiveDAG(dagron.DAG.builder().add_node("old").build(), max_layout_nodes=0)
    other = dagron.DAG.builder().add_edge("x", "y").build()
    dagron.DAGExecutor(other, callbacks=live).execute({"x": int, "y": int})
    assert live.names == ["x", "y"]
    assert live.statuses == {"x": NodeStatus.COMPLETED, "y": NodeStatus.COMPLETED}


def test_callbacks_are_cheap_and_never_sync_a_trait(caplog: pytest.LogCaptureFixture) -> None:
    dag = dagron.DAG.builder().add_nodes([f"t{i}" for i in range(100)]).build()
    live = LiveDAG(dag, flush_interval=3600)
    live.on_run_start(dag.snapshot())
    changes: list[str] = []
    live.observe(lambda ch: changes.append(ch["name"]), names=traitlets_all(live))
    for i in range(100):
        live.on_node_start(f"t{i}")
        live.on_node_complete(f"t{i}", None)
    live.on_node_start("not-a-node")  # ignored, not an error
    assert changes == []  # nothing went to the browser per event
    with caplog.at_level(logging.ERROR, logger="dagron_nb"):
        live._flush()
    assert changes == ["delta"]
    assert caplog.records == []
    live.close()


def traitlets_all(live: LiveDAG) -> list[str]:
    return [name for name in live.trait_names() if live.trait_metadata(name, "sync")]


def test_show_displays_the_widget_then_leaves_the_final_picture(
    dot: None, captured_shell: Any, picture_nodes: Any
) -> None:
    dag = mixed_dag()
    live = LiveDAG(dag, title="shown")
    live.show()
    release = threading.Event()
    try:
        dagron.DAGExecutor(dag, callbacks=live, fail_fast=False).execute(
            mixed_tasks(release), node_timeouts={"slow": 0.2}
        )
    finally:
        release.set()
    assert live.wait_for_layout(PATIENCE)
    first, *rest = captured_shell.display_pub.outputs
    display_id = first["transient"]["display_id"]
    assert first["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == live.model_id
    assert "text/html" in first["data"]  # a fallback where widgets cannot show
    final = rest[-1]  # a summary first if the run ended before the layout
    assert all(update["update"] is True for update in rest)
    assert final["transient"]["display_id"] == display_id
    data = final["data"]
    # no browser view opened it: static from now on, the svg trait emptied
    assert "application/vnd.jupyter.widget-view+json" not in data
    assert live.svg == ""
    nodes = picture_nodes(data)
    assert nodes["bad"].fill == render.STATUS_COLORS[NodeStatus.FAILED]
    assert nodes["after_bad"].status == "skipped"
    assert 'class="dagron-static"' in data["text/html"]
    assert "2/6 done" in data["text/html"]
    assert "shown" in data["text/plain"]


def test_run_live_threads_and_async(captured_shell: Any) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    result = run_live(dag, {"a": int, "b": lambda: 1 / 0}, max_workers=2, fail_fast=False)
    assert result.failed == 1

    async def double() -> int:
        return 2

    result = run_live(dag, {"a": double, "b": double}, executor="async")
    assert result.succeeded == 2
    outputs = captured_shell.display_pub.outputs
    assert sum(1 for o in outputs if o["update"]) == 2  # each run left its final picture


def test_run_live_async_inside_a_running_loop(captured_shell: Any) -> None:
    @dagron.task
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 3

    @dagron.task
    def double(fetch: int) -> int:
        return 2 * fetch

    pipeline = dagron.Pipeline([fetch, double])

    async def main() -> dagron.ExecutionResult:
        return await run_live_async(pipeline)

    result = asyncio.run(main())
    assert result["double"].result == 6


def test_run_live_refuses_bad_arguments() -> None:
    dag = dagron.DAG.builder().add_node("a").build()
    with pytest.raises(ConfigurationError, match="executor must be 'threads' or 'async'"):
        run_live(dag, {"a": int}, executor="processes")
    with pytest.raises(ConfigurationError, match="unknown keyword"):
        run_live(dag, {"a": int}, workers=2)
    with pytest.raises(ConfigurationError, match="needs tasks"):
        run_live(dag)
    with pytest.raises(ConfigurationError, match="LiveDAG needs a DAG or a Pipeline"):
        LiveDAG(["a", "b"])


def test_run_live_async_executor_from_inside_a_running_loop(tmp_path: Any) -> None:
    # A notebook cell runs inside the kernel's loop; nest_asyncio patches asyncio
    # globally, so this runs in its own interpreter.
    script = textwrap.dedent(
        """
        import asyncio
        import dagron_nb as dagron
        from dagron_nb.notebook import run_live

        async def fetch():
            await asyncio.sleep(0)
            return 1

        async def cell():
            asyncio.get_running_loop()  # we are inside a running loop, like a kernel
            dag = dagron.DAG.builder().add_edge("a", "b").build()
            return run_live(dag, {"a": fetch, "b": fetch}, executor="async")

        print(asyncio.run(cell()).succeeded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "2"
