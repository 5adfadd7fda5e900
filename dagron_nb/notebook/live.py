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
into the per-node state (``livestate.LiveState``) under its lock (the one
writer, as in dask's local scheduler) and, from ``on_run_start`` to
``on_run_end``, sends the changed nodes as one ``delta`` at most every 0.1 s,
and about once a second a full ``snapshot`` (one character per node) so a view
that opens late, or missed a delta, catches up; ``on_run_end`` sends the exact
final state. What a run's start and end do
on the caller's thread are C-level passes over the node columns (Python code
runs per node only for nodes with an error or a reason, and for the durations
of a drawn graph), about 0.5 ms for a 10,000-node no-op run. Graphs above
``render.LAYOUT_LIMIT`` nodes, machines without ``dot``, and layouts slower than
``LAYOUT_TIMEOUT`` get a summary view (progress bar, counts, running and failed
nodes) with a note that says why, and a "Draw anyway" button.

The run never waits for Graphviz. ``show()`` displays the widget under a
display id; when the run ends, the output gets the final static picture (HTML
with inline SVG, what nbconvert and GitHub show), at once if the layout is
ready, else a summary first and the graph when ``dot`` is done. If a browser
view opened the widget, the widget stays in the output beside that picture, so
the inspector and the buttons keep working after the run (and a reopened tab
finds the live model); without one (nbclient), the output is the static
picture alone and the ``svg`` trait is emptied, so the saved file holds the
picture once. What the view asks the kernel (inspect a node, Cancel, Draw
anyway, Re-run failed), and how the kernel hears it during a run, is in
``control.py``.

Contract with the browser (JS in ``static/live.js``; browser tests rely on it):

