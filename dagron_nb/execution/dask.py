"""``DaskExecutor``: the scheduler driven on a dask.distributed cluster.

Design: like dask's own ``local.py`` loop, only the calling thread touches the
scheduler, so no lock is needed. It submits what the scheduler says is ready
(at most ``max_workers`` at a time, by default the cluster's total threads)
with ``client.submit(..., pure=False)``. Each future's done-callback, which
distributed runs on its own callback thread, only puts ``(node, future, time)``
on a queue; the calling thread waits on that queue with a 20 ms timeout, so a
cancel event, a deadline or Ctrl-C is noticed promptly even while nothing
finishes, and it fires every callback itself.

On a batch of completions the loop first reports them to the scheduler and
submits whatever became ready. A Pipeline step gets its upstream *futures* as
arguments, so its inputs move from worker to worker and it starts without
waiting for the data to reach the notebook. Only then does the loop fetch the
finished values (one ``gather`` per batch; ``result[name].result`` needs them)
and notify callbacks, in the order the other executors use: complete(a) before
start(b) for an edge ``a -> b``.

A task runs on the worker inside ``_call_on_worker``, which measures when it
started (wall clock) and how long it took (the worker's ``perf_counter``) and
names the worker (its address). A successful task returns a ``_Done``
envelope; a failing one raises the original exception, so dask records the
task as erred with its traceback, and the measurements ride along on the
exception (popped off again on the client).

Deadlines: dask cannot interrupt a Python thread, so at the run's timeout (or a
node's own) the running futures are cancelled (``future.cancel()``), their nodes
become TIMED_OUT and anything reported later is ignored; a stuck task still
occupies its worker thread until it returns. Workers need ``dagron_nb``
installed, as for any library your tasks use, since ``_call_on_worker`` is
sent by reference.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeAlias

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.run import Executor, Run, interrupt_with
from dagron_nb.execution.scheduler import Transition

# distributed is only partly annotated (mypy strict rejects calls to its
# untyped methods), so its client and futures are Any to us.
DaskClient: TypeAlias = Any
DaskFuture: TypeAlias = Any

logger = logging.getLogger("dagron_nb")

_POLL = 0.02  # seconds between checks of cancel events and deadlines
_IDLE_POLL = 0.25  # with nothing to check, only Ctrl-C needs the loop awake
_PURPOSE = "DaskExecutor (running a DAG on a dask.distributed cluster)"
_STAMP = "__dagron_stamp__"  # attribute carrying a failed task's measurements

RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
PENDING = NodeStatus.PENDING


# -- what runs on the worker ---------------------------------------------------------
class _Stamp(NamedTuple):
    """Measured on the worker: start (``time.time()``), duration, worker address."""

    start: float
    duration: float
    worker: str


class _Done(NamedTuple):
    """A finished task's value and measurements, the result of its Dask future."""

    value: Any
    stamp: _Stamp


def _call_on_worker(
    fn: Callable[..., Any], fixed: Mapping[str, Any], names: tuple[str, ...], *upstream: _Done
) -> _Done:
    """Run one node on a Dask worker; ``upstream`` are the envelopes of its inputs."""
    worker = optional_import("distributed", purpose=_PURPOSE).get_worker().address
    kwargs = {**fixed, **{name: done.value for name, done in zip(names, upstream)}}
    start = time.time()
    began = time.perf_counter()
    try:
        value = fn(**kwargs)
        if inspect.isawaitable(value):  # a coroutine function: the worker thread has no loop
            value = asyncio.run(_awaited(value))
    except BaseException as exc:
        # Raise the task's own exception so dask marks the task erred and keeps
        # its traceback; the measurements travel with it (exceptions pickle
        # their __dict__) and the driver takes them off again.
        try:
            exc.__dict__[_STAMP] = _Stamp(start, time.perf_counter() - began, str(worker))
        except (AttributeError, TypeError):  # an exotic exception: the driver estimates
            pass
        raise
    return _Done(value, _Stamp(start, time.perf_counter() - began, str(worker)))


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


