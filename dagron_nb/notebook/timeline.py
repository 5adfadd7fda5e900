"""Pictures of a finished run: the timeline (Gantt chart) and the critical path on the DAG.

``timeline(result)`` draws one lane per worker and one bar per node that ran,
from its ``started_at`` to its ``finished_at``, filled with the status colours
of the live widget (``render.STATUS_COLORS``); the run's measured critical
path (``dagron_nb.core.analysis``) gets a thick outline and dashed links from
each node to the next. It returns a matplotlib ``Figure``: the last value of a
notebook cell renders inline, and ``fig.savefig("run.png")`` (or ``.svg``,
``.pdf``) saves it. The figure is made without pyplot, so it is not shown a
second time by pyplot's own display hook and needs no GUI backend.
``critical_path_picture(result)`` is the static DAG picture with the critical
path's edges highlighted. For every event of a run rather than a picture,
``enable_tracing=True`` and ``result.trace.save_chrome_trace("run.json")`` give
a file for https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dagron_nb.core.analysis import run_analysis
from dagron_nb.core.extras import optional_import
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.notebook.render import STATUS_COLORS, result_svg

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Bars are labelled with node names up to this many bars (beyond, they are noise);
#: a name is shortened to fit its bar, or left out, so labels never overlap.
LABEL_LIMIT = 100
_LABEL_CHARS = 24  # longest label, in characters
_LABEL_PAD = 2.0  # pixels kept free at each end of a bar
#: Outline of critical-path bars and colour of the links between them.
CRITICAL_COLOR = "#111827"
#: Lane of a node that ran without a recorded worker (hand-built results).
NO_WORKER = "(no worker)"
_DIGITS = re.compile(r"(\d+)")


def _lane_key(worker: str) -> list[Any]:
    # "dagron-worker-10" after "dagron-worker-9": compare digit runs as numbers
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(worker)]


def timeline(
    result: ExecutionResult,
    *,
    ax: Axes | None = None,
    critical_path: bool = True,
    labels: bool | None = None,
    title: str | None = None,
    width: float = 10.0,
) -> Figure:
    """A Gantt chart of ``result``: one lane per worker, one bar per node that ran.

    Bars are coloured by status as in the live widget; with ``critical_path``
    the measured critical path is outlined and linked. ``labels`` writes node
    names into bars (default: when at most ``LABEL_LIMIT`` bars). Nodes that
    never ran have no bar; the title (default ``result.summary()``) counts
    them. Pass ``ax`` to draw into an existing matplotlib Axes; otherwise a
    new figure ``width`` inches wide is made.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> fig = timeline(dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2}))
    >>> fig.axes[0].get_xlabel()
    'seconds since the run started'
    """
    figure_module = optional_import("matplotlib.figure", purpose="timeline()")
    lanes = _Lanes(result)
    if ax is None:
        height = min(1.6 + 0.45 * max(len(lanes.names), 1), 12.0)
        fig = figure_module.Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    analysis = run_analysis(result) if critical_path else None
    on_chain = analysis.on_critical_path if analysis else [False] * len(result.names)
    _draw_bars(ax, result, lanes, on_chain)
    if labels if labels is not None else len(lanes.bars) <= LABEL_LIMIT:
        _label_bars(fig, ax, [(result.names[i], s, f, lanes.row(i)) for i, s, f in lanes.bars])
    handles = _legend_handles(result, lanes)
    if analysis is not None and analysis.critical_path:
        handles.append(_draw_critical_links(ax, result, lanes, analysis.critical_path))
    _dress_axes(ax, result, lanes, result.summary() if title is None else title)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _show_figures_inline(figure_module.Figure)
    figure: Figure = fig
    return figure


class _Lanes:
    """The bars of the nodes that ran (node, start, finish), grouped by worker."""

    def __init__(self, result: ExecutionResult) -> None:
        self.bars = [
            (i, start, stop)
            for i, (start, stop) in enumerate(zip(result.started, result.finished))
            if start is not None and stop is not None
        ]
        self.worker_of = [worker or NO_WORKER for worker in result.workers]
        self.by_lane: dict[str, list[tuple[int, float, float]]] = {}
        for bar in self.bars:
            self.by_lane.setdefault(self.worker_of[bar[0]], []).append(bar)
        self.names = sorted(self.by_lane, key=_lane_key)
        self.lane_of = {worker: row for row, worker in enumerate(self.names)}

    def row(self, node: int) -> int:
        return self.lane_of[self.worker_of[node]]


def _draw_bars(ax: Axes, result: ExecutionResult, lanes: _Lanes, on_chain: list[bool]) -> None:
    """One broken_barh call per lane: a few collections instead of one artist per
    node, so a 10,000-node run draws in about a second."""
    for row, worker in enumerate(lanes.names):
        mine = lanes.by_lane[worker]
        ax.broken_barh(
            [(s, f - s) for _, s, f in mine],
            (row - 0.38, 0.76),
            facecolors=[STATUS_COLORS[result.statuses[i]] for i, _, _ in mine],
            edgecolors=[CRITICAL_COLOR if on_chain[i] else "#4b5563" for i, _, _ in mine],
            linewidths=[2.2 if on_chain[i] else 0.6 for i, _, _ in mine],
            gid=f"lane-{row}",
        )


def _legend_handles(result: ExecutionResult, lanes: _Lanes) -> list[Any]:
    """A legend entry for each status some bar has."""
    patches = optional_import("matplotlib.patches", purpose="timeline()")
    return [
        patches.Patch(facecolor=STATUS_COLORS[status], edgecolor="#4b5563", label=status.value)
        for status in NodeStatus
        if any(result.statuses[i] is status for i, _, _ in lanes.bars)
    ]


def _draw_critical_links(
    ax: Axes, result: ExecutionResult, lanes: _Lanes, critical_path: Sequence[str]
) -> Any:
    """Dashed links from each critical node's end to the next one's start; the
    legend entry for them."""
    patches = optional_import("matplotlib.patches", purpose="timeline()")
    collections = optional_import("matplotlib.collections", purpose="timeline()")
    position = result.dag.index().position
    chain = [position[name] for name in critical_path]
    links = [
        [(result.finished[p], lanes.row(p)), (result.started[c], lanes.row(c))]
        for p, c in itertools.pairwise(chain)
    ]
    ax.add_collection(
        collections.LineCollection(
            links, colors=CRITICAL_COLOR, linewidths=1.2, linestyles="dashed", gid="critical"
        )
    )
    return patches.Patch(
        facecolor="white", edgecolor=CRITICAL_COLOR, linewidth=2.2, label="critical path"
    )


def _dress_axes(ax: Axes, result: ExecutionResult, lanes: _Lanes, title: str) -> None:
    """Limits (first lane on top), ticks, labels, title and grid."""
    end = max([result.total_duration_seconds, *(f for _, _, f in lanes.bars)])
    ax.set_xlim(0.0, end * 1.02 if end > 0 else 1.0)
    ax.set_ylim(len(lanes.names) - 0.5 if lanes.names else 0.5, -0.5)
    ax.set_yticks(range(len(lanes.names)), lanes.names)
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel("worker")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    if not lanes.bars:
        ax.text(0.5, 0.5, "no node ran", transform=ax.transAxes, ha="center", va="center")


def _label_bars(fig: Figure, ax: Axes, bars: list[tuple[str, float, float, int]]) -> None:
    """Write each bar's node name into it, shortened with "…" to fit; a name
    that does not fit even so, or would touch a label already placed, is left
    out. Sizes are measured after the figure's layout is done, in the pixels
    it is drawn with (at any other dpi text and bars scale alike)."""
    texts = [
        ax.text((start + stop) / 2, row, name, ha="center", va="center", fontsize=8)
        for name, start, stop, row in bars
    ]
    fig.draw_without_rendering()  # final layout: the axes' size in pixels is known now
    to_pixels = ax.transData.transform
    placed: list[Any] = []
    for text, (name, start, stop, row) in zip(texts, bars):
        (left, _), (right, _) = to_pixels([(start, row), (stop, row)])
        room = abs(right - left) - 2 * _LABEL_PAD
        if not _fit_text(text, name, room):
            text.remove()
            continue
        box = text.get_window_extent()
        if any(box.overlaps(other) for other in placed):
            text.remove()
            continue
        placed.append(box)


def _fit_text(text: Any, name: str, room: float) -> bool:
    """Shorten ``text`` (showing ``name``) until it is at most ``room`` pixels wide."""
    if len(name) > _LABEL_CHARS:
        name = name[: _LABEL_CHARS - 1] + "…"
    text.set_text(name)
    if text.get_window_extent().width <= room:
        return True
    low, high = 0, len(name) - 1  # longest prefix (plus "…") that fits: binary search
    while low < high:
        mid = (low + high + 1) // 2
        text.set_text(name[:mid] + "…")
        if text.get_window_extent().width <= room:
            low = mid
        else:
            high = mid - 1
    if low == 0:
        return False
    text.set_text(name[:low] + "…")
    return True


def _show_figures_inline(figure_class: type) -> None:
    """Make IPython show a matplotlib ``Figure`` as a PNG if nothing else does.

    pyplot registers that display only once it has loaded its backend; a
    notebook that never touched pyplot would show our figure as the text
    ``<Figure size 1000x250 with 1 Axes>``. A formatter the user or pyplot set
    (``%matplotlib inline``, svg output, ipympl) is left alone.
    """
    ipython = sys.modules.get("IPython")  # not imported: not in IPython, nothing to do
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        try:
            formatters[mime].lookup_by_type(figure_class)
            return
        except KeyError:
            pass
    from IPython.core.pylabtools import print_figure

    formatters["image/png"].for_type(
        figure_class, partial(print_figure, fmt="png", base64=True, bbox_inches="tight")
    )


@dataclass(frozen=True)
class SvgPicture:
    """An SVG that shows itself in a notebook; ``save(path)`` writes it to a file.

    >>> picture = SvgPicture("<svg/>")
    >>> picture._repr_svg_(), picture
    ('<svg/>', <SVG picture, 6 characters; .save(path) writes it>)
    """

    svg: str = field(repr=False)

    def __repr__(self) -> str:
        # the plain-text form (terminals, and saved notebooks beside the SVG) stays short
        return f"<SVG picture, {len(self.svg):,} characters; .save(path) writes it>"

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.svg)


def critical_path_picture(result: ExecutionResult, *, title: str | None = None) -> SvgPicture:
    """The run's DAG coloured by status, with its measured critical path's edges
    drawn thick and dark (needs Graphviz's ``dot``).

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> result = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> "dagron-highlight" in critical_path_picture(result).svg
    True
    """
    analysis = run_analysis(result)
    chain = " → ".join(analysis.critical_path) if len(analysis.critical_path) <= 8 else None
    default = f"critical path: {chain}" if chain else result.summary()
    svg = result_svg(
        result,
        highlight_edges=analysis.critical_edges,
        title=default if title is None else title,
    )
    return SvgPicture(svg)
