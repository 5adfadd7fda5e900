"""AsyncDAGExecutor only: coroutines, real cancellation, asyncio.Event, interrupts."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from dagron_nb import DAG, AsyncDAGExecutor, NodeStatus, NodeTimeoutError
from dagron_nb.execution.aio import is_async_callable

if TYPE_CHECKING:
    from conftest import Recorder

S = NodeStatus
PATIENCE = 5.0


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- what counts as async -------------------------------------------------------------
async def coro_fn() -> int:
    return 1


class AsyncCallable:
    async def __call__(self) -> int:
        return 2


def test_is_async_callable() -> None:
    assert is_async_callable(coro_fn)
    assert is_async_callable(functools.partial(coro_fn))
    assert is_async_callable(functools.partial(functools.partial(coro_fn)))
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(lambda: 1)
    assert not is_async_callable(print)
    assert not is_async_callable(functools.partial(print, 1))


def test_coroutines_sync_functions_and_awaitables_all_run() -> None:
    dag = DAG().add_nodes(["coro", "partial", "obj", "sync", "returns_awaitable"])

    async def later() -> str:
        return "awaited"

    async def add(x: int, y: int) -> int:
        return x + y

    tasks: dict[str, Any] = {
        "coro": coro_fn,
        "partial": functools.partial(add, 2, 3),
        "obj": AsyncCallable(),
        "sync": lambda: threading.current_thread().name,
        "returns_awaitable": lambda: later(),
    }
    result = run(AsyncDAGExecutor(dag).execute(tasks))
    assert result["coro"].result == 1
    assert result["partial"].result == 5
    assert result["obj"].result == 2
    assert result["sync"].result != threading.current_thread().name  # ran in a pool thread
    assert result["returns_awaitable"].result == "awaited"


def test_context_variables_reach_sync_tasks() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def main() -> Any:
        var.set("from the caller")
        return await AsyncDAGExecutor(DAG().add_nodes(["a"])).execute({"a": var.get})

    assert run(main())["a"].result == "from the caller"


def test_unlimited_concurrency_by_default() -> None:
    # 50 coroutines that all wait for each other: only unlimited concurrency finishes
    n = 50
    dag = DAG().add_nodes([f"t{k}" for k in range(n)])

    async def main() -> Any:
        arrived = 0
        everyone = asyncio.Event()

        async def meet() -> bool:
            nonlocal arrived
            arrived += 1
            if arrived == n:
                everyone.set()
            await asyncio.wait_for(everyone.wait(), PATIENCE)
            return True

        return await AsyncDAGExecutor(dag).execute(dict.fromkeys(dag.nodes(), meet))

    result = run(main())
    assert result.succeeded == n
    assert AsyncDAGExecutor(dag).max_workers is None


def test_max_workers_limits_concurrent_coroutines_and_reuses_lanes() -> None:
    dag = DAG().add_nodes([f"t{k}" for k in range(12)])
    running = peak = 0

    async def task() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1

    result = run(AsyncDAGExecutor(dag, max_workers=3).execute(dict.fromkeys(dag.nodes(), task)))
    assert peak == 3
    assert {nr.worker for nr in result.node_results.values()} == {"async-0", "async-1", "async-2"}


# -- real cancellation ----------------------------------------------------------------
def test_the_run_timeout_really_cancels_running_coroutines(recorder: Recorder) -> None:
    dag = DAG.builder().add_edge("sleeper", "after").build()
    cancelled = []

    async def sleeper() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> Any:
        t0 = time.perf_counter()
        result = await AsyncDAGExecutor(dag, callbacks=recorder).execute(
            {"sleeper": sleeper, "after": coro_fn}, timeout=0.2
        )
        await asyncio.sleep(0.05)  # let the cancelled task unwind
        return result, time.perf_counter() - t0

    result, elapsed = run(main())
    assert elapsed < 1.0
    assert cancelled == [True]
    assert result["sleeper"].status is S.TIMED_OUT
    assert isinstance(result["sleeper"].error, NodeTimeoutError)
    assert result["after"].status is S.CANCELLED
    assert recorder.kinds("sleeper") == ["start", "timeout"]


def test_a_node_timeout_cancels_just_that_coroutine() -> None:
    dag = DAG().add_nodes(["slow", "fine"])
    cancelled = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    result = run(
        AsyncDAGExecutor(dag, fail_fast=False).execute(
            {"slow": slow, "fine": coro_fn}, node_timeouts={"slow": 0.1}
        )
    )
    assert cancelled == [True]
    assert result["slow"].status is S.TIMED_OUT
    assert result["fine"].status is S.COMPLETED


def test_a_coroutine_that_swallows_its_timeout_is_still_timed_out() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "ignored the cancellation"
        return "slept"

    result = run(
        AsyncDAGExecutor(DAG().add_nodes(["a"])).execute({"a": stubborn}, node_timeouts={"a": 0.1})
    )
    assert result["a"].status is S.TIMED_OUT
    assert result["a"].result is None


def test_a_task_raising_cancelled_error_itself_fails_instead_of_hanging() -> None:
    dag = DAG.builder().add_edge("a", "b").add_node("c").build()

    async def gives_up() -> None:
        raise asyncio.CancelledError("cancelled inside the task")

    async def main() -> Any:
        executor = AsyncDAGExecutor(dag, fail_fast=False)
        return await asyncio.wait_for(
            executor.execute({"a": gives_up, "b": coro_fn, "c": coro_fn}), PATIENCE
        )

    result = run(main())
    assert result["a"].status is S.FAILED
    assert isinstance(result["a"].error, asyncio.CancelledError)
    assert result["b"].status is S.SKIPPED
    assert result["c"].status is S.COMPLETED


# -- cancel events --------------------------------------------------------------------
def test_asyncio_event_as_cancel_event() -> None:
    dag = DAG.builder().add_edges([("a", "b"), ("b", "c")]).add_node("side").build()
    started: list[str] = []

    async def main() -> Any:
        cancel = asyncio.Event()

        async def a() -> str:
            started.append("a")
            cancel.set()
            return "a"

        async def other() -> None:
            started.append("other")

        tasks = {"a": a, "b": other, "c": other, "side": other}
        return await AsyncDAGExecutor(dag, max_workers=1).execute(tasks, cancel_event=cancel)

    result = run(main())
    assert started == ["a"]
    assert result["a"].status is S.COMPLETED
    assert [result[n].status for n in ("b", "c", "side")] == [S.CANCELLED] * 3


def test_asyncio_event_set_while_a_coroutine_runs_is_noticed_at_once() -> None:
    dag = DAG.builder().add_edge("running", "next").build()

    async def main() -> Any:
        cancel = asyncio.Event()
        noticed = asyncio.Event()
        timings: dict[str, float] = {}

        class Watch:
            def on_node_cancel(self, name: str) -> None:
                timings["noticed"] = time.perf_counter()
                noticed.set()

        async def running() -> bool:
            timings["set"] = time.perf_counter()
            asyncio.get_running_loop().call_soon(cancel.set)
            await asyncio.wait_for(noticed.wait(), PATIENCE)
            return True

        result = await AsyncDAGExecutor(dag, callbacks=Watch()).execute(
            {"running": running, "next": coro_fn}, cancel_event=cancel
        )
        return result, timings["noticed"] - timings["set"]

    result, delay = run(main())
    assert delay < 0.5
    assert result["running"].status is S.COMPLETED
    assert result["next"].status is S.CANCELLED


# -- the execute coroutine cancelled / Ctrl-C -----------------------------------------
def test_cancelling_the_execute_task_cancels_everything_and_keeps_the_result() -> None:
    dag = DAG.builder().add_edge("sleeper", "after").add_node("done").build()
    executor = AsyncDAGExecutor(dag)

    async def main() -> None:
        sleeper_started = asyncio.Event()

        async def sleeper() -> None:
            sleeper_started.set()
            await asyncio.sleep(10)

        run_task = asyncio.ensure_future(
            executor.execute({"sleeper": sleeper, "after": coro_fn, "done": coro_fn})
        )
        await asyncio.wait_for(sleeper_started.wait(), PATIENCE)
        run_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run_task

    run(main())
    result = executor.last_result
    assert result is not None
    assert result["done"].status is S.COMPLETED
    assert result["sleeper"].status is S.CANCELLED
    assert result["sleeper"].reason == "interrupted while running"
    assert result["after"].status is S.CANCELLED
    assert result["after"].reason == "interrupted: the run was cancelled"


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_under_asyncio_run_keeps_the_partial_result() -> None:
    dag = DAG.builder().add_edge("sleeper", "after").build()
    executor = AsyncDAGExecutor(dag)

    async def sleeper() -> None:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        await asyncio.sleep(10)

    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(executor.execute({"sleeper": sleeper, "after": coro_fn}))
    assert time.perf_counter() - t0 < PATIENCE
    result = executor.last_result
    assert result is not None
    assert result.statuses == [S.CANCELLED, S.CANCELLED]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_execute_works_inside_an_already_running_loop() -> None:
    async def main() -> Any:
        dag = DAG.builder().add_edge("a", "b").build()
        return await AsyncDAGExecutor(dag).execute({"a": coro_fn, "b": coro_fn})

    assert run(main()).succeeded == 2


# -- plain callables run on the executor's own daemon threads ----------------------------
def test_plain_callables_all_run_at_once_without_a_limit() -> None:
    # Twelve blocking tasks that can only finish together: the loop's default
    # executor (a handful of threads) would leave some queued while RUNNING.
    n = 12
    barrier = threading.Barrier(n, timeout=PATIENCE)
    dag = DAG.builder().add_nodes([f"t{i}" for i in range(n)]).build()
    result = run(AsyncDAGExecutor(dag).execute({f"t{i}": barrier.wait for i in range(n)}))
    assert result.succeeded == n
    assert len({nr.worker for nr in result.node_results.values()}) == n


def test_a_stuck_plain_callable_does_not_hold_asyncio_run_after_its_timeout() -> None:
    release = threading.Event()
    dag = DAG.builder().add_node("stuck").build()
    began = time.perf_counter()
    try:
        result = run(
            AsyncDAGExecutor(dag).execute(
                {"stuck": lambda: release.wait(PATIENCE * 4)}, node_timeouts={"stuck": 0.2}
            )
        )
        # asyncio.run has returned: it did not wait for the stuck thread
        assert time.perf_counter() - began < PATIENCE
    finally:
        release.set()
    assert result["stuck"].status is S.TIMED_OUT
    assert isinstance(result["stuck"].error, NodeTimeoutError)


def test_a_timeout_attribute_of_some_object_is_not_a_node_timeout() -> None:
    class Client:
        timeout = 0.01  # e.g. an HTTP client's setting, unrelated to dagron_nb

        def __call__(self) -> str:
            time.sleep(0.05)
            return "done"

    dag = DAG.builder().add_node("call").build()
    result = run(AsyncDAGExecutor(dag).execute({"call": Client()}))
    assert result["call"].status is S.COMPLETED


def test_ctrl_c_inside_a_task_cancels_the_run_and_is_re_raised_with_the_result() -> None:
    # What a notebook kernel's loop does with Ctrl-C: the KeyboardInterrupt
    # surfaces in whatever coroutine is running at that moment.
    dag = DAG.builder().add_edge("interrupted", "after").add_node("other").build()
    other_started = asyncio.Event()

    async def interrupted() -> None:
        await other_started.wait()
        raise KeyboardInterrupt

    async def other() -> str:
        other_started.set()
        await asyncio.sleep(0.05)
        return "finished"

    async def after() -> int:
        return 1

    executor = AsyncDAGExecutor(dag)
    with pytest.raises(KeyboardInterrupt) as caught:
        run(executor.execute({"interrupted": interrupted, "after": after, "other": other}))
    result = caught.value.result  # type: ignore[attr-defined]
    assert result is executor.last_result
    assert result["interrupted"].status is S.CANCELLED
    assert "KeyboardInterrupt" in (result["interrupted"].reason or "")
    assert result["after"].status is S.CANCELLED
    assert result["other"].status is S.COMPLETED  # running tasks finish


# -- quick plain functions run on the loop, back to back -------------------------------
@pytest.fixture
def all_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call counts as quick, and a function's other nodes wait for its probe."""
    from dagron_nb.execution import loopwatch

    monkeypatch.setattr(loopwatch, "INLINE_BUDGET", 10.0)
    monkeypatch.setattr(loopwatch, "PROBE_WAIT", PATIENCE)


