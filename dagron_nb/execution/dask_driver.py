"""The loop that follows a ``DaskExecutor`` run while the cluster runs it.

The whole DAG goes to the scheduler at once, as one graph: node ``i`` is the
task ``(f"dagron-{token}", i)`` (one key prefix per run: the scheduler's cost
grows with the number of prefixes), its arguments are its predecessors' keys,
and its priority comes from our bottom levels. Dask then starts each task as
soon as its inputs exist, without a round trip to this process.

This process only *follows*: the tasks (``dask_worker.run_node``) send
``start`` / ``end`` events through the scheduler, a handler on the client's
event loop puts them on a queue, and this loop, the only code that touches
the ``Scheduler``, turns them into transitions and callbacks. Events of one
run arrive in causal order (a task starts only after its inputs' tasks
reported their end), so ``on_node_complete(a)`` comes before
``on_node_start(b)`` for an edge ``a -> b``; a start that arrives early anyway
waits in ``early`` until its node is ready.

Stopping (fail-fast, cancel event, Ctrl-C, the run's deadline) closes the
run's gate on every worker and waits (briefly) for each worker's ``flush``
event: afterwards exactly the nodes that had started are RUNNING and every
other node can be skipped or cancelled; nothing of the run starts later.

What the loop also watches, every ``_POLL`` s: node timeouts (a node's own
timeout is measured on its worker; the loop gives up ``_SLACK`` s later),
futures that Dask itself failed (a worker died too often, a result that
cannot be sent) and the client's connection (a lost scheduler ends the run).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from dagron_nb.core.errors import ClusterError, ConfigurationError
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution import dask_worker as onworker
from dagron_nb.execution.interrupts import CtrlC
from dagron_nb.execution.run import Run
from dagron_nb.execution.scheduler import Transition

logger = logging.getLogger("dagron_nb")

_POLL = 0.02  # seconds between checks of cancel events and deadlines
_IDLE_POLL = 0.25  # with nothing to check, only Ctrl-C and Dask's health need us
_SLACK = 0.1  # a node's worker decides its timeout; the loop waits this much longer
_FLUSH_WAIT = 1.0  # at most this long for the workers' flush events after a stop
_DEADLINE_FLUSH_WAIT = 0.2  # the same at the run's deadline (execute returns promptly)

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
TIMED_OUT = NodeStatus.TIMED_OUT


class Call(NamedTuple):
    """How to call a node's task on the cluster: ``func(**fixed, **upstream values)``."""

    func: Callable[..., Any]
    fixed: dict[str, Any]
    names: tuple[str, ...]  # parameter names that receive upstream values
    upstream: tuple[int, ...]  # the nodes whose values are passed for them


class Stuck(NamedTuple):
    """A node given up on whose task may still occupy a worker thread."""

    name: str
    token: str
    node: int
    worker: str | None


class Options(NamedTuple):
    """What the executor decided for this run."""

    outputs: frozenset[int] | None  # nodes whose values come back (None: all)
    as_futures: bool  # leave the outputs on the cluster, as futures
    workers: list[str] | None  # restrict the run to these workers (max_workers)
    ranks: list[int]  # priority rank per node (0: the largest bottom level)
    on_stuck: Callable[[Stuck], str]  # watch a timed-out node's task; says what is done


