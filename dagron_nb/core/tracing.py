"""Execution traces: a timestamped record of a run, exportable to Chrome tracing.

With ``enable_tracing=True`` an executor attaches an ``ExecutionTrace`` to its
result. ``events``, ``events_for_node(name)``, ``to_json()`` and
``summary()`` read it as the original dagron's trace does, with the same
``TraceEventType`` names (``EXECUTION_STARTED`` and ``EXECUTION_COMPLETED``
around the node events). ``to_chrome_trace()`` gives the Trace Event Format that
chrome://tracing and https://ui.perfetto.dev open: one complete event ("X")
per node that ran, on one track per worker, and instant events ("i") for
nodes that were skipped or cancelled without running.
"""

from __future__ import annotations

import enum
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from dagron_nb.core.refs import NodeRef


class TraceEventType(enum.Enum):
    """What happened; the member names and values are the original dagron's."""

    EXECUTION_STARTED = "execution_started"
    NODE_STARTED = "node_started"
    NODE_COMPLETED = "node_completed"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    NODE_TIMED_OUT = "node_timed_out"
    NODE_CANCELLED = "node_cancelled"
    #: the node's result came from the cache; it did not run (a terminal event)
    NODE_CACHE_HIT = "node_cache_hit"
    #: the cache had no entry for the node, so it runs
    NODE_CACHE_MISS = "node_cache_miss"
    EXECUTION_COMPLETED = "execution_completed"
    # Earlier dagron_nb names, kept as aliases of the same members.
    RUN_STARTED = "execution_started"
    RUN_FINISHED = "execution_completed"


