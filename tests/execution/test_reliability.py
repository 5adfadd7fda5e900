"""Issue 10 regressions: callbacks that raise anything, interrupts at awkward moments,
edge order of callbacks, deadlines on the async executor.

Each test reproduces one defect found by a fault-injection study; the names say
which behaviour is pinned.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from dagron_nb import (
    DAG,
    AsyncDAGExecutor,
    ConfigurationError,
    DAGExecutor,
    ExecutionResult,
    NodeStatus,
    Pipeline,
)

if TYPE_CHECKING:
    from conftest import Recorder, Runner

S = NodeStatus
PATIENCE = 5.0
TERMINAL = {S.COMPLETED, S.FAILED, S.SKIPPED, S.TIMED_OUT, S.CANCELLED, S.CACHE_HIT}


def ctrl_c() -> None:
    """What the kernel's interrupt button does: SIGINT to the main thread."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def all_terminal(result: ExecutionResult) -> bool:
    return all(status in TERMINAL for status in result.statuses)


def guarded(coro: Any) -> Any:
    """asyncio.run with a hang guard: a run that never returns fails the test.

    What ``coro`` raises is caught inside and re-raised outside the loop: on
    CPython 3.11 a KeyboardInterrupt or SystemExit escaping an asyncio Task
    leaves the interpreter's recursion count off, and later ``ast.parse`` calls
    (pytest's assertion rewriting) fail.
    """

    async def main() -> tuple[bool, Any]:
        task = asyncio.current_task()
        assert task is not None
        guard = asyncio.get_running_loop().call_later(PATIENCE, task.cancel)
        try:
            return True, await coro
        except BaseException as exc:
            return False, exc
        finally:
            guard.cancel()

    ok, value = asyncio.run(main())
    if not ok:
        raise value
    return value


def run_guarded(runner: Runner, dag: DAG, tasks: dict[str, Any], **options: Any) -> Any:
    """``runner.execute``, with ``guarded`` for the async executor."""
    if runner.kind == "async":
        return guarded(AsyncDAGExecutor(dag, **options).execute(tasks))
    return runner.execute(dag, tasks, **options)


