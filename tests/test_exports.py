"""The public API of ``dagron_nb``, pinned: adding or removing a name is a decision."""

from __future__ import annotations

import importlib.metadata

import pytest

import dagron_nb

PUBLIC = {
    # graph and plans
    "DAG",
    "DAGBuilder",
    "ExecutionPlan",
    "ExecutionStep",
    "ScheduledNode",
    "NodeRef",
    # running
    "DAGExecutor",
    "AsyncDAGExecutor",
    "DaskExecutor",
    "Pipeline",
    "Task",
    "task",
    # the result cache
    "ResultCache",
    "CacheStats",
    "CacheWarning",
    "no_cache",
    "CachedDAGExecutor",
    "CachedExecutionResult",
    "ContentAddressableCache",
    "FileSystemCacheBackend",
    "IncrementalExecutor",
    "IncrementalResult",
    # results
    "ExecutionResult",
    "NodeResult",
    "NodeStatus",
    "NodeInspection",
    "ValuePreview",
    "OutputCapture",
    # callbacks, hooks, tracing
    "ExecutionCallbacks",
    "HookContext",
    "HookEvent",
    "HookRegistry",
    "ExecutionTrace",
    "TraceEvent",
    "TraceEventType",
    # errors
    "DagronError",
    "GraphError",
    "CycleError",
    "DuplicateNodeError",
    "InvalidNodeNameError",
    "NodeNotFoundError",
    "StaleNodeRefError",
    "EdgeNotFoundError",
    "ConfigurationError",
    "NodeTimeoutError",
    "InvalidTransitionError",
    # the package itself
    "__version__",
    "load_ipython_extension",
}

#: names served on first use by the module's __getattr__, so that importing
#: dagron_nb stays free of dask and the widget stack
LAZY = {"DaskExecutor", "LiveDAG", "run_live"}


def test_all_is_pinned() -> None:
    assert set(dagron_nb.__all__) == PUBLIC
    assert len(dagron_nb.__all__) == len(set(dagron_nb.__all__))


def test_every_exported_name_resolves() -> None:
    for name in dagron_nb.__all__:
        assert getattr(dagron_nb, name) is not None, name


def test_lazy_names_resolve_on_use() -> None:
    from dagron_nb.execution.dask import DaskExecutor
    from dagron_nb.notebook.live import LiveDAG, run_live

    assert dagron_nb.DaskExecutor is DaskExecutor
    assert dagron_nb.LiveDAG is LiveDAG
    assert dagron_nb.run_live is run_live
    assert set(LAZY) - PUBLIC == {"LiveDAG", "run_live"}


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'dagron_nb' has no attribute 'Nope'"):
        dagron_nb.Nope  # noqa: B018


def test_every_public_object_of_the_package_is_exported() -> None:
    defined_here = {
        name
        for name, value in vars(dagron_nb).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("dagron_nb")
        and not isinstance(value, type(dagron_nb))  # submodules are not API
    }
    assert defined_here <= PUBLIC


def test_exported_classes_live_where_the_layout_says() -> None:
    homes = {
        "DAG": "dagron_nb.core.graph",
        "ExecutionPlan": "dagron_nb.core.plan",
        "NodeStatus": "dagron_nb.core.status",
        "ExecutionCallbacks": "dagron_nb.core.callbacks",
        "ExecutionTrace": "dagron_nb.core.tracing",
        "CycleError": "dagron_nb.core.errors",
        "DAGExecutor": "dagron_nb.execution.threads",
        "AsyncDAGExecutor": "dagron_nb.execution.aio",
        "Pipeline": "dagron_nb.execution.pipeline",
    }
    assert {name: getattr(dagron_nb, name).__module__ for name in homes} == homes


def test_version_matches_the_installed_distribution() -> None:
    assert dagron_nb.__version__ == importlib.metadata.version("dagron_nb")