class DaskDriver:
    def __init__(
        self, run: Run, client: Any, calls: Sequence[Call | None], options: Options
    ) -> None:
        self.run_ = run
        self.sched = run.sched
        self.client = client
        self.calls = calls
        self.options = options
        index = run.dag.index()
        self.pred = index.pred
        self.succ = index.succ
        self.token = uuid.uuid4().hex
        self.prefix = f"dagron-{self.token}"
        self.queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.futures: list[Any] = []
        self.early: dict[int, list[tuple[Any, ...]]] = {}  # events of nodes not yet ready
        self.events: list[Transition] = []  # transitions to notify after this batch
        self.to_fetch: list[int] = []  # completed nodes whose values callbacks get now
        self.stopping = False
        self.stop_actions: list[Callable[[], None]] = []
        self.flush_waiting: set[str] = set()
        self.flush_deadline = 0.0
        self.cancelled = False
        self.expired = False
        self.lost: BaseException | None = None
        self.unsendable: dict[int, BaseException] = {}  # node -> why it cannot be pickled
        self.notes: dict[int, str] = {}  # node -> what was done about its stuck task
        self.released = [False] * len(calls)
        self.hits: set[int] = set()  # nodes resolved from the result cache
        self.wall0 = 0.0
        self.partial: ExecutionResult | None = None
        self.last_scan = 0.0
        self.stops: list[BaseException] = []  # stop requests not yet acted on
        self.raised: BaseException | None = None  # the first one, raised at the end

    # -- the run -------------------------------------------------------------------
    def execute(self) -> ExecutionResult:
        """Run to the end; raise the first stop request (Ctrl-C, a callback's
        KeyboardInterrupt / SystemExit) with the partial result as ``self.partial``."""
        run = self.run_
        dispatcher = dispatcher_for(self.client)
        dispatcher.register(self.token, self.queue)
        if run.cancel_event is not None:
            onworker.LOCAL_CANCEL[self.token] = run.cancel_event
        run.fanout.on_stop = self.stops.append  # a callback asked to stop the run
        presses = CtrlC(wake=lambda: self.queue.put(("wake", "")))
        try:
            with presses:
                self._follow(presses, dispatcher.topic)
        finally:
            dispatcher.unregister(self.token)
            onworker.LOCAL_CANCEL.pop(self.token, None)
            self._release_all()
        for node, note in self.notes.items():
            self.sched.reason[node] = note
        result = run.result()
        if self.raised is not None:
            self.partial = result
            raise self.raised
        return result

    def _follow(self, presses: CtrlC, topic: str) -> None:
        run = self.run_
        try:
            run.begin()
            self.wall0 = time.time() - (time.perf_counter() - run.t0)
            self._act_on_stops(presses)
            if self.run_.cache is not None and not self.cancelled:
                self._resolve_cache_hits()
            if self.sched.remaining and not self.cancelled:
                self._submit(topic)
        except KeyboardInterrupt as exc:  # a press that could not wait (see CtrlC)
            self.stops.append(exc)
        while self.sched.remaining:
            try:
                self._act_on_stops(presses)
                self._step()
            except KeyboardInterrupt as exc:
                self.stops.append(exc)
        self._act_on_stops(presses)
        self._fetch_outputs()
        if self.run_.cache is not None:
            self._store_in_cache()

    # -- the result cache ----------------------------------------------------------------
    def _resolve_cache_hits(self) -> None:
        """Nodes whose key is known before submission (every predecessor a hit)
        are looked up now; a hit never goes to the cluster, its value does."""
        run, sched = self.run_, self.sched
        for node in run.dag.index().topo:
            call = self.calls[node]
            if call is None or not sched.is_ready(node):
                continue
            hit = run.cache_lookup(node)
            if hit is None:
                continue
            now = time.perf_counter() - run.t0
            run.values[node] = hit.value
            run.started[node] = run.finished[node] = now
            self.hits.add(node)
            sched.push(sched.cache_hit(node))
            self.events.append(Transition(node, NodeStatus.CACHE_HIT))
            self.events.extend(sched.drain_events())
        self._flush_notifications()

    def _store_in_cache(self) -> None:
        """Completed nodes whose values came back are stored (topological order,
        so each key can use its predecessors' value fingerprints)."""
        run = self.run_
        for node in run.dag.index().topo:
            if self.sched.status[node] is not COMPLETED or node in self.hits:
                continue
            value = run.values[node]
            if value is None or self.options.as_futures:
                continue  # it stayed on the cluster: nothing here to keep
            run.cache_lookup(node)  # computes the node's key
            seconds = (run.finished[node] or 0.0) - (run.started[node] or 0.0)
            run.cache_store(node, value, seconds)

    def _act_on_stops(self, presses: CtrlC) -> None:
        """A first KeyboardInterrupt cancels; a second, or any other stop, abandons."""
        for _ in range(presses.take()):
            self.stops.append(KeyboardInterrupt())
        while self.stops:
            exc = self.stops.pop(0)
            self.raised = self.raised or exc
            if not self.cancelled:
                self._cancel("interrupted (KeyboardInterrupt)")
                if isinstance(exc, KeyboardInterrupt):
                    continue
            self._abandon()
        self._flush_notifications()

    def _submit(self, topic: str) -> None:
        """Hand the whole graph to the scheduler; priorities from our bottom levels."""
        keys = [(self.prefix, i) for i in range(len(self.run_.names))]
        specs = self._specs(topic)
        try:
            self._send(keys, specs)
        except Exception as exc:  # some task cannot be pickled
            self._mark_unsendable(specs, exc)
            self._send(keys, specs)

    def _specs(self, topic: str) -> list[onworker.NodeSpec | None]:
        run = self.run_
        announce = run.listening or bool(run.node_timeout) or bool(run.fanout.watchers)
        specs: list[onworker.NodeSpec | None] = []
        for node, call in enumerate(self.calls):
            if call is None:
                specs.append(None)
                continue
            spec = onworker.NodeSpec(
                token=self.token,
                topic=topic,
                node=node,
                name=run.names[node],
                func=call.func,
                fixed=call.fixed,
                names=call.names,
                announce=announce,
                timeout=run.node_timeout.get(node),
                fail_fast=self.sched.fail_fast,
            )
            specs.append(spec)
        return specs

    def _send(self, keys: list[tuple[str, int]], specs: list[onworker.NodeSpec | None]) -> None:
        graph: dict[Any, Any] = {}
        for node, spec in enumerate(specs):
            call = self.calls[node]
            named = call.upstream if call is not None else ()
            deps = [keys[p] for p in named] + [keys[p] for p in self.pred[node] if p not in named]
            if node in self.hits:  # from the cache: its value goes in the graph
                graph[keys[node]] = (onworker.cached, self.run_.values[node])
            elif spec is None:
                graph[keys[node]] = (onworker.structural, *deps)
            else:
                graph[keys[node]] = (onworker.run_node, spec, *deps)
        n, ranks = len(keys), self.options.ranks
        priority = {key: n - ranks[i] for i, key in enumerate(keys)}
        workers = self.options.workers
        with _dask().annotate(priority=priority.__getitem__):
            self.futures = self.client.get(
                graph, keys, sync=False, workers=workers, allow_other_workers=bool(workers)
            )

    def _mark_unsendable(self, specs: list[onworker.NodeSpec | None], exc: Exception) -> None:
        """Find the tasks Dask cannot pickle; each fails its own node, naming it."""
        import cloudpickle

        for node, spec in enumerate(specs):
            if spec is None:
                continue
            try:
                cloudpickle.dumps((spec.func, spec.fixed))
            except Exception as why:  # any pickling failure
                name = self.run_.names[node]
                error = ConfigurationError(
                    f"could not send the task of node {name!r} to the Dask cluster: {why}. "
                    "Dask pickles every task (with cloudpickle): define the function at "
                    "module level or in the notebook, and do not capture locks, open files "
                    "or connections in it (nor pass them as inputs)."
                )
                error.__cause__ = why
                self.unsendable[node] = error
                spec.func, spec.fixed = onworker.unsendable, {"name": name}
        if not self.unsendable:
            raise ConfigurationError(
                f"could not send the DAG to the Dask cluster: {type(exc).__name__}: {exc}"
            ) from exc

    def _step(self) -> None:
        run = self.run_
        now = time.perf_counter()
        watching = run.cancel_event is not None or bool(run.node_timeout) or self.stopping
        wait = _POLL if watching else _IDLE_POLL
        for at in (self._deadline(), self._next_node_deadline()):
            if at is not None:
                wait = min(wait, max(0.0, at - now))
        batch: list[tuple[Any, ...]] = []
        try:
            batch.append(self.queue.get(timeout=wait))
            while True:
                batch.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        for msg in batch:
            self._handle(msg)
        self._watch()
        self._flush_notifications()

    def _deadline(self) -> float | None:
        run = self.run_
        if run.timeout is None or self.expired:
            return None
        return run.t0 + run.timeout

    # -- events from the workers ------------------------------------------------------
    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "wake":  # a Ctrl-C press: acted on after this batch
            return
        if kind == "flush":
            self.flush_waiting.discard(msg[2])
            return
        node = msg[2]
        status = self.sched.status[node]
        if status is PENDING and not self.sched.is_ready(node):
            self.early.setdefault(node, []).append(msg)
            return
        if kind == "start":
            if status is PENDING:
                self._start(node, msg[3], msg[4])
            elif status is RUNNING:  # run again after its worker died: now here
                self.run_.workers[node] = msg[3]
        elif kind == "end":
            self._end(node, *msg[3:])

    def _start(self, node: int, worker: str, wall: float) -> None:
        run = self.run_
        now = time.perf_counter() - run.t0
        floor = max((run.finished[p] or 0.0 for p in self.pred[node]), default=0.0)
        run.started[node] = min(max(wall - self.wall0, floor), max(now, floor))
        run.workers[node] = worker
        self.sched.start(node)
        self.events.append(Transition(node, RUNNING))

    def _end(
        self, node: int, outcome: str, wall: float, seconds: float, worker: str, text: str
    ) -> None:
        run, sched = self.run_, self.sched
        if sched.status[node] is PENDING:  # not announced: its start comes with its end
            self._start(node, worker, wall)
        if sched.status[node] is not RUNNING:
            return  # given up on already: a late end changes nothing
        start = run.started[node] or 0.0
        run.finished[node] = min(start + seconds, max(start, time.perf_counter() - run.t0))
        run.workers[node] = worker
        if outcome == onworker.OK:
            ready = sched.finish(node, COMPLETED)
            self.events.append(Transition(node, COMPLETED))
            self.events.extend(sched.drain_events())
            sched.push(ready)
            if self._fetch_live(node):
                self.to_fetch.append(node)
            self._replay_early(ready)
        elif outcome == onworker.FAILED:
            run.errors[node] = self._error_of(node, text)
            self._fail(node, FAILED)
        else:  # LATE: it ran past its own timeout, as its worker measured
            self._time_out(node, start + (run.node_timeout.get(node) or seconds))

    def _replay_early(self, ready: list[int]) -> None:
        for node in ready:
            for msg in self.early.pop(node, ()):
                self._handle(msg)

    def _fetch_live(self, node: int) -> bool:
        """Fetch this value now, for ``on_node_complete``? (else at the end, if wanted)"""
        outputs = self.options.outputs
        wanted = outputs is None or node in outputs
        return wanted and not self.options.as_futures and bool(self.run_.fanout.complete)

    def _error_of(self, node: int, text: str) -> BaseException:
        """The exception a failed task raised, fetched from the cluster."""
        unsendable = self.unsendable.get(node)
        if unsendable is not None:
            return unsendable
        try:
            marker = self.futures[node].result()
        except BaseException as exc:  # the text still says what happened
            if isinstance(exc, KeyboardInterrupt):
                raise
            return ClusterError(f"node {self.run_.names[node]!r} failed with {text}")
        if isinstance(marker, onworker.Failed):
            return marker.error
        return ClusterError(f"node {self.run_.names[node]!r} failed with {text}")

    # -- failures and stops -------------------------------------------------------------
    def _fail(self, node: int, status: NodeStatus) -> None:
        """A RUNNING node FAILED or TIMED_OUT (its error and finish time recorded)."""
        if self.sched.fail_fast and not self.sched.stopped:
            # Other workers may be starting nodes right now: first learn exactly
            # which started, then let the scheduler skip the rest.
            self._stop(lambda: self._apply_failure(node, status), _FLUSH_WAIT)
            return
        self._apply_failure(node, status)

    def _apply_failure(self, node: int, status: NodeStatus) -> None:
        sched = self.sched
        if sched.status[node] is not RUNNING:
            return
        if status is FAILED:
            sched.finish(node, FAILED)
        else:
            sched.abandon(node, TIMED_OUT, None)
        self.events.append(Transition(node, status))
        self.events.extend(sched.drain_events())

    def _time_out(self, node: int, at: float) -> None:
        from dagron_nb.core.errors import NodeTimeoutError

        run = self.run_
        run.errors[node] = NodeTimeoutError(run.names[node], run.node_timeout[node])
        run.finished[node] = at
        self._watch_stuck(node)
        self._fail(node, TIMED_OUT)

    def _watch_stuck(self, node: int) -> None:
        run = self.run_
        stuck = Stuck(run.names[node], self.token, node, run.workers[node])
        self.notes[node] = self.options.on_stuck(stuck)

    def _cancel(self, reason: str) -> None:
        self.cancelled = True
        self._stop(lambda: self.sched.cancel(reason), _FLUSH_WAIT)

    def _expire(self) -> None:
        run = self.run_
        self.expired = True

        def expire() -> None:
            now = time.perf_counter() - run.t0
            running = [n for n, s in enumerate(self.sched.status) if s is RUNNING]
            for node in running:
                self._watch_stuck(node)
            self.events.extend(run.expire(now))

        self._stop(expire, _DEADLINE_FLUSH_WAIT)

    def _stop(self, action: Callable[[], None], wait: float) -> None:
        """Close the run's gate everywhere; ``action`` runs once the workers flushed."""
        self.stop_actions.append(action)
        deadline = time.perf_counter() + wait
        if self.stopping:
            self.flush_deadline = min(self.flush_deadline, deadline)
            return
        self.stopping = True
        self.flush_deadline = deadline
        replies = self._close_gates()
        for worker, running in replies.items():
            self.flush_waiting.add(worker)
            for node, wall in running:
                if self.sched.is_ready(node):  # started, its event still on the way
                    self._start(node, worker, wall)

    def _close_gates(self) -> dict[str, list[tuple[int, float]]]:
        from dagron_nb.execution.dask_cluster import call_workers

        topic = dispatcher_for(self.client).topic
        return call_workers(self.client, onworker.close_gate, self.token, topic) or {}

    def _finish_stop(self) -> None:
        actions, self.stop_actions = self.stop_actions, []
        for action in actions:
            action()
        self.events.extend(self.sched.drain_events())
        unstarted = [
            self.futures[n]
            for n, s in enumerate(self.sched.status)
            if s is not RUNNING and self.run_.started[n] is None and n < len(self.futures)
        ]
        for future in unstarted:  # Dask may forget them: nothing will start them
            future.release()

    def _abandon(self) -> None:
        """Stop waiting for the running tasks: they become CANCELLED now."""
        run = self.run_
        now = time.perf_counter() - run.t0
        self.stopping = False
        self.flush_waiting.clear()
        if self.stop_actions:
            self._finish_stop()
        self.events.extend(
            run.abandon_running("interrupted twice (KeyboardInterrupt) while running", now)
        )

    # -- watching ------------------------------------------------------------------------
    def _watch(self) -> None:
        run = self.run_
        now = time.perf_counter()
        deadline = self._deadline()
        if deadline is not None and now >= deadline:
            self._expire()
        if not self.cancelled and run.cancel_event_set():
            self._cancel("cancelled: cancel_event was set")
        for node in self._overdue(now):
            self._time_out(node, (run.started[node] or 0.0) + run.node_timeout[node])
        if now - self.last_scan >= _POLL * 5:
            self.last_scan = now
            self._scan_futures()
        if self.stopping and (not self.flush_waiting or now >= self.flush_deadline):
            self.stopping = False
            self.flush_waiting.clear()
            self._finish_stop()

    def _overdue(self, now: float) -> list[int]:
        run, status = self.run_, self.sched.status
        out = []
        for node, seconds in run.node_timeout.items():
            start = run.started[node]
            if (
                start is not None
                and status[node] is RUNNING
                and now - run.t0 - start >= seconds + _SLACK
            ):
                out.append(node)
        return out

    def _next_node_deadline(self) -> float | None:
        overdue = [
            self.run_.t0 + (self.run_.started[n] or 0.0) + s + _SLACK
            for n, s in self.run_.node_timeout.items()
            if self.sched.status[n] is RUNNING
        ]
        return min(overdue, default=None)

    def _scan_futures(self) -> None:
        """Notice what Dask itself failed: a lost scheduler, a node it gave up on."""
        status = self.sched.status
        if self.client.status not in ("running", "connecting"):
            self._lose(f"the Dask client is {self.client.status!r}")
            return
        for node, future in enumerate(self.futures):
            if status[node].is_terminal or future.status in ("pending", "finished"):
                continue
            self._dask_failed(node, future)

    def _dask_failed(self, node: int, future: Any) -> None:
        try:
            error = future.exception(timeout=1.0)
        except BaseException as exc:  # a cancelled future raises
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = exc
        if future.status == "cancelled" and self.client.status != "running":
            self._lose("the connection to the scheduler was lost")
            return
        culprit = _node_of(getattr(error, "task", None), self.prefix)
        culprit = node if culprit is None else culprit
        if self.sched.status[culprit].is_terminal:
            culprit = node
        self._fail_by_dask(culprit, error)

    def _fail_by_dask(self, node: int, error: BaseException | None) -> None:
        run = self.run_
        name = run.names[node]
        if self.sched.status[node] is PENDING:
            if not self.sched.is_ready(node):
                return  # an upstream node is the one to blame; it is failed first
            self._start(node, run.workers[node] or "?", time.time())
        wrapped = ClusterError(
            f"the Dask cluster could not run node {name!r}: {type(error).__name__}: {error}. "
            "If a worker died (out of memory, a crash in C code), Dask retried the task "
            "on others up to its distributed.scheduler.allowed-failures limit."
        )
        wrapped.__cause__ = error
        run.errors[node] = wrapped
        run.finished[node] = time.perf_counter() - run.t0
        self._fail(node, FAILED)

    def _lose(self, why: str) -> None:
        """The scheduler is gone: every node ends now, with a clear error."""
        if self.lost is not None:
            return
        run, sched = self.run_, self.sched
        self.lost = ClusterError(
            f"the Dask scheduler stopped answering during the run: {why}. Nodes that were "
            "running are FAILED, the others CANCELLED; start the cluster again and re-run."
        )
        now = time.perf_counter() - run.t0
        self.stop_actions.clear()
        self.stopping = False
        for node, status in enumerate(sched.status):
            if status is RUNNING:
                run.errors[node] = self.lost
                run.finished[node] = now
                sched.abandon(node, FAILED, None)
                self.events.append(Transition(node, FAILED))
        sched.cancel("cancelled: the Dask scheduler was lost")
        self.events.extend(sched.drain_events())

    # -- values ---------------------------------------------------------------------------
    def _flush_notifications(self) -> None:
        if self.to_fetch:
            nodes, self.to_fetch = self.to_fetch, []
            self._gather(nodes)
        events, self.events = self.events, []
        if events:
            self._release_unneeded(events)
            if self.run_.listening:
                self.run_.notify_events(events)

    def _release_unneeded(self, events: list[Transition]) -> None:
        """Let the cluster drop values nobody will read: not an output, every
        successor done (Dask itself keeps a value while a task still needs it)."""
        if not self.futures:
            return
        status, outputs = self.sched.status, self.options.outputs
        if outputs is None:
            return
        for event in events:
            if not event.status.is_terminal:
                continue
            for node in (event.node, *self.pred[event.node]):
                if self.released[node] or node in outputs or not status[node].is_terminal:
                    continue
                if all(status[s].is_terminal for s in self.succ[node]):
                    self.released[node] = True
                    self.futures[node].release()

    def _gather(self, nodes: list[int]) -> None:
        run = self.run_
        futures = [self.futures[n] for n in nodes]
        try:
            values = self.client.gather(futures)
        except (Exception, _dask_cancelled()) as exc:
            for node in nodes:
                self._gather_one(node, exc)
            return
        for node, value in zip(nodes, values):
            run.values[node] = value

    def _gather_one(self, node: int, first: BaseException) -> None:
        try:
            self.run_.values[node] = self.futures[node].result(timeout=5.0)
        except (Exception, _dask_cancelled()) as exc:
            text = str(exc).strip().splitlines()[-1:] or [""]
            logger.error(
                "the value of node %r could not be fetched from the Dask cluster "
                "(%s: %s); its result is None.",
                self.run_.names[node],
                type(exc).__name__,
                text[0][:300],
            )

    def _fetch_outputs(self) -> None:
        run, outputs = self.run_, self.options.outputs
        wanted = [
            n
            for n, s in enumerate(self.sched.status)
            if s is COMPLETED and (outputs is None or n in outputs) and run.values[n] is None
        ]
        if self.options.as_futures:
            for node in wanted:
                run.values[node] = self.futures[node]
            return
        if wanted and self.lost is None:
            self._gather(wanted)

    def _release_all(self) -> None:
        kept = {id(v) for v in self.run_.values} if self.options.as_futures else set()
        for future in self.futures:
            if id(future) not in kept:
                future.release()
        self.futures = []


