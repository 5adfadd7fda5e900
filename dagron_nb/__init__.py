"""dagron_nb: build DAGs of Python functions, run them in parallel, watch them run.

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("extract", "load").build()
>>> dagron.DAGExecutor(dag).execute({"extract": lambda: 1, "load": lambda: 2}).succeeded
2

The notebook layer (live widget, ``%%dagron`` magics, pandas tables) loads on
demand: ``%load_ext dagron_nb`` in IPython, or ``from dagron_nb import notebook``.
"""

from __future__ import annotations

import sys
from typing import Any

from dagron_nb.core.callbacks import ExecutionCallbacks, HookContext, HookEvent, HookRegistry
from dagron_nb.core.errors import (
    ConfigurationError,
    CycleError,
    DagronError,
    DuplicateNodeError,
    EdgeNotFoundError,
    GraphError,
    InvalidNodeNameError,
    InvalidTransitionError,
    NodeNotFoundError,
    NodeTimeoutError,
    StaleNodeRefError,
)
from dagron_nb.core.graph import DAG, DAGBuilder
from dagron_nb.core.inspection import NodeInspection, ValuePreview
from dagron_nb.core.plan import ExecutionPlan, ExecutionStep, ScheduledNode
from dagron_nb.core.refs import NodeRef
from dagron_nb.core.results import ExecutionResult, NodeResult, NodeStatus
from dagron_nb.core.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron_nb.execution.aio import AsyncDAGExecutor
from dagron_nb.execution.cache import CacheStats, ResultCache, no_cache
from dagron_nb.execution.cache_store import CacheWarning
from dagron_nb.execution.cached import (
    CachedDAGExecutor,
    CachedExecutionResult,
    ContentAddressableCache,
    FileSystemCacheBackend,
    IncrementalExecutor,
    IncrementalResult,
)
from dagron_nb.execution.capture import OutputCapture
from dagron_nb.execution.pipeline import Pipeline, Task, task
from dagron_nb.execution.threads import DAGExecutor

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "AsyncDAGExecutor",
    "CacheStats",
    "CacheWarning",
    "CachedDAGExecutor",
    "CachedExecutionResult",
    "ConfigurationError",
    "ContentAddressableCache",
    "CycleError",
    "DAGBuilder",
    "DAGExecutor",
    "DagronError",
    "DaskExecutor",
    "DuplicateNodeError",
    "EdgeNotFoundError",
    "ExecutionCallbacks",
    "ExecutionPlan",
    "ExecutionResult",
    "ExecutionStep",
    "ExecutionTrace",
    "FileSystemCacheBackend",
    "GraphError",
    "HookContext",
    "HookEvent",
    "HookRegistry",
    "IncrementalExecutor",
    "IncrementalResult",
    "InvalidNodeNameError",
    "InvalidTransitionError",
    "NodeInspection",
    "NodeNotFoundError",
    "NodeRef",
    "NodeResult",
    "NodeStatus",
    "NodeTimeoutError",
    "OutputCapture",
    "Pipeline",
    "ResultCache",
    "ScheduledNode",
    "StaleNodeRefError",
    "Task",
    "TraceEvent",
    "TraceEventType",
    "ValuePreview",
    "__version__",
    "load_ipython_extension",
    "no_cache",
    "task",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dagron_nb``: register the ``%%dagron`` / ``%dagron`` magics."""
    from dagron_nb.notebook.display import register
    from dagron_nb.notebook.magics import load_ipython_extension as load

    register(ipython)  # DAGs and results display as pictures
    load(ipython)


def __getattr__(name: str) -> Any:
    # DaskExecutor needs dask.distributed, which is heavy and optional: load on use.
    if name == "DaskExecutor":
        from dagron_nb.execution.dask import DaskExecutor

        return DaskExecutor
    # The live widget imports anywidget: load it when somebody asks, not here.
    if name in ("LiveDAG", "run_live"):
        from dagron_nb.notebook import live

        return getattr(live, name)
    raise AttributeError(f"module 'dagron_nb' has no attribute {name!r}")


# Inside a running IPython, DAGs and results display as pictures right away;
# sys.modules tells without importing IPython into plain scripts.
if "IPython" in sys.modules:
    from dagron_nb.notebook.display import register_if_active

    register_if_active()