def chain(n: int) -> DAG:
    names = [f"n{i}" for i in range(n)]
    return DAG.builder().add_nodes(names).add_edges(list(itertools.pairwise(names))).build()


def where(log: list[str], i: int) -> Any:
    """A task recording which thread calls it (one function: one probe)."""
    return functools.partial(_record_thread, log, i)


def _record_thread(log: list[str], i: int) -> int:
    log.append(threading.current_thread().name)
    return i


@pytest.mark.usefixtures("all_quick")
def test_quick_plain_nodes_run_on_the_loop_with_callbacks_in_order(recorder: Recorder) -> None:
    log: list[str] = []
    dag = chain(30)
    tasks = {f"n{i}": where(log, i) for i in range(30)}
    result = run(AsyncDAGExecutor(dag, callbacks=recorder).execute(tasks))
    assert [result[f"n{i}"].result for i in range(30)] == list(range(30))
    assert log[0].startswith("dagron-async-sync-")  # the probe, timed on a thread
    assert set(log[1:]) == {threading.current_thread().name}
    expected = [(kind, f"n{i}") for i in range(30) for kind in ("start", "complete")]
    assert [e for e in recorder.events if e[0] in ("start", "complete")] == expected
    assert {nr.worker for nr in result.node_results.values()} == {"async-0"}


