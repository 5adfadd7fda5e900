"""dagron_nb: build DAGs of Python functions, run them in parallel, watch them run.

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("extract", "load").build()
>>> dagron.DAGExecutor(dag).execute({"extract": lambda: 1, "load": lambda: 2}).succeeded
2

The notebook layer (live widget, ``%%dagron`` magics, pandas tables) loads on
demand: ``%load_ext dagron_nb`` in IPython, or ``from dagron_nb import notebook``.
"""

from __future__ import annotations

from typing import Any

from dagron_nb.core.callbacks import ExecutionCallbacks, HookContext, HookEvent, HookRegistry
from dagron_nb.core.errors import (
    ConfigurationError,
    CycleError,
    DagronError,
    DuplicateNodeError,
    GraphError,
    InvalidNodeNameError,
    InvalidTransitionError,
    NodeNotFoundError,
    NodeTimeoutError,
)
from dagron_nb.core.graph import DAG, DAGBuilder, ExecutionStep
from dagron_nb.core.results import ExecutionResult, NodeResult, NodeStatus
from dagron_nb.core.tracing import ExecutionTrace, TraceEvent, TraceEventType
from dagron_nb.execution.aio import AsyncDAGExecutor
from dagron_nb.execution.pipeline import Pipeline, Task, task
from dagron_nb.execution.threads import DAGExecutor

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "AsyncDAGExecutor",
    "ConfigurationError",
    "CycleError",
    "DAGBuilder",
    "DAGExecutor",
    "DagronError",
    "DuplicateNodeError",
    "ExecutionCallbacks",
    "ExecutionResult",
    "ExecutionStep",
    "ExecutionTrace",
    "GraphError",
    "HookContext",
    "HookEvent",
    "HookRegistry",
    "InvalidNodeNameError",
    "InvalidTransitionError",
    "NodeNotFoundError",
    "NodeResult",
    "NodeStatus",
    "NodeTimeoutError",
    "Pipeline",
    "Task",
    "TraceEvent",
    "TraceEventType",
    "__version__",
    "load_ipython_extension",
    "task",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dagron_nb``: register the ``%%dagron`` / ``%dagron`` magics."""
    from dagron_nb.notebook.magics import load_ipython_extension as load

    load(ipython)
