"""Pictures of a DAG: DOT text, SVG through Graphviz, and the HTML around them.

Everything here is a pure function of a DAG, node statuses and texts, and this
is the one module that knows the status colours (``STATUS_COLORS``). Nodes get
stable ids by position (``n0``, ``n1``, ...; edges ``e0_1``), never by name, so a
name full of quotes, braces, backslashes, ``<>&``, newlines or non-ASCII cannot
break the DOT text, the SVG or the page around it. ``render_svg`` runs the real
``dot -Tsvg`` (through the ``graphviz`` package) and then *paints* the SVG: every
node group gets ``data-status``, ``data-node`` (its name), a class
``dagron-status-<status>``, its fill and a ``<title>`` holding the tooltip text,
exactly the hooks the live widget's JavaScript keeps up to date in the browser.
``paint_svg`` recolours an SVG laid out earlier, so a final picture costs no
second layout. Graphs above ``FAST_LAYOUT_FROM`` nodes are laid out with cheaper
``dot`` settings (straight edges, bounded network-simplex and crossing passes).
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagron_nb.core.errors import ConfigurationError, DagronError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.results import NodeStatus

if TYPE_CHECKING:
    from dagron_nb.core.graph import DAG
    from dagron_nb.core.results import ExecutionResult

#: Fill colour of a node per status (also the legend, the timeline and the JS).
STATUS_COLORS: dict[NodeStatus, str] = {
    NodeStatus.PENDING: "#e5e7eb",  # light grey: nothing happened yet
    NodeStatus.RUNNING: "#60a5fa",  # blue: busy now
    NodeStatus.COMPLETED: "#86efac",  # green
    NodeStatus.FAILED: "#f87171",  # red
    NodeStatus.SKIPPED: "#fde68a",  # pale amber: never ran because of something else
    NodeStatus.TIMED_OUT: "#fb923c",  # orange: a failure of time, not of code
    NodeStatus.CANCELLED: "#c4b5fd",  # lavender: the user or a deadline stopped it
    NodeStatus.CACHE_HIT: "#5eead4",  # teal: success without running
}

#: Highlighted edges (a critical path): readable on light and dark backgrounds.
CRITICAL_EDGE = "#db2777"

#: Above this many nodes ``dot`` gets cheaper settings (a 1,000-node random DAG
#: drops from ~1.7 s to ~0.5 s here, at the price of straight edges).
FAST_LAYOUT_FROM = 300

#: Above this many nodes the live widget shows a summary instead of a layout:
#: ``dot`` needs ~3.4 s for 3,000 nodes here and the picture is unreadable anyway.
LAYOUT_LIMIT = 2000

#: Labels longer than this are cut (the full name stays in the tooltip).
LABEL_MAX = 48

INSTALL_HINT = (
    "Install Graphviz to draw the graph: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), or `conda install -c conda-forge graphviz`; "
    "then run again. The `graphviz` Python package alone is not enough: it needs the `dot` "
    "program on the PATH."
)

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
# Serialise SVG elements unprefixed, as every browser and notebook expects.
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)
_NODE_ID = re.compile(r"n(\d+)\Z")
_EDGE_ID = re.compile(r"e(\d+)_(\d+)\Z")
# XML 1.0 forbids most control characters; Graphviz would copy them into the SVG.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class GraphvizNotFoundError(DagronError, RuntimeError):
    """Graphviz's ``dot`` program is not installed, so no picture can be drawn."""

    def __init__(self) -> None:
        super().__init__(f"Graphviz's `dot` program was not found on the PATH. {INSTALL_HINT}")


def node_id(index: int) -> str:
    """The SVG/DOT id of the node at ``index`` in ``dag.nodes()``: ``n<index>``."""
    return f"n{index}"


def graphviz_available() -> bool:
    """Is the ``dot`` executable that the ``graphviz`` package would run there?

    >>> isinstance(graphviz_available(), bool)
    True
    """
    try:
        graphviz = optional_import("graphviz", purpose="drawing DAGs")
    except ImportError:
        return False
    binary = getattr(graphviz.backend.dot_command, "DOT_BINARY", "dot")
    return shutil.which(os.fspath(binary)) is not None


