"""What ``%%dagron`` makes of a cell, without IPython: tasks, inputs and the report.

The magics in ``magics.py`` parse options and talk to the shell; the pure steps
are here. ``top_level_functions`` reads a cell's syntax tree for the functions
it defines at top level (in definition order), ``resolve_inputs`` finds the
notebook values of the parameters that are not tasks, ``report`` is the compact
summary printed under the cell (counts, why nodes did not run, one failure)
with that failure's traceback from ``core.tracebacks.compact_traceback`` (the
executor's own frames left out). This module imports no IPython.

>>> import ast
>>> top_level_functions(ast.parse("def a(): pass\\nasync def b(a): pass\\nx = 1"))
['a', 'b']
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagron_nb.core.errors import DagronError
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.core.tracebacks import compact_traceback
from dagron_nb.execution.pipeline import Pipeline
from dagron_nb.notebook.iterate import cache_lines

__all__ = [
    "Report",
    "RunFailedError",
    "cell_source",
    "compact_traceback",
    "report",
    "resolve_inputs",
    "run_failure",
    "top_level_functions",
]

_FAILED = (NodeStatus.FAILED, NodeStatus.TIMED_OUT)


def top_level_functions(tree: ast.Module) -> list[str]:
    """Names of the functions (``def`` and ``async def``) at the top of ``tree``, once each.

    >>> top_level_functions(ast.parse("def f(): pass\\ndef f(): pass"))
    ['f']
    """
    defined = [
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    return list(dict.fromkeys(defined))


def resolve_inputs(pipeline: Pipeline, ns: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Notebook values for the parameters that are not tasks, and those not found.

    A parameter with a default keeps its default: a notebook variable that
    happens to share its name does not override what the function says.

    >>> from dagron_nb import Pipeline
    >>> def load(path): return path
    >>> def fit(load, rate, epochs=3): return load
    >>> resolve_inputs(Pipeline([load, fit]), {"path": "data.csv", "epochs": 9})
    ({'path': 'data.csv'}, ['fit(rate)'])
    """
    inputs: dict[str, Any] = {}
    missing: list[str] = []
    for t in pipeline.tasks.values():
        for p in t.parameters:
            if p.name in pipeline.tasks or p.default is not p.empty:
                continue
            if p.name in ns:
                inputs[p.name] = ns[p.name]
            else:
                missing.append(f"{t.name}({p.name})")
    return inputs, missing


@dataclass(frozen=True)
class Report:
    """The compact summary of a run: ``out`` for stdout, ``err`` (maybe "") for stderr."""

    out: str
    err: str


def report(result: ExecutionResult, var: str) -> Report:
    """The compact summary: counts, why nodes did not run, one traceback.

    ``var`` is the variable the result is stored in. Skipped and cancelled
    nodes are grouped by reason (cancelled ones that had started are called
    abandoned: nobody waited for them to finish); the earliest failure gets its traceback
    (user frames only) and any later ones one line each.
    """
    out = [f"{result.summary()} -> {var}"]
    out.extend(cache_lines(result))
    by_reason: dict[tuple[str, str], list[str]] = {}
    for name, status, reason, started in zip(
        result.names, result.statuses, result.reasons, result.started
    ):
        if status in (NodeStatus.SKIPPED, NodeStatus.CANCELLED) and reason != "no task":
            what, why = status.value, reason or ""
            if status is NodeStatus.CANCELLED and started is not None:
                # given up on while running (a second interrupt): nobody waited for it
                what, why = "abandoned", f"{why}; not waited for, it may still be running"
            by_reason.setdefault((what, why), []).append(name)
    for (status_name, reason), names in by_reason.items():
        shown = ", ".join(repr(n) for n in names[:8])
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        out.append(f"  {status_name}: {shown}{more} ({reason})")
    failures = _failures(result)
    if not failures:
        return Report("\n".join(out), "")
    name, status, error = failures[0]
    lines = [f"task {name!r} {'timed out' if status is NodeStatus.TIMED_OUT else 'failed'}:\n"]
    if error is not None:
        lines.append(compact_traceback(error))
    for other, other_status, other_error in failures[1:]:
        what = "" if other_error is None else f": {type(other_error).__name__}: {other_error}"
        lines.append(f"also {other_status.value}: {other!r}{what}\n")
    return Report("\n".join(out), "".join(lines))


class RunFailedError(DagronError):
    """A ``%%dagron`` run did not succeed; raised after its picture and summary.

    It stops "Run All" and nbclient at the cell. IPython shows it through
    ``_render_traceback_``: the failed task's compact traceback (its own frames
    at the cell's lines, none of dagron_nb's), not this exception's frames.
    ``result`` is the run's ``ExecutionResult`` (also in the cell's variable).
    """

    def __init__(self, message: str, *, details: str, result: ExecutionResult) -> None:
        super().__init__(message)
        self.details = details
        self.result = result

    def _render_traceback_(self) -> list[str]:
        return self.details.rstrip("\n").splitlines()


def run_failure(result: ExecutionResult, text: Report, var: str) -> RunFailedError | None:
    """The error a cell raises for ``result`` (None when the run went well).

    Failed, timed-out and cancelled nodes fail the cell; ``text`` is the
    run's ``report``, whose ``err`` part becomes the shown traceback.
    """
    if result.ok:
        return None
    failures = _failures(result)
    if failures:
        name, status, error = failures[0]
        what = "timed out" if status is NodeStatus.TIMED_OUT else "failed"
        cause = "" if error is None else f": {type(error).__name__}: {error}"
        message = f"task {name!r} {what}{cause}"
    else:
        message = f"the run did not finish: {result.summary()}"
    hint = f"(the result is in {var}; %%dagron --no-raise lets Run All go on after a failure)"
    details = (text.err or message + "\n") + hint + "\n"
    return RunFailedError(message, details=details, result=result)


def _failures(result: ExecutionResult) -> list[tuple[str, NodeStatus, BaseException | None]]:
    """FAILED and TIMED_OUT nodes, earliest finished first."""
    rows = [
        (float("inf") if finished is None else finished, name, status, error)
        for name, status, error, finished in zip(
            result.names, result.statuses, result.errors, result.finished
        )
        if status in _FAILED
    ]
    rows.sort(key=lambda row: row[0])
    return [(name, status, error) for _, name, status, error in rows]


def cell_source(cell: str, transformed: str) -> str:
    """``transformed`` (the cell's body after IPython's transforms) with blank lines
    in front so that its line numbers are the cell's own: one for the ``%%dagron``
    line, plus the body's leading blank lines that IPython's transforms dropped.

    >>> cell_source("\\n\\ndef a():\\n    pass\\n", "def a():\\n    pass\\n").count("\\n")
    5
    """
    dropped = _leading_blank_lines(cell) - _leading_blank_lines(transformed)
    return "\n" * (1 + max(0, dropped)) + transformed


def _leading_blank_lines(text: str) -> int:
    count = 0
    for line in text.splitlines():
        if line.strip():
            break
        count += 1
    return count
