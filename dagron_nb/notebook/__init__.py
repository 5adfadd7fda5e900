"""The notebook layer: live DAG widget, pictures, rich display (and magics).

Importing this package is cheap: pandas, matplotlib and Graphviz load inside
the functions that need them, and the widget module (which imports anywidget)
loads on first use of ``LiveDAG`` / ``run_live``. Pandas tables: ``plan_frame``,
``slack_frame``, ``critical_path_frame``, ``compare_runs``, ``summarize_runs``
(and ``ExecutionResult.to_dataframe()``); pictures: ``render_svg``,
``result_svg``, ``critical_path_picture``, ``timeline``.

>>> from dagron_nb.notebook import STATUS_COLORS
>>> from dagron_nb import NodeStatus
>>> STATUS_COLORS[NodeStatus.FAILED]
'#f87171'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagron_nb.notebook.frames import (
    compare_runs,
    critical_path_frame,
    plan_frame,
    slack_frame,
    summarize_runs,
)
from dagron_nb.notebook.render import STATUS_COLORS, render_svg, result_svg, to_dot
from dagron_nb.notebook.timeline import critical_path_picture, timeline

if TYPE_CHECKING:
    from dagron_nb.notebook.live import LiveDAG, run_live, run_live_async

__all__ = [
    "STATUS_COLORS",
    "LiveDAG",
    "compare_runs",
    "critical_path_frame",
    "critical_path_picture",
    "plan_frame",
    "render_svg",
    "result_svg",
    "run_live",
    "run_live_async",
    "slack_frame",
    "summarize_runs",
    "timeline",
    "to_dot",
]

_LAZY = {"LiveDAG", "run_live", "run_live_async"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from dagron_nb.notebook import live

        return getattr(live, name)
    raise AttributeError(f"module 'dagron_nb.notebook' has no attribute {name!r}")