@pytest.mark.usefixtures("all_quick")
def test_independent_quick_nodes_wait_for_the_probe_then_run_on_the_loop() -> None:
    log: list[str] = []
    dag = DAG().add_nodes([f"w{i}" for i in range(200)])
    result = run(AsyncDAGExecutor(dag).execute({f"w{i}": where(log, i) for i in range(200)}))
    assert result.succeeded == 200
    assert log[0].startswith("dagron-async-sync-")
    assert set(log[1:]) == {threading.current_thread().name}


def test_calls_that_wait_for_each_other_never_run_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pairs meeting at a barrier all return at once, so every call looks quick;
    # one called alone on the loop would wait for its partner for ever
    from dagron_nb.execution import loopwatch

    monkeypatch.setattr(loopwatch, "INLINE_BUDGET", 10.0)
    barrier = threading.Barrier(2, timeout=PATIENCE)
    log: list[str] = []

    def meet() -> None:
        barrier.wait()
        log.append(threading.current_thread().name)

    # the second pair becomes ready together while nothing else runs: taken one
    # at a time, the first must not be called on the loop
    dag = DAG.builder().add_edges([("a1", "join"), ("a2", "join")])
    dag = dag.add_edges([("join", "b1"), ("join", "b2")]).build()
    tasks: dict[str, Any] = dict.fromkeys(["a1", "a2", "b1", "b2"], meet)
    result = run(AsyncDAGExecutor(dag).execute({**tasks, "join": lambda: None}))
    assert result.succeeded == 5
    assert len(log) == 4
    assert threading.current_thread().name not in log