# -- DOT --------------------------------------------------------------------------
def visible_text(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN`` (XML cannot carry them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def dot_quote(text: str) -> str:
    """A DOT double-quoted string that Graphviz shows as exactly ``text``.

    Backslashes and quotes are escaped for DOT; ``&`` becomes ``&amp;`` because
    Graphviz decodes HTML entities in labels (``a&amp;b`` would show as ``a&b``);
    newlines become DOT's ``\\n`` line breaks.

    >>> dot_quote('say "hi" & \\\\ bye')
    '"say \\\\"hi\\\\" &amp; \\\\\\\\ bye"'
    """
    text = visible_text(text)
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
    return '"' + text.replace("\n", "\\n") + '"'


def _label(name: str) -> str:
    if len(name) <= LABEL_MAX:
        return name
    return name[: LABEL_MAX - 1] + "…"


def _status_of(statuses: Mapping[str, NodeStatus | str] | None, name: str) -> NodeStatus:
    if statuses is None:
        return NodeStatus.PENDING
    status = statuses.get(name, NodeStatus.PENDING)
    return status if isinstance(status, NodeStatus) else NodeStatus(status)


def to_dot(
    dag: DAG,
    statuses: Mapping[str, NodeStatus | str] | None = None,
    *,
    title: str | None = None,
    highlight_edges: Iterable[tuple[str, str]] = (),
    tooltips: Mapping[str, str] | None = None,
) -> str:
    """The DOT text of ``dag``, nodes filled by status (missing ones are PENDING).

    ``highlight_edges`` are drawn thick and dark (e.g. a critical path);
    ``tooltips`` maps node names to hover texts.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> 'n0 -> n1' in to_dot(dag, {"a": dagron.NodeStatus.FAILED})
    True
    """
    index = dag.index()
    highlighted = _checked_highlights(dag, statuses, highlight_edges)
    lines = [
        "digraph dagron {",
        f"  graph [{', '.join(_graph_attrs(len(index.names), title))}];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica,Arial,sans-serif", '
        'fontsize=11, height=0.3, margin="0.12,0.04", color="#4b5563", penwidth=1];',
        '  edge [color="#9ca3af", arrowsize=0.6];',
    ]
    for i, name in enumerate(index.names):
        status = _status_of(statuses, name)
        attrs = [
            f'id="{node_id(i)}"',
            f"label={dot_quote(_label(name))}",
            f'fillcolor="{STATUS_COLORS[status]}"',
            f'class="dagron-node dagron-status-{status.value}"',
        ]
        if tooltips is not None and name in tooltips:
            attrs.append(f"tooltip={dot_quote(tooltips[name])}")
        lines.append(f"  {node_id(i)} [{', '.join(attrs)}];")
    edge_attrs = dag.edge_attributes()
    for i, targets in enumerate(index.succ):
        for j in targets:
            attrs = [f'id="e{i}_{j}"']
            if (i, j) in highlighted:
                attrs += [f'color="{CRITICAL_EDGE}"', "penwidth=2.5", 'class="dagron-highlight"']
            if edge_attrs:
                attrs += _edge_extras(index.names[i], index.names[j], edge_attrs)
            lines.append(f"  n{i} -> n{j} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _checked_highlights(
    dag: DAG,
    statuses: Mapping[str, NodeStatus | str] | None,
    highlight_edges: Iterable[tuple[str, str]],
) -> set[tuple[int, int]]:
    """Refuse statuses of unknown nodes and edges not in ``dag``; the highlighted
    edges as (source, target) positions."""
    position = dag.index().position
    if statuses is not None:
        unknown = [name for name in statuses if name not in position]
        if unknown:
            raise ConfigurationError(
                f"statuses name node(s) not in the DAG: {', '.join(map(repr, unknown[:5]))}; "
                "pass statuses only for the DAG's own nodes."
            )
    highlighted = set()
    for source, target in highlight_edges:
        if not dag.has_edge(source, target):
            raise ConfigurationError(
                f"highlight_edges names an edge that is not in the DAG: {source!r} -> {target!r}. "
                "Pass edges from dag.edges()."
            )
        highlighted.add((position[source], position[target]))
    return highlighted


def _graph_attrs(nodes: int, title: str | None) -> list[str]:
    """Graph attributes; big graphs get the cheap layout settings."""
    attrs = [
        'rankdir="TB"',
        'bgcolor="transparent"',  # the page's background shows: light and dark themes
        'fontname="Helvetica,Arial,sans-serif"',
        "nodesep=0.25",
        "ranksep=0.35",
    ]
    if nodes > FAST_LAYOUT_FROM:
        attrs += ['splines="line"', "nslimit=1", "nslimit1=1", "mclimit=0.3"]
    if title:
        attrs += [f"label={dot_quote(title)}", 'labelloc="t"', "fontsize=14"]
    return attrs


def _edge_extras(
    source: str, target: str, edge_attrs: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[str]:
    """An edge's label drawn on it, and its weight in its tooltip."""
    given = edge_attrs.get((source, target))
    if not given:
        return []
    extras = []
    if "label" in given:
        extras += [f"label={dot_quote(_label(given['label']))}", "fontsize=9"]
    if "weight" in given:
        tip = f"{source} → {target}: weight {given['weight']:g}"
        extras.append(f"tooltip={dot_quote(tip)}")
    return extras


# -- SVG --------------------------------------------------------------------------
def layout_svg(
    dag: DAG,
    statuses: Mapping[str, NodeStatus | str] | None = None,
    *,
    title: str | None = None,
    highlight_edges: Iterable[tuple[str, str]] = (),
    timeout: float | None = None,
) -> str:
    """Graphviz's own SVG of ``to_dot(...)``, not painted (the live widget paints in JS).

    Raises ``GraphvizNotFoundError`` (saying how to install it) without ``dot``,
    and ``LayoutTimeoutError`` when ``dot`` needs more than ``timeout`` seconds
    (it is stopped then).
    """
    graphviz = optional_import("graphviz", purpose="drawing DAGs")
    text = to_dot(dag, statuses, title=title, highlight_edges=highlight_edges)
    if timeout is not None:
        return _dot_with_timeout(graphviz, text, timeout, dag.node_count())
    try:
        svg: str = graphviz.Source(text).pipe(format="svg", encoding="utf-8", quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError() from None
    return svg


class LayoutTimeoutError(DagronError, TimeoutError):
    """Graphviz's ``dot`` took longer than allowed to lay a graph out."""


def _dot_with_timeout(graphviz: Any, text: str, timeout: float, n: int) -> str:
    """``dot -Tsvg`` in a subprocess that is stopped after ``timeout`` seconds."""
    binary = os.fspath(getattr(graphviz.backend.dot_command, "DOT_BINARY", "dot"))
    if shutil.which(binary) is None:
        raise GraphvizNotFoundError()
    try:
        done = subprocess.run(
            [binary, "-Tsvg"], input=text.encode(), capture_output=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        raise LayoutTimeoutError(
            f"Graphviz needed more than {timeout:g} s to lay out {n:,} nodes and was stopped; "
            'the summary is shown instead ("draw anyway" lays it out without a limit).'
        ) from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip()
        raise DagronError(f"Graphviz's dot failed ({exc.returncode}): {message[:300]}") from None
    return done.stdout.decode("utf-8")


def render_svg(
    dag: DAG,
    statuses: Mapping[str, NodeStatus | str] | None = None,
    *,
    title: str | None = None,
    highlight_edges: Iterable[tuple[str, str]] = (),
    tooltips: Mapping[str, str] | None = None,
) -> str:
    """Lay ``dag`` out with Graphviz ``dot`` and return the painted SVG text.

    Raises ``GraphvizNotFoundError`` (saying how to install it) without ``dot``.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> render_svg(dag).startswith("<svg")
    True
    """
    svg = layout_svg(dag, statuses, title=title, highlight_edges=highlight_edges)
    names = dag.index().names
    statuses_by_index = [_status_of(statuses, name) for name in names]
    tips = [tooltips.get(name, name) if tooltips else name for name in names]
    return paint_svg(svg, names, statuses_by_index, tips)


def paint_svg(
    svg: str,
    names: Sequence[str],
    statuses: Sequence[NodeStatus],
    tooltips: Sequence[str] | None = None,
) -> str:
    """Paint an SVG made by ``layout_svg`` or ``render_svg`` for statuses (by node index).

    Sets each node group's fill, ``data-status``, ``data-node``, status class and
    ``<title>`` (the tooltip; the name when ``tooltips`` is None), and gives each
    edge a ``<title>`` naming its two ends. No new layout is made.
    """
    root = ET.fromstring(svg)
    root.set("class", "dagron-svg")
    g_tag, title_tag = f"{{{_SVG_NS}}}g", f"{{{_SVG_NS}}}title"
    a_tag = f"{{{_SVG_NS}}}a"
    for group in root.iter(g_tag):
        gid = group.get("id", "")
        classes = group.get("class", "").split()
        if "node" in classes and (m := _NODE_ID.match(gid)):
            i = int(m.group(1))
            status = statuses[i]
            group.set("data-status", status.value)
            group.set("data-node", visible_text(names[i]))
            kept = [c for c in classes if not c.startswith("dagron-status-")]
            group.set("class", " ".join([*kept, f"dagron-status-{status.value}"]))
            _set_title(group, title_tag, tooltips[i] if tooltips is not None else names[i])
            # dot wraps a node with a tooltip in <a xlink:title>; the <title> is enough
            for anchor in group.iter(a_tag):
                anchor.attrib.pop(f"{{{_XLINK_NS}}}title", None)
            shape = _first_shape(group)
            if shape is not None:
                shape.set("fill", STATUS_COLORS[status])
        elif "edge" in classes and (m := _EDGE_ID.match(gid)):
            source, target = names[int(m.group(1))], names[int(m.group(2))]
            # an edge with a weight has dot's tooltip on an <a>: move it to <title>
            tip = None
            for anchor in group.iter(a_tag):
                tip = anchor.attrib.pop(f"{{{_XLINK_NS}}}title", None) or tip
            _set_title(group, title_tag, tip or f"{source} → {target}")
    return ET.tostring(root, encoding="unicode")


def _set_title(group: ET.Element, title_tag: str, text: str) -> None:
    title = group.find(title_tag)
    if title is None:
        title = ET.Element(title_tag)
        group.insert(0, title)
    title.text = visible_text(text)


def _first_shape(group: ET.Element) -> ET.Element | None:
    for element in group.iter():
        if element.tag.rsplit("}", 1)[-1] in ("path", "polygon", "ellipse") and element.get(
            "fill"
        ) not in (None, "none"):
            return element
    return None


# -- texts ------------------------------------------------------------------------
def format_seconds(seconds: float | None) -> str:
    """``0.0042`` -> ``'4.2 ms'``, ``75`` -> ``'1 min 15 s'``; ``None`` -> ``'—'``."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def error_text(error: BaseException | None, limit: int = 600) -> str | None:
    """``'ValueError: bad row'`` for an error, cut to ``limit`` characters."""
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tooltip_text(
    name: str,
    status: NodeStatus,
    *,
    duration: float | None = None,
    message: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    worker: str | None = None,
) -> str:
    """The hover text of a node: name, status, duration, error or reason, metadata."""
    lines = [name, f"status: {status.value}"]
    if duration is not None:
        lines.append(f"duration: {format_seconds(duration)}")
    if worker:
        lines.append(f"worker: {worker}")
    if message:
        lines.append(message)
    for key, value in (metadata or {}).items():
        shown = repr(value) if not isinstance(value, str) else value
        lines.append(f"{key}: {shown[:200]}")
    return "\n".join(lines)


def cache_hit_text(saved_seconds: float) -> str:
    """A cache hit's tooltip line, e.g. "from cache, saved 2.1 s"."""
    shown = f"{saved_seconds:.1f} s" if saved_seconds >= 0.1 else format_seconds(saved_seconds)
    return f"from cache, saved {shown}"


def result_tooltips(result: ExecutionResult) -> dict[str, str]:
    """Tooltip text per node of a finished run (error or skip reason included)."""
    dag = result.dag
    tips = {}
    for name, status, error, start, end, worker, reason in zip(
        result.names,
        result.statuses,
        result.errors,
        result.started,
        result.finished,
        result.workers,
        result.reasons,
    ):
        duration = end - start if start is not None and end is not None else None
        message = error_text(error) if not status.is_success else None
        if status is NodeStatus.CACHE_HIT and name in result.cache_saved_seconds:
            message = cache_hit_text(result.cache_saved_seconds[name])
        tips[name] = tooltip_text(
            name,
            status,
            duration=duration,
            message=message or reason,
            metadata=dag.get_metadata(name) if name in dag else None,
            worker=worker,
        )
    return tips


def result_svg(result: ExecutionResult, **kw: Any) -> str:
    """The final coloured picture of a run (tooltips: status, duration, error).

    Keyword arguments go to ``render_svg`` (``title``, ``highlight_edges``, ...).
    """
    statuses = dict(zip(result.names, result.statuses))
    kw.setdefault("tooltips", result_tooltips(result))
    return render_svg(result.dag, statuses, **kw)


# -- HTML around pictures (inline styles: notebook sanitizers drop <style>) ------------
def legend_html(counts: Mapping[NodeStatus, int] | None = None) -> str:
    """A one-line legend of the 8 status colours (with counts when given)."""
    items = []
    for status, color in STATUS_COLORS.items():
        count = f" {counts.get(status, 0)}" if counts is not None else ""
        items.append(
            f'<span class="dagron-legend-item" data-status="{status.value}" '
            'style="display:inline-flex;align-items:center;gap:4px;margin-right:10px">'
            f'<span class="dagron-swatch" style="display:inline-block;width:12px;height:12px;'
            f'border:1px solid #4b5563;border-radius:3px;background:{color}"></span>'
            f"{status.value}{count}</span>"
        )
    return (
        '<div class="dagron-legend" style="font-size:12px;margin-top:6px;'
        f'display:flex;flex-wrap:wrap">{"".join(items)}</div>'
    )


#: The header's words per status (the legend's categories; pending and running aside).
HEADER_WORDS: dict[NodeStatus, str] = {
    NodeStatus.FAILED: "failed",
    NodeStatus.TIMED_OUT: "timed out",
    NodeStatus.CANCELLED: "cancelled",
    NodeStatus.SKIPPED: "skipped",
    NodeStatus.CACHE_HIT: "from cache",
}


def header_html(
    counts: Mapping[NodeStatus, int], total: int, elapsed: float, *, title: str | None = None
) -> str:
    """done/total, running, the other legend categories and elapsed, like the live header.

    "done" counts the successes (completed and from cache); failed, timed out,
    cancelled and skipped nodes each have their own count, as in the legend.

    >>> "1 timed out" in header_html({NodeStatus.TIMED_OUT: 1}, 2, 0.5)
    True
    """
    done = counts.get(NodeStatus.COMPLETED, 0) + counts.get(NodeStatus.CACHE_HIT, 0)
    parts = [
        f'<span class="dagron-done">{done}/{total} done</span>',
        f'<span class="dagron-running">{counts.get(NodeStatus.RUNNING, 0)} running</span>',
        f'<span class="dagron-failed">{counts.get(NodeStatus.FAILED, 0)} failed</span>',
    ]
    for status, word in HEADER_WORDS.items():
        if status is not NodeStatus.FAILED and counts.get(status, 0):
            parts.append(
                f'<span class="dagron-count-{status.value}">{counts[status]} {word}</span>'
            )
    parts.append(f'<span class="dagron-elapsed">{html.escape(format_seconds(elapsed))}</span>')
    head = f"<strong>{html.escape(title)}</strong> · " if title else ""
    return (
        '<div class="dagron-header" style="font-family:sans-serif;font-size:13px;'
        f'margin-bottom:4px">{head}{" · ".join(parts)}</div>'
    )


def summary_html(
    names: Sequence[str],
    statuses: Sequence[NodeStatus],
    messages: Mapping[int, str],
    *,
    limit: int = 50,
) -> str:
    """Counts per status as a bar, plus the running and failed nodes (escaped)."""
    counts = dict.fromkeys(NodeStatus, 0)
    for status in statuses:
        counts[status] += 1
    total = max(len(statuses), 1)
    bar = "".join(
        f'<span data-status="{s.value}" style="display:inline-block;height:100%;'
        f'width:{100 * counts[s] / total:.3f}%;background:{STATUS_COLORS[s]}"></span>'
        for s in NodeStatus
        if counts[s]
    )
    rows = []
    for wanted, heading in (
        ((NodeStatus.RUNNING,), "running"),
        ((NodeStatus.FAILED, NodeStatus.TIMED_OUT), "failed"),
    ):
        picked = [i for i, s in enumerate(statuses) if s in wanted]
        if not picked:
            continue
        items = "".join(
            f"<li><code>{html.escape(visible_text(names[i]))}</code>"
            + (f": <span>{html.escape(visible_text(messages[i]))}</span>" if i in messages else "")
            + "</li>"
            for i in picked[:limit]
        )
        more = f"<li>… {len(picked) - limit} more</li>" if len(picked) > limit else ""
        rows.append(
            f'<div class="dagron-list-{heading}"><b>{heading} ({len(picked)})</b>'
            f'<ul style="margin:2px 0 6px 0">{items}{more}</ul></div>'
        )
    return (
        '<div class="dagron-summary" style="font-family:sans-serif;font-size:13px">'
        '<div class="dagron-progress" style="display:flex;height:14px;width:100%;'
        f'border:1px solid #9ca3af;border-radius:3px;overflow:hidden">{bar}</div>'
        f"{''.join(rows)}</div>"
    )


def note_html(note: str) -> str:
    """A visible note (why there is no layout, how to install Graphviz)."""
    return (
        '<div class="dagron-note" style="font-family:sans-serif;font-size:12px;'
        "background:#fff7ed;color:#7c2d12;border:1px solid #fdba74;border-radius:4px;"
        "padding:4px 8px;"
        f'margin-bottom:6px">{html.escape(note)}</div>'
    )


def picture_html(
    body: str,
    *,
    header: str,
    note: str | None = None,
    counts: Mapping[NodeStatus, int] | None = None,
) -> str:
    """The static picture: header, optional note, body (an SVG or summary), legend."""
    return (
        '<div class="dagron-static" style="font-family:sans-serif">'
        + header
        + (note_html(note) if note else "")
        + '<div class="dagron-body" style="overflow:auto;max-height:80vh">'
        + body
        + "</div>"
        + legend_html(counts)
        + "</div>"
    )
