"""DaskExecutor on worker *processes*: it agrees with DAGExecutor, and survives
what clusters do.

One ``LocalCluster`` started by dagron_nb (3 worker processes x 1 thread, with
nannies) serves the module. The same DAG and
tasks run on threads and on the cluster through the ``runner`` fixture, and
the results must agree: fail-fast, best-effort, the run's timeout, node
timeouts, the cancel event, Ctrl-C. Then, on the cluster only: a task stuck
past its timeout gets its worker restarted, a worker killed mid-task, a value
that cannot be pickled. (Losing the scheduler is tested on a cluster of its
own in ``test_dask.py``.)
Tasks synchronise through ``distributed.Event`` (named, cluster-wide), which
works from worker processes and from this process's threads alike; their
functions travel by value (``cloudpickle.register_pickle_by_value``), since
the workers cannot import this test module.
"""

from __future__ import annotations

import _thread
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="DaskExecutor needs dask[distributed]")
cloudpickle = pytest.importorskip("cloudpickle")

import dagron_nb as dagron  # noqa: E402
from dagron_nb import DAG, NodeStatus, NodeTimeoutError  # noqa: E402
from dagron_nb.core.errors import ClusterError  # noqa: E402
from dagron_nb.execution import dask_cluster  # noqa: E402
from dagron_nb.execution.dask import DaskExecutor  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

S = NodeStatus
PATIENCE = 20.0  # the longest any task waits: a hang guard, never reached when green


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # Three workers: the tests below kill or restart one worker each, and must
    # not wait for a new process to start (slow on a loaded machine).
    client = dask_cluster.local_client(3, dashboard=False)
    yield client
    dask_cluster.close_local_client(client)


# -- tasks: module-level, synchronised through named cluster-wide events ---------------
def wait_for(event: str) -> bool:
    return bool(distributed.Event(event).wait(PATIENCE))


def set_then_wait(to_set: str, to_wait: str) -> bool:
    distributed.Event(to_set).set()
    return bool(distributed.Event(to_wait).wait(PATIENCE))


def wait_then_set(to_wait: str, to_set: str) -> bool:
    waited = distributed.Event(to_wait).wait(PATIENCE)
    distributed.Event(to_set).set()
    return bool(waited)


def wait_then_fail(event: str) -> None:
    assert distributed.Event(event).wait(PATIENCE)
    raise RuntimeError("a broke")


def value(v: Any) -> Any:
    return v


def fail() -> None:
    raise RuntimeError("boom")


@dataclass(frozen=True)
class Runner:
    kind: str  # "thread" or "dask"
    client: Any

    def execute(
        self,
        dag: DAG,
        tasks: dict[str, Any],
        *,
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        node_timeouts: dict[str, float] | None = None,
        **options: Any,
    ) -> dagron.ExecutionResult:
        if self.kind == "thread":
            executor: Any = dagron.DAGExecutor(dag, **options)
        else:
            executor = DaskExecutor(dag, client=self.client, **options)
        return executor.execute(  # type: ignore[no-any-return]
            tasks, timeout, cancel_event, node_timeouts=node_timeouts
        )


@pytest.fixture(params=["thread", "dask"])
def runner(request: pytest.FixtureRequest, client: Any) -> Runner:
    return Runner(request.param, client)


