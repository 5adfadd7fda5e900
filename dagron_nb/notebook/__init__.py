"""The notebook layer: live DAG widget, pictures, rich display (and magics).

Importing this package is cheap: ``render`` needs only the standard library
until it draws, and the widget module (which imports anywidget) loads on first
use of ``LiveDAG`` / ``run_live``.

>>> from dagron_nb.notebook import STATUS_COLORS
>>> from dagron_nb import NodeStatus
>>> STATUS_COLORS[NodeStatus.FAILED]
'#f87171'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagron_nb.notebook.render import STATUS_COLORS, render_svg, result_svg, to_dot

if TYPE_CHECKING:
    from dagron_nb.notebook.live import LiveDAG, run_live, run_live_async

__all__ = [
    "STATUS_COLORS",
    "LiveDAG",
    "render_svg",
    "result_svg",
    "run_live",
    "run_live_async",
    "to_dot",
]

_LAZY = {"LiveDAG", "run_live", "run_live_async"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from dagron_nb.notebook import live

        return getattr(live, name)
    raise AttributeError(f"module 'dagron_nb.notebook' has no attribute {name!r}")
