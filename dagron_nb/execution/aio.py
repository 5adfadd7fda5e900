"""``AsyncDAGExecutor``: the scheduler driven by asyncio tasks on one event loop.

Everything happens on the loop's thread, so no lock is needed: a node's
wrapper task runs the node, reports to the scheduler, notifies callbacks and
launches whatever became ready, all in one step. Coroutine functions are
awaited; plain callables run in the loop's default thread pool so that they
do not block the loop (if one returns an awaitable, that is awaited too).

``max_workers=None`` means no limit on concurrent nodes, which is what
I/O-bound code wants. Deadlines really cancel: at the run's ``timeout`` every
running task is cancelled and marked TIMED_OUT, and a node's own timeout
cancels just that node. If the ``execute`` coroutine itself is cancelled
(Ctrl-C under ``asyncio.run``), unstarted nodes are CANCELLED, running tasks are
cancelled, callbacks hear about it, and the cancellation propagates with the
partial result on ``executor.last_result``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import heapq
import inspect
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.run import Executor, Run, interrupt_with
from dagron_nb.execution.scheduler import Transition

_POLL = 0.02  # seconds between checks of a threading.Event used as cancel_event
SYNC_THREADS = 32  # threads for plain callables when max_workers is None


def is_async_callable(fn: object) -> bool:
    """True for coroutine functions, also behind ``functools.wraps`` / ``partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if getattr(fn, "is_async", False) is True:
        return True
    # an object whose __call__ is a coroutine function
    call = type(fn).__call__ if not inspect.isroutine(fn) else None
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


