"""``LiveDAG``: a widget that is also a callbacks object, coloured while a run goes.

How it works. The constructor starts Graphviz ``dot`` in a background thread
and returns at once; the SVG is sent to the browser once, as the ``svg`` trait,
when it is ready. Callbacks arrive on worker threads (or the event loop): each
appends ``(node, status, time)`` to a deque (thread-safe appends: no worker
ever waits on another) and touches no trait; with dagron_nb's executors even
that is skipped: the widget is a *watcher* (``watch_run``) and the flusher
reads the run's live status column itself. A flusher thread (started with the
widget, ticking between runs, ended after ``FLUSHER_IDLE`` seconds without a
run or by ``close()``: a run's start or end wakes no thread) drains the deque
into the per-node state under a lock (the one writer, as in dask's local
scheduler) and, from ``on_run_start`` to ``on_run_end``, sends the changed
nodes as one ``delta`` at most every 0.1 s, and about once a second a full
``snapshot`` (one character per node) so a view that opens late, or missed a
delta, catches up; ``on_run_end`` sends the exact final state. What a run's start and end do
on the caller's thread are C-level passes over the node columns (Python code
runs per node only for nodes with an error or a reason, and for the durations
of a drawn graph), about 0.5 ms for a 10,000-node no-op run. Graphs above
``render.LAYOUT_LIMIT`` nodes, and machines without ``dot``, get a summary view
(progress bar, counts, running and failed nodes) with a note that says why.
``show()`` displays the widget under a display id and, when the run ends,
replaces it with a static picture (HTML with inline SVG plus
``image/svg+xml``), so a saved notebook, nbconvert's HTML and GitHub show the
final coloured graph without any widget state.

Contract with the browser (JS in ``static/live.js``; browser tests rely on it):

traits ``names`` (node names by index), ``meta`` ({index: metadata text}),
``svg``, ``view`` ("loading" | "graph" | "summary"), ``note``, ``palette``
([{code, status, color}] for the 8 statuses), ``title``, ``phase`` ("idle" |
"running" | "done"), ``delta`` ({seq, elapsed, nodes, codes: one character
per listed node, durations: [seconds|None, ...] | None, messages: {index:
text}}) and ``snapshot`` ({seq, elapsed, codes: one character per node,
durations | None, messages}). ``delta.nodes`` (the changed node indices) is a
binary buffer of little-endian int32, not a JSON list: ipywidgets ships it as
a message buffer untouched, where a list of 10,000 ints costs it 20,000
Python calls to search for buffers; the browser gets a ``DataView`` (also when
a view opens late or the saved widget state is loaded) and reads it as an
``Int32Array``. A delta lists each changed node once, in no particular order.
``CODES`` maps statuses to characters; durations are sent only when a graph is
drawn (tooltips).

DOM, identical in the live widget (root ``div.dagron-live``) and in the final
static picture (root ``div.dagron-static``): node groups ``g.node.dagron-node``
with ``id="n<index>"``, ``data-node`` (the name), ``data-status`` (a
``NodeStatus`` value such as ``"running"``), class ``dagron-status-<status>``, a
shape (``path``/``polygon``) whose ``fill`` is ``STATUS_COLORS[status]`` and a
``<title>`` holding the tooltip (name, status, duration, error or reason,
metadata); header ``.dagron-header`` with ``.dagron-done`` ("3/10 done"),
``.dagron-running``, ``.dagron-failed``, ``.dagron-elapsed``; ``.dagron-note``;
legend ``.dagron-legend-item[data-status]``; summary ``.dagron-summary`` with
``.dagron-progress``, ``.dagron-list-running``, ``.dagron-list-failed``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import pathlib
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, repeat
from operator import is_not
from typing import Any

from dagron_nb.core.callbacks import RunView
from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.notebook import render

# The widget class itself needs anywidget at import time; the error names the extra.
AnyWidget: Any = optional_import("anywidget", purpose="the live DAG widget").AnyWidget
traitlets: Any = optional_import("traitlets", purpose="the live DAG widget")

logger = logging.getLogger("dagron_nb")

STATIC = pathlib.Path(__file__).parent / "static"

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

FLUSH_INTERVAL = 0.1  # seconds: at most ~10 deltas per second reach the browser
SNAPSHOT_INTERVAL = 1.0  # seconds between full snapshots during a run
LAYOUT_WAIT = 15.0  # how long the end of a run waits for a layout still being made
FLUSHER_IDLE = 30.0  # seconds a parked flusher thread waits for another run, then ends

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: (node index, new status, perf_counter time, error text or None)
_Event = tuple[int, NodeStatus, float, "str | None"]

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
FAILED = NodeStatus.FAILED
SKIPPED = NodeStatus.SKIPPED
TIMED_OUT = NodeStatus.TIMED_OUT
CANCELLED = NodeStatus.CANCELLED


class LiveDAG(AnyWidget):  # type: ignore[misc]  # anywidget is untyped
    """A DAG picture that colours itself as a run proceeds; pass it as callbacks.

    >>> import dagron_nb as dagron
    >>> from dagron_nb.notebook import LiveDAG
    >>> dag = dagron.DAG.builder().add_edge("load", "fit").build()
    >>> live = LiveDAG(dag, title="training")
    >>> result = dagron.DAGExecutor(dag, callbacks=live).execute(
    ...     {"load": lambda: 1, "fit": lambda: 2})
    >>> live.statuses["fit"].value
    'completed'
    """

    _esm = STATIC / "live.js"
    _css = STATIC / "live.css"

    title = traitlets.Unicode("").tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    meta = traitlets.Dict().tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("loading").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.List().tag(sync=True)
    phase = traitlets.Unicode("idle").tag(sync=True)
    delta = traitlets.Dict().tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        dag: Any,
        *,
        title: str | None = None,
        max_layout_nodes: int = render.LAYOUT_LIMIT,
        flush_interval: float = FLUSH_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_layout_nodes = max_layout_nodes
        self.flush_interval = flush_interval
        # Callbacks only append (node, status, time, message) here: deque appends
        # are thread-safe, so a worker never waits for another worker or the flusher.
        self._events: collections.deque[_Event] = collections.deque()
        # _lock guards the per-node state below; whoever holds it drains _events.
        self._lock = threading.Lock()
        # _send_lock orders every trait write (flusher, layout thread, caller),
        # so deltas reach the browser in sequence and hold_sync is never shared.
        self._send_lock = threading.RLock()
        self._seq = 0
        self._view: RunView | None = None  # the run being watched, if any
        self._t0: float | None = None
        self._elapsed = 0.0
        self._last_snapshot = 0.0
        # The flusher thread outlives runs; the fields below are guarded by _send_lock.
        self._flusher: threading.Thread | None = None
        self._flusher_end = threading.Event()  # close(): the flusher ends now
        self._flushing = False  # a run wants a delta every flush_interval
        self._flush_due = 0.0  # perf_counter time of the next delta
        self._active_at = time.perf_counter()  # the last moment a run wanted deltas
        self._display_ids: list[str] = []
        # The last run's result, kept for the final picture's tooltips only when a
        # graph can be drawn: a big result kept until the next run would be freed
        # inside that run (~0.3 ms for 10,000 nodes), and would pin the values.
        self._result: ExecutionResult | None = None
        self._summary: str | None = None  # the last run's ``result.summary()``
        self._layout_ready = threading.Event()
        self._layout_generation = 0
        self.palette = [
            {"code": CODES[s], "status": s.value, "color": render.STATUS_COLORS[s]}
            for s in NodeStatus
        ]
        self.title = title or ""
        self._set_dag(_dag_of(dag))
        with self._send_lock:
            self._ensure_flusher_locked()  # now, rather than inside the first run

    # -- the graph and its layout ---------------------------------------------------
    def _set_dag(self, dag: DAG) -> None:
        """Adopt ``dag`` (a snapshot) and start laying it out in the background."""
        dag = dag.snapshot()
        names = list(dag.index().names)
        n = len(names)
        with self._lock:
            self._dag = dag
            self._names = names
            self._position = {name: i for i, name in enumerate(names)}
            self._all_nodes = _index_buffer(range(n))  # the nodes of a delta of all
            self._reset_locked()
        meta = {}
        for i, name in enumerate(names):
            data = dag.get_metadata(name)
            if data:
                meta[str(i)] = "\n".join(f"{k}: {_short(v)}" for k, v in data.items())
        if n > self.max_layout_nodes:
            view = "summary"
            note = (
                f"{n:,} nodes is above the {self.max_layout_nodes:,}-node limit for a drawn "
                "graph (Graphviz would need many seconds and the picture would be "
                "unreadable), so this view shows counts, progress and the running and "
                "failed nodes instead. LiveDAG(dag, max_layout_nodes=...) raises the limit."
            )
        elif not render.graphviz_available():
            view = "summary"
            note = "The graph is not drawn: " + str(render.GraphvizNotFoundError())
        else:
            view, note = "loading", ""
        with self._send_lock:
            self._layout_generation += 1
            self._layout_ready.clear()
            with self._lock:
                snapshot = self._snapshot_locked()
            with self.hold_sync():
                self.names = names
                self.meta = meta
                self.svg = ""
                self.view = view
                self.note = note
                self.snapshot = snapshot
        if view == "loading":
            threading.Thread(
                target=self._lay_out,
                args=(dag, self._layout_generation),
                name="dagron-layout",
                daemon=True,
            ).start()
        else:
            self._layout_ready.set()

    def _lay_out(self, dag: DAG, generation: int) -> None:
        try:
            # unpainted: the browser paints it, and painting 1,000 nodes here costs ~0.1 s
            svg = render.layout_svg(dag)
            view, note = "graph", ""
        except Exception as exc:  # dot crashed or vanished: say so, keep the summary
            logger.warning("laying out the DAG failed: %s", exc)
            svg, view = "", "summary"
            note = f"Graphviz could not lay out this graph ({exc}); showing a summary."
        with self._send_lock:
            if generation != self._layout_generation:
                return  # a newer DAG replaced this one meanwhile
            with self.hold_sync():
                self.svg = svg
                self.view = view
                self.note = note
            self._layout_ready.set()

    def wait_for_layout(self, timeout: float | None = None) -> bool:
        """Block until the picture is laid out (or there will be none); True if so."""
        return self._layout_ready.wait(timeout)

    # -- state (guarded by _lock) -------------------------------------------------------
    def _reset_locked(self) -> None:
        n = len(self._names)
        self._events.clear()
        self._status = [PENDING] * n
        self._started: list[float | None] = [None] * n
        self._duration: list[float | None] = [None] * n
        self._message: dict[int, str] = {}
        self._dirty: dict[int, None] = {}  # changed since the last delta, in order
        # every node changed since the last delta (a run shorter than a flush
        # interval): the next delta lists them all without a per-node pass
        self._all_dirty = False

    def _poll_locked(self, view: RunView) -> None:
        """Take over what changed in the watched run's live columns.

        One C-level pass over the statuses (a copy, then an identity compare),
        ten times a second, instead of a Python call per node event on the
        workers' path; Python code runs only for the nodes that changed.
        """
        current = view.statuses[:]
        status, duration, message, dirty = self._status, self._duration, self._message, self._dirty
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

    def _drain_locked(self) -> None:
        """Apply the events the callbacks queued (only the ones there now)."""
        if self._view is not None:
            self._poll_locked(self._view)
        events = self._events
        status, started, duration = self._status, self._started, self._duration
        message, dirty = self._message, self._dirty
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

    @property
    def statuses(self) -> dict[str, NodeStatus]:
        """``{name: NodeStatus}`` as the widget knows it now."""
        with self._lock:
            self._drain_locked()
            return dict(zip(self._names, self._status))

    @property
    def dag(self) -> DAG:
        return self._dag

    # -- callbacks ---------------------------------------------------------------------
    # With dagron_nb's executors the widget *watches* the run: the executor hands
    # it the run's live columns once (``watch_run``) and the flusher polls them,
    # so the workers pay nothing per node. The ``on_node_*`` methods serve any
    # other caller (one deque append each, no lock, no trait).
    def watch_run(self, view: RunView) -> None:
        if view.names != self._names:
            self._set_dag(view.dag)
        with self._lock:
            self._view = view

    def on_run_start(self, dag: DAG) -> None:
        if dag.index().names != self._names:
            self._set_dag(dag)  # the run is of another DAG: show that one
        with self._send_lock:
            with self._lock:
                self._reset_locked()
                self._result = None
                self._summary = None
                self._t0 = time.perf_counter()
                self._elapsed = 0.0
                self._seq += 1
                snapshot = self._snapshot_locked()
            with self.hold_sync():
                self.snapshot = snapshot
                self.phase = "running"
            self._last_snapshot = time.perf_counter()
        self._start_flusher()

    def _queue(self, name: str, status: NodeStatus, message: str | None = None) -> None:
        i = self._position.get(name)
        if i is None:
            return  # not a node of this widget's DAG
        self._events.append((i, status, time.perf_counter(), message))
        if not self._flushing:
            self._start_flusher()  # callbacks used without on_run_start

    def on_node_start(self, name: str) -> None:
        self._queue(name, RUNNING)

    def on_node_complete(self, name: str, result: Any) -> None:
        self._queue(name, COMPLETED)

    def on_node_error(self, name: str, error: BaseException) -> None:
        self._queue(name, FAILED, render.error_text(error))

    def on_node_timeout(self, name: str, error: BaseException) -> None:
        self._queue(name, TIMED_OUT, render.error_text(error))

    def on_node_skip(self, name: str) -> None:
        self._queue(name, SKIPPED)

    def on_node_cancel(self, name: str) -> None:
        self._queue(name, CANCELLED)

    def on_run_end(self, result: ExecutionResult) -> None:
        with self._send_lock:  # no flusher delta between the result and the final flush
            self._stop_flusher()
            with self._lock:
                self._view = None
                self._result = result if self._durations_wanted else None
                self._summary = result.summary()
                self._adopt_result_locked(result)
            self._flush(final=True)
        if self._display_ids:
            self._layout_ready.wait(LAYOUT_WAIT)
            bundle = self.static_bundle()
            display = optional_import("IPython.display", purpose="showing the live DAG")
            for display_id in self._display_ids:
                display.update_display(bundle, raw=True, display_id=display_id)

    def _adopt_result_locked(self, result: ExecutionResult) -> None:
        """Make the state exactly the result's: statuses, messages, durations.

        Callbacks cannot tell a CACHE_HIT from a completion and never hear skip
        reasons, so the result has the last word; the events still queued carry
        nothing it does not, and are dropped. Per-node Python work happens only
        where the result differs from what the browser was sent, or has an
        error or reason: finding those nodes is a C-level pass over a column
        (this runs inside the run's wall time, on the caller's thread).
        """
        status, statuses = self._status, result.statuses
        if result.names == self._names:
            self._events.clear()
            where: Sequence[int] = range(len(self._names))
            if statuses != status:  # members compare by identity
                if status.count(PENDING) == len(status) and PENDING not in statuses:
                    self._all_dirty = True  # the browser saw no change yet: all of them
                else:
                    self._dirty.update(dict.fromkeys(_changed(statuses, status)))
                status[:] = statuses
        else:  # a result of another DAG: take over what matches by name
            self._drain_locked()
            where = [self._position.get(name, -1) for name in result.names]
            for i, new in zip(where, statuses):
                if i >= 0 and status[i] is not new:
                    status[i] = new
                    self._dirty[i] = None
        errors = result.errors
        for k in _not_none(errors):
            i = where[k]
            if i >= 0 and not statuses[k].is_success:
                self._set_message_locked(i, render.error_text(errors[k]))
        reasons = result.reasons
        for k in _not_none(reasons):
            if where[k] >= 0:
                self._set_message_locked(where[k], reasons[k])
        if self._durations_wanted:
            for i, start, end in zip(where, result.started, result.finished):
                if i >= 0:
                    known = start is not None and end is not None
                    self._duration[i] = end - start if known else None  # type: ignore[operator]
        self._elapsed = result.total_duration_seconds
        self._t0 = None

    def _set_message_locked(self, i: int, message: str | None) -> None:
        if message is not None and self._message.get(i) != message:
            self._message[i] = message
            self._dirty[i] = None

    @property
    def _durations_wanted(self) -> bool:
        """Per-node durations feed tooltips, which exist only with a drawn graph."""
        return len(self._names) <= self.max_layout_nodes

    # -- sending ----------------------------------------------------------------------
    # The flusher ticks every flush_interval, also between runs (a flag check),
    # so neither a run's start nor its end wakes a thread: a thread woken at a
    # run's start measurably slowed short runs (a 10,000-node no-op run went
    # from ~18 ms to ~30 ms far more often). It ends after FLUSHER_IDLE seconds
    # without a run, or on close(); the next run starts another.
    def _ensure_flusher_locked(self) -> None:
        if self._flusher is None:
            self._flusher_end = threading.Event()
            self._flusher = threading.Thread(
                target=self._flush_loop,
                args=(self._flusher_end,),
                name="dagron-live-flush",
                daemon=True,
            )
            self._flusher.start()

    def _start_flusher(self) -> None:
        """Send a delta every ``flush_interval`` from now until ``_stop_flusher``."""
        with self._send_lock:
            self._flushing = True
            self._flush_due = time.perf_counter() + self.flush_interval
            self._ensure_flusher_locked()

    def _stop_flusher(self) -> None:
        """No delta from the flusher after this returns (until the next start)."""
        with self._send_lock:  # a flush under way ends first: it holds this lock
            self._flushing = False
            self._active_at = time.perf_counter()

    def _end_flusher(self) -> None:
        with self._send_lock:
            flusher, self._flusher = self._flusher, None
            self._flushing = False
            self._flusher_end.set()
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()

    def _flush_loop(self, end: threading.Event) -> None:
        """Flush when due while a run wants it; tick between runs; end when idle."""
        me = threading.current_thread()
        while True:
            with self._send_lock:
                if self._flusher is not me:
                    return  # closed
                now = time.perf_counter()
                if self._flushing:
                    if now >= self._flush_due:
                        try:
                            self._flush()
                        except Exception:  # never let a display problem kill the flusher
                            logger.exception("updating the live DAG failed")
                        now = time.perf_counter()
                        self._flush_due = now + self.flush_interval  # a full interval apart
                    timeout = self._flush_due - now
                else:
                    idle_left = self._active_at + FLUSHER_IDLE - now
                    if idle_left <= 0:
                        self._flusher = None  # no run for FLUSHER_IDLE seconds
                        return
                    timeout = min(self.flush_interval, idle_left)
            end.wait(timeout)

    def _flush(self, *, final: bool = False) -> None:
        """Send the changed nodes as one delta (and a snapshot when due or final).

        A delta is flat (parallel ``nodes`` / ``codes`` / ``durations`` plus a
        dict of messages): ipywidgets walks nested lists one Python call per
        item when it looks for binary buffers, flat lists cost a loop, and
        ``nodes`` (all of them, in a run's final delta) is one binary buffer,
        which it does not walk at all.
        """
        with self._send_lock:
            now = time.perf_counter()
            snapshot_due = final or now - self._last_snapshot >= SNAPSHOT_INTERVAL
            with self._lock:
                self._drain_locked()
                if not self._dirty and not self._all_dirty and not snapshot_due:
                    return
                if self._t0 is not None:
                    self._elapsed = now - self._t0
                self._seq += 1
                delta = self._delta_locked()
                snapshot = self._snapshot_locked() if snapshot_due else None
            with self.hold_sync():
                self.delta = delta
                if snapshot is not None:
                    self.snapshot = snapshot
                    self._last_snapshot = now
                if final:
                    self.phase = "done"

    def _delta_locked(self) -> dict[str, Any]:
        """The nodes changed since the last delta (all of them: C-level copies)."""
        status, duration, message, dirty = self._status, self._duration, self._message, self._dirty
        self._dirty = {}
        durations = None
        if self._all_dirty:
            self._all_dirty = False
            buffer = self._all_nodes
            codes = _codes(status)
            messages = {str(i): text for i, text in message.items()}
            if self._durations_wanted:
                durations = list(map(_round, duration))
        else:
            nodes = list(dirty)
            buffer = _index_buffer(nodes)
            codes = _codes(list(map(status.__getitem__, nodes)))
            if len(message) < len(nodes):  # loop over the shorter of the two
                messages = {str(i): text for i, text in message.items() if i in dirty}
            else:
                messages = {str(i): message[i] for i in nodes if i in message}
            if self._durations_wanted:
                durations = [_round(duration[i]) for i in nodes]
        return {
            "seq": self._seq,
            "elapsed": round(self._elapsed, 3),
            "nodes": buffer,
            "codes": codes,
            "durations": durations,
            "messages": messages,
        }

    def _snapshot_locked(self) -> dict[str, Any]:
        """The full state, for views that open late or missed a delta."""
        durations = None
        if self._durations_wanted:
            durations = list(map(_round, self._duration))
        return {
            "seq": self._seq,
            "elapsed": round(self._elapsed, 3),
            "codes": _codes(self._status),
            "durations": durations,
            "messages": {str(i): m for i, m in self._message.items()},
        }

    # -- display ----------------------------------------------------------------------
    def show(self) -> None:
        """Display the live view; when the run ends it becomes a static picture.

        The static picture is what a saved notebook (and nbconvert, GitHub)
        keeps; the end of the run waits up to ``LAYOUT_WAIT`` seconds for a
        layout still being made, so that picture is the graph. Use
        ``display(live)`` instead to keep the widget after the run (its saved
        form then needs widget state to show anything).
        """
        ipython = optional_import("IPython", purpose="showing the live DAG")
        if ipython.get_ipython() is None:  # a plain interpreter: the text is all it shows
            print(self._text())
            return
        display = optional_import("IPython.display", purpose="showing the live DAG")
        if self.phase == "done":
            display.display(self.static_bundle(), raw=True)
            return
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        bundle = {
            _WIDGET_VIEW: {"version_major": 2, "version_minor": 1, "model_id": self.model_id},
            "text/plain": self._text(),
            "text/html": render.picture_html(
                render.note_html(
                    "Live view of a dagron_nb run: it needs a Jupyter front end with "
                    "ipywidgets; the final picture replaces it when the run ends."
                ),
                header=render.header_html(
                    {NodeStatus.PENDING: len(self._names)}, len(self._names), 0.0, title=self.title
                ),
            ),
        }
        display.display(bundle, raw=True, display_id=display_id)

    def static_bundle(self) -> dict[str, str]:
        """The picture as it stands, without widgets: text/html (+ image/svg+xml)."""
        with self._lock:
            self._drain_locked()
            names = list(self._names)
            statuses = list(self._status)
            durations = list(self._duration)
            messages = dict(self._message)
            result = self._result
            elapsed = self._elapsed if self._t0 is None else time.perf_counter() - self._t0
        counts = dict.fromkeys(NodeStatus, 0)
        for status in statuses:
            counts[status] += 1
        header = render.header_html(counts, len(names), elapsed, title=self.title or None)
        bundle = {"text/plain": self._text()}
        svg = self.svg
        if self.view == "graph" and svg:
            if result is not None and result.names == names:
                tips_by_name = render.result_tooltips(result)
                tips = [tips_by_name[name] for name in names]
            else:
                tips = [
                    render.tooltip_text(
                        name,
                        statuses[i],
                        duration=durations[i],
                        message=messages.get(i),
                        metadata=self._dag.get_metadata(name),
                    )
                    for i, name in enumerate(names)
                ]
            painted = render.paint_svg(svg, names, statuses, tips)
            bundle["image/svg+xml"] = painted
            bundle["text/html"] = render.picture_html(painted, header=header, counts=counts)
        else:
            note = self.note or "The layout was not ready when the run ended."
            body = render.summary_html(names, statuses, messages)
            bundle["text/html"] = render.picture_html(body, header=header, note=note, counts=counts)
        return bundle

    def _text(self) -> str:
        with self._lock:
            summary = self._summary
            n = len(self._names)
        label = f"LiveDAG {self.title!r}" if self.title else "LiveDAG"
        if summary is not None:
            return f"{label}: {summary}"
        return f"{label}: {n} nodes"

    def close(self) -> None:
        self._end_flusher()
        super().close()


def _dag_of(obj: Any) -> DAG:
    if isinstance(obj, DAG):
        return obj
    dag = getattr(obj, "dag", None)
    if isinstance(dag, DAG):
        return dag
    raise ConfigurationError(
        f"LiveDAG needs a DAG or a Pipeline, got {type(obj).__name__}; "
        "pass dag (from DAG.builder()...build()) or a Pipeline."
    )


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


# -- one call: show and run -----------------------------------------------------------
_EXECUTOR_ARGS = ("max_workers", "costs", "fail_fast", "enable_tracing", "hooks")
_EXECUTE_ARGS = ("timeout", "cancel_event", "node_timeouts")


def run_live(
    dag_or_pipeline: Any,
    tasks: Mapping[str, Any] | None = None,
    *,
    executor: str = "threads",
    title: str | None = None,
    **execute_kwargs: Any,
) -> ExecutionResult:
    """Show a ``LiveDAG``, run, and return the result (the picture stays behind).

    ``dag_or_pipeline`` is a DAG with ``tasks`` (name -> callable), or a
    ``Pipeline`` with ``tasks`` as its inputs. ``executor`` is ``"threads"`` or
    ``"async"``; other keywords go to the executor or ``execute`` (``max_workers``,
    ``fail_fast``, ``timeout``, ``callbacks`` to add your own, ...).

    >>> import dagron_nb as dagron
    >>> from dagron_nb.notebook import run_live
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> result = run_live(dag, {"a": lambda: 1, "b": lambda: 2})
    LiveDAG: 2 nodes
    >>> result.succeeded
    2
    """
    runner, live = _prepare(dag_or_pipeline, tasks, executor, title, execute_kwargs)
    live.show()
    if executor == "threads":
        return runner()  # type: ignore[no-any-return]
    coro = runner()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[no-any-return]
    # Inside a running loop (a notebook cell): drive it re-entrantly.
    nest_asyncio = optional_import("nest_asyncio", purpose="run_live(executor='async')")
    nest_asyncio.apply(loop)
    return loop.run_until_complete(coro)  # type: ignore[no-any-return]


async def run_live_async(
    dag_or_pipeline: Any,
    tasks: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
    **execute_kwargs: Any,
) -> ExecutionResult:
    """``await run_live_async(...)``: ``run_live`` on the running loop (async executor)."""
    runner, live = _prepare(dag_or_pipeline, tasks, "async", title, execute_kwargs)
    live.show()
    return await runner()  # type: ignore[no-any-return]


def _prepare(
    target: Any,
    tasks: Mapping[str, Any] | None,
    executor: str,
    title: str | None,
    kwargs: dict[str, Any],
) -> tuple[Callable[[], Any], LiveDAG]:
    if executor not in ("threads", "async"):
        raise ConfigurationError(f"executor must be 'threads' or 'async', got {executor!r}.")
    allowed = (*_EXECUTOR_ARGS, *_EXECUTE_ARGS, "callbacks")
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f"run_live got unknown keyword(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}."
        )
    from dagron_nb.execution.aio import AsyncDAGExecutor
    from dagron_nb.execution.pipeline import Pipeline
    from dagron_nb.execution.threads import DAGExecutor

    live = LiveDAG(target, title=title or getattr(target, "name", None))
    extra = kwargs.pop("callbacks", None)
    callbacks = [live] if extra is None else [live, extra]
    if isinstance(target, Pipeline):
        if executor == "threads":
            return lambda: target.execute(tasks, callbacks=callbacks, **kwargs), live
        return lambda: target.execute_async(tasks, callbacks=callbacks, **kwargs), live
    if tasks is None:
        raise ConfigurationError(
            "run_live(dag, tasks) needs tasks: a dict of node name -> callable."
        )
    ctor = {k: kwargs[k] for k in _EXECUTOR_ARGS if k in kwargs}
    call = {k: kwargs[k] for k in _EXECUTE_ARGS if k in kwargs}
    dag = _dag_of(target)
    if executor == "threads":
        runner = DAGExecutor(dag, callbacks=callbacks, **ctor)
        return lambda: runner.execute(tasks, **call), live
    arunner = AsyncDAGExecutor(dag, callbacks=callbacks, **ctor)
    return lambda: arunner.execute(tasks, **call), live