class Custom(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit."""


# -- 1. callbacks raising any exception type -------------------------------------------
def test_a_callback_raising_cancelled_error_is_logged_and_the_run_goes_on(
    runner: Runner, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    class Cancels:
        def on_node_complete(self, name: str, result: object) -> None:
            raise asyncio.CancelledError

    dag = DAG.builder().add_edge("a", "b").add_node("c").build()
    tasks = {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}
    with caplog.at_level(logging.ERROR, logger="dagron_nb"):
        if runner.kind == "async":
            executor = AsyncDAGExecutor(dag, callbacks=[Cancels(), recorder])
            result = guarded(executor.execute(tasks))
        else:
            result = runner.execute(dag, tasks, callbacks=[Cancels(), recorder])
    assert result.statuses == [S.COMPLETED] * 3
    assert sorted(recorder.values) == ["a", "b", "c"]  # the other callbacks heard all
    assert any("the run goes on" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit, Custom])
def test_a_callback_raising_a_stopping_exception_stops_the_run_with_the_result(
    runner: Runner, kind: type[BaseException]
) -> None:
    class Stops:
        def on_node_complete(self, name: str, result: object) -> None:
            if name == "a":
                raise kind("stop")

    dag = DAG.builder().add_edge("a", "b").build()
    tasks = {"a": lambda: 1, "b": lambda: 2}
    if runner.kind == "async":
        executor: Any = AsyncDAGExecutor(dag, callbacks=Stops())
        with pytest.raises(kind) as info:
            guarded(executor.execute(tasks))
    else:
        executor = DAGExecutor(dag, callbacks=Stops())
        with pytest.raises(kind) as info:
            executor.execute(tasks)
    result = info.value.result  # type: ignore[attr-defined]
    assert result is executor.last_result
    assert result["a"].status is S.COMPLETED
    assert result["b"].status is S.CANCELLED
    assert kind.__name__ in (result["b"].reason or "")


def test_a_callback_raising_system_exit_does_not_wait_for_running_tasks(
    runner: Runner, release: threading.Event
) -> None:
    class Exits:
        def on_node_complete(self, name: str, result: object) -> None:
            raise SystemExit

    dag = DAG.builder().add_edge("a", "b").add_node("stuck").build()
    began = time.perf_counter()
    tasks = {"a": lambda: 1, "b": lambda: 2, "stuck": lambda: release.wait(PATIENCE * 2)}
    with pytest.raises(SystemExit) as info:
        run_guarded(runner, dag, tasks, callbacks=Exits(), max_workers=2)
    assert time.perf_counter() - began < PATIENCE
    result = info.value.result  # type: ignore[attr-defined]
    assert result["stuck"].status is S.CANCELLED
    assert result["stuck"].reason == "abandoned: a callback raised SystemExit"
    assert result["b"].status is S.CANCELLED


# -- 2. interrupts at awkward moments ------------------------------------------------
@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_on_run_end_still_carries_the_result() -> None:
    class PressedLate:
        def on_run_end(self, result: ExecutionResult) -> None:
            ctrl_c()
            time.sleep(0.05)  # the signal lands in here

    dag = DAG.builder().add_edge("a", "b").build()
    with pytest.raises(KeyboardInterrupt) as info:
        DAGExecutor(dag, callbacks=PressedLate()).execute({"a": lambda: 1, "b": lambda: 2})
    result = info.value.result  # type: ignore[attr-defined]
    assert result is not None
    assert result.statuses == [S.COMPLETED, S.COMPLETED]


@pytest.mark.usefixtures("default_sigint")
def test_a_second_ctrl_c_while_the_first_is_handled_carries_the_result_and_silences_the_run(
    recorder: Recorder, release: threading.Event
) -> None:
    class PressAgain:
        """The second press lands while the callbacks hear of the first one."""

        pressed = False

        def on_node_cancel(self, name: str) -> None:
            if not self.pressed:
                self.pressed = True
                ctrl_c()
                time.sleep(0.05)

    def stuck() -> None:
        ctrl_c()
        release.wait(PATIENCE * 2)

    dag = DAG.builder().add_edge("stuck", "next").add_nodes(["x", "y"]).build()
    tasks = {"stuck": stuck, "next": lambda: 1, "x": lambda: 2, "y": lambda: 3}
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt) as info:
        DAGExecutor(dag, callbacks=[PressAgain(), recorder], max_workers=1).execute(tasks)
    recorder.close()
    assert time.perf_counter() - began < PATIENCE
    result = info.value.result  # type: ignore[attr-defined]
    assert result is not None
    assert all_terminal(result)
    assert result["stuck"].status is S.CANCELLED
    assert result["stuck"].reason == "interrupted twice (KeyboardInterrupt) while running"
    release.set()  # the abandoned task returns now: nothing may be heard of it
    time.sleep(0.1)
    assert recorder.late == []


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_under_asyncio_run_carries_the_result() -> None:
    dag = DAG.builder().add_edge("sleeper", "after").add_node("done").build()

    async def sleeper() -> None:
        ctrl_c()
        await asyncio.sleep(PATIENCE)

    async def quick() -> int:
        return 1

    executor = AsyncDAGExecutor(dag, max_workers=1)
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt) as info:
        # guarded() runs it under asyncio.run, whose own SIGINT handler is in place
        guarded(executor.execute({"sleeper": sleeper, "after": quick, "done": quick}))
    assert time.perf_counter() - began < PATIENCE
    result = info.value.result  # type: ignore[attr-defined]
    assert result is executor.last_result
    assert all_terminal(result)
    assert result["sleeper"].status is S.CANCELLED
    assert result["after"].status is S.CANCELLED
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class PressingTasks(Mapping[str, Any]):
    """A task mapping that presses Ctrl-C (or, with ``raise_it``, raises the
    KeyboardInterrupt a handler of the user's own would) when the executor
    first reads it, while the run is being built."""

    def __init__(self, tasks: dict[str, Any], *, raise_it: bool = False) -> None:
        self.tasks = tasks
        self.raise_it = raise_it
        self.pressed = False

    def __getitem__(self, name: str) -> Any:
        return self.tasks[name]

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[str]:
        if not self.pressed:
            self.pressed = True
            if self.raise_it:
                raise KeyboardInterrupt
            ctrl_c()
        return iter(self.tasks)


@pytest.mark.usefixtures("default_sigint")
@pytest.mark.parametrize("kind", ["threads", "asyncio"])
@pytest.mark.parametrize("raise_it", [False, True], ids=["counted", "raised"])
def test_ctrl_c_while_the_run_is_built_carries_a_result(
    kind: str, raise_it: bool, recorder: Recorder
) -> None:
    # building a million-node run takes about a second: a press then raised
    # KeyboardInterrupt without a result (under asyncio.run: a bare cancellation)
    dag = DAG.builder().add_edge("a", "b").build()
    called: list[str] = []
    tasks = PressingTasks({n: functools.partial(called.append, n) for n in "ab"}, raise_it=raise_it)
    if kind == "threads":
        executor: DAGExecutor | AsyncDAGExecutor = DAGExecutor(dag, callbacks=recorder)
        with pytest.raises(KeyboardInterrupt) as info:
            executor.execute(tasks)
    else:
        executor = AsyncDAGExecutor(dag, callbacks=recorder)
        with pytest.raises(KeyboardInterrupt) as info:
            guarded(executor.execute(tasks))
    assert tasks.pressed
    result = info.value.result  # type: ignore[attr-defined]
    assert result is executor.last_result
    assert [result[n].status for n in "ab"] == [S.CANCELLED, S.CANCELLED]
    assert result["a"].reason == "interrupted (KeyboardInterrupt) before the run started"
    assert result.setup_seconds > 0
    assert called == []  # the run never started
    assert recorder.events == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- 3. edge order of callbacks ------------------------------------------------------
def test_all_callbacks_of_every_predecessor_come_before_the_start_of_its_successor(
    recorder: Recorder,
) -> None:
    # a and b both feed c; a's on_node_complete is slow (it waits until b has been
    # reported), so b's worker would otherwise start c before a was reported
    b_reported = threading.Event()

    class SlowForA:
        def on_node_complete(self, name: str, result: object) -> None:
            if name == "a":
                b_reported.wait(0.5)
            else:
                b_reported.set()

    dag = DAG.builder().add_edge("a", "c").add_edge("b", "c").build()
    both = threading.Barrier(2, timeout=PATIENCE)
    result = DAGExecutor(dag, callbacks=[SlowForA(), recorder], max_workers=2).execute(
        {"a": both.wait, "b": both.wait, "c": lambda: 3}
    )
    assert result.succeeded == 3
    assert recorder.index("complete", "a") < recorder.index("start", "c")
    assert recorder.index("complete", "b") < recorder.index("start", "c")


# -- 4-6. deadlines on the async executor --------------------------------------------
def test_async_a_node_whose_start_callback_outlasts_the_deadline_never_starts() -> None:
    class SlowStart:
        def on_node_start(self, name: str) -> None:
            if name == "late":
                time.sleep(0.3)  # blocks the loop past the run's deadline

    ran: list[str] = []
    dag = DAG.builder().add_node("late").build()
    result = guarded(
        AsyncDAGExecutor(dag, callbacks=SlowStart()).execute(
            {"late": lambda: ran.append("late")}, 0.1
        )
    )
    assert ran == []
    assert result["late"].status is S.CANCELLED
    assert result["late"].reason == "not started: the run's timeout of 0.1 s passed"


def test_async_nothing_starts_after_the_deadline_and_slow_callbacks_do_not_delay_return() -> None:
    class SlowComplete:
        def on_node_complete(self, name: str, result: object) -> None:
            time.sleep(0.3)

    async def quick() -> int:
        return 1

    dag = DAG.builder().add_edge("a", "b").add_edge("b", "c").build()
    began = time.perf_counter()
    result = guarded(
        AsyncDAGExecutor(dag, callbacks=SlowComplete()).execute(
            {"a": quick, "b": quick, "c": quick}, 0.1
        )
    )
    elapsed = time.perf_counter() - began
    assert result["a"].status is S.COMPLETED
    assert result["b"].status is S.CANCELLED  # a's callback ended after the deadline
    assert result["c"].status is S.CANCELLED
    assert elapsed < 0.75  # a's one callback, not three (0.9 s)


def test_async_a_timed_out_sync_task_frees_its_slot(release: threading.Event) -> None:
    dag = DAG.builder().add_nodes(["stuck", "other"]).build()
    began = time.perf_counter()
    result = guarded(
        AsyncDAGExecutor(dag, max_workers=1, fail_fast=False, costs={"stuck": 2.0}).execute(
            {"stuck": lambda: release.wait(PATIENCE * 2), "other": lambda: "done"},
            node_timeouts={"stuck": 0.2},
        )
    )
    assert time.perf_counter() - began < PATIENCE / 2
    assert result["stuck"].status is S.TIMED_OUT
    assert "its thread was left to finish in the background" in str(result["stuck"].error)
    assert result["other"].result == "done"


def test_async_a_task_swallowing_its_cancellation_does_not_hold_the_run() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(PATIENCE)
        except asyncio.CancelledError:
            await asyncio.sleep(PATIENCE / 2)  # ignores the cancellation
        return "late"

    dag = DAG.builder().add_nodes(["stubborn"]).build()
    began = time.perf_counter()
    result = guarded(
        AsyncDAGExecutor(dag).execute({"stubborn": stubborn}, node_timeouts={"stubborn": 0.2})
    )
    assert time.perf_counter() - began < PATIENCE / 4
    assert result["stubborn"].status is S.TIMED_OUT


def test_threads_a_timed_out_task_is_reported_as_left_behind(release: threading.Event) -> None:
    dag = DAG.builder().add_node("stuck").build()
    result = DAGExecutor(dag).execute(
        {"stuck": lambda: release.wait(PATIENCE * 2)}, node_timeouts={"stuck": 0.1}
    )
    assert result["stuck"].status is S.TIMED_OUT
    assert "its thread was left to finish in the background" in str(result["stuck"].error)


# -- 9-13. bad input: a clear error before anything runs --------------------------
def test_add_nodes_refuses_a_string() -> None:
    with pytest.raises(ConfigurationError, match=r"add_node\('load'\)"):
        DAG().add_nodes("load")
    with pytest.raises(ConfigurationError, match=r"add_node\('load'\)"):
        DAG.builder().add_nodes("load")


def test_add_edges_says_which_item_is_wrong_and_what_shape_is_expected() -> None:
    dag = DAG().add_nodes(["a", "b", "c"])
    with pytest.raises(ConfigurationError, match=r"weight of edge 'a' -> 'b'.*got 'c'"):
        dag.add_edges([("a", "b", "c")])
    with pytest.raises(ConfigurationError, match=r"add_edges\(\) items are .*got \('a',\)"):
        dag.add_edges([("a",)])
    assert dag.edge_count() == 0


def test_pipeline_refuses_an_input_no_task_takes() -> None:
    ran: list[str] = []

    def load(path: str = "default.csv") -> str:
        ran.append(path)
        return path

    def report(load: str, n: int = 1) -> str:
        return load * n

    with pytest.raises(
        ConfigurationError,
        match=r"input\(s\) 'pth' \(did you mean 'path'\?\) taken by no task.*"
        r"its inputs are: 'path', 'n'",
    ):
        Pipeline([load, report]).execute({"pth": "x.csv"})
    assert ran == []
    assert Pipeline([load, report]).execute({"path": "x.csv"})["report"].result == "x.csv"


def test_pipeline_refuses_async_generator_functions_and_positional_only_parameters() -> None:
    async def stream():  # type: ignore[no-untyped-def]
        yield 1

    def positional(a, /):  # type: ignore[no-untyped-def]
        return a

    with pytest.raises(ConfigurationError, match=r"task 'stream' is an async generator"):
        Pipeline([stream])
    with pytest.raises(ConfigurationError, match=r"task 'positional' has positional-only.*'/'"):
        Pipeline([positional])


def test_names_of_partials_and_callable_objects_are_stable() -> None:
    def scale(x: int = 1, factor: int = 2) -> int:
        return x * factor

    class Loader:
        def __call__(self) -> int:
            return 1

    pipeline = Pipeline([functools.partial(scale, factor=3), Loader()])
    assert pipeline.task_names == ["scale", "Loader"]
    assert Pipeline([Loader()]).task_names == Pipeline([Loader()]).task_names


# -- 7. a loop-blocking async task is reported ------------------------------------------
def test_an_async_task_blocking_the_loop_is_reported_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def blocker() -> str:
        await asyncio.sleep(0)
        time.sleep(0.15)  # blocks the loop: nothing can interrupt it
        return "done"

    dag = DAG().add_nodes(["blocker"])
    with caplog.at_level(logging.WARNING, logger="dagron_nb"):
        result = guarded(AsyncDAGExecutor(dag).execute({"blocker": blocker}))
    assert result["blocker"].result == "done"
    (message,) = [
        r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()
    ]
    assert "task 'blocker' blocked the event loop for 0.1" in message


# -- 15. quick plain functions on the async executor skip the thread hand-off -------------
def test_async_quick_plain_functions_run_on_the_loop_after_one_timed_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagron_nb.execution import loopwatch

    monkeypatch.setattr(loopwatch, "INLINE_BUDGET", 10.0)  # every call counts as quick
    where: list[str] = []
    names = [f"n{i}" for i in range(20)]
    dag = DAG.builder().add_nodes(names).add_edges(list(itertools.pairwise(names))).build()
    tasks = dict.fromkeys(names, lambda: where.append(threading.current_thread().name))
    result = guarded(AsyncDAGExecutor(dag).execute(tasks))
    assert result.succeeded == 20
    assert where[0].startswith("dagron-async-sync-")  # the first call is timed on a thread
    assert set(where[1:]) == {threading.current_thread().name}  # the rest on the loop


def test_async_slow_plain_functions_stay_on_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagron_nb.execution import loopwatch

    monkeypatch.setattr(loopwatch, "INLINE_BUDGET", 0.0)  # every call counts as slow
    where: list[str] = []
    names = [f"n{i}" for i in range(5)]
    dag = DAG.builder().add_nodes(names).add_edges(list(itertools.pairwise(names))).build()
    tasks = dict.fromkeys(names, lambda: where.append(threading.current_thread().name))
    guarded(AsyncDAGExecutor(dag).execute(tasks))
    assert all(name.startswith("dagron-async-sync-") for name in where)
