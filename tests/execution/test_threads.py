"""DAGExecutor only: Ctrl-C, worker threads, where callbacks run."""

from __future__ import annotations

import itertools
import os
import signal
import threading
from typing import TYPE_CHECKING

import pytest

from dagron_nb import DAG, DAGExecutor, ExecutionCallbacks, NodeStatus

if TYPE_CHECKING:
    from conftest import Recorder

S = NodeStatus
PATIENCE = 5.0


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dagron-worker-")]


def ctrl_c() -> None:
    """What the kernel's interrupt button does: SIGINT to the main thread."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


# -- Ctrl-C ---------------------------------------------------------------------------
@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_cancels_unstarted_nodes_and_reraises_with_the_partial_result(
    recorder: Recorder,
) -> None:
    dag = DAG.builder().add_edge("running", "next").add_edge("next", "last").build()
    cancelled = threading.Event()

    def running() -> bool:
        ctrl_c()
        # the running task is allowed to finish, after the rest was cancelled
        return cancelled.wait(PATIENCE)

    class Watch:
        def on_node_cancel(self, name: str) -> None:
            cancelled.set()

    executor = DAGExecutor(dag, callbacks=[recorder, Watch()])
    with pytest.raises(KeyboardInterrupt) as info:
        executor.execute({"running": running, "next": lambda: 1, "last": lambda: 2})
    result = info.value.result  # type: ignore[attr-defined]
    assert executor.last_result is result
    assert result["running"].status is S.COMPLETED
    assert result["running"].result is True
    assert result["next"].status is S.CANCELLED
    assert result["last"].status is S.CANCELLED
    assert result["next"].reason == "interrupted (KeyboardInterrupt)"
    assert sum(result.counts.values()) == 3
    assert recorder.runs == ["start", "end"]


@pytest.mark.usefixtures("default_sigint")
def test_interrupt_main_from_a_task_works_too() -> None:
    import _thread

    dag = DAG.builder().add_edge("a", "b").build()
    cancelled = threading.Event()

    def a() -> bool:
        _thread.interrupt_main()  # no real signal: noticed at the main thread's next poll
        return cancelled.wait(PATIENCE)

    executor = DAGExecutor(dag, callbacks=ExecutionCallbacks(on_skip=lambda n: cancelled.set()))
    with pytest.raises(KeyboardInterrupt) as info:
        executor.execute({"a": a, "b": lambda: 1})
    result = info.value.result  # type: ignore[attr-defined]
    assert result["a"].status is S.COMPLETED
    assert result["a"].result is True
    assert result["b"].status is S.CANCELLED


@pytest.mark.usefixtures("default_sigint")
def test_a_second_ctrl_c_abandons_the_running_tasks(release: threading.Event) -> None:
    dag = DAG.builder().add_edge("stuck", "next").build()
    cancelled = threading.Event()

    def stuck() -> None:
        ctrl_c()
        assert cancelled.wait(PATIENCE)
        ctrl_c()  # the user presses again: stop waiting for this task
        release.wait(10)

    executor = DAGExecutor(dag, callbacks=ExecutionCallbacks(on_skip=lambda name: cancelled.set()))
    with pytest.raises(KeyboardInterrupt) as info:
        executor.execute({"stuck": stuck, "next": lambda: 1})
    result = info.value.result  # type: ignore[attr-defined]
    assert result["stuck"].status is S.CANCELLED
    assert result["stuck"].reason == "interrupted twice (KeyboardInterrupt) while running"
    assert result["next"].status is S.CANCELLED


def test_ctrl_c_test_leaves_the_sigint_handler_alone() -> None:
    # the fixture above restores the handler; Python's default is what pytest runs with
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- worker threads -------------------------------------------------------------------
def test_a_chain_runs_on_one_worker_without_hand_offs() -> None:
    names = [f"n{k}" for k in range(50)]
    dag = DAG.builder().add_edges(itertools.pairwise(names)).build()
    result = DAGExecutor(dag, max_workers=4).execute({n: (lambda: None) for n in names})
    assert {nr.worker for nr in result.node_results.values()} == {"dagron-worker-0"}


def test_workers_are_named_started_lazily_and_gone_after_the_run() -> None:
    barrier = threading.Barrier(3, timeout=PATIENCE)
    dag = DAG().add_nodes(["a", "b", "c"])
    result = DAGExecutor(dag, max_workers=8).execute(dict.fromkeys(dag.nodes(), barrier.wait))
    workers = {nr.worker for nr in result.node_results.values()}
    # three tasks that must run at once: three threads, not eight
    assert workers == {"dagron-worker-0", "dagron-worker-1", "dagron-worker-2"}
    assert worker_threads() == []


def test_default_max_workers_is_the_cpu_count() -> None:
    assert DAGExecutor(DAG()).max_workers == (os.cpu_count() or 1)
    assert DAGExecutor(DAG(), max_workers=3).max_workers == 3


def test_callbacks_run_on_the_worker_thread_that_ran_the_task(recorder: Recorder) -> None:
    dag = DAG.builder().add_edge("a", "b").add_node("c").build()
    result = DAGExecutor(dag, callbacks=recorder, max_workers=2).execute(
        {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}
    )
    for name in ("a", "b", "c"):
        assert recorder.threads[("start", name)] == result[name].worker
        assert recorder.threads[("complete", name)] == result[name].worker


def test_a_timed_out_thread_is_left_behind_and_replaced(release: threading.Event) -> None:
    # one worker, stuck past its node timeout: another thread takes the rest
    dag = DAG().add_nodes(["stuck", "x", "y"])
    result = DAGExecutor(dag, max_workers=1, fail_fast=False).execute(
        {"stuck": lambda: release.wait(10), "x": lambda: 1, "y": lambda: 2},
        node_timeouts={"stuck": 0.1},
    )
    assert result["stuck"].status is S.TIMED_OUT
    assert result["x"].status is S.COMPLETED
    assert result["stuck"].worker != result["x"].worker
    stuck_threads = [t for t in worker_threads() if t.name == result["stuck"].worker]
    assert len(stuck_threads) == 1  # still in the task, as a daemon thread
    assert stuck_threads[0].daemon
    release.set()
    stuck_threads[0].join(PATIENCE)
    assert not stuck_threads[0].is_alive()
    assert result["stuck"].status is S.TIMED_OUT


def test_executor_is_reusable_and_runs_are_independent() -> None:
    dag = DAG.builder().add_edge("a", "b").build()
    executor = DAGExecutor(dag)
    first = executor.execute({"a": lambda: 1, "b": lambda: 2})
    second = executor.execute({"a": lambda: 10, "b": lambda: 20})
    assert first["b"].result == 2
    assert second["b"].result == 20
    assert executor.last_result is second


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_as_the_run_starts_cancels_everything() -> None:
    class PressedEarly:
        def on_run_start(self, dag: DAG) -> None:
            ctrl_c()  # delivered to this very thread: raised inside the callback

    dag = DAG.builder().add_edge("a", "b").build()
    ran: list[str] = []
    with pytest.raises(KeyboardInterrupt) as info:
        DAGExecutor(dag, callbacks=PressedEarly()).execute(
            {"a": lambda: ran.append("a"), "b": lambda: ran.append("b")}
        )
    result = info.value.result  # type: ignore[attr-defined]
    assert ran == []
    assert result.statuses == [S.CANCELLED, S.CANCELLED]
    assert worker_threads() == []


# -- a run that gives up on a node while its on_node_start runs -----------------------
class SlowStart:
    """on_node_start of ``slow`` blocks until the node timed out, then returns."""

    def __init__(self) -> None:
        self.timed_out = threading.Event()
        self.log: list[str] = []
        self.returned = False

    def on_node_start(self, name: str) -> None:
        if name == "slow":
            assert self.timed_out.wait(PATIENCE)
            self.log.append(f"start callback of {name} done, returned={self.returned}")

    def on_node_timeout(self, name: str, error: BaseException) -> None:
        self.log.append(f"timeout {name}")
        self.timed_out.set()


def test_run_deadline_during_on_node_start_waits_for_it_and_never_starts_the_task() -> None:
    dag = DAG().add_nodes(["slow"])
    ran: list[str] = []
    cb = SlowStart()
    result = DAGExecutor(dag, callbacks=cb).execute({"slow": lambda: ran.append("slow")}, 0.2)
    cb.returned = True
    assert result["slow"].status is S.TIMED_OUT
    # the start callback finished before execute returned, and the task never ran
    assert cb.log == ["timeout slow", "start callback of slow done, returned=False"]
    assert ran == []
    assert worker_threads() == []


def test_node_timeout_during_on_node_start_never_starts_the_task() -> None:
    dag = DAG().add_nodes(["slow", "other"])
    ran: list[str] = []
    cb = SlowStart()
    result = DAGExecutor(dag, callbacks=cb, max_workers=1, fail_fast=False).execute(
        {"slow": lambda: ran.append("slow"), "other": lambda: ran.append("other")},
        node_timeouts={"slow": 0.1},
    )
    assert result["slow"].status is S.TIMED_OUT
    assert result["other"].status is S.COMPLETED
    for thread in worker_threads():  # the one left in on_node_start ends, too
        thread.join(PATIENCE)
    assert ran == ["other"]


def test_a_callback_raising_a_base_exception_stops_the_run_instead_of_hanging(
    release: threading.Event,
) -> None:
    # Threads only: under asyncio the exception escapes an asyncio Task, and on
    # CPython 3.11.7 that leaves the recursion count off, so that later ast.parse
    # calls (pytest's assertion rewriting) fail with "AST constructor recursion
    # depth mismatch"; plain asyncio code shows the same.
    class Exits:
        def on_node_complete(self, name: str, result: object) -> None:
            raise SystemExit(f"callback of {name} exits")

    dag = DAG.builder().add_edge("a", "b").add_node("slow").build()
    with pytest.raises(SystemExit, match=r"callback of a exits"):
        DAGExecutor(dag, callbacks=Exits(), max_workers=2).execute(
            {"a": lambda: 1, "b": lambda: 2, "slow": lambda: release.wait(10)}, PATIENCE
        )