traits ``names`` (node names by index), ``meta`` ({index: metadata text}),
``svg``, ``view`` ("loading" | "graph" | "summary"), ``note``, ``palette``
([{code, status, color}] for the 8 statuses), ``title``, ``phase`` ("idle" |
"running" | "done"), ``delta`` and ``snapshot`` (with ``eta``: seconds left,
from the last run's durations, or None), ``critical`` (the last run's critical
path, node indices), ``cancelling`` ("" or "cancelling: waiting for 2 running
tasks: a, b"), ``oversize`` (offer "Draw anyway") and ``can_rerun``. The formats of ``delta``
(changed nodes, their indices a binary int32 buffer) and ``snapshot`` (every
node), and ``CODES`` (a character per status), are documented and built in
``dagron_nb.notebook.livestate``.

DOM, identical in the live widget (root ``div.dagron-live``) and in the final
static picture (root ``div.dagron-static``): node groups ``g.node.dagron-node``
with ``id="n<index>"``, ``data-node`` (the name), ``data-status`` (a
``NodeStatus`` value such as ``"running"``), class ``dagron-status-<status>``, a
shape (``path``/``polygon``) whose ``fill`` is ``STATUS_COLORS[status]`` and a
``<title>`` holding the tooltip (name, status, duration, error or reason,
metadata); header ``.dagron-header`` with ``.dagron-done`` ("3/10 done"),
``.dagron-running``, ``.dagron-failed``, ``.dagron-count-<status>`` (timed out,
cancelled, skipped, from cache), ``.dagron-elapsed``, ``.dagron-eta``,
``.dagron-phase`` and the buttons ``.dagron-cancel``, ``.dagron-rerun``,
``.dagron-draw``; the inspector ``.dagron-inspector[data-node]`` (``data-ready``
once the kernel answered); ``.dagron-note``;
legend ``.dagron-legend-item[data-status]``; summary ``.dagron-summary`` with
``.dagron-progress``, ``.dagron-list-running``, ``.dagron-list-failed``.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from dagron_nb.core.callbacks import RunView
from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.graph import DAG
from dagron_nb.core.inspection import cancel_state
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.notebook import control, render
from dagron_nb.notebook.livestate import CODES, LiveState, node_metadata
from dagron_nb.notebook.rerun import can_rerun, rerun_tasks

# The widget class itself needs anywidget at import time; the error names the extra.
AnyWidget: Any = optional_import("anywidget", purpose="the live DAG widget").AnyWidget
traitlets: Any = optional_import("traitlets", purpose="the live DAG widget")

logger = logging.getLogger("dagron_nb")

STATIC = pathlib.Path(__file__).parent / "static"

FLUSH_INTERVAL = 0.1  # seconds: at most ~10 deltas per second reach the browser
SNAPSHOT_INTERVAL = 1.0  # seconds between full snapshots during a run
LAYOUT_TIMEOUT = 30.0  # dot is stopped after this long; "draw anyway" has no limit
# With no browser view (nbclient, a plain kernel client), the end of a run gives the
# layout of a small graph (render.FAST_LAYOUT_FROM nodes at most) this long, so its
# saved picture is the graph rather than the summary; a big one's arrives later.
LAYOUT_GRACE = 0.3
FLUSHER_IDLE = 30.0  # seconds a parked flusher thread waits for another run, then ends

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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
    #: URL of the Dask dashboard of the cluster running the DAG ("" : none)
    dashboard_link = traitlets.Unicode("").tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    meta = traitlets.Dict().tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("loading").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.List().tag(sync=True)
    phase = traitlets.Unicode("idle").tag(sync=True)
    delta = traitlets.Dict().tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)
    critical = traitlets.List(traitlets.Int()).tag(sync=True)
    cancelling = traitlets.Unicode("").tag(sync=True)
    oversize = traitlets.Bool(False).tag(sync=True)
    can_rerun = traitlets.Bool(False).tag(sync=True)

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
        self.flush_interval = flush_interval
        first = _dag_of(dag).snapshot()
        # The per-node state and the messages built from it; its lock guards it,
        # and whoever holds that lock drains the events the callbacks queued.
        self._state = LiveState(first, max_layout_nodes=max_layout_nodes)
        # _send_lock orders every trait write (flusher, layout thread, caller),
        # so deltas reach the browser in sequence and hold_sync is never shared.
        self._send_lock = threading.RLock()
        self._last_snapshot = 0.0
        # The flusher thread outlives runs; the fields below are guarded by _send_lock.
        self._flusher: threading.Thread | None = None
        self._flusher_end = threading.Event()  # close(): the flusher ends now
        self._flushing = False  # a run wants a delta every flush_interval
        self._flush_due = 0.0  # perf_counter time of the next delta
        self._active_at = time.perf_counter()  # the last moment a run wanted deltas
        self._display_ids: list[str] = []
        self._layout_ready = threading.Event()
        self._layout_generation = 0
        self._svg = ""  # the layout, also when the svg trait was emptied (see _finish)
        self._final_due = False  # the run ended before its layout: publish it when ready
        self._viewed = False  # a browser view said hello: keep the widget after the run
        #: set by the Cancel button (and ``cancel()``); ``run_live`` and ``%%dagron``
        #: pass it to the executor as the run's ``cancel_event``
        self.cancel_event = threading.Event()
        self._cancel_asked = False  # the Cancel button was pressed during this run
        #: callbacks objects that also watch the runs of "Re-run failed" (the
        #: magic keeps its result variable up to date with one)
        self.rerun_callbacks: list[object] = []
        #: the result cache "Re-run failed" runs with (``%%dagron`` passes its own)
        self.rerun_cache: Any = None
        self._result: ExecutionResult | None = None  # the last run's, for the inspector
        control.listen(self)
        self.palette = [
            {"code": CODES[s], "status": s.value, "color": render.STATUS_COLORS[s]}
            for s in NodeStatus
        ]
        self.title = title or ""
        self._show_dag(first)
        with self._send_lock:
            self._ensure_flusher_locked()  # now, rather than inside the first run

    @property
    def max_layout_nodes(self) -> int:
        """Graphs with more nodes get the summary view (and no per-node durations)."""
        return self._state.max_layout_nodes

    @max_layout_nodes.setter
    def max_layout_nodes(self, value: int) -> None:
        self._state.max_layout_nodes = value

    # -- the graph and its layout ---------------------------------------------------
    def _set_dag(self, dag: DAG) -> None:
        """Adopt ``dag`` (a snapshot) and start laying it out in the background."""
        dag = dag.snapshot()
        with self._state.lock:
            self._state.set_dag_locked(dag)
        self._show_dag(dag)

    def _show_dag(self, dag: DAG, *, force: bool = False) -> None:
        """Send the state's new DAG to the browser; lay it out in the background."""
        names = list(dag.index().names)
        n = len(names)
        meta = node_metadata(dag, names)
        oversize = n > self.max_layout_nodes and not force
        if oversize:
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
            with self._state.lock:
                snapshot = self._state.snapshot_locked()
            self._svg = ""
            with self.hold_sync():
                self.names = names
                self.meta = meta
                self.svg = ""
                self.view = view
                self.note = note
                self.oversize = oversize
                self.critical = []
                self.snapshot = snapshot
        if view == "loading":
            threading.Thread(
                target=self._lay_out,
                args=(dag, self._layout_generation, None if force else LAYOUT_TIMEOUT),
                name="dagron-layout",
                daemon=True,
            ).start()
        else:
            self._layout_ready.set()

    def _lay_out(self, dag: DAG, generation: int, timeout: float | None) -> None:
        oversize = False
        try:
            # unpainted: the browser paints it, and painting 1,000 nodes here costs ~0.1 s
            svg = render.layout_svg(dag, timeout=timeout)
            view, note = "graph", ""
        except render.LayoutTimeoutError as exc:  # slow: the summary, and "draw anyway"
            svg, view, note, oversize = "", "summary", str(exc), True
        except Exception as exc:  # dot crashed or vanished: say so, keep the summary
            logger.warning("laying out the DAG failed: %s", exc)
            svg, view = "", "summary"
            note = f"Graphviz could not lay out this graph ({exc}); showing a summary."
        with self._send_lock:
            if generation != self._layout_generation:
                return  # a newer DAG replaced this one meanwhile
            self._svg = svg
            final_due, self._final_due = self._final_due, False
            with self.hold_sync():
                # a run that ended before its layout publishes the static picture in
                # the outputs show() made; with none, the widget is the only picture
                if self._viewed or not final_due or not self._display_ids:
                    self.svg = svg
                self.view = view
                self.note = note
                self.oversize = oversize
        if final_due:
            self._publish_final()
        with self._send_lock:  # ready: laid out and, after a run, the final picture shown
            if generation == self._layout_generation:
                self._layout_ready.set()

    def draw_anyway(self) -> None:
        """Lay the graph out even above ``max_layout_nodes`` or after a slow layout."""
        with self._state.lock:
            dag = self._state.dag
        self._show_dag(dag, force=True)

    def wait_for_layout(self, timeout: float | None = None) -> bool:
        """Block until the picture is laid out (or there will be none); True if so.

        When a run ended before its layout, also until the final picture is shown.
        """
        return self._layout_ready.wait(timeout)

    def inspection_columns(self) -> Any:
        """What the inspector reads: the last result, else the run being watched."""
        if self._result is not None:
            return self._result
        with self._state.lock:
            return self._state.view

    @property
    def layout(self) -> str:
        """The SVG laid out by Graphviz (unpainted), or "" while there is none."""
        return self._svg

    @property
    def statuses(self) -> dict[str, NodeStatus]:
        """``{name: NodeStatus}`` as the widget knows it now."""
        with self._state.lock:
            return self._state.statuses_locked()

    @property
    def dag(self) -> DAG:
        return self._state.dag

    # -- callbacks ---------------------------------------------------------------------
    # With dagron_nb's executors the widget *watches* the run: the executor hands
    # it the run's live columns once (``watch_run``) and the flusher polls them,
    # so the workers pay nothing per node. The ``on_node_*`` methods serve any
    # other caller (one deque append each, no lock, no trait).
    def watch_run(self, view: RunView) -> None:
        if view.names != self._state.names:
            self._set_dag(view.dag)
        with self._state.lock:
            self._state.view = view

    def on_run_start(self, dag: DAG) -> None:
        if dag.index().names != self._state.names:
            self._set_dag(dag)  # the run is of another DAG: show that one
        self._result = None
        self._cancel_asked = False
        with self._send_lock:
            with self._state.lock:
                snapshot = self._state.start_run_locked()
            with self.hold_sync():
                self.snapshot = snapshot
                self.phase = "running"
                self.cancelling = ""
                self.critical = []
                self.can_rerun = False
            self._last_snapshot = time.perf_counter()
        self._start_flusher()

    def _queue(self, name: str, status: NodeStatus, message: str | None = None) -> None:
        if self._state.queue(name, status, message) and not self._flushing:
            self._start_flusher()  # callbacks used without on_run_start

    def on_node_start(self, name: str) -> None:
        self._queue(name, NodeStatus.RUNNING)

    def on_node_complete(self, name: str, result: Any) -> None:
        self._queue(name, NodeStatus.COMPLETED)

    def on_node_error(self, name: str, error: BaseException) -> None:
        self._queue(name, NodeStatus.FAILED, render.error_text(error))

    def on_node_timeout(self, name: str, error: BaseException) -> None:
        self._queue(name, NodeStatus.TIMED_OUT, render.error_text(error))

    def on_node_skip(self, name: str) -> None:
        self._queue(name, NodeStatus.SKIPPED)

    def on_node_cancel(self, name: str) -> None:
        self._queue(name, NodeStatus.CANCELLED)

    def on_run_end(self, result: ExecutionResult) -> None:
        self._result = result
        if self._cancel_asked:  # the Cancel button's: it must not stop the next run
            self.cancel_event.clear()
        with self._send_lock:  # no flusher delta between the result and the final flush
            self._stop_flusher()
            with self._state.lock:
                self._state.end_run_locked(result)
                critical = self._state.critical_locked()
            self._flush(final=True)
            with self.hold_sync():
                self.critical = critical
                self.cancelling = ""
                self.can_rerun = can_rerun(result)
        small = len(self._state.names) <= render.FAST_LAYOUT_FROM  # dot takes ~0.1 s
        if self._display_ids and not self._viewed and small:
            self._layout_ready.wait(LAYOUT_GRACE)
        with self._send_lock:
            # The run does not wait for Graphviz: a layout still being made
            # publishes the final picture itself when it is ready.
            self._final_due = not self._layout_ready.is_set()
        self._publish_final()

    def _publish_final(self) -> None:
        """Put the final picture in the outputs ``show()`` made.

        With a browser view open, the widget stays (inspector, Re-run failed)
        with the static picture beside it as the output's ``text/html`` (what
        nbconvert and GitHub show). With none (nbclient, a closed tab), the
        output becomes the static picture alone, and the ``svg`` trait is emptied
        so that saved widget state does not hold the picture a second time.
        """
        if not self._display_ids:
            return
        bundle = self.static_bundle()
        if self._viewed:
            bundle[_WIDGET_VIEW] = self._view_data()
        else:
            with self._send_lock:
                self.svg = ""
        display = optional_import("IPython.display", purpose="showing the live DAG")
        for display_id in self._display_ids:
            display.update_display(bundle, raw=True, display_id=display_id)

    def _view_data(self) -> dict[str, Any]:
        return {"version_major": 2, "version_minor": 1, "model_id": self.model_id}

    # -- what the browser asks (control.py routes the messages) ---------------------
    def browser_opened(self) -> None:
        """A view rendered in a browser: from now on the widget stays after runs.

        A short run can end before the view's hello arrives; its output then
        became the static picture, and is turned back into the widget now.
        """
        first = not self._viewed
        self._viewed = True
        with self._send_lock:
            if self.svg != self._svg and self.view == "graph":
                self.svg = self._svg  # emptied after a run no view watched
            ended = self.phase == "done" and not self._final_due
        if first and ended:
            self._publish_final()

    def cancel(self) -> None:
        """Cancel the run: what has not started becomes CANCELLED, running tasks finish.

        Sets ``cancel_event``, which ``run_live`` and ``%%dagron`` give the
        executor; the header says "cancelling: waiting for ..." until the
        running tasks end.
        """
        self._cancel_asked = True
        self.cancel_event.set()
        with self._send_lock:
            if self.phase == "running" and not self.cancelling:
                self.cancelling = "cancelling…"

    def _cancel_message(self) -> str:
        """The header's cancel text: the run's own cancel state (Cancel button,
        kernel interrupt, cancel_event), "" when nothing is being cancelled."""
        with self._state.lock:
            view = self._state.view
        state = None if view is None else cancel_state(view)
        if state is not None:
            return state.message
        return "cancelling…" if self._cancel_asked else ""

    def rerun_failed(self) -> ExecutionResult | None:
        """Run again what did not succeed in the last run (the Re-run failed button).

        The nodes that succeeded give back their last values (``rerun.py``);
        the widget shows the new run, whose result it returns (None when
        there is nothing to re-run). ``rerun_callbacks`` watch it too.
        """
        result = self._result
        if result is None or not can_rerun(result):
            return None
        from dagron_nb.execution.capture import OutputCapture
        from dagron_nb.execution.threads import DAGExecutor

        callbacks = [self, OutputCapture(), *self.rerun_callbacks]
        executor = DAGExecutor(result.dag, callbacks=callbacks, cache=self.rerun_cache)
        return executor.execute(rerun_tasks(result), cancel_event=self.cancel_event)

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
        """Send the changed nodes as one delta (and a snapshot when due or final)."""
        with self._send_lock:
            now = time.perf_counter()
            snapshot_due = final or now - self._last_snapshot >= SNAPSHOT_INTERVAL
            with self._state.lock:
                update = self._state.update_locked(now, snapshot_due=snapshot_due)
            if update is None:
                return
            delta, snapshot = update
            cancelling = "" if final else self._cancel_message()
            with self.hold_sync():
                if cancelling != self.cancelling:
                    self.cancelling = cancelling
                self.delta = delta
                if snapshot is not None:
                    self.snapshot = snapshot
                    self._last_snapshot = now
                if final:
                    self.phase = "done"

    # -- display ----------------------------------------------------------------------
    def show(self) -> None:
        """Display the live view; when the run ends it becomes a static picture.

        The static picture is what a saved notebook (and nbconvert, GitHub)
        keeps; a layout still being made replaces the summary when it is done.
        Where a browser view shows the widget, the widget stays beside it.
        """
        ipython = optional_import("IPython", purpose="showing the live DAG")
        if ipython.get_ipython() is None:  # a plain interpreter: the text is all it shows
            print(self._text())
            return
        display = optional_import("IPython.display", purpose="showing the live DAG")
        if self.phase == "done":
            display.display(self.static_bundle(), raw=True)
            return
        n = len(self._state.names)
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        bundle = {
            _WIDGET_VIEW: self._view_data(),
            "text/plain": self._text(),
            "text/html": render.picture_html(
                render.note_html(
                    "Live view of a dagron_nb run: it needs a Jupyter front end with "
                    "ipywidgets; the final picture replaces it when the run ends."
                ),
                header=render.header_html({NodeStatus.PENDING: n}, n, 0.0, title=self.title),
            ),
        }
        display.display(bundle, raw=True, display_id=display_id)

    def static_bundle(self) -> dict[str, Any]:
        """The picture as it stands, without widgets: text/html (the SVG inline, once)."""
        with self._state.lock:
            copy = self._state.copy_locked()
        names, statuses, durations = copy.names, copy.statuses, copy.durations
        messages, result, elapsed = copy.messages, copy.result, copy.elapsed
        counts = dict.fromkeys(NodeStatus, 0)
        for status in statuses:
            counts[status] += 1
        header = render.header_html(counts, len(names), elapsed, title=self.title or None)
        bundle = {"text/plain": self._text()}
        svg = self._svg
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
                        metadata=copy.dag.get_metadata(name),
                    )
                    for i, name in enumerate(names)
                ]
            painted = render.paint_svg(svg, names, statuses, tips)
            # once: text/html is what notebooks, nbconvert and GitHub show
            bundle["text/html"] = render.picture_html(painted, header=header, counts=counts)
        else:
            note = self.note or (
                "The graph is still being laid out; this summary shows the run's end "
                "until it is drawn."
            )
            body = render.summary_html(names, statuses, messages)
            bundle["text/html"] = render.picture_html(body, header=header, note=note, counts=counts)
        return bundle

    def _text(self) -> str:
        with self._state.lock:
            summary = self._state.summary
            n = len(self._state.names)
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
    if kwargs.get("cancel_event") is None:
        kwargs["cancel_event"] = live.cancel_event  # the Cancel button stops this run
    else:
        live.cancel_event = kwargs["cancel_event"]  # the button sets the caller's event
    extra = kwargs.pop("callbacks", None)
    callbacks = [live] if extra is None else [live, extra]
    if extra is not None:
        live.rerun_callbacks.append(extra)
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
