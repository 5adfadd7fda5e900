"""``AsyncDAGExecutor``: the scheduler driven by asyncio tasks on one event loop.

Everything happens on the loop's thread, so no lock is needed: a node's
wrapper task runs the node, reports to the scheduler, notifies callbacks and
launches whatever became ready, all in one step. Coroutine functions are
awaited (a stretch of more than 0.1 s without an await is reported: see
``loopwatch``); plain callables run on daemon threads of the run's own so
that they do not block the loop, except functions whose calls have shown to
be quick: those are called right on the loop, back to back without a wrapper
task, by ``_launch`` itself, which hands the loop back every
``loopwatch.BATCH_BUDGET`` seconds (if one returns an awaitable, that is
awaited in a task of its own).

``max_workers=None`` means no limit on concurrent nodes, which is what
I/O-bound code wants. Deadlines really cancel: at the run's ``timeout`` every
running task is cancelled and marked TIMED_OUT, nodes whose task never started
(still waiting for a thread, or announced after the deadline) are CANCELLED
"not started", and nothing starts after the deadline, even when callbacks are
slow. A node's own timeout marks just that node TIMED_OUT at once, even if its
coroutine swallows the cancellation; a plain callable past its deadline is
left to finish on its thread, which no longer counts towards ``max_workers``
(the node's NodeTimeoutError says so). Ctrl-C while the run is in progress cancels
everything and ``execute`` raises ``KeyboardInterrupt`` with the partial result
as ``exc.result`` (also under ``asyncio.run``, see ``interrupts.CtrlC``); if the
``execute`` coroutine itself is cancelled, the cancellation propagates with the
partial result on ``executor.last_result``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import heapq
import inspect
import math
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution import loopwatch
from dagron_nb.execution.interrupts import CtrlC
from dagron_nb.execution.loopwatch import (
    BLOCKED_LOOP,
    QuickCalls,
    function_key,
    report_blocked,
    timed_steps,
)
from dagron_nb.execution.run import Executor, Run, interrupt_with
from dagron_nb.execution.scheduler import Transition
from dagron_nb.execution.wakeup import LEAD, SwitchInterval

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

    uses_cache = True  # it asks the result cache before each node

    async def execute(
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        timeout: float | None = None,
        cancel_event: threading.Event | asyncio.Event | None = None,
        *,
        node_timeouts: Mapping[str, float] | None = None,
        refresh_cache: bool | Collection[str] = False,
        outputs: Collection[str] | None = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> coroutine function or callable).

        ``refresh_cache`` and ``outputs`` as for ``DAGExecutor.execute``.
        """
        run = self.new_run(
            tasks,
            timeout,
            cancel_event,
            node_timeouts,
            refresh_cache=refresh_cache,
            outputs=outputs,
        )
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
        self.slot_of: dict[int, int] = {}  # lane of each running node, freed once
        self.free_slots: list[int] = []  # worker lanes "async-0", "async-1", ... reused
        self.slots = 0
        self.lanes: list[str] = []  # their names
        self.result: ExecutionResult | None = None
        self.is_async = _kinds(run.tasks)
        self.sync_threads = _SyncThreads(max_workers or SYNC_THREADS)
        self.jobs: dict[int, _Job] = {}  # the sync job of each running plain callable
        self.begun = bytearray(len(run.names))  # the node's task was called
        self.quick = QuickCalls()  # plain functions quick enough to call on the loop
        self.keys: dict[int, object] = {}  # id(task) -> loopwatch.function_key(task)
        self.probes: dict[object, asyncio.TimerHandle] = {}  # PROBE_WAIT of each probe out
        self.context = contextvars.copy_context()  # each inline call runs in a copy
        self.launching = False  # _launch is on the stack: it takes what becomes ready
        self.resuming = False  # _launch handed the loop back and will go on
        self.deadline: float | None = None  # perf_counter time, once the run has begun
        self.raised: BaseException | None = None  # what execute() raises at the end
        self.backlog: list[Transition] = []  # stop transitions the callbacks must hear
        self.presses = CtrlC(wake=self._pressed)
        self.switch = SwitchInterval()  # a short GIL switch interval near deadlines
        run.fanout.on_stop = self._request_stop

    async def run(self) -> ExecutionResult:
        run = self.run_
        event = run.cancel_event
        watcher: asyncio.Task[Any] | None = None
        if isinstance(event, asyncio.Event):
            watcher = self.loop.create_task(event.wait())
        try:
            with self.presses:
                self.switch.from_start(run.timeout, run.node_timeout.values())
                run.begin()
                self.deadline = None if run.timeout is None else run.t0 + run.timeout
                self._flush()
                self._launch()
                self._check_done()
                await self._watch_until_done(watcher)
                self._act_on_presses()  # a Ctrl-C at the very end still raises
        except asyncio.CancelledError:
            self._cancel("interrupted: the run was cancelled")
            self._abandon_running("interrupted while running")
            self._end()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            self.sync_threads.close()
            self.switch.release()
        result = self._end()
        if self.raised is not None:
            raise interrupt_with(self.raised, result)
        return result

    async def _watch_until_done(self, watcher: asyncio.Task[Any] | None) -> None:
        run = self.run_
        waiting: set[asyncio.Future[Any]] = {self.done}
        if watcher is not None:
            waiting.add(watcher)
        while not self.done.done():
            wait = self._wait(polling=run.cancel_event is not None and watcher is None)
            await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if self.done.done():
                break
            if not self._past_deadline() and run.cancel_event_set():
                self._cancel("cancelled: cancel_event was set")

    def _wait(self, *, polling: bool) -> float | None:
        """How long to sleep: until the next poll or deadline, waking ``LEAD``
        early to lower the GIL switch interval (see ``wakeup``)."""
        now = time.perf_counter()
        wait = _POLL if polling else None
        node_deadline = self.run_.next_node_deadline() if self.run_.node_timeout else None
        for at in (self.deadline, node_deadline):
            if at is not None:
                self.switch.near(at, now)
                left = at - now
                left = left - LEAD if left > LEAD else max(0.0, left)
                wait = left if wait is None else min(wait, left)
        return wait

    def _end(self) -> ExecutionResult:
        """The result, on_run_end called; no callback fires after this."""
        self.result = self.run_.collect()
        self.run_.end(self.result)
        self.run_.silent = True
        return self.result

    # -- launching -----------------------------------------------------------------
    def _launch(self) -> None:
        """Start what is ready: quick plain functions right here (see ``_launch_ready``),
        anything else as a task; never twice on the stack."""
        if self.launching or self.run_.silent:
            return
        self.launching = True
        try:
            self._launch_ready()
        finally:
            self.launching = False

    def _launch_ready(self) -> None:
        sched = self.sched
        limit = self.max_workers
        run = self.run_
        until = None  # when the batch of inline calls hands the loop back
        while limit is None or sched.running < limit:
            if run.cancel_event is not None and run.cancel_event_set() and not sched.stopped:
                self._cancel("cancelled: cancel_event was set")
                return
            if self._past_deadline():
                return  # nothing starts after the deadline
            if self.quick.waiting and self._held_by_probe():
                return  # the probe's answer relaunches (or its PROBE_WAIT runs out)
            if until is not None and time.perf_counter() >= until:
                self._resume_soon()
                return
            node = sched.take()
            if node < 0:
                return
            if self.is_async[node] or run.cache is not None or not self._may_inline(node):
                self._start_task(node)
                continue
            key = self._key(node)
            if self.quick.inline(key):
                if until is None:
                    until = time.perf_counter() + loopwatch.BATCH_BUDGET
                self._run_inline(node, key)
                continue
            if self.quick.probe(key):  # time this call alone on a thread
                self.probes[key] = self.loop.call_later(loopwatch.PROBE_WAIT, self._probe_late, key)
            self._start_task(node)

    def _start_task(self, node: int) -> None:
        slot = heapq.heappop(self.free_slots) if self.free_slots else self._new_slot()
        name = f"dagron-{self.run_.names[node]}"
        self.running[node] = self.loop.create_task(self._node(node, slot), name=name)
        self.slot_of[node] = slot

    def _may_inline(self, node: int) -> bool:
        """May a plain node's call be made on the loop now (if its function is quick)?

        Not with a deadline (a call on the loop could not be cut short), and
        only when no other node is running (the call might wait for it; inline
        nodes are taken one at a time, so a chain or a fan-out still qualifies).
        """
        return self.sched.running == 1 and self._could_inline(node)

    def _could_inline(self, node: int) -> bool:
        return self.deadline is None and node not in self.run_.node_timeout

    def _key(self, node: int) -> object:
        fn = self.run_.tasks[node]
        key = self.keys.get(id(fn))
        if key is None:
            key = self.keys[id(fn)] = function_key(fn)
        return key

    def _held_by_probe(self) -> bool:
        """Is the next ready node a call of a function whose probe is still out?"""
        node = self.sched.peek()
        return (
            node >= 0
            and not self.is_async[node]
            and self.run_.cache is None
            and self._could_inline(node)
            and self._key(node) in self.quick.waiting
        )

    def _probe_late(self, key: object) -> None:
        self.probes.pop(key, None)
        if key in self.quick.waiting:
            self.quick.late(key)
            self._launch()
            self._check_done()

    def _resume_soon(self) -> None:
        """Let the loop serve others (callbacks, I/O, Ctrl-C), then launch on."""
        if not self.resuming:
            self.resuming = True
            self.loop.call_soon(self._resume)

    def _resume(self) -> None:
        self.resuming = False
        self._launch()
        self._check_done()

    def _run_inline(self, node: int, key: object) -> None:
        """Call a quick plain function on the loop, timed, and record its outcome."""
        run = self.run_
        slot = heapq.heappop(self.free_slots) if self.free_slots else self._new_slot()
        run.workers[node] = self.lanes[slot]
        start = time.perf_counter()
        run.started[node] = start - run.t0
        if run.listening:
            run.notify(node, NodeStatus.RUNNING)
            if self.sched.status[node] is not NodeStatus.RUNNING:
                heapq.heappush(self.free_slots, slot)  # a callback stopped the run
                return
            start = time.perf_counter()
            run.started[node] = start - run.t0
        self.begun[node] = 1
        fn = run.tasks[node]
        assert fn is not None
        context = self.context.copy()  # as a thread's call: its own copy
        try:
            status: NodeStatus | None = NodeStatus.COMPLETED
            value = context.run(fn)
        except BaseException as exc:  # the task's failure is its result
            status, value = self._failure(node, exc)
        end = time.perf_counter()
        self.quick.observed(key, end - start, inline=True)
        if end - start > BLOCKED_LOOP:
            report_blocked(run.names[node], end - start)
        if status is NodeStatus.COMPLETED and value is not None and inspect.isawaitable(value):
            self.slot_of[node] = slot  # ``lambda: fetch(url)``: await it in a task
            task = context.run(self.loop.create_task, self._await_value(node, value))
            self.running[node] = task
            return
        heapq.heappush(self.free_slots, slot)
        if status is not None:
            self._record(node, status, value, end - run.t0)

    def _new_slot(self) -> int:
        self.slots += 1
        self.lanes.append(f"async-{self.slots - 1}")
        return self.slots - 1

    async def _await_value(self, node: int, awaitable: Any) -> None:
        """The awaitable an inline call returned: await it, report the node."""
        try:
            status: NodeStatus | None = NodeStatus.COMPLETED
            value = await awaitable
        except BaseException as exc:  # the task's failure is its result
            status, value = self._failure(node, exc)
        finally:
            self._free(node)
        if status is not None:
            self._report(node, status, value, time.perf_counter() - self.run_.t0)

    def _past_deadline(self) -> bool:
        """True, and the run expired, once its deadline has passed."""
        if self.deadline is None or time.perf_counter() < self.deadline:
            return False
        if not self.sched.stopped or self.sched.running:
            self._expire()
        return True

    def _free(self, node: int) -> None:
        """The node no longer occupies a lane (its wrapper may still be winding down)."""
        self.running.pop(node, None)
        slot = self.slot_of.pop(node, None)
        if slot is not None:
            heapq.heappush(self.free_slots, slot)

    async def _node(self, node: int, slot: int) -> None:
        """One node's wrapper task: ask the cache, or announce it, run its task
        (and store its value in the cache), report it. A status of None means
        the node was given up on before or while it ran (its status is set)."""
        run = self.run_
        if run.cache is not None and await self._from_cache(node, slot):
            return
        timer = self._announce(node, slot)
        status: NodeStatus | None = None
        value: Any = None
        try:
            if self.sched.status[node] is NodeStatus.RUNNING:
                # awaited right here: a coroutine layer less on every step of the task
                value = await self._task_awaitable(node)
                if not self.is_async[node] and inspect.isawaitable(value):
                    value = await value
                status = NodeStatus.COMPLETED
        except BaseException as exc:  # the task's failure is its result
            status, value = self._failure(node, exc)
        finally:
            if timer is not None:
                timer.cancel()
            self._free(node)
            self.jobs.pop(node, None)
        if status is None:
            return  # the run expired or was cancelled; the status is already set
        end = time.perf_counter() - run.t0
        if run.cache is not None and status is NodeStatus.COMPLETED:
            await self._to_cache(node, value, end - (run.started[node] or 0.0))
        self._report(node, status, value, end)

    def _announce(self, node: int, slot: int) -> asyncio.TimerHandle | None:
        """Record the start, tell the callbacks, arm the node's own deadline."""
        run = self.run_
        run.workers[node] = self.lanes[slot]
        run.started[node] = time.perf_counter() - run.t0
        if run.listening:
            run.notify(node, NodeStatus.RUNNING)
        if self.sched.status[node] is not NodeStatus.RUNNING or self._past_deadline():
            return None  # given up on before (or while) it was announced
        timer = None
        if node in run.node_timeout:
            timer = self.loop.call_later(run.node_timeout[node], self._node_deadline, node)
        run.started[node] = time.perf_counter() - run.t0
        return timer

    def _task_awaitable(self, node: int) -> Awaitable[Any]:
        """What running the node's task means: its coroutine, each step timed
        (``loopwatch.timed_steps``), or a plain callable's call on a thread."""
        fn = self.run_.tasks[node]
        assert fn is not None
        if self.is_async[node]:
            self.begun[node] = 1
            return timed_steps(self.run_.names[node], fn(), self._given_up, node)
        return self._call_plain(node, fn)

    def _failure(self, node: int, exc: BaseException) -> tuple[NodeStatus | None, Any]:
        """What a task raising ``exc`` means for its node (None: given up on already)."""
        if isinstance(exc, asyncio.CancelledError):
            if self.sched.status[node] is not NodeStatus.RUNNING:
                return None, None
            # The task itself raised CancelledError (it awaited something
            # cancelled elsewhere): that is the task's failure, and the node
            # must not stay RUNNING forever.
            return NodeStatus.FAILED, exc
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C landed in this task's code (a loop run by a notebook kernel):
            # stop the run as a Ctrl-C anywhere else would, and re-raise it from
            # execute() with the partial result, never as this node's "failure".
            return NodeStatus.CANCELLED, exc
        return NodeStatus.FAILED, exc

    def _given_up(self, node: int) -> bool:
        return self.sched.status[node] is not NodeStatus.RUNNING

    async def _call_plain(self, node: int, fn: Callable[[], Any]) -> Any:
        """A plain callable in a wrapper task (a cached run, or not known to be
        quick at launch): on the loop if it is quick by now, else on a thread;
        either way timed."""
        key = self._key(node)
        if self.quick.inline(key) and self._may_inline(node):
            self.begun[node] = 1
            start = time.perf_counter()
            try:
                return fn()
            finally:
                seconds = time.perf_counter() - start
                self.quick.observed(key, seconds, inline=True)
                if seconds > BLOCKED_LOOP:
                    report_blocked(self.run_.names[node], seconds)
        job = self.jobs[node] = self.sync_threads.submit(self.loop, fn)
        self.quick.sent(key)
        try:
            return await job.future
        finally:
            # given up on (its timeout, the run stopped): it counts as slow
            self.quick.observed(key, math.inf if job.seconds is None else job.seconds)
            timer = self.probes.pop(key, None)
            if timer is not None:
                timer.cancel()

    def _report(self, node: int, status: NodeStatus, value: Any, end: float) -> None:
        """Record the outcome, tell the callbacks, launch what became ready."""
        self._record(node, status, value, end)
        self._launch()
        self._check_done()

    def _record(self, node: int, status: NodeStatus, value: Any, end: float) -> None:
        """Record the outcome, tell the callbacks, publish what became ready."""
        run = self.run_
        if status is NodeStatus.CANCELLED:
            self._interrupted(node, value, end)
            return
        if self.sched.status[node] is not NodeStatus.RUNNING:
            return  # given up on while it ran: a late value must not reach the result
        if status is NodeStatus.COMPLETED:
            run.values[node] = value
        else:
            run.errors[node] = value
        run.finished[node] = end
        ready = self.sched.finish(node, status)
        if run.keeper is not None and status is NodeStatus.COMPLETED:
            run.keeper.done(node)  # outputs=: release inputs nobody needs now
        if run.listening:
            self._notify(self.sched.drain_events(), node, status)
        self.sched.push(ready)

    async def _from_cache(self, node: int, slot: int) -> bool:
        """Ask the cache for ``node`` (hashing on a worker thread, never on the loop).

        Returns True when the node is done with: a hit (CACHE_HIT, reported
        without ``on_node_start``), or the run stopped it during the lookup
        (its own timeout starts with its task, after the lookup). False: run it.
        """
        run = self.run_
        sched = self.sched
        run.workers[node] = self.lanes[slot]
        run.started[node] = time.perf_counter() - run.t0
        try:
            job = self.sync_threads.submit(self.loop, lambda: run.cache_lookup(node))
            hit = await job.future
        except asyncio.CancelledError:
            if sched.status[node] is NodeStatus.RUNNING:
                raise  # not the run's deadline: the execute() coroutine is being cancelled
            hit = None
        if hit is None and sched.status[node] is NodeStatus.RUNNING:
            return False
        self._free(node)
        if hit is not None and sched.status[node] is NodeStatus.RUNNING:
            run.values[node] = hit.value
            run.finished[node] = run.started[node] = time.perf_counter() - run.t0
            ready = sched.finish(node, NodeStatus.CACHE_HIT)
            if run.keeper is not None:
                run.keeper.done(node)
            self._notify(sched.drain_events() if run.listening else [], node, NodeStatus.CACHE_HIT)
            sched.push(ready)
        self._launch()
        self._check_done()
        return True

    async def _to_cache(self, node: int, value: Any, seconds: float) -> None:
        """Fingerprint and store a completed value on a worker thread."""
        store = self.run_.cache_store
        await self.sync_threads.submit(self.loop, lambda: store(node, value, seconds)).future

    def _node_deadline(self, node: int) -> None:
        """The node's own timeout: TIMED_OUT now, even if its task ignores cancellation."""
        task = self.running.get(node)
        if task is None or self.sched.status[node] is not NodeStatus.RUNNING:
            return
        run = self.run_
        events = run.time_out_node(node, time.perf_counter() - run.t0)
        self._let_go(node)
        run.notify_events(events)
        self._launch()
        self._check_done()

    def _let_go(self, node: int, *, ending: bool = False) -> None:
        """Cancel a given-up node's task and free its lane; a plain callable's
        thread is left behind to finish on its own, and the result says so.

        ``ending``: the run ends now, so the thread pool's accounting (a lock
        taken from the loop while tasks may hold the GIL) is skipped.
        """
        task = self.running.get(node)
        self._free(node)
        if task is not None:
            task.cancel()
        job = self.jobs.pop(node, None)
        if job is None:
            return
        left = job.began if ending else self.sync_threads.abandon(job)
        if left and self.sched.status[node] is NodeStatus.TIMED_OUT:
            self.run_.left_running(node)

    def _notify(self, events: list[Transition], node: int, status: NodeStatus) -> None:
        if self.run_.listening:
            self.run_.notify(node, status)
            self.run_.notify_events(events)

    # -- stopping ------------------------------------------------------------------
    def _pressed(self) -> None:
        """Ctrl-C (in the signal handler): act on it from the loop."""
        self.loop.call_soon_threadsafe(self._act_on_presses)

    def _act_on_presses(self) -> None:
        for _ in range(self.presses.take()):
            self._stop_now(KeyboardInterrupt(), "interrupted (KeyboardInterrupt)")

    def _request_stop(self, exc: BaseException) -> None:
        """A callback raised KeyboardInterrupt, SystemExit, ...: stop the run."""
        if isinstance(exc, KeyboardInterrupt):
            # as one raised inside a task: running tasks finish
            if self.raised is None:
                self.raised = exc
            self.sched.cancel("cancelled: the run was interrupted (KeyboardInterrupt)")
            self.backlog.extend(self.sched.drain_events())
        else:
            self._stop_now(exc, f"cancelled: a callback raised {type(exc).__name__}")
        # the callbacks hear of it after the one that raised has returned
        self.loop.call_soon(self._flush)
        self._check_done()

    def _stop_now(self, exc: BaseException, reason: str) -> None:
        """Cancel what has not started and abandon what runs."""
        if self.raised is None:
            self.raised = exc
        self.sched.cancel(reason)
        self.backlog.extend(self.sched.drain_events())
        what = "interrupted (KeyboardInterrupt) while running"
        if not isinstance(exc, KeyboardInterrupt):
            what = f"abandoned: a callback raised {type(exc).__name__}"
        self.backlog.extend(self._give_up_running(what))
        self.loop.call_soon(self._flush)
        self._check_done()

    def _flush(self) -> None:
        events, self.backlog = self.backlog, []
        self.run_.notify_events(events)
        self._check_done()

    def _interrupted(self, node: int, exc: BaseException, end: float) -> None:
        if self.raised is None:
            self.raised = exc
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
        """The run's deadline: never-started nodes CANCELLED, running ones TIMED_OUT."""
        run = self.run_
        now = time.perf_counter() - run.t0
        for node in [n for n in self.running if not self._has_begun(n)]:
            self.sched.abandon(node, NodeStatus.CANCELLED, run.expiry_reason())
            run.finished[node] = now
            self._let_go(node, ending=True)
        events = self.sched.drain_events()
        running = list(self.running)
        events += run.expire(now)
        for node in running:
            self._let_go(node, ending=True)
        run.notify_events(events)
        self._check_done()

    def _has_begun(self, node: int) -> bool:
        if self.is_async[node]:
            return bool(self.begun[node])
        job = self.jobs.get(node)
        return job is not None and not self.sync_threads.drop_if_waiting(job)

    def _abandon_running(self, reason: str) -> None:
        self.run_.notify_events(self._give_up_running(reason))

    def _give_up_running(self, reason: str) -> list[Transition]:
        running = list(self.running)
        events = self.run_.abandon_running(reason, time.perf_counter() - self.run_.t0)
        for node in running:
            self._let_go(node)
        return events