def _node_of(key: object, prefix: str) -> int | None:
    if isinstance(key, tuple) and len(key) == 2 and key[0] == prefix:
        return int(key[1])
    return None


def _dask() -> Any:
    from dagron_nb.core.extras import optional_import

    return optional_import("dask", purpose="DaskExecutor")


def _dask_cancelled() -> type[BaseException]:
    from distributed.client import FutureCancelledError

    return FutureCancelledError  # type: ignore[no-any-return]


class Dispatcher:
    """Hands a client's dagron events to the run they belong to (by token).

    One topic per client, subscribed once: a topic per run would leave one
    event buffer per run on the scheduler.
    """

    def __init__(self, client: Any) -> None:
        self.topic = f"dagron_nb-{client.id}"
        self.queues: dict[str, queue.SimpleQueue[tuple[Any, ...]]] = {}
        client.subscribe_topic(self.topic, self.handle)

    def handle(self, event: tuple[float, Any]) -> None:
        msg = tuple(event[1])
        q = self.queues.get(msg[1])
        if q is not None:
            q.put(msg)

    def register(self, token: str, q: queue.SimpleQueue[tuple[Any, ...]]) -> None:
        self.queues[token] = q

    def unregister(self, token: str) -> None:
        self.queues.pop(token, None)


_DISPATCHERS: dict[str, Dispatcher] = {}
_DISPATCHERS_LOCK = threading.Lock()


def dispatcher_for(client: Any) -> Dispatcher:
    with _DISPATCHERS_LOCK:
        dispatcher = _DISPATCHERS.get(client.id)
        if dispatcher is None:
            dispatcher = _DISPATCHERS[client.id] = Dispatcher(client)
        return dispatcher


def check_calls(run: Run) -> list[Call | None]:
    """How each node is called on the cluster (None for taskless nodes).

    A task made by ``Pipeline`` carries ``func``, ``deps`` and ``fixed``; it is
    called with its upstream values, which Dask passes worker to worker. Any
    other task is called with no arguments.
    """
    index = run.dag.index()
    calls: list[Call | None] = []
    # the callables as given: the Run may wrap them to capture output in this
    # process, which a worker process could neither use nor unpickle
    for node, fn in enumerate(run.given_tasks):
        deps = getattr(fn, "deps", None)
        func = getattr(fn, "func", None)
        if fn is None or deps is None or not callable(func):
            calls.append(None if fn is None else Call(fn, {}, (), ()))
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
        fixed = dict(getattr(fn, "fixed", None) or {})
        calls.append(Call(func, fixed, tuple(deps), tuple(upstream)))
    return calls
