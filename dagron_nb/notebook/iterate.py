"""What makes ``%%dagron`` iterate: one cache per kernel and tasks known across cells.

A ``NotebookSession`` lives as long as the kernel (one per registered magics
object). It holds the ``ResultCache`` that ``%%dagron`` uses by default, so an
edited cell re-runs only the functions whose code or inputs changed (and what
depends on them), and an unchanged re-run runs nothing. It also keeps the
notebook-wide registry of tasks: every function a ``%%dagron`` cell defined,
by name, the latest definition winning. A later cell whose parameter names such
a task gets that task's *value*: the task (and whatever it needs) joins the
cell's pipeline, where the cache usually answers at once. A name that the
notebook has since rebound to something else (``load = 5``) is a plain input
again. This module imports no IPython.

>>> session = NotebookSession()
>>> def load(): return [1, 2]
>>> def total(load): return sum(load)
>>> session.remember([load], cell="In [1]")
>>> tasks, borrowed = session.tasks_for([total], {"load": load, "total": total})
>>> [t.__name__ for t in tasks], borrowed
(['total', 'load'], {'load': 'In [1]'})
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.cache import ResultCache
from dagron_nb.execution.pipeline import Pipeline, Task


class NotebookSession:
    """The kernel's result cache and its registry of ``%%dagron`` tasks."""

    def __init__(self, cache: ResultCache | None = None) -> None:
        self.cache = cache if cache is not None else ResultCache()
        self.registry: dict[str, Callable[..., Any]] = {}
        self.defined_in: dict[str, str] = {}  # task name -> the cell that defined it

    def remember(self, functions: Iterable[Callable[..., Any]], *, cell: str) -> None:
        """The tasks a cell defined; a name defined again is replaced."""
        for fn in functions:
            name = _task_name(fn)
            self.registry[name] = fn
            self.defined_in[name] = cell

    def tasks_for(
        self, functions: Sequence[Callable[..., Any]], ns: Mapping[str, Any]
    ) -> tuple[list[Callable[..., Any]], dict[str, str]]:
        """This cell's tasks plus the earlier cells' tasks they need, transitively.

        Returns the functions for the Pipeline and ``{name: cell}`` of those
        borrowed from other cells. A parameter names an earlier task only while
        the notebook variable of that name still is that task's function.
        """
        out = list(functions)
        have = {_task_name(fn) for fn in out}
        borrowed: dict[str, str] = {}
        stack: list[Callable[..., Any]] = list(out)
        while stack:
            fn = stack.pop()
            for param in _parameters(fn):
                if param in have:
                    continue
                if param not in self.registry or ns.get(param) is not self.registry[param]:
                    continue  # not a task, or the name now holds something else
                earlier = self.registry[param]
                have.add(param)
                borrowed[param] = self.defined_in[param]
                out.append(earlier)
                stack.append(earlier)
        return out, borrowed


def needed_for(pipeline: Pipeline, targets: Sequence[str]) -> list[str]:
    """The tasks ``targets`` need (themselves and every ancestor), in pipeline order."""
    dag = pipeline.dag
    keep = set(targets)
    for name in targets:
        keep.update(dag.ancestors(name))
    return [name for name in pipeline.task_names if name in keep]


def mark_borrowed(dag: DAG, borrowed: Mapping[str, str]) -> None:
    """Mark the tasks borrowed from earlier cells in ``dag``'s node metadata, so the
    live picture's and the saved picture's tooltips say where they come from."""
    for name, cell in borrowed.items():
        if dag.has_node(name):
            dag.set_metadata(name, {**dag.get_metadata(name), "from": f"another cell ({cell})"})


def summary_line(result: ExecutionResult) -> str | None:
    """ "5 from cache, 2 ran, saved 6.9 s" when the cache answered for any node."""
    if not result.cache_hits:
        return None
    ran = sum(
        result.counts[s] for s in (NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.TIMED_OUT)
    )
    return f"{result.cache_hits} from cache, {ran} ran, saved {result.saved_seconds:.1f} s"


def cache_lines(result: ExecutionResult) -> list[str]:
    """The summary's cache lines: what the cache saved, and why nodes could not use it."""
    lines = []
    saved = summary_line(result)
    if saved:
        lines.append("  " + saved)
    notes = [(n, note) for n, note in result.cache_notes.items() if "cache=False" not in note]
    for name, note in notes[:5]:
        lines.append(f"  note: {name!r} {note}")
    if len(notes) > 5:
        lines.append(f"  ... and {len(notes) - 5} more notes in result.cache_notes")
    return lines


def cache_table(cache: ResultCache) -> Any:
    """What ``cache`` holds, one row per entry: node, size, age, hits (a DataFrame)."""
    from dagron_nb.core.extras import optional_import

    pandas = optional_import("pandas", purpose="%dagron cache")
    now = time.time()
    rows = [
        {
            "node": e.node,
            "size": _size(e.size),
            "age": _age(now - e.created),
            "hits": e.hits,
            "saves": f"{e.seconds:.2f} s",
            "where": e.where,
        }
        for e in cache.entries()
    ]
    columns = ["node", "size", "age", "hits", "saves", "where"]
    return pandas.DataFrame(rows, columns=columns)


def _task_name(fn: Callable[..., Any]) -> str:
    return fn.name if isinstance(fn, Task) else getattr(fn, "__name__", repr(fn))


def _parameters(fn: Callable[..., Any]) -> list[str]:
    task = fn if isinstance(fn, Task) else Task(fn)
    return [p.name for p in task.parameters]


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover - the loop always returns


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
