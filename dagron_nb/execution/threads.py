"""``DAGExecutor``: the scheduler driven by a small set of worker threads.

Design: one ``Condition`` guards the scheduler. Worker threads are started
lazily, up to ``max_workers``, only when there is more ready work than busy
threads. A worker takes the most urgent ready node, runs it with the lock
released, then, holding the lock again, reports the outcome and takes its next
node itself, so a chain costs no hand-off between threads. Idle workers sleep
on the condition; a worker that publishes more ready nodes than it can take
wakes one sleeper, which wakes the next if work remains.

When callbacks are attached, a worker reports its node's outcome to them
*before* it publishes the successors it made ready, and a node made ready while
another predecessor's callbacks are still under way on another worker waits
for them (``_hold_back``): for every edge ``a -> b`` every listener hears
``a``'s terminal status before ``on_node_start(b)``.

The calling thread only watches: it waits for the end of the run, waking
every 20 ms while there is a deadline or cancel event to check, and acts on
stop requests: Ctrl-C (counted by ``interrupts.CtrlC``, never raised at a
random line) cancels, a second one abandons the running tasks; a callback
raising KeyboardInterrupt acts as a Ctrl-C, one raising SystemExit (or any
other BaseException but CancelledError) cancels and abandons at once. Every
stop is re-raised from ``execute`` with the result as ``exc.result``.
Threads stuck past a deadline are daemon threads: they are left to finish on
their own (the node's NodeTimeoutError says so), and nothing they do afterwards reaches
the result or a callback: no callback fires after ``execute`` returns.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Collection, Mapping
from time import perf_counter
from types import CoroutineType
from typing import Any

from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.interrupts import CtrlC
from dagron_nb.execution.run import Executor, Run, default_workers, interrupt_with
from dagron_nb.execution.scheduler import Transition
from dagron_nb.execution.wakeup import LEAD, SwitchInterval

_POLL = 0.02  # seconds between checks of cancel events and deadlines
_IDLE_POLL = 0.1  # with nothing to check, only Ctrl-C needs the main thread awake
_DRAIN_WAIT = 1.0  # how long a returning run waits for callbacks already in flight

RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
CACHE_HIT = NodeStatus.CACHE_HIT
TIMED_OUT = NodeStatus.TIMED_OUT


def _never_started() -> None:
    """Stands in for a task the run gave up on before it could start."""


class _Worker:
    """One worker thread's identity: its slot ``k`` in the driver's lists, its name."""

    __slots__ = ("k", "name")

    def __init__(self, k: int) -> None:
        self.k = k
        self.name = threading.current_thread().name


class DAGExecutor(Executor):
    """Run a DAG's tasks on a pool of threads, dependencies first.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").add_edge("a", "c").build()
    >>> result = dagron.DAGExecutor(dag, max_workers=2).execute(
    ...     {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}
    ... )
    >>> result.succeeded
    3
    """

    uses_cache = True  # it asks the result cache before each node

    def default_max_workers(self) -> int:
        return default_workers()

    def execute(
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        *,
        node_timeouts: Mapping[str, float] | None = None,
        refresh_cache: bool | Collection[str] = False,
        outputs: Collection[str] | None = None,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> callable taking no arguments).

        Nodes without a task are SKIPPED with reason "no task" and do not hold
        back their successors. An ``async def`` task runs to completion on its
        worker thread, in an event loop of its own. ``timeout`` is one deadline for the whole run;
        ``node_timeouts`` gives single nodes their own. With the executor's
        ``cache``, unchanged nodes are CACHE_HIT; ``refresh_cache=True`` runs
        every node and stores the new results. With ``outputs=[names]`` the
        result keeps only those values; every other value is released once its
        consumers are done (its NodeResult keeps status, timings and size).
        """
        run = self.new_run(
            tasks,
            timeout,
            cancel_event,
            node_timeouts,
            refresh_cache=refresh_cache,
            outputs=outputs,
        )
        driver = _ThreadDriver(run, self.max_workers or 1)
        try:
            result = driver.run()
        finally:
            self.last_result = driver.result
        return result