class _SyncThreads:
    """Daemon threads that run the plain (non-async) callables of one run.

    Not the loop's default executor: its threads are joined when ``asyncio.run``
    ends, so one task stuck past its deadline would hold the program, and its
    six-odd threads would queue further tasks while they show as RUNNING. These
    threads are daemons, started on demand up to ``limit``, and told to exit
    when the run ends. A thread whose task was given up on (``abandon``) stops
    counting at once, so the next job gets a thread of its own; it exits when
    its task returns.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads = 0
        self.idle = 0
        self.queued = 0  # jobs submitted and not yet taken by a thread

    def submit(self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> _Job:
        job = _Job(loop, loop.create_future(), contextvars.copy_context(), fn)
        self.jobs.put(job)
        with self.lock:
            self.queued += 1
            self._staff()
        return job

    def _staff(self) -> None:
        """A thread for the newest job, if none is idle and the limit allows (lock held)."""
        if self.idle:
            self.idle -= 1  # that thread is taken: the next job needs another
        elif self.threads < self.limit:
            self.threads += 1
            threading.Thread(
                target=self._work, name=f"dagron-async-sync-{self.threads}", daemon=True
            ).start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            with self.lock:
                self.queued -= 1
            if job.claim.setdefault("by", "thread") == "thread":  # atomic: see _Job
                start = time.perf_counter()
                try:
                    value, error = job.context.run(job.fn), None
                except BaseException as exc:  # handed to the task awaiting it
                    value, error = None, exc
                job.seconds = time.perf_counter() - start
                try:
                    job.loop.call_soon_threadsafe(_settle, job.future, value, error)
                except RuntimeError:  # the loop is closed: nobody waits for this any more
                    pass
            with self.lock:
                job.finished = True
                if job.abandoned:
                    return  # no longer counted: a replacement took this thread's place
                self.idle += 1

    @staticmethod
    def drop_if_waiting(job: _Job) -> bool:
        """True if ``job`` had not started; it never will. Takes no lock: the
        loop calls it at a deadline, when threads holding the GIL would make
        every lock hand-over slow."""
        return job.claim.setdefault("by", "loop") == "loop"

    def abandon(self, job: _Job) -> bool:
        """Stop counting the thread stuck in ``job``; True if it still runs the task."""
        if _SyncThreads.drop_if_waiting(job):
            return False
        with self.lock:
            if job.finished or job.abandoned:
                return False
            job.abandoned = True
            self.threads -= 1
            if self.queued > self.idle:
                self._staff()
            return True

    def close(self) -> None:
        with self.lock:
            for _ in range(self.threads):
                self.jobs.put(None)
            self.threads = self.idle = 0


class _Job:
    """One plain callable handed to a thread.

    ``claim`` decides, once, who owns a job that has not started: the thread
    that takes it (``"thread"``: it runs) or the loop giving up on it
    (``"loop"``: it never runs); ``dict.setdefault`` with a str key is atomic
    under the GIL. ``finished`` and ``abandoned`` are guarded by the pool's lock.
    """

    __slots__ = ("abandoned", "claim", "context", "finished", "fn", "future", "loop", "seconds")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        fn: Callable[[], Any],
    ) -> None:
        self.loop = loop
        self.future = future
        self.context = context
        self.fn = fn
        self.claim: dict[str, str] = {}
        self.finished = self.abandoned = False
        self.seconds: float | None = None  # how long the call took, once it returned

    @property
    def began(self) -> bool:
        return self.claim.get("by") == "thread"


def _kinds(tasks: list[Callable[..., Any] | None]) -> list[bool]:
    """``is_async_callable`` of each task, asked once per distinct callable."""
    seen: dict[int, bool] = {}
    out = []
    for fn in tasks:
        kind = seen.get(id(fn))
        if kind is None:
            kind = seen[id(fn)] = is_async_callable(fn)
        out.append(kind)
    return out


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the node timed out or the run ended: the late outcome is dropped
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
