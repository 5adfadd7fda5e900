"""Callbacks and hooks: how user code hears about a run while it happens.

A callbacks object is anything with any subset of these methods::

    on_node_start(name)             on_node_complete(name, result)
    on_node_error(name, error)      on_node_skip(name)
    on_node_timeout(name, error)    on_node_cancel(name)
    on_run_start(dag)               on_run_end(result)

An object without ``on_node_timeout`` hears a timed-out node through
``on_node_error`` (with a ``NodeTimeoutError``), and one without
``on_node_cancel`` hears a cancelled node through ``on_node_skip``, so a progress
counter built on the four spec methods always reaches the node count. The
``ExecutionCallbacks`` dataclass (plain functions, the original dagron's field
names) is accepted as well, and so is a list of any of these.

A callback that raises an ``Exception`` (or ``asyncio.CancelledError``: a
callback cannot cancel the run) is logged on the ``dagron_nb`` logger and the
run goes on. Any other ``BaseException`` (``KeyboardInterrupt``,
``SystemExit``, ...) is a request to stop: the fan-out never lets it escape
into the executor's machinery, records it as ``stop`` and tells the executor
(``on_stop``), which stops the run cleanly and re-raises it from ``execute``
with the partial result attached as ``exc.result``.

An observer that only needs to *look* at a run now and then (a display that
refreshes ten times a second) defines ``watch_run(view)`` instead: it receives
a ``RunView`` of the run's live columns once, at the start, and then gets no
per-node calls at all, so it costs the executor nothing per node.
``on_run_start`` and ``on_run_end`` still reach it.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagron_nb.core.errors import ConfigurationError

if TYPE_CHECKING:
    from dagron_nb.core.graph import DAG
    from dagron_nb.core.results import ExecutionResult, NodeStatus

logger = logging.getLogger("dagron_nb")


@dataclass
class ExecutionCallbacks:
    """Callbacks as plain functions; every field is optional.

    >>> seen = []
    >>> cb = ExecutionCallbacks(on_complete=lambda name, value: seen.append(name))
    """

    on_start: Callable[[str], Any] | None = None
    on_complete: Callable[[str, Any], Any] | None = None
    on_failure: Callable[[str, BaseException], Any] | None = None
    on_skip: Callable[[str], Any] | None = None

    # Expose the protocol's method names, so the fan-out treats both alike.
    def __getattr__(self, attr: str) -> Any:
        field = _DATACLASS_FIELDS.get(attr)
        if field is not None:
            fn = self.__dict__.get(field)
            if fn is not None:
                return fn
        raise AttributeError(attr)


_DATACLASS_FIELDS = {
    "on_node_start": "on_start",
    "on_node_complete": "on_complete",
    "on_node_error": "on_failure",
    "on_node_skip": "on_skip",
}


@dataclass(frozen=True)
class RunView:
    """The live columns of a run in progress, indexed like ``dag.index().names``.

    The executor updates these lists in place while the run goes; a watcher
    reads them (never writes) from any thread. Reading one element is atomic,
    so a poller sees every node's status as it was at some recent moment; the
    exact final state is the ``ExecutionResult`` passed to ``on_run_end``.
    ``started`` / ``finished`` are seconds since ``t0`` (a ``time.perf_counter``
    value); an entry may stay None until the node has finished. ``values``,
    ``workers``, ``tasks`` and ``captured_output`` (node name -> what it
    printed so far) feed ``core.inspection.inspect_node`` mid-run;
    ``cancel_reason()`` is why the run is being cancelled (None while it is
    not), for ``core.inspection.cancel_state``.
    """

    dag: DAG
    names: list[str]
    statuses: list[NodeStatus]
    reasons: list[str | None]
    errors: list[BaseException | None]
    started: list[float | None]
    finished: list[float | None]
    t0: float
    values: list[Any] | None = None
    workers: list[str | None] | None = None
    tasks: list[Callable[..., Any] | None] | None = None
    captured_output: Callable[[str], str] | None = None
    cancel_reason: Callable[[], str | None] | None = None


def _flatten(callbacks: object) -> list[object]:
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return [c for item in callbacks for c in _flatten(item)]
    return [callbacks]


class CallbackFanout:
    """Calls every registered callback for an event; nothing a callback raises escapes."""

    def __init__(self, callbacks: object = None) -> None:
        self.objects = _flatten(callbacks)
        #: the first KeyboardInterrupt / SystemExit / ... a callback raised
        self.stop: BaseException | None = None
        #: told about every such exception, from the thread that caught it
        self.on_stop: Callable[[BaseException], Any] | None = None
        self.start: list[Callable[..., Any]] = []
        self.complete: list[Callable[..., Any]] = []
        self.error: list[Callable[..., Any]] = []
        self.skip: list[Callable[..., Any]] = []
        self.timeout: list[Callable[..., Any]] = []
        self.cancel: list[Callable[..., Any]] = []
        self.run_start: list[Callable[..., Any]] = []
        self.run_end: list[Callable[..., Any]] = []
        self.watchers: list[Callable[[RunView], Any]] = []
        for obj in self.objects:
            self._add(obj)

    def _add(self, obj: object) -> None:
        def method(name: str) -> Callable[..., Any] | None:
            fn = getattr(obj, name, None)
            return fn if callable(fn) else None

        pairs = [
            (self.start, method("on_node_start")),
            (self.complete, method("on_node_complete")),
            (self.error, method("on_node_error")),
            (self.skip, method("on_node_skip")),
            (self.timeout, method("on_node_timeout") or method("on_node_error")),
            (self.cancel, method("on_node_cancel") or method("on_node_skip")),
            (self.run_start, method("on_run_start")),
            (self.run_end, method("on_run_end")),
        ]
        watch = method("watch_run")
        if watch is not None:
            # a watcher reads the live columns itself: no per-node calls for it
            pairs = [(self.watchers, watch), *pairs[-2:]]
        if not any(fn for _, fn in pairs):
            raise ConfigurationError(
                f"callbacks object {obj!r} has none of the callback methods "
                "(on_node_start, on_node_complete, on_node_error, on_node_skip, ...); "
                "pass an object that defines some of them, or ExecutionCallbacks(...)."
            )
        for target, fn in pairs:
            if fn is not None:
                target.append(fn)

    @property
    def node_events(self) -> bool:
        """True if anybody listens to per-node events (the drivers' fast path)."""
        return bool(
            self.start or self.complete or self.error or self.skip or self.timeout or self.cancel
        )

    def call(self, fns: list[Callable[..., Any]], *args: Any) -> None:
        for fn in fns:
            try:
                fn(*args)
            except (Exception, asyncio.CancelledError):
                logger.exception("callback %r raised; the run goes on", fn)
            except BaseException as exc:  # KeyboardInterrupt, SystemExit, ...
                self._stopped(fn, exc)

    def _stopped(self, fn: Callable[..., Any], exc: BaseException) -> None:
        logger.warning("callback %r raised %s; the run stops", fn, type(exc).__name__)
        if self.stop is None:
            self.stop = exc
        if self.on_stop is not None:
            self.on_stop(exc)


# -- hooks ------------------------------------------------------------------------
class HookEvent(enum.Enum):
    """When a hook handler is called."""

    PRE_EXECUTE = "pre_execute"  # before the first node starts
    POST_EXECUTE = "post_execute"  # after the result is complete
    PRE_NODE = "pre_node"  # a node is about to run its task
    POST_NODE = "post_node"  # a node finished (any outcome but never-started)
    ON_ERROR = "on_error"  # a node failed or timed out


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook handler receives."""

    event: HookEvent
    dag: DAG | None
    node_name: str | None = None
    result: Any = None
    error: BaseException | None = None


class HookRegistry:
    """Handlers for ``HookEvent`` s; higher ``priority`` runs first.

    >>> hooks = HookRegistry()
    >>> seen = []
    >>> unregister = hooks.register(HookEvent.PRE_NODE, lambda ctx: seen.append(ctx.node_name))
    """

    def __init__(self) -> None:
        self._handlers: dict[HookEvent, list[tuple[int, int, Callable[[HookContext], Any]]]] = {
            event: [] for event in HookEvent
        }
        self._counter = itertools.count()

    def register(
        self,
        event: HookEvent,
        handler: Callable[[HookContext], Any],
        priority: int = 0,
    ) -> Callable[[], None]:
        """Subscribe ``handler``; returns a function that unsubscribes it."""
        if not isinstance(event, HookEvent):
            raise TypeError(
                f"event must be a HookEvent, got {event!r}; "
                f"use one of {', '.join(e.name for e in HookEvent)}."
            )
        if not callable(handler):
            raise TypeError(f"hook handler must be callable, got {handler!r}")
        entry = (-priority, next(self._counter), handler)
        self._handlers[event].append(entry)
        self._handlers[event].sort(key=lambda e: (e[0], e[1]))

        def unregister() -> None:
            if entry in self._handlers[event]:
                self._handlers[event].remove(entry)

        return unregister

    def handlers(self, event: HookEvent) -> list[Callable[[HookContext], Any]]:
        return [h for _, _, h in self._handlers[event]]

    def fire(self, context: HookContext) -> None:
        for handler in self.handlers(context.event):
            try:
                handler(context)
            except Exception:
                logger.exception(
                    "hook %r raised on %s; the run goes on", handler, context.event.name
                )

    def callbacks_for(self, dag: DAG) -> _HookCallbacks:
        """A callbacks object that turns run events into hook calls."""
        return _HookCallbacks(self, dag)


class _HookCallbacks:
    def __init__(self, registry: HookRegistry, dag: DAG) -> None:
        self._registry = registry
        self._dag = dag

    def _fire(self, event: HookEvent, name: str | None = None, **kw: Any) -> None:
        self._registry.fire(HookContext(event, self._dag, name, **kw))

    def on_run_start(self, dag: DAG) -> None:
        self._fire(HookEvent.PRE_EXECUTE)

    def on_run_end(self, result: ExecutionResult) -> None:
        self._fire(HookEvent.POST_EXECUTE, result=result)

    def on_node_start(self, name: str) -> None:
        self._fire(HookEvent.PRE_NODE, name)

    def on_node_complete(self, name: str, result: Any) -> None:
        self._fire(HookEvent.POST_NODE, name, result=result)

    def on_node_error(self, name: str, error: BaseException) -> None:
        self._fire(HookEvent.ON_ERROR, name, error=error)
        self._fire(HookEvent.POST_NODE, name, error=error)
