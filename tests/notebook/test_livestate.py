"""livestate.py: the live widget's per-node state and its deltas, without a widget."""

from __future__ import annotations

import doctest
import struct
import time
from typing import Any

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.notebook import livestate
from dagron_nb.notebook.livestate import CODES, LiveState


def delta_nodes(delta: dict[str, Any]) -> list[int]:
    """A delta's node indices, read from its bytes as the browser reads them."""
    raw = bytes(delta["nodes"])
    return list(struct.unpack(f"<{len(raw) // 4}i", raw))


def chain(n: int) -> dagron.DAG:
    builder = dagron.DAG.builder()
    for i in range(n - 1):
        builder.add_edge(f"n{i}", f"n{i + 1}")
    return builder.build()


def update(state: LiveState, *, snapshot_due: bool = False) -> Any:
    with state.lock:
        return state.update_locked(time.perf_counter(), snapshot_due=snapshot_due)


def test_docstring_examples() -> None:
    outcome = doctest.testmod(livestate, optionflags=doctest.ELLIPSIS)
    assert outcome.attempted > 0
    assert outcome.failed == 0


def test_queued_events_become_one_delta_of_the_changed_nodes_only() -> None:
    state = LiveState(chain(4), max_layout_nodes=100)
    assert state.queue("n2", NodeStatus.RUNNING)
    assert state.queue("n2", NodeStatus.FAILED, "ValueError: bad")
    assert state.queue("n0", NodeStatus.RUNNING)
    assert not state.queue("not a node", NodeStatus.RUNNING)
    delta, snapshot = update(state)
    assert snapshot is None
    assert delta_nodes(delta) == [2, 0]  # each node once, in first-change order
    assert delta["codes"] == CODES[NodeStatus.FAILED] + CODES[NodeStatus.RUNNING]
    assert delta["messages"] == {"2": "ValueError: bad"}
    assert delta["durations"][0] is not None
    assert delta["durations"][0] >= 0
    assert delta["durations"][1] is None  # n0 is still running
    assert update(state) is None  # nothing changed since: nothing to send


def test_snapshot_holds_every_node_and_seq_grows() -> None:
    state = LiveState(chain(3), max_layout_nodes=100)
    state.queue("n1", NodeStatus.RUNNING)
    first, snapshot = update(state, snapshot_due=True)
    assert snapshot["codes"] == "prp"
    assert snapshot["seq"] == first["seq"]
    state.queue("n1", NodeStatus.COMPLETED)
    second, _ = update(state)
    assert second["seq"] == first["seq"] + 1


def test_a_result_the_browser_never_saw_change_makes_a_delta_of_all_nodes() -> None:
    dag = chain(5)
    result = dagron.DAGExecutor(dag).execute({f"n{i}": (lambda: None) for i in range(5)})
    state = LiveState(dag, max_layout_nodes=100)
    with state.lock:
        state.start_run_locked()
        state.end_run_locked(result)
    assert state.summary == result.summary()
    assert state.result is result  # kept for tooltips: the graph would be drawn
    delta, snapshot = update(state, snapshot_due=True)
    assert delta_nodes(delta) == [0, 1, 2, 3, 4]
    assert delta["codes"] == snapshot["codes"] == "c" * 5
    assert delta["elapsed"] == round(result.total_duration_seconds, 3)


def test_a_result_names_its_failures_and_skip_reasons() -> None:
    dag = chain(3)

    def boom() -> None:
        raise ValueError("no data")

    result = dagron.DAGExecutor(dag).execute({"n0": lambda: 1, "n1": boom, "n2": lambda: 2})
    state = LiveState(dag, max_layout_nodes=100)
    with state.lock:
        state.start_run_locked()
        state.end_run_locked(result)
    _, snapshot = update(state, snapshot_due=True)
    assert snapshot["codes"] == "cfs"
    assert "no data" in snapshot["messages"]["1"]
    assert snapshot["messages"]["2"] == result.reasons[2]


def test_above_the_layout_limit_no_durations_are_sent_or_kept() -> None:
    dag = chain(4)
    result = dagron.DAGExecutor(dag).execute({f"n{i}": (lambda: None) for i in range(4)})
    state = LiveState(dag, max_layout_nodes=3)
    with state.lock:
        state.start_run_locked()
        state.end_run_locked(result)
    delta, snapshot = update(state, snapshot_due=True)
    assert delta["durations"] is None
    assert snapshot["durations"] is None
    assert state.result is None


def test_node_metadata_is_one_line_per_key_and_long_values_are_cut() -> None:
    dag = dagron.DAG.builder().add_node("a", metadata={"owner": "ml", "blob": "x" * 500}).build()
    meta = livestate.node_metadata(dag, ["a"])
    owner, blob = meta["0"].split("\n")
    assert owner == "owner: ml"
    assert blob == "blob: " + "x" * 199 + "…"