class _ThreadDriver:
    def __init__(self, run: Run, max_workers: int) -> None:
        self.run_ = run
        self.sched = run.sched
        self.max_workers = max_workers
        self.cond = threading.Condition(threading.Lock())
        self.finished = threading.Event()
        self.attention = threading.Event()  # wakes the calling thread: done, or a stop
        self.closed = False  # set when the run ends: workers must not touch state again
        self.silent = False  # set just before execute returns: no callback fires any more
        self.idle = 0
        self.threads: list[threading.Thread] = []
        self.current: list[int] = []  # node each worker runs now, -1 when none
        self.announcing: list[bool] = []  # worker is in on_node_start, lock released
        self.live = 0  # workers that count towards max_workers
        self.dispatching = 0  # workers currently calling callbacks with the lock released
        self.crash: BaseException | None = None
        self.result: ExecutionResult | None = None
        self.newborn: threading.Thread | None = None  # see _take
        # start times needed while running; with a run timeout too, because a node
        # still running at the deadline is TIMED_OUT and must keep its start and worker
        self.early = run.listening or bool(run.node_timeout) or run.timeout is not None
        # edge order: a node made ready while a predecessor's callbacks are still
        # under way on another worker waits in `held` until they are done
        self.pred = run.dag.index().pred if run.listening else []
        self.in_flight = bytearray(len(run.names) if run.listening else 0)
        self.held: dict[int, list[int]] = {}
        # stop requests: Ctrl-C presses, callbacks raising KeyboardInterrupt /
        # SystemExit, a KeyboardInterrupt caught anywhere in the calling thread
        self.interrupts = 0  # interrupts so far: 1 cancels, 2 abandons
        self.backlog: list[Transition] = []  # stop transitions the callbacks must hear
        self.raised: BaseException | None = None  # what execute() raises at the end
        self.presses = CtrlC()
        self.switch = SwitchInterval()  # a short GIL switch interval near deadlines
        run.fanout.on_stop = self._request_stop

    # -- the calling thread --------------------------------------------------------
    def run(self) -> ExecutionResult:
        """Start, watch, end; raise the first stop request with the result attached."""
        with self.presses:
            try:
                try:
                    self._start()
                    self._watch_until_done()
                    self._drain()
                except KeyboardInterrupt as exc:  # a press that could not wait (see CtrlC)
                    self._request_stop(exc)
                    self._drain()
                result = self._end()
            finally:
                self.switch.release()
        if self.crash is not None:
            raise self.crash
        if self.raised is not None:
            raise interrupt_with(self.raised, result)
        return result

    def _start(self) -> None:
        self.switch.from_start(self.run_.timeout, self.run_.node_timeout.values())
        self.run_.begin()
        self._act_on_stops()  # Ctrl-C or a stop in on_run_start: nothing starts
        with self.cond:
            self._check_done()
            if not self.finished.is_set():
                self._spawn()

    def _watch_until_done(self) -> None:
        """Wait for the end of the run, acting on deadlines, cancel events and stops."""
        run = self.run_
        deadline = None if run.timeout is None else run.t0 + run.timeout
        watching = run.cancel_event is not None or bool(run.node_timeout)
        while True:
            try:
                self.attention.clear()
                self._act_on_stops()
                if self.finished.is_set():
                    return
                self._watch(deadline)
                self.attention.wait(self._wait(deadline, watching))
            except KeyboardInterrupt as exc:  # see CtrlC: a press that could not wait
                self._request_stop(exc)

    def _wait(self, deadline: float | None, watching: bool) -> float:
        """How long to sleep: until the next poll or deadline, waking ``LEAD``
        early to lower the GIL switch interval (see ``wakeup``)."""
        now = time.perf_counter()
        wait = _POLL if watching else _IDLE_POLL
        node_deadline = self.run_.next_node_deadline() if self.run_.node_timeout else None
        for at in (deadline, node_deadline):
            if at is not None:
                self.switch.near(at, now)
                left = at - now
                wait = min(wait, left - LEAD if left > LEAD else max(0.0, left))
        return wait

    def _request_stop(self, exc: BaseException) -> None:
        """Any thread, lock not held: stop the run now; the calling thread notifies.

        A KeyboardInterrupt (a Ctrl-C, or raised by a callback) cancels the nodes
        not started and lets running tasks finish; a second one abandons them.
        Anything else (SystemExit from a callback, ...) does both at once.
        """
        with self.cond:
            if self.raised is None:
                self.raised = exc
            if isinstance(exc, KeyboardInterrupt):
                self.interrupts += 1
                if self.interrupts == 1:
                    events = self._cancel("interrupted (KeyboardInterrupt)")
                else:  # a second Ctrl-C: stop waiting for the running tasks
                    events = self._abandon()
            else:
                events = self._stop_now(type(exc).__name__)
            self.backlog.extend(events)
            self._check_done()
        self.attention.set()

    def _act_on_stops(self) -> None:
        """Turn new Ctrl-C presses into stops; tell the callbacks (calling thread)."""
        for _ in range(self.presses.take()):
            self._request_stop(KeyboardInterrupt())
        if self.backlog:
            with self.cond:
                events, self.backlog = self.backlog, []
            if not self.silent:
                self.run_.notify_events(events)

    def _drain(self) -> None:
        """Let callbacks under way finish, then close the run to callbacks and workers."""
        self._wait_for_dispatchers()
        with self.cond:
            self.closed = self.silent = True
            self.cond.notify_all()
        # Join the workers that are not stuck in an abandoned task (nor still
        # about to be started by the worker that made them: they exit at once).
        for thread, node in zip(self.threads, self.current):
            if thread.ident is None:
                continue
            if node < 0 or self.sched.status[node] is RUNNING:
                thread.join(timeout=_DRAIN_WAIT)

    def _end(self) -> ExecutionResult:
        """The result; every node has a terminal status, on_run_end has been called."""
        run = self.run_
        with self.cond:
            self.closed = self.silent = True
            self.cond.notify_all()
            if self.sched.remaining:  # given up on by a Ctrl-C that could not wait
                self._cancel("interrupted (KeyboardInterrupt)")
                self._abandon()
        try:
            self.result = run.collect()
            run.end(self.result)
        except KeyboardInterrupt as exc:  # a press that could not wait (see CtrlC)
            self.raised = self.raised or exc
            if self.result is None:
                self.result = run.collect()
        self._act_on_stops()  # a stop requested by on_run_end is still raised
        return self.result

    def _watch(self, deadline: float | None) -> None:
        run = self.run_
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            self._locked_notify(lambda: self._expire(now))
            return
        if run.cancel_event_set():
            self._locked_notify(lambda: self._cancel("cancelled: cancel_event was set"))
        for node in run.overdue(now):
            self._locked_notify(functools.partial(self._time_out, node, now))

    def _locked_notify(self, change: Callable[[], list[Transition]]) -> None:
        """Apply a state change under the lock, then notify outside it."""
        with self.cond:
            events = change()
            self._check_done()
        self.run_.notify_events(events)

    def _cancel(self, reason: str) -> list[Transition]:
        self.sched.cancel(reason)
        return self.sched.drain_events()

    def _expire(self, now: float) -> list[Transition]:
        self.closed = True
        self.cond.notify_all()
        events = self.run_.expire(now - self.run_.t0)
        for event in events:
            if event.status is TIMED_OUT:  # its thread is left to finish on its own
                self.run_.left_running(event.node)
        return events

    def _abandon(
        self, reason: str = "interrupted twice (KeyboardInterrupt) while running"
    ) -> list[Transition]:
        self.closed = True
        self.cond.notify_all()
        return self.run_.abandon_running(reason, time.perf_counter() - self.run_.t0)

    def _stop_now(self, what: str) -> list[Transition]:
        """A callback raised SystemExit (or the like): cancel, abandon running tasks."""
        events = self._cancel(f"cancelled: a callback raised {what}")
        return events + self._abandon(f"abandoned: a callback raised {what}")

    def _time_out(self, node: int, now: float) -> list[Transition]:
        if self.sched.status[node] is not RUNNING:
            return []
        # the scheduler records the node's own TIMED_OUT among the events
        events = self.run_.time_out_node(node, now - self.run_.t0)
        self.run_.left_running(node)
        # the stuck thread no longer counts; let another take its place
        self.live -= 1
        if self.sched.has_ready():
            self._wake_or_spawn()
        return events

    def _check_done(self) -> None:
        if self.sched.remaining == 0:
            self.finished.set()
            self.attention.set()
            self.cond.notify_all()

    def _wait_for_dispatchers(self) -> None:
        """Let workers finish callbacks already under way, so none fire after return."""
        with self.cond:
            self.cond.wait_for(
                lambda: self.dispatching == 0 and not any(self.announcing), timeout=_DRAIN_WAIT
            )

    # -- workers ---------------------------------------------------------------
    def _spawn(self, *, start: bool = True) -> threading.Thread:
        """A new worker, counted at once; ``start=False`` leaves starting it to the
        caller, who should do so after releasing the lock (a thread start waits
        for the new thread to run, which other workers need not wait for)."""
        k = len(self.threads)
        thread = threading.Thread(
            target=self._worker, args=(k,), name=f"dagron-worker-{k}", daemon=True
        )
        self.threads.append(thread)
        self.current.append(-1)
        self.announcing.append(False)
        self.live += 1
        if start:
            thread.start()
        return thread

    def _wake_or_spawn(self, *, start: bool = True) -> threading.Thread | None:
        if self.idle:
            # The woken worker counts as busy from now on: until it has the lock
            # back it must not be "woken" again for every node published meanwhile
            # (on layered graphs that was thousands of futile notify() calls a run).
            self.idle -= 1
            self.cond.notify()
        elif self.live < self.max_workers:
            return self._spawn(start=start)
        return None

    def _worker(self, k: int) -> None:
        try:
            self._work(k)
        except BaseException as exc:  # a bug in dagron_nb: never hang the caller
            with self.cond:
                self.crash = exc
                self.closed = True
                self.finished.set()
                self.cond.notify_all()

    def _work(self, k: int) -> None:
        """A worker's loop: take a node, announce it, run its task, report it.

        The lock is held throughout, except while announcing (callbacks) and
        running the task; reporting a node and taking the next one happen under
        one hold, so a chain costs no hand-off between threads. The task runs
        inline here: this is the per-node hot path.
        """
        cond = self.cond
        tasks = self.run_.tasks
        listening = self.run_.listening
        caching = self.run_.cache is not None
        worker = _Worker(k)
        cond.acquire()
        try:
            while True:
                node = self._take(worker)
                if node < 0:
                    return
                newborn = self.newborn
                cond.release()
                if caching:
                    reported = self._from_cache(worker, node, newborn)
                    if reported is not None:  # a hit, reported: the lock is held again
                        if not reported:
                            return
                        continue
                try:
                    if listening or newborn is not None:
                        fn = self._announce(worker, node, newborn)
                    else:
                        fn = tasks[node]  # type: ignore[assignment]
                    # -- run the task; no write to the run's columns until the
                    # lock is held again: the run may have ended meanwhile and
                    # handed them out as its result
                    start = perf_counter()
                    try:
                        value = fn()
                        if value.__class__ is CoroutineType:
                            # an async def task: run it to completion on this thread
                            value = asyncio.run(value)
                        status = COMPLETED
                    except BaseException as exc:  # the task's failure is its result
                        value = exc
                        status = FAILED
                    end = perf_counter()
                    if caching and status is COMPLETED:
                        self.run_.cache_store(node, value, end - start)
                finally:
                    cond.acquire()
                if not self._report(worker, node, status, value, start, end):
                    return
        finally:
            cond.release()

    def _take(self, worker: _Worker) -> int:
        """The next node, now RUNNING on ``worker``, sleeping until there is one.

        Returns -1 when the worker must exit. Sets ``self.newborn`` to a helper
        thread the caller starts once the lock is released. Lock held.
        """
        sched = self.sched
        run = self.run_
        while True:
            if self.closed or sched.remaining == 0:
                return -1
            if run.cancel_event is not None and run.cancel_event_set() and not sched.stopped:
                events = self._cancel("cancelled: cancel_event was set")
                self._check_done()
                if run.listening:
                    self._dispatch_unlocked(events)
                continue
            node = sched.take()
            if node >= 0:
                break
            self.idle += 1  # whoever notifies us takes it off again
            self.cond.wait()
        self.current[worker.k] = node
        self.newborn = self._wake_or_spawn(start=False) if sched.has_ready() else None
        if self.early:
            run.started[node] = perf_counter() - run.t0
            run.workers[node] = worker.name
            # flagged under the lock: a run that ends while on_node_start
            # runs waits for it instead of returning under its feet
            self.announcing[worker.k] = run.listening
        return node

    def _announce(
        self, worker: _Worker, node: int, newborn: threading.Thread | None
    ) -> Callable[[], Any]:
        """Tell the callbacks ``node`` starts; returns what to run. Lock released."""
        run = self.run_
        fn = run.tasks[node]
        if run.listening:
            if not self.silent:
                run.notify(node, RUNNING)
            self.announcing[worker.k] = False
            if self.sched.status[node] is not RUNNING:
                # given up on while on_node_start ran (the run's deadline,
                # a second Ctrl-C, its own timeout): never start the task
                fn = _never_started
        if newborn is not None:
            # after our on_node_start: listeners hear starts in the order
            # the scheduler handed the nodes out
            newborn.start()
        return fn  # type: ignore[return-value]

    def _report(
        self, worker: _Worker, node: int, status: NodeStatus, value: Any, start: float, end: float
    ) -> bool:
        """Record ``node``'s outcome and publish what it made ready. Lock held.

        Returns False if the worker must exit: its node was abandoned meanwhile.
        """
        run = self.run_
        sched = self.sched
        if sched.status[node] is not RUNNING:
            # abandoned at a deadline: the result (maybe returned already)
            # keeps its TIMED_OUT error and gets no value from this thread
            if self.closed:
                self.cond.notify_all()  # the returning run may wait on `announcing`
            return False
        if status is FAILED:
            run.errors[node] = value
        else:
            run.values[node] = value
        self.current[worker.k] = -1
        run.started[node] = start - run.t0
        run.finished[node] = end - run.t0
        run.workers[node] = worker.name
        ready = sched.finish(node, status)
        if run.keeper is not None and status is not FAILED:
            run.keeper.done(node)  # outputs=: release inputs nobody needs now
        if run.listening:
            events = sched.drain_events()
            events.insert(0, Transition(node, status))
            self._dispatch_unlocked(events)
            ready = self._hold_back(ready)
        sched.push(ready)
        self._check_done()
        return True

    def _from_cache(
        self, worker: _Worker, node: int, newborn: threading.Thread | None
    ) -> bool | None:
        """Ask the cache for ``node``; called with the lock released.

        A miss returns None with the lock still released: run the task. A hit
        is reported as CACHE_HIT (no ``on_node_start``: nothing starts) with
        the lock held again, and returns what ``_report`` says.
        """
        try:
            hit = self.run_.cache_lookup(node)
        except BaseException:  # a bug in dagron_nb: the caller expects the lock held
            self.cond.acquire()
            raise
        if hit is None:
            return None
        self.announcing[worker.k] = False
        if newborn is not None:
            newborn.start()
        now = perf_counter()
        self.cond.acquire()
        return self._report(worker, node, CACHE_HIT, hit.value, now, now)

    def _dispatch_unlocked(self, events: list[Transition]) -> None:
        """Fire callbacks for ``events`` with the lock released (caller holds it).

        While they run, their nodes are "in flight": a successor made ready
        meanwhile by another worker is held back until they are done (see
        ``_hold_back``). Once the run is closed, the rest are dropped: no
        callback fires after ``execute`` has returned.
        """
        in_flight = self.in_flight
        for event in events:
            in_flight[event.node] = 1
        self.dispatching += 1
        self.cond.release()
        try:
            notify = self.run_.notify
            for event in events:
                if self.silent:
                    break
                notify(event.node, event.status)
        finally:
            self.cond.acquire()
            self.dispatching -= 1
            for event in events:
                in_flight[event.node] = 0
            if self.held:
                self._release_held(events)
            if self.dispatching == 0 and (self.closed or self.finished.is_set()):
                self.cond.notify_all()

    def _hold_back(self, ready: list[int]) -> list[int]:
        """The nodes of ``ready`` none of whose predecessors has callbacks in flight."""
        in_flight = self.in_flight
        pred = self.pred
        out = []
        for node in ready:
            for u in pred[node]:
                if in_flight[u]:
                    self.held.setdefault(u, []).append(node)
                    break
            else:
                out.append(node)
        return out

    def _release_held(self, events: list[Transition]) -> None:
        """Publish the nodes that waited for these events' callbacks (lock held)."""
        for event in events:
            waiting = self.held.pop(event.node, None)
            if waiting:
                self.sched.push(self._hold_back(waiting))
        if self.sched.has_ready():
            self._wake_or_spawn()
