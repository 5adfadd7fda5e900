"""``DaskExecutor`` on a real dask.distributed cluster.

One in-process ``LocalCluster`` (2 workers x 1 thread) serves the module; the
no-client tests start the executor's own process cluster. Dask pickles every
task, so tasks here are module-level functions (pickled by reference, hence
sharing this module's events with the in-process workers) or partials of them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="DaskExecutor needs dask[distributed]")

import dagron_nb as dagron  # noqa: E402
from dagron_nb import ConfigurationError, NodeStatus, NodeTimeoutError, Pipeline, task  # noqa: E402
from dagron_nb.core.errors import ClusterError  # noqa: E402
from dagron_nb.execution.dask import DaskExecutor  # noqa: E402

S = NodeStatus
PATIENCE = 10.0  # how long a stuck task waits at most: a hang guard, never reached when green

_RELEASE = threading.Event()  # stuck tasks wait on it
_STUCK_DONE = threading.Event()  # set by a stuck task when it finally returns
_BARRIER = threading.Barrier(2, timeout=PATIENCE)
_CANCEL = threading.Event()  # a task sets it: the workers share this process
_RAN: list[str] = []
_LOG: list[tuple[str, str]] = []  # ("start" | "end", node) in the order tasks ran
_LOG_LOCK = threading.Lock()  # tasks that must never run append their name here


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=":0",  # port 8787 may be taken by another test run
        scheduler_kwargs={"dashboard": False},
    )
    client = distributed.Client(cluster)
    yield client
    _RELEASE.set()
    client.close()
    cluster.close()


@pytest.fixture
def stuck() -> Iterator[None]:
    """Arms ``_stuck``; at teardown releases it and waits until its thread is free."""
    _RELEASE.clear()
    _STUCK_DONE.clear()
    yield
    _RELEASE.set()
    assert _STUCK_DONE.wait(PATIENCE), "a stuck task did not return after its release"


# -- tasks (module level: dask pickles them by reference) ---------------------------
def _value(v: Any) -> Any:
    return v


def _boom(message: str = "boom") -> None:
    raise ValueError(message)


def _stuck() -> str:
    try:
        _RELEASE.wait(PATIENCE)
        return "late"
    finally:
        _STUCK_DONE.set()


def _meet() -> str:
    _BARRIER.wait()  # returns only if the other task runs at the same time
    return str(distributed.get_worker().address)


def _must_not_run(name: str) -> None:
    _RAN.append(name)


def _logged(name: str) -> str:
    with _LOG_LOCK:
        _LOG.append(("start", name))
    with _LOG_LOCK:
        _LOG.append(("end", name))
    return name


def _cancel_the_run() -> None:
    _CANCEL.set()  # the module's event: an Event itself cannot be pickled


def statuses(result: dagron.ExecutionResult) -> dict[str, NodeStatus]:
    return dict(zip(result.names, result.statuses))


def reasons(result: dagron.ExecutionResult) -> dict[str, str | None]:
    return dict(zip(result.names, result.reasons))


def diamond() -> dagron.DAG:
    return (
        dagron.DAG.builder()
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .build()
    )


def failing_dag() -> tuple[dagron.DAG, dict[str, Any]]:
    dag = (
        dagron.DAG.builder()
        .add_edge("root", "boom")
        .add_edge("root", "ok1")
        .add_edge("boom", "after")
        .add_edge("ok1", "ok2")
        .add_edge("after", "join")
        .add_edge("ok2", "join")
        .add_node("alone")
        .build()
    )
    tasks: dict[str, Any] = {n: functools.partial(_value, n.upper()) for n in dag.nodes()}
    tasks["boom"] = _boom
    return dag, tasks


def workers_of(client: Any) -> set[str]:
    return set(client.scheduler_info()["workers"])


# -- same results as the thread executor ---------------------------------------------
def test_a_diamond_gives_what_the_thread_executor_gives(client: Any) -> None:
    tasks = {n: functools.partial(_value, n * 2) for n in "abcd"}
    on_dask = DaskExecutor(diamond(), client=client).execute(tasks)
    on_threads = dagron.DAGExecutor(diamond()).execute(tasks)
    assert statuses(on_dask) == statuses(on_threads) == dict.fromkeys("abcd", S.COMPLETED)
    assert on_dask.outputs() == on_threads.outputs() == {n: n * 2 for n in "abcd"}
    assert on_dask.ok
    assert on_dask.succeeded == 4
    assert on_dask.setup_seconds > 0


def test_best_effort_gives_what_the_thread_executor_gives(client: Any) -> None:
    dag, tasks = failing_dag()
    on_dask = DaskExecutor(dag, client=client, fail_fast=False).execute(tasks)
    on_threads = dagron.DAGExecutor(dag, max_workers=2, fail_fast=False).execute(tasks)
    assert statuses(on_dask) == statuses(on_threads)
    assert reasons(on_dask) == reasons(on_threads)
    assert on_dask.outputs() == on_threads.outputs()
    assert on_dask["boom"].status is S.FAILED
    assert on_dask["after"].reason == "upstream 'boom' failed"
    assert on_dask["ok2"].status is S.COMPLETED
    assert on_dask["alone"].status is S.COMPLETED


def test_fail_fast_skips_what_had_not_started_when_the_failure_arrived(client: Any) -> None:
    # Dask hands a worker several ready tasks at once, so which independent
    # nodes ran before 'boom' failed is up to it; what must hold is that each
    # of them either really ran or is SKIPPED as never started.
    dag, tasks = failing_dag()
    result = DaskExecutor(dag, client=client, max_workers=1, fail_fast=True).execute(tasks)
    assert result["root"].status is S.COMPLETED
    assert result["boom"].status is S.FAILED
    for name in ("after", "join"):
        assert (result[name].status, result[name].reason) == (S.SKIPPED, "upstream 'boom' failed")
    for name in ("ok1", "ok2", "alone"):
        node = result[name]
        if node.status is S.COMPLETED:
            assert node.result == name.upper()
        else:
            assert node.status is S.SKIPPED
            assert node.reason == "not started: 'boom' failed and fail_fast is on"
            assert node.started_at is None
    if result["ok2"].status is S.COMPLETED:
        assert result["ok1"].status is S.COMPLETED


def test_a_failure_keeps_the_original_exception_and_its_traceback(client: Any) -> None:
    dag, tasks = failing_dag()
    result = DaskExecutor(dag, client=client, fail_fast=False).execute(tasks)
    error = result["boom"].error
    assert type(error) is ValueError
    assert str(error) == "boom"
    assert error.__traceback__ is not None
    frames = [frame.name for frame in traceback.extract_tb(error.__traceback__)]
    assert "_boom" in frames
    assert not hasattr(error, "__dagron_stamp__"), "the measurements must not stay on it"
    assert result["boom"].worker in workers_of(client)
    with pytest.raises(Exception, match="1 node"):
        result.raise_for_failures()


# -- callbacks, workers, times ---------------------------------------------------------
def test_callbacks_fire_once_per_node_with_the_right_kind_on_the_calling_thread(
    client: Any, recorder: Any
) -> None:
    dag, tasks = failing_dag()
    result = DaskExecutor(dag, client=client, callbacks=recorder, fail_fast=False).execute(tasks)
    kind_of = {S.COMPLETED: "complete", S.FAILED: "error", S.SKIPPED: "skip"}
    for name in dag.nodes():
        expected = ["start", kind_of[result[name].status]]
        if result[name].status is S.SKIPPED:
            expected = ["skip"]
        assert recorder.kinds(name) == expected, name
    assert recorder.values == result.outputs()
    assert isinstance(recorder.errors["boom"], ValueError)
    assert recorder.runs == ["start", "end"]
    assert set(recorder.threads.values()) == {threading.current_thread().name}
    for up, down in dag.edges():
        if ("start", down) in recorder.events:
            assert recorder.index("complete", up) < recorder.index("start", down)


def test_times_and_workers_come_from_the_dask_workers(client: Any) -> None:
    dag = dagron.DAG.builder().add_edge("left", "end").add_edge("right", "end").build()
    tasks = {"left": _meet, "right": _meet, "end": functools.partial(_value, "end")}
    result = DaskExecutor(dag, client=client).execute(tasks)
    assert result.ok, result.errors
    # _meet returns only when both ran at once, hence on the two workers
    assert {result["left"].result, result["right"].result} == workers_of(client)
    for name in dag.nodes():
        node = result[name]
        assert node.worker in workers_of(client)
        assert node.started_at is not None
        assert node.finished_at is not None
        assert 0.0 <= node.started_at <= node.finished_at <= result.total_duration_seconds
    assert result["left"].worker == result["left"].result
    assert result["end"].started_at >= max(result["left"].finished_at, result["right"].finished_at)


def test_max_workers_keeps_the_run_on_that_many_threads(client: Any) -> None:
    dag = (
        dagron.DAG.builder().add_nodes(["light1", "light2"]).add_edge("heavy", "heavy_next").build()
    )
    tasks = {n: functools.partial(_logged, n) for n in dag.nodes()}
    costs = {"heavy": 10.0, "heavy_next": 5.0}
    _LOG.clear()
    result = DaskExecutor(dag, client=client, max_workers=1, costs=costs).execute(tasks)
    assert result.ok
    # one at a time although the cluster has two threads, on one worker, the
    # costly chain first (Dask orders what a worker holds by our priorities; a
    # worker may start a light task it holds before heavy_next reaches it)
    assert [kind for kind, _ in _LOG] == ["start", "end"] * 4
    assert _LOG[0] == ("start", "heavy")
    assert len({result[n].worker for n in dag.nodes()}) == 1


def test_async_tasks_run_on_the_worker(client: Any) -> None:
    async def fetch() -> str:
        return str(distributed.get_worker().address)

    dag = dagron.DAG.builder().add_node("fetch").build()
    result = DaskExecutor(dag, client=client).execute({"fetch": fetch})
    assert result["fetch"].result in workers_of(client)


def test_tracing_and_hooks(client: Any) -> None:
    hooks = dagron.HookRegistry()
    seen: list[tuple[str, str | None]] = []
    hooks.register(dagron.HookEvent.PRE_NODE, lambda ctx: seen.append(("pre", ctx.node_name)))
    hooks.register(dagron.HookEvent.POST_NODE, lambda ctx: seen.append(("post", ctx.node_name)))
    tasks = {n: functools.partial(_value, n) for n in "abcd"}
    result = DaskExecutor(diamond(), client=client, enable_tracing=True, hooks=hooks).execute(tasks)
    assert sorted(seen) == sorted([(k, n) for n in "abcd" for k in ("pre", "post")])
    assert result.trace is not None
    chrome = result.trace.to_chrome_trace()
    assert chrome  # the export accepts a Dask run; its format is tested in tests/core


# -- Pipeline: data stays on the cluster -----------------------------------------------
@task
def origin() -> dict[str, Any]:
    worker = distributed.get_worker()
    return {"address": worker.address, "key": worker.get_current_task()}


@task
def follower(origin: dict[str, Any], factor: int) -> dict[str, Any]:
    worker = distributed.get_worker()
    me = worker.state.tasks[worker.get_current_task()]
    return {
        "upstream": origin,
        "address": worker.address,
        # the keys whose data dask delivered to this task as its dependencies
        "dependencies": [dep.key for dep in me.dependencies],
        "scaled": factor * 2,
    }


def test_pipeline_values_pass_between_tasks_on_the_cluster(client: Any) -> None:
    pipeline = Pipeline([origin, follower], inputs={"factor": 21})
    result = pipeline.execute_dask(client=client)
    assert result.ok, result.errors
    up, down = result["origin"].result, result["follower"].result
    assert up["address"] in workers_of(client)
    assert down["upstream"] == up  # the value arrived...
    # ...as a Dask dependency of the follower's task: the future was its argument,
    # so the data went worker to worker, not through this process.
    assert down["dependencies"] == [up["key"]]
    assert down["scaled"] == 42
    assert result["follower"].worker == down["address"]


def test_an_async_pipeline_runs_on_dask(client: Any) -> None:
    @task
    async def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    async def total(numbers: list[int]) -> int:
        return sum(numbers)

    result = Pipeline([numbers, total]).execute_dask(client=client)
    assert result.outputs() == {"numbers": [1, 2, 3], "total": 6}


def test_pipeline_failure_on_dask_skips_the_consumer(client: Any) -> None:
    @task
    def source() -> int:
        raise KeyError("missing")

    @task
    def sink(source: int) -> int:
        return source

    result = Pipeline([source, sink]).execute_dask(client=client)
    assert statuses(result) == {"source": S.FAILED, "sink": S.SKIPPED}
    assert isinstance(result["source"].error, KeyError)


# -- the result cache -------------------------------------------------------------------
@task
def cached_root() -> int:
    return 20


@task
def cached_child(cached_root: int) -> int:
    return cached_root + 1


def test_with_a_cache_unchanged_nodes_never_reach_the_cluster(client: Any) -> None:
    from dagron_nb.execution.cache import ResultCache

    cache = ResultCache()
    pipeline = Pipeline([cached_root, cached_child])
    first = pipeline.execute_dask(client=client, cache=cache)
    assert statuses(first) == {"cached_root": S.COMPLETED, "cached_child": S.COMPLETED}
    assert first.outputs() == {"cached_root": 20, "cached_child": 21}
    second = pipeline.execute_dask(client=client, cache=cache)
    assert statuses(second) == {"cached_root": S.CACHE_HIT, "cached_child": S.CACHE_HIT}
    assert second.outputs() == {"cached_root": 20, "cached_child": 21}
    assert second.cache_hits == 2
    assert all(worker is None for worker in second.workers)  # nothing went to a worker
    # a refresh runs the root again; its successor runs with it (early cutoff needs
    # the root's value first, which only the cluster has when the graph is sent)
    third = pipeline.execute_dask(client=client, cache=cache, refresh_cache=["cached_root"])
    assert statuses(third) == {"cached_root": S.COMPLETED, "cached_child": S.COMPLETED}
    assert third.outputs() == {"cached_root": 20, "cached_child": 21}


# -- deadlines and cancellation ----------------------------------------------------------
def test_global_timeout_with_a_stuck_task(client: Any, recorder: Any, stuck: None) -> None:
    dag = dagron.DAG.builder().add_edge("stuck", "after").add_node("quick").build()
    tasks = {"stuck": _stuck, "after": _must_not_run, "quick": functools.partial(_value, 1)}
    executor = DaskExecutor(dag, client=client, callbacks=recorder)
    began = time.perf_counter()
    result = executor.execute(tasks, timeout=0.3)
    elapsed = time.perf_counter() - began
    recorder.close()
    assert elapsed < 2.0
    assert statuses(result) == {"stuck": S.TIMED_OUT, "after": S.CANCELLED, "quick": S.COMPLETED}
    assert isinstance(result["stuck"].error, NodeTimeoutError)
    assert "timeout of 0.3 s" in (result["after"].reason or "")
    assert executor.last_result is result
    # the late finish changes nothing and fires nothing
    before = (list(result.statuses), list(result.values), list(result.finished))
    _RELEASE.set()
    assert _STUCK_DONE.wait(PATIENCE)
    assert (list(result.statuses), list(result.values), list(result.finished)) == before
    assert recorder.late == []
    assert recorder.kinds("stuck") == ["start", "timeout"]


def test_node_timeout_times_out_one_node_and_the_run_goes_on(client: Any, stuck: None) -> None:
    dag = dagron.DAG.builder().add_edge("stuck", "after").add_node("other").build()
    tasks = {"stuck": _stuck, "after": _must_not_run, "other": functools.partial(_value, 2)}
    result = DaskExecutor(dag, client=client, fail_fast=False).execute(
        tasks, node_timeouts={"stuck": 0.2}
    )
    assert statuses(result) == {"stuck": S.TIMED_OUT, "after": S.SKIPPED, "other": S.COMPLETED}
    assert result["after"].reason == "upstream 'stuck' timed out"
    assert "node timeout of 0.2 s" in str(result["stuck"].error)


def test_cancel_event_is_noticed_while_nothing_finishes(client: Any, stuck: None) -> None:
    cancel = threading.Event()
    times: dict[str, float] = {}

    class Watcher:
        def on_node_start(self, name: str) -> None:
            if name == "stuck":  # set it a moment later, while the loop waits on dask
                timer = threading.Timer(0.1, self.set_cancel)
                timer.start()

        def set_cancel(self) -> None:
            times["set"] = time.perf_counter()
            cancel.set()

        def on_node_cancel(self, name: str) -> None:
            times[name] = time.perf_counter()
            _RELEASE.set()  # running tasks finish: let the stuck one go

    dag = dagron.DAG.builder().add_edge("stuck", "after").build()
    tasks = {"stuck": _stuck, "after": _must_not_run}
    result = DaskExecutor(dag, client=client, callbacks=Watcher()).execute(
        tasks, cancel_event=cancel
    )
    assert statuses(result) == {"stuck": S.COMPLETED, "after": S.CANCELLED}
    assert result["after"].reason == "cancelled: cancel_event was set"
    assert times["after"] - times["set"] < 1.0  # ~20 ms polling; generous for a busy box


def test_a_task_that_sets_the_cancel_event_lets_no_successor_start(client: Any) -> None:
    dag = dagron.DAG.builder().add_edge("first", "second").add_edge("second", "third").build()
    tasks = {"first": _cancel_the_run, "second": _must_not_run}
    tasks["third"] = _must_not_run
    _CANCEL.clear()
    result = DaskExecutor(dag, client=client).execute(tasks, cancel_event=_CANCEL)
    assert statuses(result) == {"first": S.COMPLETED, "second": S.CANCELLED, "third": S.CANCELLED}


def test_ctrl_c_cancels_the_rest_and_keeps_the_partial_result(client: Any, stuck: None) -> None:
    class Interrupt:
        def on_node_start(self, name: str) -> None:
            raise KeyboardInterrupt  # what Ctrl-C in the notebook does on this thread

        def on_node_cancel(self, name: str) -> None:
            _RELEASE.set()  # 'a' ends only now, so 'b' cannot have started before

    dag = dagron.DAG.builder().add_edge("a", "b").build()
    executor = DaskExecutor(dag, client=client, callbacks=Interrupt())
    tasks = {"a": _stuck, "b": functools.partial(_must_not_run, "b")}
    _RAN.clear()
    with pytest.raises(KeyboardInterrupt) as info:
        executor.execute(tasks)
    assert _RAN == []
    partial = info.value.result  # type: ignore[attr-defined]
    assert partial is executor.last_result
    assert statuses(partial) == {"a": S.COMPLETED, "b": S.CANCELLED}
    assert partial["b"].reason == "interrupted (KeyboardInterrupt)"


def test_losing_the_scheduler_mid_run_ends_the_run_with_a_clear_error(stuck: None) -> None:
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    own = distributed.Client(cluster, set_as_default=False)

    class StopTheScheduler:
        def on_node_start(self, name: str) -> None:
            threading.Thread(target=cluster.sync, args=(cluster.scheduler.close,)).start()

    dag = dagron.DAG.builder().add_edge("stuck", "after").build()
    tasks = {"stuck": _stuck, "after": _must_not_run}
    began = time.perf_counter()
    try:
        result = DaskExecutor(dag, client=own, callbacks=StopTheScheduler()).execute(tasks)
        elapsed = time.perf_counter() - began
    finally:
        _RELEASE.set()
        # the client and the workers give up reconnecting to the stopped scheduler
        with contextlib.suppress(TimeoutError):
            own.close(timeout=1)
        with contextlib.suppress(TimeoutError):
            cluster.close(timeout=2)
    assert elapsed < PATIENCE
    assert statuses(result) == {"stuck": S.FAILED, "after": S.CANCELLED}
    assert isinstance(result["stuck"].error, ClusterError)
    assert "the Dask scheduler stopped answering" in str(result["stuck"].error)
    assert result["after"].reason == "cancelled: the Dask scheduler was lost"


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda c: DaskExecutor(diamond(), client=c).execute({"x": _must_not_run}), "not in"),
        (lambda c: DaskExecutor(diamond(), client=c).execute({"a": 42}), "must be callables"),
        (
            lambda c: DaskExecutor(diamond(), client=c).execute({"a": _must_not_run}, timeout=-1),
            "timeout must be",
        ),
        (lambda c: DaskExecutor(diamond(), client=c, max_workers=0), "max_workers"),
        (lambda c: DaskExecutor(diamond(), client=c, costs={"a": float("nan")}), "cost of"),
        (lambda c: DaskExecutor(diamond(), client="tcp://x:1"), "distributed.Client"),
        (lambda c: Pipeline([follower]).execute_dask(client=c), "cannot resolve"),
    ],
)
def test_bad_input_is_refused_before_anything_is_submitted(
    client: Any, make: Any, match: str
) -> None:
    _RAN.clear()
    with pytest.raises(ConfigurationError, match=match):
        make(client)
    assert _RAN == []


def test_a_pipeline_task_needs_its_upstream_as_a_predecessor(client: Any) -> None:
    bound = Pipeline([origin, follower], inputs={"factor": 1})._bind(None)
    flat = dagron.DAG.builder().add_nodes(["origin", "follower"]).build()  # no edge
    with pytest.raises(ConfigurationError, match="not a predecessor of 'follower'"):
        DaskExecutor(flat, client=client).execute(bound)


def test_a_task_dask_cannot_pickle_fails_its_node_only(client: Any) -> None:
    lock = threading.Lock()
    dag = dagron.DAG.builder().add_nodes(["locked", "fine"]).build()
    tasks = {"locked": lambda: lock.locked(), "fine": functools.partial(_value, 3)}
    result = DaskExecutor(dag, client=client, fail_fast=False).execute(tasks)
    assert statuses(result) == {"locked": S.FAILED, "fine": S.COMPLETED}
    error = result["locked"].error
    assert isinstance(error, ConfigurationError)
    assert "could not send the task of node 'locked'" in str(error)
    assert error.__cause__ is not None


# -- no client: the executor's own LocalCluster ----------------------------------------
def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_without_a_client_it_starts_and_closes_its_own_cluster() -> None:
    ended: list[float] = []

    class RunEnd:
        def on_run_end(self, result: dagron.ExecutionResult) -> None:
            ended.append(time.perf_counter())

    dag = dagron.DAG.builder().add_nodes(["pid", "stuck"]).build()
    tasks = {"pid": os.getpid, "stuck": functools.partial(time.sleep, 60)}
    result = DaskExecutor(dag, max_workers=2, callbacks=RunEnd()).execute(tasks, timeout=1.0)
    closed = time.perf_counter() - ended[0]
    assert statuses(result) == {"pid": S.COMPLETED, "stuck": S.TIMED_OUT}
    pid = result["pid"].result
    assert pid != os.getpid()  # a worker process, not a thread of this one
    assert result["pid"].worker.startswith("tcp://")
    assert _gone(pid), "the LocalCluster's workers outlived the run"
    # the worker stuck in time.sleep is killed, not waited for (60 s) nor given
    # the nanny's default 4 s grace period
    assert closed < 3.0


def _pid_after_reading(fifo: str) -> int:
    with open(fifo, encoding="utf-8") as pipe:  # blocks until the test writes
        pipe.read()
    return os.getpid()


@pytest.mark.slow
def test_without_a_client_the_cluster_is_closed_after_an_interrupt_too(tmp_path: Any) -> None:
    fifo = str(tmp_path / "go")
    os.mkfifo(fifo)  # p (in a worker process) waits until q is cancelled

    class Interrupt:
        def on_node_start(self, name: str) -> None:
            raise KeyboardInterrupt

        def on_node_cancel(self, name: str) -> None:
            with open(fifo, "w", encoding="utf-8") as pipe:
                pipe.write("go")

    dag = dagron.DAG.builder().add_edge("p", "q").build()
    executor = DaskExecutor(dag, max_workers=1, callbacks=Interrupt())
    with pytest.raises(KeyboardInterrupt) as info:
        executor.execute({"p": functools.partial(_pid_after_reading, fifo), "q": os.getpid})
    partial = info.value.result  # type: ignore[attr-defined]
    assert statuses(partial) == {"p": S.COMPLETED, "q": S.CANCELLED}
    assert _gone(partial["p"].result)


# -- imports --------------------------------------------------------------------------
def test_dagron_nb_imports_without_dask_and_exports_it_lazily() -> None:
    code = (
        "import sys, dagron_nb\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
        "from dagron_nb import DaskExecutor\n"
        "assert 'distributed' not in sys.modules, 'only using it should import dask'\n"
        "print(DaskExecutor.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "dagron_nb.execution.dask"
    assert "DaskExecutor" in dagron.__all__