#: Event types that close a node's span (or mark a node that never ran).
NODE_END_EVENTS = frozenset(
    {
        TraceEventType.NODE_COMPLETED,
        TraceEventType.NODE_FAILED,
        TraceEventType.NODE_SKIPPED,
        TraceEventType.NODE_TIMED_OUT,
        TraceEventType.NODE_CANCELLED,
        TraceEventType.NODE_CACHE_HIT,
    }
)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One moment of a run; ``timestamp`` is seconds since the run started.

    The original dagron's fields are all here: ``error`` (``"Type: message"``
    of a failed or timed-out node), ``duration`` (of a node's end event, from
    its start), ``step_index`` and ``metadata``; ``worker`` and ``detail``
    (the reason a node was skipped or cancelled) are dagron_nb's own.
    """

    event_type: TraceEventType
    node_name: str | None = None
    timestamp: float = 0.0
    worker: str | None = None
    detail: str | None = None
    step_index: int | None = None
    duration: float | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, JSON-ready (``event_type`` as its value)."""
        record: dict[str, Any] = {"event_type": self.event_type.value, "timestamp": self.timestamp}
        for key in ("node_name", "worker", "detail", "step_index", "duration", "error"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.metadata:
            record["metadata"] = self.metadata
        return record


_ERROR_EVENTS = frozenset({TraceEventType.NODE_FAILED, TraceEventType.NODE_TIMED_OUT})


@dataclass
class ExecutionTrace:
    """The ordered events of one run.

    Executors record with explicit times; code written for the original dagron
    may leave ``timestamp`` out (then it is the time since the first event).
    An end event gets its ``duration`` from the node's start event, and a
    failure its ``error`` from ``detail``, when the caller gives none.

    >>> trace = ExecutionTrace()
    >>> trace.record(TraceEventType.NODE_STARTED, "a", 0.0, worker="w0")
    >>> trace.record(TraceEventType.NODE_FAILED, "a", 0.5, worker="w0", detail="ValueError: x")
    >>> [(e.event_type.value, e.duration, e.error) for e in trace.events_for_node("a")]
    [('node_started', None, None), ('node_failed', 0.5, 'ValueError: x')]
    """

    events: list[TraceEvent] = field(default_factory=list)
    _open: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _t0: float | None = field(default=None, init=False, repr=False)

    def record(
        self,
        event_type: TraceEventType,
        node_name: str | None = None,
        timestamp: float | None = None,
        *,
        worker: str | None = None,
        detail: str | None = None,
        step_index: int | None = None,
        duration: float | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if timestamp is None:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            timestamp = now - self._t0
        if node_name is not None:
            if event_type is TraceEventType.NODE_STARTED:
                self._open[node_name] = timestamp
            elif event_type in NODE_END_EVENTS:
                start = self._open.pop(node_name, None)
                if duration is None and start is not None:
                    duration = max(0.0, timestamp - start)
        if error is None and event_type in _ERROR_EVENTS:
            error = detail
        # list.append is atomic under the GIL; drivers call this from many threads
        self.events.append(
            TraceEvent(
                event_type,
                node_name,
                timestamp,
                worker,
                detail,
                step_index,
                duration,
                error,
                metadata or {},
            )
        )

    def events_for_node(self, name: str | NodeRef) -> list[TraceEvent]:
        """The events of one node, in the order they were recorded."""
        key = name.name if isinstance(name, NodeRef) else name
        return [e for e in self.events if e.node_name == key]

    #: the earlier dagron_nb name of ``events_for_node``
    for_node = events_for_node

    def to_json(self) -> str:
        """The events as a JSON array of objects (only the fields that are set)."""
        return json.dumps([e.to_dict() for e in self.events], indent=2, default=str)

    def summary(self) -> str:
        """A few lines: how many events and nodes, outcomes, and the time spanned."""
        order = ("COMPLETED", "CACHE_HIT", "FAILED", "TIMED_OUT", "SKIPPED", "CANCELLED")
        counts = {TraceEventType["NODE_" + kind]: 0 for kind in order}
        for event in self.events:
            if event.event_type in counts:
                counts[event.event_type] += 1
        nodes = {e.node_name for e in self.events if e.node_name is not None}
        times = [e.timestamp for e in self.events]
        span = max(times) - min(times) if times else 0.0
        lines = [f"trace: {len(self.events)} events, {len(nodes)} nodes, {span:.4f} s"]
        lines += [f"  {kind.value.removeprefix('node_')}: {n}" for kind, n in counts.items() if n]
        return "\n".join(lines)

    def to_chrome_trace(self, process_name: str = "dagron_nb run") -> str:
        """The trace in Chrome's Trace Event Format, as a JSON string (as in the
        original dagron); ``chrome_trace()`` gives the same as a dict."""
        return json.dumps(self.chrome_trace(process_name), default=str)

    def chrome_trace(self, process_name: str = "dagron_nb run") -> dict[str, Any]:
        """The trace in Chrome's Trace Event Format (times in microseconds)."""
        tids: dict[str, int] = {}

        def tid(worker: str | None) -> int:
            return tids.setdefault(worker or "scheduler", len(tids) + 1)

        out: list[dict[str, Any]] = []
        open_spans: dict[str, TraceEvent] = {}
        for event in sorted(self.events, key=lambda e: e.timestamp):
            kind, name = event.event_type, event.node_name
            if kind is TraceEventType.NODE_STARTED and name is not None:
                open_spans[name] = event
            elif kind in NODE_END_EVENTS and name is not None:
                start = open_spans.pop(name, None)
                worker = start.worker if start is not None else None
                out.append({**_node_end(event, start), "pid": 1, "tid": tid(worker)})
            else:
                out.append({**_instant(event), "pid": 1, "tid": tid(None)})
        meta: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": process_name}}
        ]
        meta += [
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": n, "args": {"name": worker}}
            for worker, n in tids.items()
        ]
        return {"traceEvents": meta + out, "displayTimeUnit": "ms"}

    def save_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_chrome_trace()`` as JSON; open it in chrome://tracing or Perfetto."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.chrome_trace(), fh, default=str)


def _node_end(event: TraceEvent, start: TraceEvent | None) -> dict[str, Any]:
    """A node's span from its start to ``event`` ("X"), or an instant ("i") if
    it never started (skipped, cancelled, taken from the cache)."""
    args = {"status": event.event_type.value.removeprefix("node_")}
    if event.detail:
        args["detail"] = event.detail
    if start is None:
        at = event.timestamp * 1e6
        return {"name": event.node_name, "cat": "node", "ph": "i", "s": "t", "ts": at, "args": args}
    return {
        "name": event.node_name,
        "cat": "node",
        "ph": "X",
        "ts": start.timestamp * 1e6,
        "dur": max(0.0, event.timestamp - start.timestamp) * 1e6,
        "args": args,
    }


def _instant(event: TraceEvent) -> dict[str, Any]:
    """A run event ("execution_started", ...), or a node event that is not a
    span's end (a cache miss), as an instant."""
    instant: dict[str, Any] = {
        "name": event.event_type.value,
        "cat": "run",
        "ph": "i",
        "s": "p",
        "ts": event.timestamp * 1e6,
    }
    if event.node_name is not None:
        instant.update(cat="node", s="t", args={"node": event.node_name})
    return instant
