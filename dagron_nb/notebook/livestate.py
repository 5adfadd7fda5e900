"""``LiveState``: what the live widget knows about each node, and the messages it sends.

The widget (``live.LiveDAG``) owns the threads and the traits; this module owns
the per-node state behind them (status, duration, message), how it changes
(callbacks' queued events, a watched ``RunView`` polled, a final
``ExecutionResult`` adopted) and how it is encoded for the browser. Its
methods ending in ``_locked`` run with ``LiveState.lock`` held; the widget's
flusher is the one thread that drains the events, as in dask's local
scheduler. Nothing here imports anywidget or IPython.

Protocol with the browser (JS in ``static/live.js``; browser tests rely on it):
the ``delta`` trait is ``{seq, elapsed, nodes, codes: one character per listed
node, durations: [seconds|None, ...] | None, messages: {index: text}}`` and the
``snapshot`` trait ``{seq, elapsed, codes: one character per node, durations |
None, messages}``. ``delta.nodes`` (the changed node indices) is a binary
buffer of little-endian int32, not a JSON list: ipywidgets ships it as a
message buffer untouched, where a list of 10,000 ints costs it 20,000 Python
calls to search for buffers; the browser gets a ``DataView`` (also when a view
opens late or the saved widget state is loaded) and reads it as an
``Int32Array``. A delta lists each changed node once, in no particular order.
``CODES`` maps statuses to characters; durations are sent only when a graph is
drawn (tooltips).

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("a", "b").build()
>>> state = LiveState(dag, max_layout_nodes=100)
>>> state.snapshot_locked()["codes"]
'pp'
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_not
from typing import Any

from dagron_nb.core.callbacks import RunView
from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.notebook import render

#: One character per status in ``snapshot.codes`` and ``delta.codes``.
CODES: dict[NodeStatus, str] = {
    NodeStatus.PENDING: "p",
    NodeStatus.RUNNING: "r",
    NodeStatus.COMPLETED: "c",
    NodeStatus.FAILED: "f",
    NodeStatus.SKIPPED: "s",
    NodeStatus.TIMED_OUT: "t",
    NodeStatus.CANCELLED: "x",
    NodeStatus.CACHE_HIT: "h",
}

#: (node index, new status, perf_counter time, error text or None)
_Event = tuple[int, NodeStatus, float, "str | None"]

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING


@dataclass(frozen=True)
class StateCopy:
    """The state at one moment, copied out of the lock for a static picture."""

    dag: DAG
    names: list[str]
    statuses: list[NodeStatus]
    durations: list[float | None]
    messages: dict[int, str]
    result: ExecutionResult | None
    elapsed: float


class LiveState:
    """Per-node status, duration and message of one DAG, and its deltas and snapshots.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> state = LiveState(dag, max_layout_nodes=100)
    >>> state.queue("a", NodeStatus.RUNNING)
    True
    >>> with state.lock:
    ...     delta, snapshot = state.update_locked(time.perf_counter(), snapshot_due=True)
    >>> delta["codes"], snapshot["codes"]
    ('r', 'rp')
    """

    dag: DAG
    names: list[str]
    position: dict[str, int]

    def __init__(self, dag: DAG, *, max_layout_nodes: int) -> None:
        self.max_layout_nodes = max_layout_nodes
        # Callbacks only append (node, status, time, message) here: deque appends
        # are thread-safe, so a worker never waits for another worker or the flusher.
        self.events: collections.deque[_Event] = collections.deque()
        # lock guards the per-node state below; whoever holds it drains events.
        self.lock = threading.Lock()
        self.seq = 0
        self.view: RunView | None = None  # the run being watched, if any
        self.t0: float | None = None
        self.elapsed = 0.0
        # The last run's result, kept for the final picture's tooltips only when a
        # graph can be drawn: a big result kept until the next run would be freed
        # inside that run (~0.3 ms for 10,000 nodes), and would pin the values.
        self.result: ExecutionResult | None = None
        self.summary: str | None = None  # the last run's ``result.summary()``
        # Per node name, how long it took in the last run that drew a graph: the
        # next run's ETA. Expected durations of the run going on, by index.
        self.previous: dict[str, float] = {}
        self.expected: list[float] | None = None
        self.peak_running = 1  # the most nodes seen running at once (the ETA's width)
        self.set_dag_locked(dag)

    def set_dag_locked(self, dag: DAG) -> None:
        """Adopt ``dag`` (a snapshot): its nodes, all pending."""
        names = list(dag.index().names)
        self.dag = dag
        self.names = names
        self.position = {name: i for i, name in enumerate(names)}
        self._all_nodes = _index_buffer(range(len(names)))  # the nodes of a delta of all
        self.reset_locked()

    def reset_locked(self) -> None:
        n = len(self.names)
        self.events.clear()
        self.status = [PENDING] * n
        self.started: list[float | None] = [None] * n
        self.duration: list[float | None] = [None] * n
        self.message: dict[int, str] = {}
        self.dirty: dict[int, None] = {}  # changed since the last delta, in order
        # every node changed since the last delta (a run shorter than a flush
        # interval): the next delta lists them all without a per-node pass
        self.all_dirty = False

    @property
    def durations_wanted(self) -> bool:
        """Per-node durations feed tooltips, which exist only with a drawn graph."""
        return len(self.names) <= self.max_layout_nodes

    # -- changes ------------------------------------------------------------------------
    def queue(self, name: str, status: NodeStatus, message: str | None = None) -> bool:
        """Queue a callback's event (no lock: one deque append); False if not a node."""
        i = self.position.get(name)
        if i is None:
            return False  # not a node of this DAG
        self.events.append((i, status, time.perf_counter(), message))
        return True

    def _poll_locked(self, view: RunView) -> None:
        """Take over what changed in the watched run's live columns.

        One C-level pass over the statuses (a copy, then an identity compare),
        ten times a second, instead of a Python call per node event on the
        workers' path; Python code runs only for the nodes that changed.
        """
        current = view.statuses[:]
        status, duration, message, dirty = self.status, self.duration, self.message, self.dirty
        for i in _changed(current, status):  # lazy, but it only writes where it has read
            new = current[i]
            status[i] = new
            dirty[i] = None
            if new is RUNNING or new is PENDING:
                continue
            start, end = view.started[i], view.finished[i]
            if start is not None and end is not None:
                duration[i] = end - start
            text = None if new.is_success else render.error_text(view.errors[i])
            text = text or view.reasons[i]
            if text is not None:
                message[i] = text

    def drain_locked(self) -> None:
        """Apply the events the callbacks queued (only the ones there now)."""
        if self.view is not None:
            self._poll_locked(self.view)
        events = self.events
        status, started, duration = self.status, self.started, self.duration
        message, dirty = self.message, self.dirty
        for _ in range(len(events)):
            i, new, at, text = events.popleft()
            status[i] = new
            if new is RUNNING:
                started[i] = at
            else:
                start = started[i]
                if start is not None:
                    duration[i] = at - start
            if text is not None:
                message[i] = text
            dirty[i] = None

    def statuses_locked(self) -> dict[str, NodeStatus]:
        self.drain_locked()
        return dict(zip(self.names, self.status))

    def start_run_locked(self) -> dict[str, Any]:
        """All nodes pending, the clock started; the snapshot to send."""
        self.reset_locked()
        self.result = None
        self.summary = None
        self.peak_running = 1
        known = self.previous or _remembered(self.names)
        self.expected = None
        if known and self.durations_wanted:
            self.expected = [known.get(name, 0.0) for name in self.names]
        self.t0 = time.perf_counter()
        self.elapsed = 0.0
        self.seq += 1
        return self.snapshot_locked()

    def end_run_locked(self, result: ExecutionResult) -> None:
        """Stop watching; the state becomes exactly the result's."""
        self.view = None
        self.result = result if self.durations_wanted else None
        self.summary = result.summary()
        self.expected = None
        self._adopt_result_locked(result)
        if self.durations_wanted and result.names == self.names:
            self.previous = {
                name: seconds
                for name, seconds, status in zip(self.names, self.duration, self.status)
                if seconds is not None and status is not NodeStatus.CACHE_HIT
            }
            _remember(self.names, self.previous)

    def _adopt_result_locked(self, result: ExecutionResult) -> None:
        """Make the state exactly the result's: statuses, messages, durations.

        Callbacks cannot tell a CACHE_HIT from a completion and never hear skip
        reasons, so the result has the last word; the events still queued carry
        nothing it does not, and are dropped. Per-node Python work happens only
        where the result differs from what the browser was sent, or has an
        error or reason: finding those nodes is a C-level pass over a column
        (this runs inside the run's wall time, on the caller's thread).
        """
        status, statuses = self.status, result.statuses
        if result.names == self.names:
            self.events.clear()
            where: Sequence[int] = range(len(self.names))
            if statuses != status:  # members compare by identity
                if status.count(PENDING) == len(status) and PENDING not in statuses:
                    self.all_dirty = True  # the browser saw no change yet: all of them
                else:
                    self.dirty.update(dict.fromkeys(_changed(statuses, status)))
                status[:] = statuses
        else:  # a result of another DAG: take over what matches by name
            self.drain_locked()
            where = [self.position.get(name, -1) for name in result.names]
            for i, new in zip(where, statuses):
                if i >= 0 and status[i] is not new:
                    status[i] = new
                    self.dirty[i] = None
        errors = result.errors
        for k in _not_none(errors):
            i = where[k]
            if i >= 0 and not statuses[k].is_success:
                self._set_message_locked(i, render.error_text(errors[k]))
        reasons = result.reasons
        for k in _not_none(reasons):
            if where[k] >= 0:
                self._set_message_locked(where[k], reasons[k])
        for name, seconds in result.cache_saved_seconds.items():  # cyan nodes' tooltips
            i = self.position.get(name, -1)
            if i >= 0:
                self._set_message_locked(i, render.cache_hit_text(seconds))
        if self.durations_wanted:
            for i, start, end in zip(where, result.started, result.finished):
                if i >= 0:
                    known = start is not None and end is not None
                    self.duration[i] = end - start if known else None  # type: ignore[operator]
        self.elapsed = result.total_duration_seconds
        self.t0 = None

    def _set_message_locked(self, i: int, message: str | None) -> None:
        if message is not None and self.message.get(i) != message:
            self.message[i] = message
            self.dirty[i] = None

    # -- messages to the browser --------------------------------------------------------
    def update_locked(
        self, now: float, *, snapshot_due: bool
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """Drain, then the next ``(delta, snapshot or None)``; None if nothing to send.

        A delta is flat (parallel ``nodes`` / ``codes`` / ``durations`` plus a
        dict of messages): ipywidgets walks nested lists one Python call per
        item when it looks for binary buffers, flat lists cost a loop, and
        ``nodes`` (all of them, in a run's final delta) is one binary buffer,
        which it does not walk at all.
        """
        self.drain_locked()
        if not self.dirty and not self.all_dirty and not snapshot_due:
            return None
        if self.t0 is not None:
            self.elapsed = now - self.t0
        self.seq += 1
        delta = self._delta_locked()
        return delta, self.snapshot_locked() if snapshot_due else None

    def _delta_locked(self) -> dict[str, Any]:
        """The nodes changed since the last delta (all of them: C-level copies)."""
        status, duration, message, dirty = self.status, self.duration, self.message, self.dirty
        self.dirty = {}
        durations = None
        if self.all_dirty:
            self.all_dirty = False
            buffer = self._all_nodes
            codes = _codes(status)
            messages = {str(i): text for i, text in message.items()}
            if self.durations_wanted:
                durations = list(map(_round, duration))
        else:
            nodes = list(dirty)
            buffer = _index_buffer(nodes)
            codes = _codes(list(map(status.__getitem__, nodes)))
            if len(message) < len(nodes):  # loop over the shorter of the two
                messages = {str(i): text for i, text in message.items() if i in dirty}
            else:
                messages = {str(i): message[i] for i in nodes if i in message}
            if self.durations_wanted:
                durations = [_round(duration[i]) for i in nodes]
        return {
            "seq": self.seq,
            "elapsed": round(self.elapsed, 3),
            "nodes": buffer,
            "codes": codes,
            "durations": durations,
            "messages": messages,
        }

    def snapshot_locked(self) -> dict[str, Any]:
        """The full state, for views that open late or missed a delta."""
        durations = None
        if self.durations_wanted:
            durations = list(map(_round, self.duration))
        return {
            "seq": self.seq,
            "elapsed": round(self.elapsed, 3),
            "codes": _codes(self.status),
            "durations": durations,
            "messages": {str(i): m for i, m in self.message.items()},
            "eta": self.eta_locked(),
        }

    def eta_locked(self) -> float | None:
        """Seconds the run still needs, from the last run's durations; None if unknown.

        The larger of two bounds: the longest chain of remaining work (a running
        node counts what it has left), and all the remaining work spread over as
        many workers as were ever seen busy at once.
        """
        expected, t0 = self.expected, self.t0
        if expected is None or t0 is None:
            return None
        now = time.perf_counter()
        index = self.dag.index()
        left = [0.0] * len(expected)
        running = 0
        for i, status in enumerate(self.status):
            if status is PENDING:
                left[i] = expected[i]
            elif status is RUNNING:
                running += 1
                began = self._started_at(i, t0)
                busy = 0.0 if began is None else now - began
                left[i] = max(expected[i] - busy, 0.0)
        self.peak_running = max(self.peak_running, running)
        chain = [0.0] * len(left)
        for i in index.topo:
            before = max((chain[p] for p in index.pred[i]), default=0.0)
            chain[i] = before + left[i]
        longest = max(chain, default=0.0)
        return round(max(longest, sum(left) / self.peak_running), 2)

    def _started_at(self, i: int, t0: float) -> float | None:
        """perf_counter time node ``i`` started (a watched run's, or a callback's)."""
        view = self.view
        if view is not None:
            began = view.started[i]
            return None if began is None else view.t0 + began
        return self.started[i]

    def critical_locked(self) -> list[int]:
        """The last run's critical path (node indices), when a graph is drawn."""
        result = self.result
        if result is None or result.names != self.names or not self.durations_wanted:
            return []
        try:
            path = result.critical_path()
        except Exception:  # an odd result must not break the final picture
            return []
        return [self.position[name] for name in path if name in self.position]

    def copy_locked(self) -> StateCopy:
        """Drain, then a copy of the state for a static picture."""
        self.drain_locked()
        return StateCopy(
            dag=self.dag,
            names=list(self.names),
            statuses=list(self.status),
            durations=list(self.duration),
            messages=dict(self.message),
            result=self.result,
            elapsed=self.elapsed if self.t0 is None else time.perf_counter() - self.t0,
        )


# The last durations of the graphs this kernel ran with a live view, so that a
# new widget for the same graph (each %%dagron run makes one) has an ETA too.
_MEMORY: collections.OrderedDict[frozenset[str], dict[str, float]] = collections.OrderedDict()
_MEMORY_GRAPHS = 32


def _remember(names: Sequence[str], durations: dict[str, float]) -> None:
    key = frozenset(names)
    _MEMORY[key] = durations
    _MEMORY.move_to_end(key)
    while len(_MEMORY) > _MEMORY_GRAPHS:
        _MEMORY.popitem(last=False)


def _remembered(names: Sequence[str]) -> dict[str, float]:
    return _MEMORY.get(frozenset(names), {})


def node_metadata(dag: DAG, names: Sequence[str]) -> dict[str, str]:
    """The ``meta`` trait: ``{index: "key: value" lines}`` for nodes with metadata."""
    meta = {}
    for i, name in enumerate(names):
        data = dag.get_metadata(name)
        if data:
            meta[str(i)] = "\n".join(f"{k}: {_short(v)}" for k, v in data.items())
    return meta


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)