@pytest.mark.usefixtures("all_quick")
def test_an_inline_failure_keeps_its_traceback_and_skips_downstream() -> None:
    def work(i: int) -> int:
        if i == 5:
            raise ValueError(f"bad input {i}")
        return i

    dag = chain(10)
    result = run(
        AsyncDAGExecutor(dag).execute({f"n{i}": functools.partial(work, i) for i in range(10)})
    )
    error = result["n5"].error
    assert isinstance(error, ValueError)
    assert str(error) == "bad input 5"
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "work"
    assert result["n4"].status is S.COMPLETED
    assert all(result[f"n{i}"].status is S.SKIPPED for i in range(6, 10))


@pytest.mark.usefixtures("all_quick")
def test_a_cancel_event_set_by_an_inline_node_stops_the_chain_there() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def work(i: int) -> None:
        calls.append(i)
        if i == 7:
            stop.set()

    dag = chain(50)
    tasks = {f"n{i}": functools.partial(work, i) for i in range(50)}
    result = run(AsyncDAGExecutor(dag).execute(tasks, cancel_event=stop))
    assert calls == list(range(8))
    assert result["n7"].status is S.COMPLETED
    assert result["n8"].status is S.CANCELLED
    assert result["n8"].reason == "cancelled: cancel_event was set"


@pytest.mark.usefixtures("all_quick")
def test_inline_nodes_capture_their_own_output_and_context() -> None:
    from dagron_nb import OutputCapture

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    def work(i: int) -> None:
        seen.append(var.get())
        var.set(f"set by n{i}")  # stays in this node's own copy of the context
        print(f"hello from n{i}")

    async def main() -> Any:
        var.set("from the caller")
        dag = chain(20)
        tasks = {f"n{i}": functools.partial(work, i) for i in range(20)}
        return await AsyncDAGExecutor(dag, callbacks=OutputCapture()).execute(tasks)

    result = run(main())
    assert seen == ["from the caller"] * 20
    assert result.captured_output == {f"n{i}": f"hello from n{i}\n" for i in range(20)}


