"""Execution traces: a timestamped record of a run, exportable to Chrome tracing.

With ``enable_tracing=True`` an executor attaches an ``ExecutionTrace`` to its
result. ``to_chrome_trace()`` gives the Trace Event Format that
chrome://tracing and https://ui.perfetto.dev open: one complete event ("X")
per node that ran, on one track per worker, and instant events ("i") for
nodes that were skipped or cancelled without running.
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass, field
from typing import Any


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
    """One moment of a run; ``timestamp`` is seconds since the run started."""

    event_type: TraceEventType
    node_name: str | None
    timestamp: float
    worker: str | None = None
    detail: str | None = None


@dataclass
class ExecutionTrace:
    """The ordered events of one run.

    >>> trace = ExecutionTrace()
    >>> trace.record(TraceEventType.NODE_STARTED, "a", 0.0, worker="w0")
    >>> trace.record(TraceEventType.NODE_COMPLETED, "a", 0.5, worker="w0")
    >>> [e["dur"] for e in trace.to_chrome_trace()["traceEvents"] if e["ph"] == "X"]
    [500000.0]
    """

    events: list[TraceEvent] = field(default_factory=list)

    def record(
        self,
        event_type: TraceEventType,
        node_name: str | None,
        timestamp: float,
        *,
        worker: str | None = None,
        detail: str | None = None,
    ) -> None:
        # list.append is atomic under the GIL; drivers call this from many threads
        self.events.append(TraceEvent(event_type, node_name, timestamp, worker, detail))

    def for_node(self, name: str) -> list[TraceEvent]:
        return [e for e in self.events if e.node_name == name]

    def to_chrome_trace(self, process_name: str = "dagron_nb run") -> dict[str, Any]:
        """The trace in Chrome's Trace Event Format (times in microseconds)."""
        tids: dict[str, int] = {}

        def tid(worker: str | None) -> int:
            return tids.setdefault(worker or "scheduler", len(tids) + 1)

        out: list[dict[str, Any]] = []
        open_spans: dict[str, TraceEvent] = {}
        for event in sorted(self.events, key=lambda e: e.timestamp):
            kind = event.event_type
            if kind is TraceEventType.NODE_STARTED and event.node_name is not None:
                open_spans[event.node_name] = event
            elif kind in NODE_END_EVENTS and event.node_name is not None:
                start = open_spans.pop(event.node_name, None)
                args = {"status": kind.value.removeprefix("node_")}
                if event.detail:
                    args["detail"] = event.detail
                if start is not None:
                    out.append(
                        {
                            "name": event.node_name,
                            "cat": "node",
                            "ph": "X",
                            "ts": start.timestamp * 1e6,
                            "dur": max(0.0, event.timestamp - start.timestamp) * 1e6,
                            "pid": 1,
                            "tid": tid(start.worker),
                            "args": args,
                        }
                    )
                else:
                    out.append(
                        {
                            "name": event.node_name,
                            "cat": "node",
                            "ph": "i",
                            "s": "t",
                            "ts": event.timestamp * 1e6,
                            "pid": 1,
                            "tid": tid(None),
                            "args": args,
                        }
                    )
            else:
                out.append(
                    {
                        "name": kind.value,
                        "cat": "run",
                        "ph": "i",
                        "s": "p",
                        "ts": event.timestamp * 1e6,
                        "pid": 1,
                        "tid": tid(None),
                    }
                )
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
            json.dump(self.to_chrome_trace(), fh, default=str)