# -- the public executor ---------------------------------------------------------------
class _Call(NamedTuple):
    """How to call a node's task on the cluster: ``func(**fixed, **upstream values)``."""

    func: Callable[..., Any]
    fixed: Mapping[str, Any]
    names: tuple[str, ...]  # parameter names that receive upstream values
    upstream: tuple[int, ...]  # the nodes whose futures are passed for them


class DaskExecutor(Executor):
    """Run a DAG's tasks on a dask.distributed cluster, dependencies first.

    With ``client=None`` each ``execute`` starts a ``LocalCluster`` (one
    single-threaded worker *process* per core, or ``max_workers`` of them) and
    closes it afterwards. Processes, because tasks are pickled for any cluster
    anyway, so they add no requirement, and they give CPU-bound Python code
    the parallelism that ``DAGExecutor``'s threads cannot; that is why one
    reaches for Dask on a single machine. In a script, start the run under
    ``if __name__ == "__main__":``, as for any process pool. A ``client`` you
    pass is used as is and never closed.

    >>> import dagron_nb as dagron
    >>> from distributed import Client
    >>> client = Client(processes=False, dashboard_address=None)  # doctest: +SKIP
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> dagron.DaskExecutor(dag, client=client).execute(
    ...     {"a": lambda: 1, "b": lambda: 2}
    ... ).succeeded  # doctest: +SKIP
    2
    """

    def __init__(
        self,
        dag: DAG,
        client: DaskClient | None = None,
        max_workers: int | None = None,
        costs: Mapping[str, float] | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        hooks: object = None,
    ) -> None:
        super().__init__(dag, max_workers, costs, callbacks, fail_fast, enable_tracing, hooks)
        distributed = optional_import("distributed", purpose=_PURPOSE)
        if client is not None:
            if not isinstance(client, distributed.Client):
                raise ConfigurationError(
                    f"client must be a distributed.Client, got {client!r}; "
                    "pass Client(address) or leave client=None for a LocalCluster."
                )
            if client.asynchronous:
                raise ConfigurationError(
                    "DaskExecutor needs a synchronous distributed.Client, got one made "
                    "with asynchronous=True; create it as Client(address)."
                )
        self.client = client

    def execute(
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        *,
        node_timeouts: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> picklable callable taking no arguments).

        Semantics are those of ``DAGExecutor.execute``; ``started_at`` /
        ``finished_at`` are measured on the workers and ``worker`` is the Dask
        worker's address. A node's own timeout counts from its submission.
        """
        run = self.new_run(tasks, timeout, cancel_event, node_timeouts)
        calls = _calls(run)  # all input checked: only now may a cluster start
        client, cluster = self.client, None
        if client is None:
            client, cluster = _start_local_cluster(self.max_workers)
        try:
            max_workers = self.max_workers or max(1, sum(client.nthreads().values()))
            driver = _DaskDriver(run, client, max_workers, calls)
            try:
                result = driver.run()
            except KeyboardInterrupt as exc:
                self.last_result = driver.partial
                raise interrupt_with(exc, driver.partial) from None  # type: ignore[arg-type]
        finally:
            if cluster is not None:
                _close_local_cluster(client, cluster)
        self.last_result = result
        return result


def _start_local_cluster(max_workers: int | None) -> tuple[DaskClient, Any]:
    distributed = optional_import("distributed", purpose=_PURPOSE)
    cluster = distributed.LocalCluster(
        n_workers=max_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        # The cluster lives for one run: no dashboard, and its HTTP server on a
        # free port rather than 8787, which another cluster may hold.
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
    )
    try:
        return distributed.Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def _close_local_cluster(client: DaskClient, cluster: Any) -> None:
    """Close the run's own cluster without waiting long for tasks left running.

    A worker process still stuck in a timed-out task holds a plain ``close()``
    for about 4 s (its nanny's default grace period); closing each nanny with a
    1 s timeout kills such a process after 0.8 s. Idle workers close at once.
    """

    async def close_workers() -> None:
        await asyncio.gather(*(w.close(timeout=1.0) for w in list(cluster.workers.values())))

    try:
        cluster.sync(close_workers)
    except Exception:  # the run's result matters more than a slow shutdown
        logger.warning("could not close the LocalCluster's workers quickly", exc_info=True)
    client.close()
    cluster.close()


def _calls(run: Run) -> list[_Call | None]:
    """How each node is called on the cluster (None for taskless nodes).

    A task made by ``Pipeline`` carries ``func``, ``deps`` and ``fixed``; it is
    called with its upstream values passed as futures, so data stays on the
    cluster. Any other task is called with no arguments.
    """
    index = run.dag.index()
    calls: list[_Call | None] = []
    for node, fn in enumerate(run.tasks):
        deps = getattr(fn, "deps", None)
        func = getattr(fn, "func", None)
        if fn is None or deps is None or not callable(func):
            calls.append(None if fn is None else _Call(fn, {}, (), ()))
            continue
        upstream = []
        for dep in deps:
            pos = index.position.get(dep)
            if pos is None or pos not in index.pred[node]:
                raise ConfigurationError(
                    f"the task of node {run.names[node]!r} takes the result of {dep!r}, "
                    f"which is not a predecessor of {run.names[node]!r} in this DAG; "
                    "run a Pipeline with Pipeline.execute_dask() or add the edge."
                )
            upstream.append(pos)
        calls.append(
            _Call(func, dict(getattr(fn, "fixed", None) or {}), tuple(deps), tuple(upstream))
        )
    return calls


# -- the driver ------------------------------------------------------------------
class _Completion(NamedTuple):
    node: int
    outcome: Any  # the node's distributed.Future, or the exception submit() raised
    at: float  # perf_counter on the client when dask reported it


class _DaskDriver:
    def __init__(self, run: Run, client: DaskClient, max_workers: int, calls: list[_Call | None]):
        self.run_ = run
        self.sched = run.sched
        self.client = client
        self.max_workers = max_workers
        self.calls = calls
        index = run.dag.index()
        self.succ = index.succ
        self.pred = index.pred
        # does some successor take this node's future as an argument?
        self.feeds = [False] * len(calls)
        for call in calls:
            for up in call.upstream if call is not None else ():
                self.feeds[up] = True
        self.done: queue.SimpleQueue[_Completion] = queue.SimpleQueue()
        self.futures: dict[int, DaskFuture] = {}  # submitted and not yet released
        self.token = uuid.uuid4().hex  # makes this run's Dask keys unique
        self.wall0 = 0.0
        self.partial: ExecutionResult | None = None

    def run(self) -> ExecutionResult:
        run = self.run_
        run.begin()
        # The wall-clock time of run.t0: workers report wall-clock start times.
        self.wall0 = time.time() - (time.perf_counter() - run.t0)
        deadline = None if run.timeout is None else run.t0 + run.timeout
        watching = run.cancel_event is not None or bool(run.node_timeout)
        interrupted: KeyboardInterrupt | None = None
        # a callback raising KeyboardInterrupt / SystemExit is recorded by the
        # fan-out (it never escapes a callback call); it is raised here instead
        stops: list[BaseException] = []

        def stop(exc: BaseException) -> None:
            stops.append(exc)
            self.sched.cancel("interrupted (KeyboardInterrupt)")  # nothing more starts

        run.fanout.on_stop = stop
        try:
            while self.sched.remaining:
                try:
                    self._wait_and_handle(deadline, watching)
                    if stops:
                        raise stops.pop(0)
                except KeyboardInterrupt as exc:
                    if interrupted is None:
                        interrupted = exc
                        self._cancel("interrupted (KeyboardInterrupt)")
                    else:  # a second Ctrl-C: stop waiting for the running tasks
                        self._abandon()
        finally:
            self._release_all()
        result = run.result()
        if interrupted is not None:
            self.partial = result
            raise interrupted
        return result

    def _wait_and_handle(self, deadline: float | None, watching: bool) -> None:
        self._notify(self._launch())  # cheap when nothing is ready or no slot is free
        now = time.perf_counter()
        wait = _POLL if watching else _IDLE_POLL
        for at in (deadline, self.run_.next_node_deadline()):
            if at is not None:
                wait = min(wait, max(0.0, at - now))
        batch: list[_Completion] = []
        try:
            batch.append(self.done.get(timeout=wait))
            while True:
                batch.append(self.done.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self._complete(batch)
        self._watch(deadline)

    def _watch(self, deadline: float | None) -> None:
        run = self.run_
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            events = run.expire(now - run.t0)
            self._cancel_futures([n for n in self.futures if not self.sched.status[n].is_success])
            self._notify(events)
            return
        if run.cancel_event_set() and not self.sched.stopped:
            self._cancel("cancelled: cancel_event was set")
        for node in run.overdue(now):
            events = run.time_out_node(node, now - run.t0)
            events.insert(0, Transition(node, NodeStatus.TIMED_OUT))
            self._cancel_futures([node])
            self._notify(events + self._launch())  # its slot is free again

    # -- submitting ----------------------------------------------------------------
    def _launch(self) -> list[Transition]:
        """Submit ready nodes while slots are free; returns the transitions made."""
        run, sched = self.run_, self.sched
        events: list[Transition] = []
        while sched.running < self.max_workers:
            if run.cancel_event is not None and run.cancel_event_set() and not sched.stopped:
                sched.cancel("cancelled: cancel_event was set")
                events.extend(sched.drain_events())
                break
            node = sched.take()
            if node < 0:
                break
            run.started[node] = time.perf_counter() - run.t0
            self._submit(node)
            events.append(Transition(node, RUNNING))
        return events

    def _submit(self, node: int) -> None:
        call = self.calls[node]
        assert call is not None  # the scheduler hands out only nodes with a task
        name = self.run_.names[node]
        # upstream futures are kept until every successor that takes them is out
        args = [self.futures[up] for up in call.upstream]
        try:
            future = self.client.submit(
                _call_on_worker,
                call.func,
                call.fixed,
                call.names,
                *args,
                key=f"{name}-{self.token}",
                pure=False,
            )
        except Exception as exc:  # e.g. a task that cannot be pickled
            error = ConfigurationError(
                f"could not send the task of node {name!r} to the Dask cluster: {exc}. "
                "Dask pickles every task (with cloudpickle): define the function at "
                "module level or in the notebook, and do not capture locks, open files "
                "or connections in it."
            )
            error.__cause__ = exc
            self.done.put(_Completion(node, error, time.perf_counter()))
            return
        self.futures[node] = future
        future.add_done_callback(functools.partial(self._reported, node))

    def _reported(self, node: int, future: DaskFuture) -> None:
        """Runs on distributed's callback thread: hand the news to the loop."""
        self.done.put(_Completion(node, future, time.perf_counter()))

    # -- completions ---------------------------------------------------------------
    def _complete(self, batch: list[_Completion]) -> None:
        run, sched = self.run_, self.sched
        events: list[Transition] = []
        succeeded: list[_Completion] = []
        failed: list[_Completion] = []
        for item in batch:
            node, outcome = item.node, item.outcome
            if sched.status[node] is not RUNNING:
                continue  # timed out, abandoned or cancelled: the result no longer wants it
            # outcome: the future, or the exception that kept it from being submitted
            ok = not isinstance(outcome, BaseException) and outcome.status == "finished"
            status = COMPLETED if ok else FAILED
            run.finished[node] = item.at - run.t0  # refined from the worker's measurements
            ready = sched.finish(node, status)
            events.append(Transition(node, status))
            events.extend(sched.drain_events())
            sched.push(ready)
            (succeeded if status is COMPLETED else failed).append(item)
        if not events:
            return
        # Successors go out before the values come back: they need only futures.
        events.extend(self._launch())
        self._fetch(succeeded, failed)
        self._release_unneeded(
            [item.node for item in batch]
            + [up for e in events if e.status is RUNNING for up in self.pred[e.node]]
        )
        self._notify(events)

    def _fetch(self, succeeded: list[_Completion], failed: list[_Completion]) -> None:
        run = self.run_
        if succeeded:
            futures = [self.futures[item.node] for item in succeeded]
            try:
                dones = self.client.gather(futures)
            except (Exception, asyncio.CancelledError):  # dask's CancelledError is a BaseException
                dones = [self._one_value(item.node, f) for item, f in zip(succeeded, futures)]
            for item, done in zip(succeeded, dones):
                if isinstance(done, _Done):
                    run.values[item.node] = done.value
                    self._place(item, done.stamp)
        for item in failed:
            error = self._error_of(item.outcome)
            stamp = error.__dict__.pop(_STAMP, None)
            run.errors[item.node] = error
            if isinstance(stamp, _Stamp):
                self._place(item, stamp)

    def _one_value(self, node: int, future: DaskFuture) -> _Done | None:
        try:
            done: _Done = future.result()
            return done
        except (Exception, asyncio.CancelledError):
            # The task finished, but its value could not be fetched (its worker
            # died and dask could not recompute it, or someone cancelled it): the
            # node stays COMPLETED, as dask reported, without a value.
            logger.exception("could not fetch the value of node %r", self.run_.names[node])
            return None

    @staticmethod
    def _error_of(outcome: Any) -> BaseException:
        if isinstance(outcome, BaseException):
            return outcome
        error = outcome.exception()
        if error is None:  # cancelled outside dagron_nb, or its worker was lost
            try:
                outcome.result()
            except BaseException as exc:
                return exc
            return RuntimeError(f"the Dask future {outcome.key!r} ended as {outcome.status!r}")
        if error.__traceback__ is None:
            error = error.with_traceback(outcome.traceback())
        assert isinstance(error, BaseException)
        return error

    def _place(self, item: _Completion, stamp: _Stamp) -> None:
        """Put a worker's measurements on the run's clock.

        Worker and notebook clocks can disagree (another machine, NTP drift), so
        the worker's wall-clock start is only trusted inside what the notebook
        saw: not before the task was submitted, and not so late that it would
        end after dask reported it. The duration is the worker's own
        ``perf_counter`` difference, exact whatever the clock offset.
        """
        run = self.run_
        node = item.node
        submitted = run.started[node] or 0.0
        latest = max(submitted, item.at - run.t0 - stamp.duration)
        start = min(max(stamp.start - self.wall0, submitted), latest)
        run.started[node] = start
        run.finished[node] = start + stamp.duration
        run.workers[node] = stamp.worker

    # -- stopping ------------------------------------------------------------------
    def _cancel(self, reason: str) -> None:
        self.sched.cancel(reason)
        self._notify(self.sched.drain_events())

    def _abandon(self) -> None:
        run = self.run_
        running = [n for n, s in enumerate(self.sched.status) if s is RUNNING]
        events = run.abandon_running(
            "interrupted twice (KeyboardInterrupt) while running",
            time.perf_counter() - run.t0,
        )
        self._cancel_futures(running)
        self._notify(events)

    def _cancel_futures(self, nodes: list[int]) -> None:
        futures = [self.futures.pop(n) for n in nodes if n in self.futures]
        if futures:
            self.client.cancel(futures)

    def _release_unneeded(self, nodes: Iterable[int]) -> None:
        """Drop futures nobody needs any more, so the cluster can free their data.

        A node's future is kept while a successor that takes it as an argument
        may still be submitted; a submitted successor holds the data itself.
        """
        status = self.sched.status
        for node in set(nodes):
            future = self.futures.get(node)
            if future is None or status[node] is RUNNING:
                continue
            if self.feeds[node] and any(status[s] is PENDING for s in self.succ[node]):
                continue
            del self.futures[node]
            future.release()

    def _release_all(self) -> None:
        """At the end (or on a crash): nothing of this run may keep running."""
        running = [n for n in self.futures if self.sched.status[n] is RUNNING]
        try:
            self._cancel_futures(running)
        except Exception:  # a broken connection must not hide why we got here
            logger.exception(
                "could not cancel the Dask futures of %d running node(s)", len(running)
            )
        for future in self.futures.values():
            future.release()
        self.futures.clear()

    def _notify(self, events: list[Transition]) -> None:
        if self.run_.listening:
            self.run_.notify_events(events)
