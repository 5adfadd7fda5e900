"""What every executor does around the scheduler: check input, record, notify.

A ``Run`` is made per ``execute()`` call. Its constructor validates everything
the user passed (tasks, costs, node timeouts, cancel event) against a snapshot of
the DAG and raises a ``ConfigurationError`` before any task runs. During the run
the driver writes each node's value, error, times and worker into the Run's
columns and hands status changes to ``notify``, which fires callbacks, hooks
and the trace. ``result()`` turns the columns into an ``ExecutionResult``.
"""

from __future__ import annotations

import difflib
import math
import operator
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from itertools import repeat
from typing import Any

from dagron_nb.core.callbacks import CallbackFanout, RunView
from dagron_nb.core.errors import ConfigurationError, NodeTimeoutError
from dagron_nb.core.graph import DAG, by_name
from dagron_nb.core.plan import cost_list, priority_ranks
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.core.tracing import ExecutionTrace, TraceEventType
from dagron_nb.execution.cache import CacheHit, ResultCache, RunCache, deliver
from dagron_nb.execution.capture import OutputCapture
from dagron_nb.execution.interrupts import CtrlC
from dagron_nb.execution.outputs import OutputKeeper
from dagron_nb.execution.scheduler import Scheduler, Transition

_TRACE_TYPE = {
    NodeStatus.RUNNING: TraceEventType.NODE_STARTED,
    NodeStatus.COMPLETED: TraceEventType.NODE_COMPLETED,
    NodeStatus.CACHE_HIT: TraceEventType.NODE_CACHE_HIT,
    NodeStatus.FAILED: TraceEventType.NODE_FAILED,
    NodeStatus.SKIPPED: TraceEventType.NODE_SKIPPED,
    NodeStatus.TIMED_OUT: TraceEventType.NODE_TIMED_OUT,
    NodeStatus.CANCELLED: TraceEventType.NODE_CANCELLED,
}


#: A callable carrying this attribute (``@task(timeout=...)`` sets it) has its own
#: node timeout. A specific name, so that an unrelated ``timeout`` attribute of
#: some callable object is never mistaken for one.
TIMEOUT_ATTRIBUTE = "dagron_timeout"


def check_max_workers(max_workers: object, *, default: int | None) -> int | None:
    """``max_workers`` as an int >= 1 (None gives ``default``)."""
    if max_workers is None:
        return default
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ConfigurationError(
            f"max_workers must be a whole number >= 1 or None, got {max_workers!r}."
        )
    return max_workers


def default_workers() -> int:
    return os.cpu_count() or 1


def _check_seconds(what: str, value: object) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or math.isnan(value)
        or value <= 0
    ):
        raise ConfigurationError(f"{what} must be a number of seconds > 0, got {value!r}.")
    return float(value)


def _refuse_unknown(
    kind: str, given: Iterable[object], position: Mapping[str, int], names: list[str]
) -> None:
    """Raise ``_unknown_names`` if ``given`` names a node not in ``position``."""
    unknown = [name for name in given if name not in position]
    if unknown:
        raise _unknown_names(kind, unknown, names)