class Events:
    """Unique event names per test; all set at teardown so no task waits on."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.prefix = uuid.uuid4().hex
        self.made: list[str] = []

    def __call__(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        self.made.append(full)
        return full

    def set(self, name: str) -> None:
        distributed.Event(name, client=self.client).set()

    def release_all(self) -> None:
        for name in self.made:
            self.set(name)


@pytest.fixture
def events(client: Any) -> Iterator[Events]:
    made = Events(client)
    yield made
    made.release_all()


def statuses(result: dagron.ExecutionResult) -> dict[str, NodeStatus]:
    return dict(zip(result.names, result.statuses))


def reasons(result: dagron.ExecutionResult) -> dict[str, str | None]:
    return dict(zip(result.names, result.reasons))


# -- the agreement tests -----------------------------------------------------------------
def test_fail_fast_lets_running_nodes_finish_and_skips_the_rest(
    runner: Runner, events: Events
) -> None:
    dag = DAG.builder().add_edge("a", "after_a").add_edge("b", "after_b").build()
    b_started, a_failed = events("b_started"), events("a_failed")
    tasks = {
        "a": lambda: wait_then_fail(b_started),
        "b": lambda: set_then_wait(b_started, a_failed),  # still running when a fails
        "after_a": lambda: value(1),
        "after_b": lambda: value(2),
    }
    callbacks = dagron.ExecutionCallbacks(on_failure=lambda name, error: events.set(a_failed))
    result = runner.execute(dag, tasks, max_workers=2, fail_fast=True, callbacks=callbacks)
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


def test_best_effort_skips_exactly_the_descendants(runner: Runner) -> None:
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
    tasks: dict[str, Any] = {name: (lambda n=name: value(n)) for name in dag.nodes()}
    tasks["branch_a"] = fail
    result = runner.execute(dag, tasks, fail_fast=False)
    skipped = {n for n, s in statuses(result).items() if s is S.SKIPPED}
    assert skipped == dag.descendants("branch_a")
    assert {n for n, s in statuses(result).items() if s is S.COMPLETED} == {
        "root",
        "branch_b",
        "after_b",
        "independent",
    }
    for name in dag.descendants("branch_a"):
        assert result[name].reason == "upstream 'branch_a' failed"
    assert result["after_b"].result == "after_b"


def test_the_run_timeout_returns_promptly(runner: Runner, events: Events) -> None:
    dag = DAG.builder().add_edge("stuck", "after_stuck").add_edge("quick", "after_quick").build()
    release = events("release")
    tasks = {
        "stuck": lambda: wait_for(release),
        "after_stuck": lambda: value(1),
        "quick": lambda: value(2),
        "after_quick": lambda: value(3),
    }
    began = time.perf_counter()
    result = runner.execute(dag, tasks, timeout=1.0, max_workers=2)
    elapsed = time.perf_counter() - began
    events.set(release)
    assert elapsed < 3.0
    assert statuses(result) == {
        "stuck": S.TIMED_OUT,
        "after_stuck": S.CANCELLED,
        "quick": S.COMPLETED,
        "after_quick": S.COMPLETED,
    }
    error = result["stuck"].error
    assert isinstance(error, NodeTimeoutError)
    assert str(error).startswith("node 'stuck' was still running after the run's timeout of 1 s")
    assert result["after_stuck"].reason == "not started: the run's timeout of 1 s passed"
    assert result["stuck"].started_at is not None


def test_a_node_timeout_times_out_one_node_and_the_run_goes_on(
    runner: Runner, events: Events
) -> None:
    dag = DAG.builder().add_edge("slow", "after_slow").add_edge("other", "after_other").build()
    release, timed_out = events("release"), events("timed_out")

    class TimeoutSeen:
        def on_node_timeout(self, name: str, error: BaseException) -> None:
            events.set(timed_out)

    tasks = {
        "slow": lambda: wait_for(release),
        "after_slow": lambda: value(1),
        "other": lambda: wait_then_set(timed_out, release),  # lets slow go once it timed out
        "after_other": lambda: value(2),
    }
    result = runner.execute(
        dag,
        tasks,
        node_timeouts={"slow": 0.5},
        fail_fast=False,
        callbacks=TimeoutSeen(),
        max_workers=2,
    )
    assert statuses(result) == {
        "slow": S.TIMED_OUT,
        "after_slow": S.SKIPPED,
        "other": S.COMPLETED,
        "after_other": S.COMPLETED,
    }
    assert str(result["slow"].error).startswith(
        "node 'slow' was still running after its node timeout of 0.5 s"
    )
    assert result["slow"].result is None
    assert result["after_slow"].reason == "upstream 'slow' timed out"


def test_a_cancel_event_cancels_what_has_not_started(runner: Runner, events: Events) -> None:
    dag = DAG.builder().add_edge("running", "waiting").add_edge("waiting", "last").build()
    cancel = threading.Event()
    started, cancelled = events("started"), events("cancelled")

    class Noticed:
        def on_node_start(self, name: str) -> None:
            if name == "running":  # a moment later, from another thread
                threading.Timer(0.05, cancel.set).start()

        def on_node_cancel(self, name: str) -> None:
            if name == "waiting":
                events.set(cancelled)

    tasks = {
        "running": lambda: set_then_wait(started, cancelled),
        "waiting": lambda: value(1),
        "last": lambda: value(2),
    }
    result = runner.execute(dag, tasks, cancel_event=cancel, callbacks=Noticed())
    assert result["running"].result is True  # the cancellation was seen while it ran
    assert statuses(result) == {
        "running": S.COMPLETED,
        "waiting": S.CANCELLED,
        "last": S.CANCELLED,
    }
    assert result["waiting"].reason == "cancelled: cancel_event was set"


def test_ctrl_c_cancels_the_rest_and_keeps_the_partial_result(
    runner: Runner, events: Events
) -> None:
    cancelled = events("cancelled")

    class Interrupt:
        def on_node_start(self, name: str) -> None:
            _thread.interrupt_main()  # Ctrl-C: SIGINT handled by the main thread

        def on_node_cancel(self, name: str) -> None:
            events.set(cancelled)

    dag = DAG.builder().add_edge("a", "b").build()
    tasks = {"a": lambda: wait_for(cancelled), "b": lambda: value(2)}
    with pytest.raises(KeyboardInterrupt) as info:
        runner.execute(dag, tasks, callbacks=Interrupt())
    partial = info.value.result  # type: ignore[attr-defined]
    assert statuses(partial) == {"a": S.COMPLETED, "b": S.CANCELLED}
    assert partial["a"].result is True
    assert partial["b"].reason == "interrupted (KeyboardInterrupt)"


# -- what clusters do (on the cluster only) ------------------------------------------------


def make_lock() -> Any:
    return threading.Lock()


def test_a_value_that_cannot_be_pickled_fails_its_node_naming_it(client: Any) -> None:
    dag = DAG.builder().add_edge("locked", "after").add_node("fine").build()
    tasks = {"locked": make_lock, "after": lambda: value(1), "fine": lambda: value(2)}
    result = DaskExecutor(dag, client=client, fail_fast=False).execute(tasks)
    assert statuses(result) == {"locked": S.FAILED, "after": S.SKIPPED, "fine": S.COMPLETED}
    error = result["locked"].error
    assert isinstance(error, ClusterError)
    assert "node 'locked' returned a value that cannot be pickled" in str(error)


STUCK_FOR = 60.0  # how long a stuck task would hold its worker without a restart


def stuck_for_long(event: str) -> bool:
    return bool(distributed.Event(event).wait(STUCK_FOR))


@pytest.mark.slow
def test_a_stuck_task_does_not_delay_the_next_run_more_than_the_grace_period(
    client: Any, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    grace = 1.0
    dag = DAG.builder().add_node("stuck").build()
    executor = DaskExecutor(dag, client=client, stuck_grace=grace)
    release = events("release")  # never set during the test: only a restart frees it
    first = executor.execute(
        {"stuck": lambda: stuck_for_long(release)}, node_timeouts={"stuck": 0.3}
    )
    assert statuses(first) == {"stuck": S.TIMED_OUT}
    note = first["stuck"].reason or ""
    assert "restarted if the task still runs 1 s after the timeout" in note
    assert first["stuck"].worker in note

    # The next run: tasks the scheduler queues on the stuck worker (it looks idle
    # to Dask) wait behind the stuck task until that worker is restarted.
    many = DAG().add_nodes([f"t{k}" for k in range(8)])
    began = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="dagron_nb"):
        second = DaskExecutor(many, client=client).execute(
            dict.fromkeys(many.nodes(), worker_pid), timeout=STUCK_FOR / 2
        )
    elapsed = time.perf_counter() - began
    assert second.ok, second.errors
    assert any("restarting that worker" in r.getMessage() for r in caplog.records)
    # killing the worker takes a moment beyond the grace; without it, STUCK_FOR s
    assert elapsed < grace + 5.0


def worker_pid() -> int:
    import os

    return os.getpid()


def die_once(marker: str) -> str:
    import os
    from pathlib import Path

    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)  # the worker process dies mid-task
    return "second try"


def _allow_no_failures(dask_scheduler: Any) -> None:
    dask_scheduler.allowed_failures = 0


def die_always() -> None:
    import os

    os._exit(1)


@pytest.mark.slow
def test_a_worker_that_dies_mid_task_has_the_task_rescheduled(client: Any, tmp_path: Any) -> None:
    dag = DAG.builder().add_edge("dies", "after").add_node("other").build()
    marker = str(tmp_path / "died")
    tasks = {"dies": lambda: die_once(marker), "after": lambda: value(1), "other": lambda: value(2)}
    began = time.perf_counter()
    result = DaskExecutor(dag, client=client).execute(tasks, timeout=60)
    assert time.perf_counter() - began < 60
    assert result.ok, result.errors
    assert result["dies"].result == "second try"
    assert result["after"].result == 1


@pytest.mark.slow
def test_a_task_that_keeps_killing_workers_fails_with_a_clear_error(client: Any) -> None:
    # no retry after a death (the earlier tests used up the spare workers)
    client.run_on_scheduler(_allow_no_failures)
    # 'other' ends before 'dies' starts: Dask also blames tasks that merely
    # waited on a worker when it died, so an independent one could fail too
    dag = DAG.builder().add_edge("other", "dies").add_edge("dies", "after").build()
    tasks = {"dies": die_always, "after": lambda: value(1), "other": lambda: value(2)}
    began = time.perf_counter()
    result = DaskExecutor(dag, client=client, fail_fast=False).execute(tasks, timeout=60)
    assert time.perf_counter() - began < 60
    assert statuses(result) == {"dies": S.FAILED, "after": S.SKIPPED, "other": S.COMPLETED}
    error = result["dies"].error
    assert isinstance(error, ClusterError)
    assert "could not run node 'dies'" in str(error)
    assert "KilledWorker" in str(error)
    assert "allowed-failures" in str(error)
