"""What the live widget's browser view asks the kernel, and how the kernel hears it mid-run.

The view (``static/live.js``) sends custom widget messages:
``{"type": "hello"}`` when it renders, ``{"type": "inspect", "node": i, "id": n}``
when a node is clicked (answered with ``{"type": "inspection", "node": i, "id":
n, "html": ...}``), ``{"type": "cancel"}`` (the Cancel button), ``{"type":
"draw"}`` ("draw anyway") and ``{"type": "rerun"}`` ("Re-run failed").

The catch is timing: a click during a run reaches a kernel whose main thread is
busy running the cell, and ipykernel handles a shell message on the main
thread only once the cell is over. ipykernel 7 has *subshells*: JupyterLab
(4.4 and later, also Notebook 7) sends comm messages to one, where another
thread handles them at once. But ipykernel 7.4 sends a comm's messages to the
subshell that last *published* on it (``BaseComm._reply_subshell_for``), and
our traits are published from the cell and the flusher thread, that is, the
main shell, so every click would queue behind the run. ``listen`` tells the
widget's comm to keep the subshell the frontend chose. The handlers below are
thread-safe (the widget's locks), so where they run does not matter. A
frontend without subshells (VS Code today) still queues the clicks until the
cell ends: the inspector then works after the run, and a kernel interrupt is
the way to stop a run.
"""

from __future__ import annotations

import html
import logging
import threading
from typing import TYPE_CHECKING, Any

from dagron_nb.notebook import render

if TYPE_CHECKING:
    from dagron_nb.notebook.live import LiveDAG

logger = logging.getLogger("dagron_nb")


def listen(widget: LiveDAG) -> None:
    """Route the widget's browser messages to ``handle``, also while a cell runs."""
    widget.on_msg(handle)
    comm = getattr(widget, "comm", None)
    if comm is not None and hasattr(comm, "_reply_subshell_for"):
        # keep the frontend's subshell (see the module docstring)
        comm._reply_subshell_for = _frontend_choice


def _frontend_choice(data: object, default: str | None) -> str | None:
    return default


def handle(widget: LiveDAG, content: Any, buffers: object = None) -> None:
    """Answer one message of the browser view; a failure is logged, never raised."""
    if not isinstance(content, dict):
        return
    kind = content.get("type")
    try:
        if kind == "hello":
            widget.browser_opened()
        elif kind == "inspect":
            index = int(content.get("node", -1))
            reply = {"type": "inspection", "node": index, "id": content.get("id")}
            reply["html"] = inspection_html(widget, index)
            widget.send(reply)
        elif kind == "cancel":
            widget.cancel()
        elif kind == "draw":
            widget.draw_anyway()
        elif kind == "rerun":
            # a thread of its own: this one must stay free for clicks and Cancel
            threading.Thread(target=widget.rerun_failed, name="dagron-rerun", daemon=True).start()
    except Exception:  # the kernel must survive whatever a browser sends
        logger.exception("the live DAG could not answer %r", kind)


def inspection_html(widget: LiveDAG, index: int) -> str:
    """The inspector panel of node ``index``: everything escaped, values summarised."""
    names = widget.names
    if not 0 <= index < len(names):
        return "<p>This node is not in the graph any more.</p>"
    name = names[index]
    columns = widget.inspection_columns()
    if columns is None or name not in columns.dag:
        status = widget.statuses.get(name)
        shown = status.value if status is not None else "unknown"
        return (
            f"<h4>{_text(name)}</h4><p>status: {shown}. Details appear once a run "
            "of this graph by a dagron_nb executor has started.</p>"
        )
    from dagron_nb.core.inspection import inspect_node, inspection_html

    return inspection_html(inspect_node(columns, name))


def _text(text: str) -> str:
    return html.escape(render.visible_text(text))