class AsyncDAGExecutor(Executor):
    """Run a DAG's (async) tasks on the running event loop.

    >>> import asyncio, dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("fetch", "store").build()
    >>> async def fetch(): return 1
    >>> async def store(): return 2
    >>> run = dagron.AsyncDAGExecutor(dag).execute({"fetch": fetch, "store": store})
    >>> asyncio.run(run).succeeded
    2
    """

    async def execute(
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        timeout: float | None = None,
        cancel_event: threading.Event | asyncio.Event | None = None,
        *,
        node_timeouts: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> coroutine function or callable)."""
        run = self.new_run(tasks, timeout, cancel_event, node_timeouts)
        driver = _AsyncDriver(run, self.max_workers)
        try:
            result = await driver.run()
        finally:
            self.last_result = driver.result
        return result


class _AsyncDriver:
    def __init__(self, run: Run, max_workers: int | None) -> None:
        self.run_ = run
        self.sched = run.sched
        self.max_workers = max_workers
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.running: dict[int, asyncio.Task[None]] = {}
        self.own_timeout: set[int] = set()  # nodes whose own deadline cancelled them
        self.free_slots: list[int] = []  # worker lanes "async-0", "async-1", ... reused
        self.slots = 0
        self.result: ExecutionResult | None = None
        self.is_async = [is_async_callable(fn) for fn in run.tasks]
        self.sync_threads = _SyncThreads(max_workers or SYNC_THREADS)
        self.interrupt: BaseException | None = None  # a Ctrl-C caught inside a task

    async def run(self) -> ExecutionResult:
        run = self.run_
        run.begin()
        deadline = None if run.timeout is None else run.t0 + run.timeout
        event = run.cancel_event
        watcher: asyncio.Task[Any] | None = None
        if isinstance(event, asyncio.Event):
            watcher = self.loop.create_task(event.wait())
        try:
            self._launch()
            self._check_done()
            while not self.done.done():
                wait = None
                if event is not None and watcher is None:
                    wait = _POLL
                if deadline is not None:
                    left = max(0.0, deadline - time.perf_counter())
                    wait = left if wait is None else min(wait, left)
                waiting: set[asyncio.Future[Any]] = {self.done}
                if watcher is not None:
                    waiting.add(watcher)
                await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if self.done.done():
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    self._expire()
                elif run.cancel_event_set():
                    self._cancel("cancelled: cancel_event was set")
        except asyncio.CancelledError:
            self._cancel("interrupted: the run was cancelled")
            self._abandon_running()
            self.result = run.result()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            self.sync_threads.close()
            self.sync_threads.close()
        self.result = run.result()
        if self.interrupt is not None:
            raise interrupt_with(self.interrupt, self.result)
        return self.result

    # -- launching -----------------------------------------------------------------
    def _launch(self) -> None:
        sched = self.sched
        limit = self.max_workers
        run = self.run_
        while limit is None or sched.running < limit:
            if run.cancel_event is not None and run.cancel_event_set() and not sched.stopped:
                self._cancel("cancelled: cancel_event was set")
                return
            node = sched.take()
            if node < 0:
                return
            if self.free_slots:
                slot = heapq.heappop(self.free_slots)
            else:
                slot = self.slots
                self.slots += 1
            task = self.loop.create_task(self._node(node, slot), name=f"dagron-{run.names[node]}")
            self.running[node] = task

    async def _node(self, node: int, slot: int) -> None:
        """One node's wrapper task: announce it, run its task, report it."""
        timer = self._announce(node, slot)
        try:
            status, value = await self._run_task(node)
        finally:
            if timer is not None:
                timer.cancel()
            heapq.heappush(self.free_slots, slot)
            self.running.pop(node, None)
        if status is None:
            return  # the run expired or was cancelled; the status is already set
        self._report(node, status, value, time.perf_counter() - self.run_.t0)

    def _announce(self, node: int, slot: int) -> asyncio.TimerHandle | None:
        """Record the start, tell the callbacks, arm the node's own deadline."""
        run = self.run_
        run.workers[node] = f"async-{slot}"
        run.started[node] = time.perf_counter() - run.t0
        if run.listening:
            run.notify(node, NodeStatus.RUNNING)
        timer = None
        if node in run.node_timeout:
            timer = self.loop.call_later(run.node_timeout[node], self._node_deadline, node)
        run.started[node] = time.perf_counter() - run.t0
        return timer

    async def _run_task(self, node: int) -> tuple[NodeStatus | None, Any]:
        """The task's status and value (its exception if it failed).

        The status is None when the node was given up on while it ran.
        """
        fn = self.run_.tasks[node]
        assert fn is not None
        try:
            if self.is_async[node]:
                value = await fn()
            else:
                value = await self.sync_threads.submit(self.loop, fn)
                if inspect.isawaitable(value):
                    value = await value
        except asyncio.CancelledError as exc:
            if self.sched.status[node] is not NodeStatus.RUNNING:
                return None, None
            # Cancelled by its own deadline, or the task itself raised
            # CancelledError (it awaited something cancelled elsewhere): that is
            # the task's failure, and the node must not stay RUNNING forever.
            return NodeStatus.FAILED, exc
        except KeyboardInterrupt as exc:
            # Ctrl-C landed in this task's code (a loop run by a notebook kernel):
            # stop the run as a Ctrl-C anywhere else would, and re-raise it from
            # execute() with the partial result, never as this node's "failure".
            return NodeStatus.CANCELLED, exc
        except BaseException as exc:  # the task's failure is its result
            return NodeStatus.FAILED, exc
        return NodeStatus.COMPLETED, value

    def _report(self, node: int, status: NodeStatus, value: Any, end: float) -> None:
        """Record the outcome, tell the callbacks, launch what became ready."""
        run = self.run_
        if status is NodeStatus.CANCELLED:
            self._interrupted(node, value, end)
            return
        if self.sched.status[node] is not NodeStatus.RUNNING:
            return  # given up on while it ran: a late value must not reach the result
        if node in self.own_timeout:
            # also when the task swallowed the cancellation and returned anyway
            run.notify_events(run.time_out_node(node, end))
        else:
            if status is NodeStatus.COMPLETED:
                run.values[node] = value
            else:
                run.errors[node] = value
            run.finished[node] = end
            ready = self.sched.finish(node, status)
            self._notify(self.sched.drain_events() if run.listening else [], node, status)
            self.sched.push(ready)
        self._launch()
        self._check_done()

    def _node_deadline(self, node: int) -> None:
        task = self.running.get(node)
        if task is not None and self.sched.status[node] is NodeStatus.RUNNING:
            self.own_timeout.add(node)
            task.cancel()

    def _notify(self, events: list[Transition], node: int, status: NodeStatus) -> None:
        if self.run_.listening:
            self.run_.notify(node, status)
            self.run_.notify_events(events)

    # -- stopping ------------------------------------------------------------------
    def _interrupted(self, node: int, exc: BaseException, end: float) -> None:
        if self.interrupt is None:
            self.interrupt = exc
        if self.sched.status[node] is NodeStatus.RUNNING:
            self.sched.abandon(node, NodeStatus.CANCELLED, f"interrupted ({type(exc).__name__})")
            self.run_.finished[node] = end
            self._notify(self.sched.drain_events(), node, NodeStatus.CANCELLED)
        self._cancel(f"cancelled: the run was interrupted ({type(exc).__name__})")

    def _check_done(self) -> None:
        if self.sched.remaining == 0 and not self.done.done():
            self.done.set_result(None)

    def _cancel(self, reason: str) -> None:
        self.sched.cancel(reason)
        self.run_.notify_events(self.sched.drain_events())
        self._check_done()

    def _expire(self) -> None:
        events = self.run_.expire(time.perf_counter() - self.run_.t0)
        self._cancel_tasks()
        self.run_.notify_events(events)
        self._check_done()

    def _abandon_running(self) -> None:
        events = self.run_.abandon_running(
            "interrupted while running", time.perf_counter() - self.run_.t0
        )
        self._cancel_tasks()
        self.run_.notify_events(events)

    def _cancel_tasks(self) -> None:
        for task in list(self.running.values()):
            task.cancel()
        self.running.clear()


class _SyncThreads:
    """Daemon threads that run the plain (non-async) callables of one run.

    Not the loop's default executor: its threads are joined when ``asyncio.run``
    ends, so one task stuck past its deadline would hold the program, and its
    six-odd threads would queue further tasks while they show as RUNNING. These
    threads are daemons, started on demand up to ``limit``, and told to exit
    when the run ends (a stuck one exits once its task returns).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads = 0
        self.idle = 0

    def submit(self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self.jobs.put(_Job(loop, future, contextvars.copy_context(), fn))
        with self.lock:
            if self.idle:
                self.idle -= 1  # that thread is taken: the next job needs another
            elif self.threads < self.limit:
                self.threads += 1
                threading.Thread(
                    target=self._work, name=f"dagron-async-sync-{self.threads}", daemon=True
                ).start()
        return future

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                value, error = job.context.run(job.fn), None
            except BaseException as exc:  # handed to the task awaiting it
                value, error = None, exc
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, value, error)
            except RuntimeError:  # the loop is closed: nobody waits for this any more
                pass
            with self.lock:
                self.idle += 1

    def close(self) -> None:
        with self.lock:
            for _ in range(self.threads):
                self.jobs.put(None)
            self.threads = self.idle = 0


class _Job(NamedTuple):
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    context: contextvars.Context
    fn: Callable[[], Any]


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the node timed out or the run ended: the late outcome is dropped
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