def _unknown_names(kind: str, unknown: list[object], names: list[str]) -> ConfigurationError:
    hints = []
    for name in unknown:
        if not isinstance(name, str) or not name:
            # shown with its type: a key 1 must not read like the name '1'
            hints.append(f"{name!r} ({type(name).__name__}; node names are non-empty strings)")
            continue
        close = difflib.get_close_matches(name, names, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return ConfigurationError(
        f"{kind} for node(s) not in the DAG: {', '.join(hints)}. "
        "Fix the name, or add the node to the DAG first."
    )


def _task_list(
    tasks: Mapping[str, Callable[..., Any] | None], position: dict[str, int]
) -> list[Callable[..., Any] | None]:
    """The tasks in node order (None: no task), after checking names and callables.

    The common case is checked by C-level passes (``map``, a keys subset):
    for a 1,000,000-node run this is part of the setup time.
    """
    names = list(position)
    if not tasks.keys() <= position.keys():
        _refuse_unknown("tasks given", tasks, position, names)
    if not all(map(callable, tasks.values())):  # a None (no task) or something wrong
        not_callable = [n for n, fn in tasks.items() if fn is not None and not callable(fn)]
        if not_callable:
            raise ConfigurationError(
                "tasks must be callables (functions taking no arguments); not callable: "
                + ", ".join(f"{name!r} = {tasks[name]!r}" for name in not_callable)
                + ". Wrap a value v as lambda: v."
            )
    return list(map(tasks.get, names))


def _own_timeouts(names: list[str], tasks: list[Callable[..., Any] | None]) -> dict[int, float]:
    """``{node: seconds}`` of the tasks that carry their own timeout (``@task(timeout=)``)."""
    owns = list(map(getattr, tasks, repeat(TIMEOUT_ATTRIBUTE), repeat(None)))
    if owns.count(None) == len(owns):
        return {}
    return {
        i: _check_seconds(f"timeout of task {names[i]!r}", own)
        for i, own in enumerate(owns)
        if own is not None
    }


def _check_mapping(what: str, value: object, of: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{what} must be a dict of node name -> {of}, got {type(value).__name__}."
        )


class Run:
    """Validated input plus the per-node record of one execution."""

    def __init__(
        self,
        dag: DAG,
        tasks: Mapping[str, Callable[..., Any] | None],
        *,
        costs: Mapping[str, float] | None,
        fail_fast: bool,
        callbacks: object,
        hooks: object,
        enable_tracing: bool,
        timeout: float | None,
        cancel_event: object,
        node_timeouts: Mapping[str, float] | None,
        cache: ResultCache | None = None,
        refresh_cache: bool | Collection[str] = False,
        outputs: Collection[str] | None = None,
    ) -> None:
        #: when the setup began: ``begin()`` measures ``setup_seconds`` from here
        self.created = time.perf_counter()
        #: checking the input and building the run's state, up to ``begin()``
        self.setup_seconds = 0.0
        if not isinstance(dag, DAG):
            raise ConfigurationError(f"expected a dagron_nb DAG, got {type(dag).__name__}")
        self.dag = dag.snapshot()
        index = self.dag.index()
        self.names = index.names
        n = len(self.names)
        _check_mapping("tasks", tasks, "callable")
        tasks = by_name(self.dag, tasks)  # NodeRef keys are accepted, as in dagron
        _check_flags(fail_fast, cancel_event)
        self.tasks: list[Callable[..., Any] | None] = _task_list(tasks, index.position)
        self.timeout = None if timeout is None else _check_seconds("timeout", timeout)
        self.cancel_event = cancel_event
        self.node_timeout = self._timeouts(node_timeouts)
        rank = priority_ranks(index, cost_list(index, costs))
        self.fanout = _fanout(callbacks, hooks, self.dag)
        #: the callables as given: the cache keys them and hands them its hits,
        #: ``outputs=`` releases through them (``tasks`` may wrap them: capture)
        self.given_tasks = self.tasks
        self.capture = self._capture_output()
        self.trace = ExecutionTrace() if enable_tracing else None
        #: does anybody need per-node notifications? (the drivers' fast path)
        self.listening = self.fanout.node_events or self.trace is not None
        self.sched = Scheduler(
            index,
            rank,
            list(map(operator.is_not, self.tasks, repeat(None))),
            fail_fast=fail_fast,
            record=self.listening,
        )
        self.values: list[Any] = [None] * n
        self.errors: list[BaseException | None] = [None] * n
        self.started: list[float | None] = [None] * n
        self.finished: list[float | None] = [None] * n
        self.workers: list[str | None] = [None] * n
        self.t0 = 0.0
        #: the run's view of the result cache; None when the run is not cached
        self.cache: RunCache | None = self._run_cache(cache, refresh_cache)
        #: with ``outputs=``, releases the values nobody asked for (None: keep all)
        self.keeper = None if outputs is None else self._keeper(outputs)
        self.ended = False  # on_run_end was called
        self.silent = False  # set when execute returns: no callback fires any more

    def _capture_output(self) -> OutputCapture | None:
        """The run's ``OutputCapture`` if a callback is one; its tasks then run
        wrapped (after their timeouts were read off the callables)."""
        capture = _capture_of(self.fanout.objects)
        if capture is not None:
            self.tasks = _wrap_tasks(capture, self.names, self.tasks)
        return capture

    def _keeper(self, outputs: Collection[str]) -> OutputKeeper:
        index = self.dag.index()
        return OutputKeeper(
            outputs, index.position, index.pred, index.succ, self.values, self.given_tasks
        )

    def _timeouts(self, node_timeouts: Mapping[str, float] | None) -> dict[int, float]:
        """Each node's own timeout: ``@task(timeout=)``, then ``node_timeouts``."""
        position = self.dag.index().position
        found: dict[int, float] = _own_timeouts(self.names, self.tasks)
        if node_timeouts is not None:
            _check_mapping("node_timeouts", node_timeouts, "seconds")
            node_timeouts = by_name(self.dag, node_timeouts)
            _refuse_unknown("node_timeouts given", node_timeouts, position, self.names)
            for name, seconds in node_timeouts.items():
                found[position[name]] = _check_seconds(f"node_timeouts[{name!r}]", seconds)
        return found

    def _run_cache(
        self, cache: ResultCache | None, refresh_cache: bool | Collection[str]
    ) -> RunCache | None:
        index = self.dag.index()
        if not isinstance(refresh_cache, bool):
            _refuse_unknown("refresh_cache given", refresh_cache, index.position, self.names)
        if cache is None:
            return None
        return cache.for_run(self.names, index.pred, self.given_tasks, refresh=refresh_cache)

    # -- lifecycle ---------------------------------------------------------------
    def begin(self) -> None:
        self.t0 = time.perf_counter()
        self.setup_seconds = self.t0 - self.created
        if self.trace is not None:
            self.trace.record(TraceEventType.RUN_STARTED, None, 0.0)
        self.fanout.call(self.fanout.run_start, self.dag)
        if self.fanout.watchers:
            view = RunView(
                dag=self.dag,
                names=self.names,
                statuses=self.sched.status,
                reasons=self.sched.reason,
                errors=self.errors,
                started=self.started,
                finished=self.finished,
                t0=self.t0,
                values=self.values,
                workers=self.workers,
                tasks=self.tasks,
                captured_output=None if self.capture is None else self.capture.text,
                cancel_reason=self._cancel_reason,
            )
            self.fanout.call(self.fanout.watchers, view)
        # taskless roots were skipped while the scheduler was built
        self.notify_events(self.sched.drain_events())

    def _cancel_reason(self) -> str | None:
        return self.sched.cancel_reason

    def cancel_event_set(self) -> bool:
        ev = self.cancel_event
        return ev is not None and bool(ev.is_set())  # type: ignore[attr-defined]

    def expiry_reason(self) -> str:
        """Why a node never started in a run that reached its deadline."""
        return f"not started: the run's timeout of {self.timeout:g} s passed"

    def expire(self, now: float) -> list[Transition]:
        """The run's deadline passed; returns the transitions to notify."""
        assert self.timeout is not None
        for node in self.sched.expire(self.expiry_reason()):
            self.errors[node] = NodeTimeoutError(self.names[node], self.timeout, whole_run=True)
            self.finished[node] = now
        return self.sched.drain_events()

    def time_out_node(self, node: int, now: float) -> list[Transition]:
        """A RUNNING node passed its own deadline; returns transitions to notify."""
        self.sched.abandon(node, NodeStatus.TIMED_OUT, None)
        self.errors[node] = NodeTimeoutError(self.names[node], self.node_timeout[node])
        self.finished[node] = now
        return self.sched.drain_events()

    def left_running(self, node: int) -> None:
        """Say in a TIMED_OUT node's error that its thread was left to finish."""
        error = self.errors[node]
        if isinstance(error, NodeTimeoutError) and not error.left_running:
            self.errors[node] = NodeTimeoutError(
                error.name, error.seconds, whole_run=error.whole_run, left_running=True
            )

    def abandon_running(self, reason: str, now: float) -> list[Transition]:
        """Give up on every RUNNING node (a second interrupt)."""
        for node, status in enumerate(self.sched.status):
            if status is NodeStatus.RUNNING:
                self.sched.abandon(node, NodeStatus.CANCELLED, reason)
                self.finished[node] = now
        return self.sched.drain_events()

    def overdue(self, now: float) -> list[int]:
        """RUNNING nodes whose own timeout has passed at ``now`` (perf_counter)."""
        out = []
        for node, seconds in self.node_timeout.items():
            start = self.started[node]
            if (
                start is not None
                and self.sched.status[node] is NodeStatus.RUNNING
                and now - self.t0 - start >= seconds
            ):
                out.append(node)
        return out

    def next_node_deadline(self) -> float | None:
        """The earliest perf_counter time at which a running node times out."""
        best = None
        for node, seconds in self.node_timeout.items():
            start = self.started[node]
            if start is not None and self.sched.status[node] is NodeStatus.RUNNING:
                at = self.t0 + start + seconds
                best = at if best is None or at < best else best
        return best

    # -- the cache (called with no lock held) ------------------------------------
    def cache_lookup(self, node: int) -> CacheHit | None:
        """Ask the cache for ``node``'s result before starting it.

        On a hit the value is in place (``values``, and the Pipeline's own
        store) and the node's times mark the lookup; the caller then reports
        CACHE_HIT instead of running the task. A miss is traced.
        """
        assert self.cache is not None
        start = time.perf_counter()
        hit = self.cache.lookup(node)
        if hit is None:
            if self.trace is not None:
                note = self.cache.notes.get(node)
                self.trace.record(
                    TraceEventType.NODE_CACHE_MISS, self.names[node], start - self.t0, detail=note
                )
            return None
        deliver(self.given_tasks[node], hit.value)
        return hit

    def cache_store(self, node: int, value: Any, seconds: float) -> None:
        """``node`` completed: let the cache fingerprint and keep its value."""
        if self.cache is not None:
            self.cache.store(node, value, seconds)

    # -- notifications -----------------------------------------------------------
    def notify(self, node: int, status: NodeStatus) -> None:
        """Tell callbacks and the trace that ``node`` reached ``status``."""
        if self.silent:
            return
        name = self.names[node]
        fanout = self.fanout
        if self.trace is not None:
            at = self.started[node] if status is NodeStatus.RUNNING else self.finished[node]
            if at is None:
                at = time.perf_counter() - self.t0
            detail = self.sched.reason[node]
            if status is NodeStatus.CACHE_HIT and self.cache is not None:
                detail = f"from cache, saved {self.cache.saved.get(node, 0.0):.3g} s"
            if self.errors[node] is not None:
                detail = f"{type(self.errors[node]).__name__}: {self.errors[node]}"
            self.trace.record(
                _TRACE_TYPE[status], name, at, worker=self.workers[node], detail=detail
            )
        if status is NodeStatus.RUNNING:
            fanout.call(fanout.start, name)
        elif status is NodeStatus.COMPLETED or status is NodeStatus.CACHE_HIT:
            fanout.call(fanout.complete, name, self.values[node])
        elif status is NodeStatus.FAILED:
            fanout.call(fanout.error, name, self.errors[node])
        elif status is NodeStatus.TIMED_OUT:
            fanout.call(fanout.timeout, name, self.errors[node])
        elif status is NodeStatus.SKIPPED:
            fanout.call(fanout.skip, name)
        elif status is NodeStatus.CANCELLED:
            fanout.call(fanout.cancel, name)

    def notify_events(self, events: list[Transition]) -> None:
        for event in events:
            self.notify(event.node, event.status)

    def result(self) -> ExecutionResult:
        """The result, after which ``on_run_end`` is called."""
        return self.end(self.collect())

    def collect(self) -> ExecutionResult:
        """The columns as an ``ExecutionResult``; no callback is called."""
        total = time.perf_counter() - self.t0
        if self.keeper is not None:
            self.keeper.finish([s.is_success for s in self.sched.status])
        result = ExecutionResult(
            self.dag,
            self.names,
            list(self.sched.status),
            values=self.values,
            errors=self.errors,
            started=self.started,
            finished=self.finished,
            workers=self.workers,
            reasons=list(self.sched.reason),
            total_duration_seconds=total,
            setup_seconds=self.setup_seconds,
            trace=self.trace,
            sizes=self.keeper.sizes if self.keeper is not None else None,
            tasks=self.tasks,
            captured_output=None if self.capture is None else self.capture.texts(),
        )
        if self.cache is not None:
            names = self.names
            result.cache_notes = {names[i]: note for i, note in self.cache.notes.items()}
            result.cache_saved_seconds = {names[i]: s for i, s in self.cache.saved.items()}
        return result

    def end(self, result: ExecutionResult) -> ExecutionResult:
        """Close the trace and call ``on_run_end`` (once per run)."""
        if self.ended:
            return result
        self.ended = True
        if self.trace is not None:
            self.trace.record(TraceEventType.RUN_FINISHED, None, result.total_duration_seconds)
        self.fanout.call(self.fanout.run_end, result)
        return result


def _check_flags(fail_fast: object, cancel_event: object) -> None:
    if not isinstance(fail_fast, bool):
        raise ConfigurationError(
            f"fail_fast must be True or False, got {fail_fast!r}; "
            "False lets independent branches go on after a failure."
        )
    if cancel_event is not None and not callable(getattr(cancel_event, "is_set", None)):
        raise ConfigurationError(
            f"cancel_event must be a threading.Event (or asyncio.Event), got {cancel_event!r}."
        )


def _fanout(callbacks: object, hooks: object, dag: DAG) -> CallbackFanout:
    """The run's callbacks: the executor's, and those of its HookRegistry."""
    listeners: list[object] = [callbacks]
    if hooks is not None:
        maker = getattr(hooks, "callbacks_for", None)
        if maker is None:
            raise ConfigurationError(f"hooks must be a HookRegistry, got {hooks!r}.")
        listeners.append(maker(dag))
    return CallbackFanout(listeners)


def _capture_of(listeners: list[object]) -> OutputCapture | None:
    """The run's ``OutputCapture``, if one is among its callbacks."""
    for listener in listeners:
        if isinstance(listener, OutputCapture):
            return listener
    return None


def _wrap_tasks(
    capture: OutputCapture, names: list[str], tasks: list[Callable[..., Any] | None]
) -> list[Callable[..., Any] | None]:
    return [None if fn is None else capture.wrap(name, fn) for name, fn in zip(names, tasks)]


def interrupt_with(exc: BaseException, result: ExecutionResult) -> BaseException:
    """Attach the partial result to an interrupt before it is re-raised."""
    exc.result = result  # type: ignore[attr-defined]
    return exc


class Executor:
    """What the three executors share: the constructor's checks and making a Run.

    Subclasses may override ``default_max_workers`` and supply ``execute``;
    everything the user passes is checked here, before any run.
    """

    #: a driver that asks ``Run.cache_lookup`` before each node and calls
    #: ``Run.cache_store`` after it sets this; others refuse ``cache=``
    uses_cache = False

    def __init__(
        self,
        dag: DAG,
        max_workers: int | None = None,
        costs: Mapping[str, float] | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        hooks: object = None,
        *,
        cache: ResultCache | None = None,
    ) -> None:
        if not isinstance(dag, DAG):
            raise ConfigurationError(
                f"{type(self).__name__} needs a dagron_nb DAG, got {type(dag).__name__}; "
                "build one with DAG.builder()...build()."
            )
        self.dag = dag
        self.max_workers = check_max_workers(max_workers, default=self.default_max_workers())
        cost_list(dag.index(), costs)  # refuse bad costs now, not at execute()
        self.costs = costs
        self.callbacks = callbacks
        self.fail_fast = fail_fast
        self.enable_tracing = enable_tracing
        self.hooks = hooks
        # a ContentAddressableCache (dagron's name) carries a ResultCache
        cache = getattr(cache, "result_cache", cache)
        if cache is not None and not isinstance(cache, ResultCache):
            raise ConfigurationError(
                f"cache must be a dagron_nb ResultCache (or None for no cache), got "
                f"{type(cache).__name__}; make one with ResultCache() or "
                "ResultCache(cache_dir=...)."
            )
        if cache is not None and not self.uses_cache:
            raise ConfigurationError(
                f"{type(self).__name__} does not use a result cache (yet); run with "
                "DAGExecutor or AsyncDAGExecutor for cache=, or leave cache out."
            )
        #: where results are looked up before each node runs (None: never)
        self.cache = cache
        #: the result of the last ``execute`` (also set when it was interrupted)
        self.last_result: ExecutionResult | None = None

    def default_max_workers(self) -> int | None:
        """``max_workers`` when None is given (None: no limit of the executor's own)."""
        return None

    def new_run(
        self,
        tasks: Mapping[str, Callable[..., Any] | None],
        timeout: float | None,
        cancel_event: object,
        node_timeouts: Mapping[str, float] | None,
        *,
        refresh_cache: bool | Collection[str] = False,
        outputs: Collection[str] | None = None,
    ) -> Run:
        """Check ``execute``'s arguments against a snapshot of the DAG.

        A Ctrl-C while it is being built (seconds for a million nodes) raises
        ``KeyboardInterrupt`` carrying a result in which no node started.
        """
        began = time.perf_counter()
        presses = CtrlC()  # a press is counted, not raised in the middle of the checks
        try:
            with presses:
                run = Run(
                    self.dag,
                    tasks,
                    costs=self.costs,
                    fail_fast=self.fail_fast,
                    callbacks=self.callbacks,
                    hooks=self.hooks,
                    enable_tracing=self.enable_tracing,
                    timeout=timeout,
                    cancel_event=cancel_event,
                    node_timeouts=node_timeouts,
                    cache=self.cache,
                    refresh_cache=refresh_cache,
                    outputs=outputs,
                )
        except KeyboardInterrupt as exc:  # where no handler of ours could count it
            raise interrupt_with(exc, self._not_started(began)) from None
        if presses.take():
            raise interrupt_with(KeyboardInterrupt(), self._not_started(began))
        return run

    def _not_started(self, began: float) -> ExecutionResult:
        """The result of a run interrupted while it was being built: every node
        CANCELLED, no callback called (the run never started)."""
        names = list(self.dag.index().names)
        n = len(names)
        self.last_result = ExecutionResult(
            self.dag,
            names,
            [NodeStatus.CANCELLED] * n,
            values=[None] * n,
            errors=[None] * n,
            started=[None] * n,
            finished=[None] * n,
            workers=[None] * n,
            reasons=["interrupted (KeyboardInterrupt) before the run started"] * n,
            total_duration_seconds=0.0,
            setup_seconds=time.perf_counter() - began,
        )
        return self.last_result
