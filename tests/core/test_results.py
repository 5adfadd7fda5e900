"""NodeStatus and its transition table, NodeResult, and ExecutionResult's views."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import pytest

from dagron_nb import (
    DAG,
    DAGExecutor,
    ExecutionResult,
    InvalidTransitionError,
    NodeResult,
    NodeStatus,
    NodeTimeoutError,
)
from dagron_nb.core.results import TRANSITIONS, check_transition

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import ExceptionGroup

S = NodeStatus


# -- NodeStatus -------------------------------------------------------------------------
def test_eight_statuses_with_their_badges() -> None:
    assert [s.name for s in NodeStatus] == [
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "SKIPPED",
        "TIMED_OUT",
        "CANCELLED",
        "CACHE_HIT",
    ]
    assert [s.value for s in NodeStatus] == [
        "pending",
        "running",
        "completed",
        "failed",
        "skipped",
        "timed-out",
        "cancelled",
        "cache-hit",
    ]


def test_terminal_and_success() -> None:
    assert {s for s in NodeStatus if not s.is_terminal} == {S.PENDING, S.RUNNING}
    assert {s for s in NodeStatus if s.is_success} == {S.COMPLETED, S.CACHE_HIT}


ALLOWED = {
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.SKIPPED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.CACHE_HIT),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.TIMED_OUT),
    (S.RUNNING, S.CANCELLED),
}


def test_transition_table_is_exactly_the_documented_one() -> None:
    table = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(NodeStatus)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(NodeStatus, NodeStatus)))
def test_check_transition_raises_for_everything_else(old: NodeStatus, new: NodeStatus) -> None:
    if (old, new) in ALLOWED:
        check_transition("n", old, new)
        return
    with pytest.raises(InvalidTransitionError, match=r"node 'n' cannot go from") as info:
        check_transition("n", old, new)
    message = str(info.value)
    assert str(old) in message
    assert str(new) in message
    assert "bug in dagron_nb" in message
    assert info.value.name == "n"
    assert isinstance(info.value, RuntimeError)


# -- ExecutionResult built by hand ------------------------------------------------------
def hand_result() -> ExecutionResult:
    dag = DAG().add_nodes(["ok", "bad", "late", "skip", "gone", "cached", "taskless"])
    boom = ValueError("boom")
    late = NodeTimeoutError("late", 1.0)
    return ExecutionResult(
        dag.snapshot(),
        dag.nodes(),
        [S.COMPLETED, S.FAILED, S.TIMED_OUT, S.SKIPPED, S.CANCELLED, S.CACHE_HIT, S.SKIPPED],
        values=[1, None, None, None, None, 42, None],
        errors=[None, boom, late, None, None, None, None],
        started=[0.0, 0.5, 1.0, None, None, None, None],
        finished=[0.5, 0.75, 2.0, None, None, None, None],
        workers=["w0", "w1", "w0", None, None, None, None],
        reasons=[
            None,
            None,
            None,
            "upstream 'bad' failed",
            "cancelled: cancel_event was set",
            None,
            "no task",
        ],
        total_duration_seconds=2.5,
    )


def test_counts() -> None:
    result = hand_result()
    assert (result.succeeded, result.failed, result.skipped) == (1, 1, 2)
    assert (result.timed_out, result.cancelled, result.cache_hits) == (1, 1, 1)
    assert sum(result.counts.values()) == len(result) == 7
    assert result.counts[S.PENDING] == 0
    assert not result.ok


def test_node_results_are_built_from_the_columns() -> None:
    result = hand_result()
    nrs = result.node_results
    assert list(nrs) == ["ok", "bad", "late", "skip", "gone", "cached", "taskless"]
    assert nrs is result.node_results  # built once
    assert nrs["ok"] == NodeResult(
        name="ok",
        status=S.COMPLETED,
        result=1,
        error=None,
        duration_seconds=0.5,
        started_at=0.0,
        finished_at=0.5,
        worker="w0",
        reason=None,
    )
    assert nrs["bad"].duration_seconds == pytest.approx(0.25)
    assert isinstance(nrs["bad"].error, ValueError)
    assert nrs["skip"].duration_seconds == 0.0
    assert nrs["skip"].started_at is None
    assert nrs["skip"].worker is None
    assert nrs["skip"].reason == "upstream 'bad' failed"
    with pytest.raises(AttributeError):
        nrs["ok"].status = S.FAILED  # type: ignore[misc]


def test_getitem_contains_iter_len() -> None:
    result = hand_result()
    assert result["cached"].result == 42
    assert "ok" in result
    assert "nope" not in result
    assert 3 not in result
    assert list(result) == result.names
    assert len(result) == 7
    with pytest.raises(KeyError, match=r"no node 'nope' in this result; its nodes are \['ok'"):
        result["nope"]


def test_outputs_are_the_values_of_successful_nodes() -> None:
    assert hand_result().outputs() == {"ok": 1, "cached": 42}


def test_raise_for_failures_raises_an_exception_group_of_node_errors() -> None:
    result = hand_result()
    with pytest.raises(ExceptionGroup, match=r"2 node\(s\) failed: \['bad', 'late'\]") as info:
        result.raise_for_failures()
    errors = info.value.exceptions
    assert [type(e) for e in errors] == [ValueError, NodeTimeoutError]
    assert str(errors[0]) == "boom"
    assert "'late' was still running after its node timeout of 1 s" in str(errors[1])


def test_raise_for_failures_does_nothing_on_success() -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    result = DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    result.raise_for_failures()
    assert result.ok


def test_raise_for_failures_wraps_base_exceptions() -> None:
    dag = DAG().add_nodes(["a"])
    result = DAGExecutor(dag).execute({"a": _exit})
    assert result["a"].status is S.FAILED
    with pytest.raises(ExceptionGroup) as info:
        result.raise_for_failures()
    (error,) = info.value.exceptions
    assert isinstance(error, RuntimeError)
    assert "SystemExit" in str(error)


def _exit() -> None:
    raise SystemExit(3)


def test_summary_and_repr() -> None:
    result = hand_result()
    assert result.summary() == (
        "7 nodes in 2.500s: 1 completed, 1 failed, 2 skipped, 1 timed-out, 1 cancelled, 1 cache-hit"
    )
    assert repr(result) == f"<ExecutionResult {result.summary()}>"
    empty = ExecutionResult(
        DAG(),
        [],
        [],
        values=[],
        errors=[],
        started=[],
        finished=[],
        workers=[],
        reasons=[],
        total_duration_seconds=0.0,
    )
    assert empty.summary() == "0 nodes in 0.000s: nothing to run"
    assert empty.ok


def test_summary_shows_a_setup_time_from_a_tenth_of_a_second() -> None:
    result = hand_result()
    assert result.setup_seconds == 0.0
    result.setup_seconds = 0.099
    assert "setup" not in result.summary()
    result.setup_seconds = 0.8
    assert result.summary().startswith("7 nodes in 2.500s (+0.800s setup): 1 completed, ")


def test_ok_counts_taskless_skips_as_fine() -> None:
    dag = DAG.builder().add_edge("structural", "real").build()
    result = DAGExecutor(dag).execute({"real": lambda: 1})
    assert result["structural"].reason == "no task"
    assert result.ok


def test_a_real_run_fills_every_column() -> None:
    dag = DAG.builder().add_edge("a", "b").add_edge("a", "c").build()

    def fail() -> Any:
        raise KeyError("c")

    result = DAGExecutor(dag, fail_fast=False).execute(
        {"a": lambda: "A", "b": lambda: "B", "c": fail}
    )
    assert result.names == ["a", "b", "c"]
    assert result.statuses == [S.COMPLETED, S.COMPLETED, S.FAILED]
    assert result.values[:2] == ["A", "B"]
    assert isinstance(result.errors[2], KeyError)
    assert all(isinstance(t, float) for t in result.started + result.finished)
    assert all(w is not None and w.startswith("dagron-worker-") for w in result.workers)
    assert result.reasons == [None, None, None]
    assert result.dag.frozen
    assert result.trace is None