# The helpers below find and encode nodes with C-level passes (map, compress,
# list.count, array): they run on a run's critical path at its end, over every node.
def _changed(new: list[NodeStatus], old: list[NodeStatus]) -> Iterable[int]:
    """Indices where ``new`` and ``old`` hold different members."""
    return compress(range(len(new)), map(is_not, new, old))


def _not_none(column: Sequence[Any]) -> Iterable[int]:
    """Indices of the entries of ``column`` that are not None (none: no pass at all)."""
    if column.count(None) == len(column):
        return ()
    return compress(range(len(column)), map(is_not, column, repeat(None)))


def _codes(statuses: list[NodeStatus]) -> str:
    """One ``CODES`` character per status; one C-level count when all are alike."""
    if statuses and statuses.count(statuses[0]) == len(statuses):
        return CODES[statuses[0]] * len(statuses)
    return "".join(map(CODES.__getitem__, statuses))


# "i" is 4 bytes on every platform CPython runs on; "l" is the fallback if not.
_INT32 = "i" if array("i").itemsize == 4 else "l"


def _index_buffer(indices: Sequence[int]) -> memoryview:
    """Node indices as little-endian int32 bytes: ipywidgets sends a memoryview
    as a binary message buffer instead of searching a JSON list of ints."""
    packed = array(_INT32, indices)
    if sys.byteorder == "big":
        packed.byteswap()
    return memoryview(packed)