@pytest.mark.usefixtures("all_quick")
def test_an_awaitable_returned_inline_is_awaited() -> None:
    async def later(i: int) -> int:
        await asyncio.sleep(0)
        return i * 10

    dag = chain(10)
    tasks = {f"n{i}": functools.partial(lambda i: later(i), i) for i in range(10)}
    result = run(AsyncDAGExecutor(dag).execute(tasks))
    assert [result[f"n{i}"].result for i in range(10)] == [i * 10 for i in range(10)]


@pytest.mark.usefixtures("all_quick")
def test_deadlines_keep_plain_functions_off_the_loop() -> None:
    for options in (
        {"timeout": PATIENCE},
        {"node_timeouts": {f"n{i}": PATIENCE for i in range(8)}},
    ):
        log: list[str] = []
        dag = chain(8)
        tasks = {f"n{i}": where(log, i) for i in range(8)}
        result = run(AsyncDAGExecutor(dag).execute(tasks, **options))  # type: ignore[arg-type]
        assert result.succeeded == 8
        assert all(name.startswith("dagron-async-sync-") for name in log), options


def test_a_function_turned_slow_runs_on_the_loop_at_most_once() -> None:
    loop_thread = threading.current_thread().name
    calls: list[tuple[bool, str]] = []

    def work(i: int) -> None:
        slow = i >= 6
        if slow:
            time.sleep(0.005)  # ten times the budget
        calls.append((slow, threading.current_thread().name))

    dag = chain(20)
    result = run(
        AsyncDAGExecutor(dag).execute({f"n{i}": functools.partial(work, i) for i in range(20)})
    )
    assert result.succeeded == 20
    assert sum(slow and thread == loop_thread for slow, thread in calls) <= 1


@pytest.mark.usefixtures("all_quick")
def test_the_loop_serves_other_coroutines_between_batches_of_inline_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagron_nb.execution import loopwatch

    n = 3000
    done: list[int] = []
    seen: list[int] = []  # how many nodes had run at each tick of another coroutine

    async def main(budget: float) -> Any:
        monkeypatch.setattr(loopwatch, "BATCH_BUDGET", budget)
        done.clear()
        seen.clear()
        finished = False

        async def ticker() -> None:
            while not finished:
                seen.append(len(done))
                await asyncio.sleep(0)

        ticking = asyncio.ensure_future(ticker())
        tasks = {f"n{i}": functools.partial(done.append, i) for i in range(n)}
        result = await AsyncDAGExecutor(chain(n)).execute(tasks)
        finished = True
        await ticking
        return result

    assert run(main(0.0)).succeeded == n  # a batch of one node: a tick between any two
    assert len({k for k in seen if 0 < k < n}) > n // 2
    assert run(main(0.002)).succeeded == n  # the default budget still yields
    assert any(0 < k < n for k in seen)


@pytest.mark.usefixtures("all_quick")
def test_an_asyncio_event_set_during_inline_calls_cancels_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagron_nb.execution import loopwatch

    monkeypatch.setattr(loopwatch, "BATCH_BUDGET", 0.0)
    n = 3000
    done: list[int] = []

    async def main() -> Any:
        stop = asyncio.Event()

        async def stopper() -> None:
            while len(done) < 10:
                await asyncio.sleep(0)
            stop.set()

        stopping = asyncio.ensure_future(stopper())
        tasks = {f"n{i}": functools.partial(done.append, i) for i in range(n)}
        result = await AsyncDAGExecutor(chain(n)).execute(tasks, cancel_event=stop)
        await stopping
        return result

    result = run(main())
    assert 10 <= result.succeeded < n
    assert result.succeeded == len(done)
    cancelled = [nr for nr in result.node_results.values() if nr.status is S.CANCELLED]
    assert len(cancelled) == n - len(done)
    assert cancelled[0].reason == "cancelled: cancel_event was set"


@pytest.mark.usefixtures("all_quick")
def test_ctrl_c_inside_an_inline_call_is_re_raised_with_the_result() -> None:
    def work(i: int) -> int:
        if i == 3:
            raise KeyboardInterrupt
        return i

    executor = AsyncDAGExecutor(chain(6))
    with pytest.raises(KeyboardInterrupt) as caught:
        run(executor.execute({f"n{i}": functools.partial(work, i) for i in range(6)}))
    result = caught.value.result  # type: ignore[attr-defined]
    assert result["n2"].status is S.COMPLETED
    assert result["n3"].status is S.CANCELLED
    assert result["n4"].status is S.CANCELLED
