""" "Re-run failed": run again the nodes of a result that did not succeed.

The nodes that succeeded do not run again: each gives back the value it
returned last time, so what depends on it gets the same input without
recomputing it. The others (failed, timed out, skipped, cancelled) run their
task again, the very callable the last run used (``result.tasks``, taken out
of the last run's output-capture wrapper: the new run captures anew). For a
``Pipeline`` that callable reads its upstream values from the store its
binding keeps, which holds the last run's values, so a re-run task sees them
whether its predecessors ran again or not. Given the run's cache (``%%dagron``'s),
the nodes that run again store their new results in it, so the next run of the
cell finds them; the replayed values are not cached twice.

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("load", "fit").build()
>>> tries = []
>>> def fit():
...     tries.append(1)
...     if len(tries) == 1:
...         raise ValueError("first try fails")
...     return "fitted"
>>> first = dagron.DAGExecutor(dag).execute({"load": lambda: 41, "fit": fit})
>>> second = dagron.DAGExecutor(dag).execute(rerun_tasks(first))
>>> second["fit"].result, second["load"].result, len(tries)
('fitted', 41, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagron_nb.core.results import ExecutionResult
from dagron_nb.execution.cache import CACHE_ATTRIBUTE


def can_rerun(result: ExecutionResult | None) -> bool:
    """Did something not succeed, and are the tasks that ran known?"""
    return result is not None and result.tasks is not None and not result.ok


def rerun_tasks(result: ExecutionResult) -> dict[str, Callable[[], Any] | None]:
    """Tasks for a run of ``result.dag`` that repeats only what did not succeed."""
    if result.tasks is None:
        raise ValueError(
            "this result does not keep the tasks that ran; run it again with its tasks instead."
        )
    tasks: dict[str, Callable[[], Any] | None] = {}
    for name, status, value, task in zip(
        result.names, result.statuses, result.values, result.tasks
    ):
        if status.is_success:
            tasks[name] = _returning(value)
        else:
            tasks[name] = _without_capture(task)
    return tasks


def _without_capture(task: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``task`` without the wrapper the last run's ``OutputCapture`` put around it
    (a user's own ``functools.wraps`` decorator stays)."""
    from dagron_nb.execution.capture import without_capture

    return None if task is None else without_capture(task)


def _returning(value: Any) -> Callable[[], Any]:
    def again() -> Any:
        return value

    # a replayed value is not a result worth caching (the real task's is cached already)
    setattr(again, CACHE_ATTRIBUTE, False)
    return again
