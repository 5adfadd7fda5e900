"""Rich display of ``DAG`` and ``ExecutionResult`` in IPython, from outside the core.

The core must not import the notebook layer, so instead of ``_repr_svg_``
methods on its classes this module registers IPython display formatters for
them: a DAG shows as its Graphviz picture (``image/svg+xml``), a result as HTML
(a header with the counts, the coloured picture with tooltips, the failed nodes
and their errors). Without ``dot``, or above ``render.LAYOUT_LIMIT`` nodes, a DAG
shows a short HTML note and a result a summary, instead of a picture. Terminals
keep the plain ``repr``. ``register`` runs from ``%load_ext dagron_nb`` and from
``import dagron_nb`` inside an already running IPython (see
``register_if_active``); it never imports IPython itself.
"""

from __future__ import annotations

import html
import logging
import sys
from typing import Any

from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.notebook import render

logger = logging.getLogger("dagron_nb")


def dag_svg(dag: DAG) -> str | None:
    """The picture of ``dag`` for the ``image/svg+xml`` formatter (None: no picture).

    >>> import dagron_nb as dagron
    >>> dag_svg(dagron.DAG.builder().add_edge("a", "b").build()).startswith("<svg")
    True
    """
    if dag.node_count() > render.LAYOUT_LIMIT or not render.graphviz_available():
        return None
    try:
        return render.render_svg(dag)
    except Exception:  # a display hook must not raise: the repr still shows
        logger.exception("drawing %r failed", dag)
        return None


def dag_html(dag: DAG) -> str | None:
    """A note for the ``text/html`` formatter when the DAG cannot be drawn."""
    if dag.node_count() > render.LAYOUT_LIMIT:
        return render.note_html(
            f"{dag!r}: above the {render.LAYOUT_LIMIT:,}-node limit for a drawn graph."
        )
    if not render.graphviz_available():
        return render.note_html(f"{dag!r} is not drawn: {render.GraphvizNotFoundError()}")
    return None  # the SVG formatter draws it


def result_html(result: ExecutionResult) -> str:
    """A run as HTML: header with counts, coloured picture (or summary), failures.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> "2/2 done" in result_html(dagron.DAGExecutor(dag).execute({"a": int, "b": int}))
    True
    """
    header = render.header_html(result.counts, len(result.names), result.total_duration_seconds)
    summary = f'<div class="dagron-result-summary">{html.escape(result.summary())}</div>'
    n = len(result.names)
    note = None
    body = None
    if n > render.LAYOUT_LIMIT:
        note = f"{n:,} nodes: above the {render.LAYOUT_LIMIT:,}-node limit for a drawn graph."
    elif not render.graphviz_available():
        note = "The graph is not drawn: " + str(render.GraphvizNotFoundError())
    elif n:
        try:
            body = render.result_svg(result)
        except Exception as exc:  # keep the summary when drawing fails
            logger.exception("drawing the result failed")
            note = f"The graph could not be drawn ({exc})."
    if body is None:
        messages = {
            i: (render.error_text(e) or "") for i, e in enumerate(result.errors) if e is not None
        }
        body = render.summary_html(result.names, result.statuses, messages)
    else:
        body += _failures_html(result)
    return render.picture_html(summary + body, header=header, note=note, counts=result.counts)


def _failures_html(result: ExecutionResult, limit: int = 20) -> str:
    rows = [
        f"<li><code>{html.escape(render.visible_text(name))}</code>: "
        f"{html.escape(render.visible_text(render.error_text(error) or ''))}</li>"
        for name, status, error in zip(result.names, result.statuses, result.errors)
        if status in (NodeStatus.FAILED, NodeStatus.TIMED_OUT) and error is not None
    ]
    if not rows:
        return ""
    more = f"<li>… {len(rows) - limit} more</li>" if len(rows) > limit else ""
    return (
        '<div class="dagron-list-failed" style="font-size:13px"><b>failed</b>'
        f'<ul style="margin:2px 0">{"".join(rows[:limit])}{more}</ul></div>'
    )


def register(ipython: Any) -> None:
    """Add the DAG and ExecutionResult formatters to an IPython shell."""
    formatters = ipython.display_formatter.formatters
    formatters["image/svg+xml"].for_type(DAG, dag_svg)
    formatters["text/html"].for_type(DAG, dag_html)
    formatters["text/html"].for_type(ExecutionResult, result_html)


def register_if_active() -> bool:
    """Register with the running IPython shell, if there is one (True if so).

    Looks in ``sys.modules`` only: importing IPython here would make every
    ``import dagron_nb`` pay for it.
    """
    ipython_module = sys.modules.get("IPython")
    get_ipython = getattr(ipython_module, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    try:
        register(shell)
    except Exception:  # never let display set-up break ``import dagron_nb``
        logger.exception("registering dagron_nb's rich display failed")
        return False
    return True


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dagron_nb.notebook.display``: only the rich display."""
    register(ipython)
