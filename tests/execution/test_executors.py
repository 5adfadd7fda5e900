"""DESIGN §3 semantics, checked on both executors through the ``runner`` fixture.

Concurrency is proven with events, barriers and recorded order; the only
clock readings are generous upper bounds that catch hangs and slow reactions.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import dagron_nb as dagron
from dagron_nb import DAG, ExecutionCallbacks, HookEvent, HookRegistry, NodeStatus, NodeTimeoutError

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from conftest import Recorder, Runner, Timeline

S = NodeStatus
PATIENCE = 5.0  # hang guard for waits that should end at once


def fail(message: str = "boom") -> Any:
    raise RuntimeError(message)


def statuses(result: dagron.ExecutionResult) -> dict[str, NodeStatus]:
    return {name: nr.status for name, nr in result.node_results.items()}


def reasons(result: dagron.ExecutionResult) -> dict[str, str | None]:
    return {name: nr.reason for name, nr in result.node_results.items()}


def frozen_columns(result: dagron.ExecutionResult) -> tuple[list[Any], ...]:
    return (
        list(result.statuses),
        list(result.values),
        list(result.errors),
        list(result.started),
        list(result.finished),
        list(result.workers),
        list(result.reasons),
    )


# -- scheduling -------------------------------------------------------------------------
def test_a_node_starts_while_an_unrelated_earlier_level_node_still_runs(runner: Runner) -> None:
    # slow and quick are level 0, after_quick level 1. A level-by-level executor
    # would wait for slow before starting after_quick; here slow waits for it.
    dag = DAG.builder().add_edge("slow", "after_slow").add_edge("quick", "after_quick").build()
    after_quick_started = threading.Event()

    def after_quick() -> str:
        after_quick_started.set()
        return "aq"

    tasks = {
        "slow": lambda: after_quick_started.wait(PATIENCE),
        "quick": lambda: "q",
        "after_quick": after_quick,
        "after_slow": lambda: "as",
    }
    result = runner.execute(dag, tasks, max_workers=2)
    assert result["slow"].result is True
    assert result.succeeded == 4
    assert dag.execution_plan()[0].nodes == ["slow", "quick"]


def test_one_worker_runs_the_cost_heavy_branch_first(runner: Runner, timeline: Timeline) -> None:
    dag = (
        DAG()
        .add_nodes(["light1", "light2", "heavy1", "heavy2"])
        .add_edges([("light1", "light2"), ("heavy1", "heavy2")])
    )
    tasks = {name: timeline.task(name) for name in dag.nodes()}
    runner.execute(dag, tasks, max_workers=1, costs={"heavy1": 10.0})
    # heavy1 (bottom level 11) first; then ties go by insertion order
    assert timeline.starts() == ["heavy1", "light1", "light2", "heavy2"]


def test_without_costs_ties_go_by_insertion_order(runner: Runner, timeline: Timeline) -> None:
    dag = (
        DAG()
        .add_nodes(["light1", "light2", "heavy1", "heavy2"])
        .add_edges([("light1", "light2"), ("heavy1", "heavy2")])
    )
    tasks = {name: timeline.task(name) for name in dag.nodes()}
    runner.execute(dag, tasks, max_workers=1)
    assert timeline.starts() == ["light1", "heavy1", "light2", "heavy2"]


def test_a_chain_declared_after_independent_tasks_starts_first(
    runner: Runner, timeline: Timeline
) -> None:
    singles = [f"i{k}" for k in range(5)]
    dag = DAG().add_nodes([*singles, "c0", "c1", "c2"]).add_edges([("c0", "c1"), ("c1", "c2")])
    tasks = {name: timeline.task(name) for name in dag.nodes()}
    runner.execute(dag, tasks, max_workers=1)
    assert timeline.starts() == ["c0", "c1", *singles, "c2"]


def test_one_worker_gives_a_sequential_topological_order(
    runner: Runner, timeline: Timeline
) -> None:
    builder = DAG.builder()
    for layer in range(4):
        for k in range(6):
            name = f"L{layer}_{k}"
            builder.add_node(name)
            if layer:
                builder.add_edge(f"L{layer - 1}_{(k * 5) % 6}", name)
                builder.add_edge(f"L{layer - 1}_{(k + 1) % 6}", name)
    dag = builder.build()
    tasks = {name: timeline.task(name) for name in dag.nodes()}
    result = runner.execute(dag, tasks, max_workers=1)
    assert result.succeeded == 24
    assert timeline.max_overlap() == 1  # strictly one at a time
    order = timeline.starts()
    assert sorted(order) == sorted(dag.nodes())
    for u, v in dag.edges():
        assert order.index(u) < order.index(v)


def test_max_workers_bounds_and_reaches_the_concurrency(runner: Runner, timeline: Timeline) -> None:
    # the barrier needs two tasks at once; the timeline shows never more than two
    barrier = threading.Barrier(2, timeout=PATIENCE)
    dag = DAG().add_nodes([f"t{k}" for k in range(6)])
    tasks = {name: timeline.task(name, barrier.wait) for name in dag.nodes()}
    result = runner.execute(dag, tasks, max_workers=2)
    assert result.succeeded == 6
    assert timeline.max_overlap() == 2
    assert len({nr.worker for nr in result.node_results.values()}) == 2


def test_values_come_back_per_node(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    result = runner.execute(dag, {"a": lambda: {"x": 1}, "b": lambda: None})
    assert result["a"].result == {"x": 1}
    assert result["b"].result is None
    assert result.outputs() == {"a": {"x": 1}, "b": None}


def test_empty_dag(runner: Runner, recorder: Recorder) -> None:
    result = runner.execute(DAG(), {}, callbacks=recorder)
    assert len(result) == 0
    assert result.ok
    assert recorder.runs == ["start", "end"]


def test_executors_run_on_a_snapshot(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()

    def grow() -> str:
        dag.add_node("added_during_the_run")
        dag.add_edge("b", "added_during_the_run")
        return "a"

    result = runner.execute(dag, {"a": grow, "b": lambda: "b"})
    assert result.names == ["a", "b"]
    assert result.succeeded == 2
    assert result.dag.nodes() == ["a", "b"]
    assert result.dag.frozen
    assert dag.nodes() == ["a", "b", "added_during_the_run"]


def test_setup_time_is_reported_apart_from_the_run(runner: Runner) -> None:
    """``setup_seconds`` ends where the run (and ``total_duration_seconds``) begins."""
    began: list[float] = []

    class Clock:  # a callbacks object: only the hook it needs
        def on_run_start(self, dag: DAG) -> None:
            began.append(time.perf_counter())

    dag = DAG.builder().add_edge("a", "b").build()
    called = time.perf_counter()
    result = runner.execute(dag, {"a": lambda: 1, "b": lambda: 2}, callbacks=Clock())
    returned = time.perf_counter()
    assert 0 < result.setup_seconds <= began[0] - called
    assert 0 < result.total_duration_seconds <= returned - began[0]
    assert result.setup_seconds + result.total_duration_seconds <= returned - called


# -- failures -------------------------------------------------------------------------
def test_fail_fast_stops_new_starts_lets_running_finish_and_skips_the_rest(
    runner: Runner,
) -> None:
    dag = DAG.builder().add_edge("a", "after_a").add_edge("b", "after_b").build()
    b_started = threading.Event()
    a_failed = threading.Event()

    def a() -> None:
        assert b_started.wait(PATIENCE)
        fail("a broke")

    def b() -> bool:
        b_started.set()
        return a_failed.wait(PATIENCE)  # still running when a fails

    result = runner.execute(
        dag,
        {"a": a, "b": b, "after_a": lambda: 1, "after_b": lambda: 2},
        max_workers=2,
        fail_fast=True,
        callbacks=ExecutionCallbacks(on_failure=lambda name, error: a_failed.set()),
    )
    assert statuses(result) == {
        "a": S.FAILED,
        "b": S.COMPLETED,
        "after_a": S.SKIPPED,
        "after_b": S.SKIPPED,
    }
    assert result["b"].result is True
    assert str(result["a"].error) == "a broke"
    assert reasons(result) == {
        "a": None,
        "b": None,
        "after_a": "upstream 'a' failed",
        "after_b": "not started: 'a' failed and fail_fast is on",
    }
    assert (result.failed, result.succeeded, result.skipped) == (1, 1, 2)


def test_best_effort_skips_exactly_the_descendants_of_the_failure(runner: Runner) -> None:
    dag = (
        DAG.builder()
        .add_edges(
            [
                ("root", "branch_a"),
                ("root", "branch_b"),
                ("branch_a", "join"),
                ("branch_b", "join"),
                ("branch_a", "child"),
                ("child", "grandchild"),
                ("branch_b", "after_b"),
            ]
        )
        .add_node("independent")
        .build()
    )
    tasks = {name: (lambda n=name: n) for name in dag.nodes()}
    tasks["branch_a"] = fail
    result = runner.execute(dag, tasks, fail_fast=False)
    assert {n for n, s in statuses(result).items() if s is S.SKIPPED} == dag.descendants("branch_a")
    assert {n for n, s in statuses(result).items() if s is S.COMPLETED} == {
        "root",
        "branch_b",
        "after_b",
        "independent",
    }
    for name in dag.descendants("branch_a"):
        assert result[name].reason == "upstream 'branch_a' failed"
    assert result.failed == 1


def test_several_failures_in_best_effort(runner: Runner) -> None:
    dag = DAG.builder().add_edges([("x", "xx"), ("y", "yy"), ("z", "zz")]).build()
    tasks: dict[str, Any] = {name: (lambda n=name: n) for name in dag.nodes()}
    tasks["x"] = tasks["y"] = fail
    result = runner.execute(dag, tasks, fail_fast=False)
    assert statuses(result) == {
        "x": S.FAILED,
        "xx": S.SKIPPED,
        "y": S.FAILED,
        "yy": S.SKIPPED,
        "z": S.COMPLETED,
        "zz": S.COMPLETED,
    }
    with pytest.raises(ExceptionGroup, match=r"2 node\(s\) failed: \['x', 'y'\]"):
        result.raise_for_failures()


def test_base_exceptions_in_tasks_are_failures_too(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()

    def exits() -> None:
        raise SystemExit(2)

    result = runner.execute(dag, {"a": exits, "b": lambda: 1})
    assert result["a"].status is S.FAILED
    assert isinstance(result["a"].error, SystemExit)
    assert result["b"].status is S.SKIPPED


# -- taskless nodes -------------------------------------------------------------------
def test_nodes_without_a_task_are_skipped_and_do_not_hold_back_successors(
    runner: Runner, recorder: Recorder
) -> None:
    dag = DAG.builder().add_edges([("start", "group"), ("group", "x"), ("group", "y")]).build()
    tasks = {"start": lambda: 1, "x": lambda: 2, "y": lambda: 3, "group": None}
    result = runner.execute(dag, tasks, callbacks=recorder)
    assert statuses(result) == {
        "start": S.COMPLETED,
        "group": S.SKIPPED,
        "x": S.COMPLETED,
        "y": S.COMPLETED,
    }
    assert result["group"].reason == "no task"
    assert result.ok
    assert recorder.kinds("group") == ["skip"]
    # the skip is announced before the successors it released start
    assert recorder.index("skip", "group") < recorder.index("start", "x")


def test_a_dag_with_no_tasks_at_all(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    result = runner.execute(dag, {})
    assert result.skipped == 2
    assert set(reasons(result).values()) == {"no task"}


# -- the run's timeout ----------------------------------------------------------------
def test_global_timeout_returns_promptly_and_a_late_finish_changes_nothing(
    runner: Runner, recorder: Recorder, release: threading.Event
) -> None:
    dag = DAG.builder().add_edge("stuck", "after_stuck").add_edge("quick", "after_quick").build()
    stuck_threads: list[threading.Thread] = []
    finished_late = threading.Event()

    def stuck() -> str:
        stuck_threads.append(threading.current_thread())
        release.wait(10)
        finished_late.set()
        return "late value"

    tasks = {"stuck": stuck, "after_stuck": lambda: 1, "quick": lambda: 2, "after_quick": lambda: 3}
    t0 = time.perf_counter()
    result = runner.execute(dag, tasks, timeout=0.3, callbacks=recorder, max_workers=2)
    elapsed = time.perf_counter() - t0
    recorder.close()
    assert elapsed < 1.0
    assert statuses(result) == {
        "stuck": S.TIMED_OUT,
        "after_stuck": S.CANCELLED,
        "quick": S.COMPLETED,
        "after_quick": S.COMPLETED,
    }
    error = result["stuck"].error
    assert isinstance(error, NodeTimeoutError)
    assert str(error) == (
        "node 'stuck' was still running after the run's timeout of 0.3 s; "
        "its thread was left to finish in the background"
    )
    assert result["after_stuck"].reason == "not started: the run's timeout of 0.3 s passed"
    assert result["stuck"].started_at is not None
    assert result["stuck"].finished_at == pytest.approx(0.3, abs=0.25)
    assert recorder.kinds("stuck") == ["start", "timeout"]
    assert recorder.kinds("after_stuck") == ["cancel"]
    assert result.timed_out == 1
    assert result.cancelled == 1
    before = frozen_columns(result)
    node_results = dict(result.node_results)

    # the stuck task finishes after execute returned: nothing may change or fire
    release.set()
    assert finished_late.wait(PATIENCE)
    stuck_threads[0].join(PATIENCE)
    assert frozen_columns(result) == before
    assert result.node_results == node_results
    assert recorder.late == []


def test_global_timeout_without_callbacks_records_start_and_worker(
    runner: Runner, release: threading.Event
) -> None:
    dag = DAG().add_nodes(["stuck"])
    result = runner.execute(dag, {"stuck": lambda: release.wait(10)}, timeout=0.2)
    nr = result["stuck"]
    assert nr.status is S.TIMED_OUT
    assert nr.started_at is not None
    assert nr.finished_at is not None
    assert nr.started_at <= nr.finished_at
    assert nr.worker is not None
    assert nr.worker.startswith(runner.worker_prefix)


def test_a_timeout_that_is_not_reached_changes_nothing(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    result = runner.execute(dag, {"a": lambda: 1, "b": lambda: 2}, timeout=30.0)
    assert result.succeeded == 2


# -- node timeouts --------------------------------------------------------------------
def test_node_timeout_times_out_one_node_and_the_run_goes_on(
    runner: Runner, recorder: Recorder, release: threading.Event
) -> None:
    dag = DAG.builder().add_edge("slow", "after_slow").add_edge("other", "after_other").build()
    slow_timed_out = threading.Event()
    slow_returned = threading.Event()
    slow_threads: list[threading.Thread] = []

    def slow() -> str:
        slow_threads.append(threading.current_thread())
        release.wait(10)
        slow_returned.set()
        raise RuntimeError("a late failure must not replace the timeout")

    def other() -> str:
        # let the stuck task finish while the run still goes on
        assert slow_timed_out.wait(PATIENCE)
        release.set()
        assert slow_returned.wait(PATIENCE)
        if runner.kind == "thread":
            slow_threads[0].join(PATIENCE)  # its worker has seen the late finish
        return "other"

    class TimeoutSeen:
        def on_node_timeout(self, name: str, error: BaseException) -> None:
            slow_timed_out.set()

    result = runner.execute(
        dag,
        {"slow": slow, "after_slow": lambda: 1, "other": other, "after_other": lambda: 2},
        node_timeouts={"slow": 0.2},
        fail_fast=False,
        callbacks=[recorder, TimeoutSeen()],
        max_workers=3,
    )
    assert statuses(result) == {
        "slow": S.TIMED_OUT,
        "after_slow": S.SKIPPED,
        "other": S.COMPLETED,
        "after_other": S.COMPLETED,
    }
    error = result["slow"].error
    assert isinstance(error, NodeTimeoutError)
    assert str(error) == (
        "node 'slow' was still running after its node timeout of 0.2 s; "
        "its thread was left to finish in the background"
    )
    assert result["slow"].result is None
    assert result["after_slow"].reason == "upstream 'slow' timed out"
    assert recorder.kinds("slow") == ["start", "timeout"]  # exactly one timeout callback
    assert recorder.errors["slow"] is error
    nr = result["slow"]
    assert nr.started_at is not None
    assert nr.finished_at is not None
    assert nr.finished_at - nr.started_at == pytest.approx(0.2, abs=0.2)


def test_node_timeout_with_fail_fast_stops_the_run(
    runner: Runner, release: threading.Event
) -> None:
    dag = DAG.builder().add_edge("slow", "after").add_node("later").add_edge("after", "later")
    dag = dag.build()
    result = runner.execute(
        dag,
        {"slow": lambda: release.wait(10), "after": lambda: 1, "later": lambda: 2},
        node_timeouts={"slow": 0.1},
        fail_fast=True,
    )
    assert statuses(result) == {"slow": S.TIMED_OUT, "after": S.SKIPPED, "later": S.SKIPPED}
    assert result["after"].reason == "upstream 'slow' timed out"


def test_node_timeouts_not_reached(runner: Runner) -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    result = runner.execute(dag, {"a": lambda: 1, "b": lambda: 2}, node_timeouts={"a": 30})
    assert result.succeeded == 2


def test_task_timeout_attribute_is_a_node_timeout(runner: Runner, release: threading.Event) -> None:
    @dagron.task(timeout=0.1)
    def stuck() -> bool:
        return release.wait(10)

    dag = DAG().add_nodes(["stuck", "fine"])
    result = runner.execute(dag, {"stuck": stuck, "fine": lambda: 1}, fail_fast=False)
    assert result["stuck"].status is S.TIMED_OUT
    assert "its node timeout of 0.1 s" in str(result["stuck"].error)
    assert result["fine"].status is S.COMPLETED


# -- cancellation ---------------------------------------------------------------------
def test_cancel_event_is_noticed_promptly_while_nothing_finishes(
    runner: Runner, recorder: Recorder
) -> None:
    dag = DAG.builder().add_edge("running", "waiting").add_edge("waiting", "last").build()
    cancel = threading.Event()
    running_started = threading.Event()
    waiting_cancelled = threading.Event()
    set_at: list[float] = []
    noticed_at: list[float] = []

    def running() -> bool:
        running_started.set()
        # finishes only once the cancellation reached the callbacks
        return waiting_cancelled.wait(PATIENCE)

    class Noticed:
        def on_node_cancel(self, name: str) -> None:
            if name == "waiting":
                noticed_at.append(time.perf_counter())
                waiting_cancelled.set()

    def canceller() -> None:
        assert running_started.wait(PATIENCE)
        set_at.append(time.perf_counter())
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    try:
        result = runner.execute(
            dag,
            {"running": running, "waiting": lambda: 1, "last": lambda: 2},
            cancel_event=cancel,
            callbacks=[recorder, Noticed()],
        )
    finally:
        thread.join(PATIENCE)
    assert result["running"].result is True  # noticed while the task was running
    assert noticed_at[0] - set_at[0] < 0.5
    assert statuses(result) == {
        "running": S.COMPLETED,
        "waiting": S.CANCELLED,
        "last": S.CANCELLED,
    }
    assert result["waiting"].reason == "cancelled: cancel_event was set"
    assert result.cancelled == 2
    assert recorder.kinds("waiting") == ["cancel"]


@pytest.mark.parametrize("with_callbacks", [False, True])
def test_a_task_that_sets_the_cancel_event_lets_no_successor_start(
    runner: Runner, timeline: Timeline, recorder: Recorder, with_callbacks: bool
) -> None:
    cancel = threading.Event()
    dag = DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d")]).build()
    tasks = {name: timeline.task(name) for name in dag.nodes()}
    tasks["a"] = timeline.task("a", cancel.set)
    callbacks = recorder if with_callbacks else None
    result = runner.execute(dag, tasks, cancel_event=cancel, max_workers=4, callbacks=callbacks)
    assert timeline.starts() == ["a"]
    if with_callbacks:
        assert [recorder.kinds(n) for n in "bcd"] == [["cancel"]] * 3
    assert statuses(result) == {
        "a": S.COMPLETED,
        "b": S.CANCELLED,
        "c": S.CANCELLED,
        "d": S.CANCELLED,
    }


def test_a_cancel_event_set_before_the_run_cancels_everything(runner: Runner) -> None:
    cancel = threading.Event()
    cancel.set()
    dag = DAG.builder().add_edge("a", "b").build()
    result = runner.execute(dag, {"a": lambda: 1, "b": lambda: 2}, cancel_event=cancel)
    assert statuses(result) == {"a": S.CANCELLED, "b": S.CANCELLED}
    assert all(nr.started_at is None for nr in result.node_results.values())


# -- callbacks ------------------------------------------------------------------------
def mixed_dag() -> tuple[DAG, dict[str, Any]]:
    dag = DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "e")]).build()
    tasks: dict[str, Any] = {"a": lambda: "A", "b": fail, "c": lambda: "C", "d": lambda: "D"}
    tasks["e"] = lambda: "E"
    return dag, tasks


def test_callback_objects_and_the_dataclass_together(runner: Runner, recorder: Recorder) -> None:
    dag, tasks = mixed_dag()
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def note(kind: str) -> Any:
        def add(name: str, *rest: Any) -> None:
            with lock:
                seen.append((kind, name))

        return add

    dataclass_style = ExecutionCallbacks(
        on_start=note("start"),
        on_complete=note("complete"),
        on_failure=note("error"),
        on_skip=note("skip"),
    )
    result = runner.execute(dag, tasks, fail_fast=False, callbacks=[recorder, dataclass_style])
    expected = {
        "a": ["start", "complete"],
        "b": ["start", "error"],
        "c": ["start", "complete"],
        "d": ["skip"],
        "e": ["start", "complete"],
    }
    assert {name: recorder.kinds(name) for name in dag.nodes()} == expected
    assert {name: [k for k, n in seen if n == name] for name in dag.nodes()} == expected
    assert recorder.values == {"a": "A", "c": "C", "e": "E"}
    assert str(recorder.errors["b"]) == "boom"
    assert recorder.runs == ["start", "end"]
    assert result.failed == 1


def test_a_raising_callback_breaks_nothing(
    runner: Runner, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def on_node_start(self, name: str) -> None:
            raise RuntimeError("start callback broke")

        def on_node_complete(self, name: str, result: Any) -> None:
            raise RuntimeError("complete callback broke")

        def on_node_error(self, name: str, error: BaseException) -> None:
            raise RuntimeError("error callback broke")

        def on_node_skip(self, name: str) -> None:
            raise RuntimeError("skip callback broke")

        def on_run_start(self, dag: DAG) -> None:
            raise RuntimeError("run start callback broke")

        def on_run_end(self, result: Any) -> None:
            raise RuntimeError("run end callback broke")

    dag, tasks = mixed_dag()
    with caplog.at_level(logging.ERROR, logger="dagron_nb"):
        result = runner.execute(dag, tasks, fail_fast=False, callbacks=[Broken(), recorder])
    assert statuses(result) == {
        "a": S.COMPLETED,
        "b": S.FAILED,
        "c": S.COMPLETED,
        "d": S.SKIPPED,
        "e": S.COMPLETED,
    }
    assert result["e"].result == "E"
    assert len(recorder.events) == 9  # the callbacks after the broken one all ran
    logged = [r.getMessage() for r in caplog.records]
    # 4 starts, 3 completes, 1 error, 1 skip, run start and end
    assert len(logged) == 11
    assert all("raised; the run goes on" in m for m in logged)


def test_complete_of_a_predecessor_comes_before_start_of_its_successor(
    runner: Runner, recorder: Recorder
) -> None:
    builder = DAG.builder()
    for layer in range(1, 5):
        for k in range(5):
            builder.add_edge(f"L{layer - 1}_{k}", f"L{layer}_{k}")
            builder.add_edge(f"L{layer - 1}_{(k + 2) % 5}", f"L{layer}_{k}")
    dag = builder.build()
    tasks = {name: (lambda n=name: n) for name in dag.nodes()}
    runner.execute(dag, tasks, callbacks=recorder, max_workers=4)
    for u, v in dag.edges():
        assert recorder.index("complete", u) < recorder.index("start", v)
    for name in dag.nodes():
        assert recorder.kinds(name) == ["start", "complete"]


def test_hooks_fire_by_event_and_priority(runner: Runner) -> None:
    hooks = HookRegistry()
    lock = threading.Lock()
    seen: list[tuple[str, str | None, str]] = []

    def handler(tag: str) -> Any:
        def record(ctx: dagron.HookContext) -> None:
            with lock:
                seen.append((ctx.event.name, ctx.node_name, tag))

        return record

    for event in HookEvent:
        hooks.register(event, handler("low"), priority=-1)
        hooks.register(event, handler("high"), priority=5)
    results: list[Any] = []
    hooks.register(HookEvent.POST_EXECUTE, lambda ctx: results.append(ctx.result))
    errors: list[BaseException | None] = []
    hooks.register(HookEvent.ON_ERROR, lambda ctx: errors.append(ctx.error))
    dag, tasks = mixed_dag()
    result = runner.execute(dag, tasks, fail_fast=False, hooks=hooks)

    assert seen[:2] == [("PRE_EXECUTE", None, "high"), ("PRE_EXECUTE", None, "low")]
    assert seen[-2:] == [("POST_EXECUTE", None, "high"), ("POST_EXECUTE", None, "low")]
    assert results == [result]
    assert errors == [result["b"].error]
    # every handler pair runs high first; pairs of one node are adjacent
    for i in range(0, len(seen), 2):
        assert seen[i][2] == "high"
        assert seen[i + 1][:2] == seen[i][:2]
    by_node: dict[str | None, list[str]] = {}
    for event, node, tag in seen:
        if tag == "high" and node is not None:
            by_node.setdefault(node, []).append(event)
    assert by_node == {
        "a": ["PRE_NODE", "POST_NODE"],
        "b": ["PRE_NODE", "ON_ERROR", "POST_NODE"],
        "c": ["PRE_NODE", "POST_NODE"],
        "e": ["PRE_NODE", "POST_NODE"],
    }


def test_hooks_and_callbacks_together(runner: Runner, recorder: Recorder) -> None:
    hooks = HookRegistry()
    pre: list[str | None] = []
    hooks.register(HookEvent.PRE_NODE, lambda ctx: pre.append(ctx.node_name))
    dag = DAG.builder().add_edge("a", "b").build()
    runner.execute(dag, {"a": lambda: 1, "b": lambda: 2}, hooks=hooks, callbacks=recorder)
    assert pre == ["a", "b"]
    assert recorder.kinds("b") == ["start", "complete"]


# -- tracing and per-node records -----------------------------------------------------
def test_tracing_exports_a_chrome_trace_with_one_span_per_node_that_ran(
    runner: Runner, tmp_path: Path
) -> None:
    dag, tasks = mixed_dag()
    result = runner.execute(dag, tasks, fail_fast=False, enable_tracing=True, max_workers=2)
    assert result.trace is not None
    path = tmp_path / "run.json"
    result.trace.save_chrome_trace(path)
    chrome = json.loads(path.read_text(encoding="utf-8"))
    events = chrome["traceEvents"]
    assert {e["ph"] for e in events} == {"X", "i", "M"}
    spans = {e["name"]: e for e in events if e["ph"] == "X"}
    ran = {n for n, nr in result.node_results.items() if nr.started_at is not None}
    assert set(spans) == ran == {"a", "b", "c", "e"}
    assert len([e for e in events if e["ph"] == "X"]) == len(ran)
    for name, span in spans.items():
        nr = result[name]
        assert nr.started_at is not None
        assert nr.finished_at is not None
        # the span opens when on_node_start is announced, a hair before the task runs
        assert span["ts"] <= nr.started_at * 1e6 + 1.0
        assert span["ts"] == pytest.approx(nr.started_at * 1e6, abs=50_000)
        assert span["ts"] + span["dur"] == pytest.approx(nr.finished_at * 1e6, abs=1.0)
    assert spans["b"]["args"]["status"] == "failed"
    assert "RuntimeError: boom" in spans["b"]["args"]["detail"]
    skipped = [e for e in events if e["ph"] == "i" and e["name"] == "d"]
    assert skipped[0]["args"] == {"status": "skipped", "detail": "upstream 'b' failed"}
    threads = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {nr.worker for nr in result.node_results.values() if nr.worker} <= threads
    kinds = [e.event_type for e in result.trace.events]
    assert kinds[0] is dagron.TraceEventType.RUN_STARTED
    assert kinds[-1] is dagron.TraceEventType.RUN_FINISHED


def test_tracing_off_means_no_trace(runner: Runner) -> None:
    result = runner.execute(DAG().add_nodes(["a"]), {"a": lambda: 1})
    assert result.trace is None


@pytest.mark.parametrize("with_callbacks", [False, True])
def test_every_node_result_has_times_and_a_worker(runner: Runner, with_callbacks: bool) -> None:
    dag, tasks = mixed_dag()
    callbacks = ExecutionCallbacks(on_start=lambda name: None) if with_callbacks else None
    result = runner.execute(dag, tasks, fail_fast=False, callbacks=callbacks, max_workers=2)
    total = result.total_duration_seconds
    for name, nr in result.node_results.items():
        if nr.status is S.SKIPPED:
            assert (nr.started_at, nr.finished_at, nr.worker) == (None, None, None)
            assert nr.duration_seconds == 0.0
            continue
        assert nr.started_at is not None, name
        assert nr.finished_at is not None, name
        assert 0.0 <= nr.started_at <= nr.finished_at <= total
        assert nr.duration_seconds == pytest.approx(nr.finished_at - nr.started_at)
        assert nr.worker is not None
        assert nr.worker.startswith(runner.worker_prefix)
    # a successor starts after its predecessor finished
    for u, v in dag.edges():
        if result[v].started_at is not None:
            assert result[u].finished_at <= result[v].started_at  # type: ignore[operator]
