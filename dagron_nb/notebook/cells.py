"""What ``%%dagron`` makes of a cell, without IPython: tasks, inputs and the report.

The magics in ``magics.py`` parse options and talk to the shell; the pure steps
are here. ``top_level_functions`` reads a cell's syntax tree for the functions
it defines at top level (in definition order), ``resolve_inputs`` finds the
notebook values of the parameters that are not tasks, ``report`` is the compact
summary printed under the cell (counts, why nodes did not run, one failure)
and ``compact_traceback`` is that failure's traceback with the executor's own
frames left out. This module imports no IPython; when a shell is running it
only asks it how to label a cell's frames ("Cell In[3]").

>>> import ast
>>> top_level_functions(ast.parse("def a(): pass\\nasync def b(a): pass\\nx = 1"))
['a', 'b']
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.pipeline import Pipeline

# Frames from these places are the machinery that ran a task, not the user's
# code; a failure's traceback leaves them out.
# (the dagron_nb folder is found from this file, dagron_nb/notebook/cells.py, so
# that this module need not import the top-level package it is part of)
_MACHINERY = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
    *(os.path.dirname(mod.__file__ or "") + os.sep for mod in (asyncio, concurrent.futures)),
    threading.__file__ or "threading.py",
)

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
    nodes are grouped by reason; the earliest failure gets its traceback
    (user frames only) and any later ones one line each.
    """
    out = [f"{result.summary()} -> {var}"]
    by_reason: dict[tuple[str, str], list[str]] = {}
    for name, status, reason in zip(result.names, result.statuses, result.reasons):
        if status in (NodeStatus.SKIPPED, NodeStatus.CANCELLED) and reason != "no task":
            by_reason.setdefault((status.value, reason or ""), []).append(name)
    for (status_name, reason), names in by_reason.items():
        shown = ", ".join(repr(n) for n in names[:8])
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        out.append(f"  {status_name}: {shown}{more} ({reason})")
    failures = sorted(
        (
            (finished if finished is not None else float("inf"), name, status, error)
            for name, status, error, finished in zip(
                result.names, result.statuses, result.errors, result.finished
            )
            if status in _FAILED
        ),
        key=lambda row: row[0],
    )
    if not failures:
        return Report("\n".join(out), "")
    _, name, status, error = failures[0]
    lines = [f"task {name!r} {'timed out' if status is NodeStatus.TIMED_OUT else 'failed'}:\n"]
    if error is not None:
        lines.append(compact_traceback(error))
    for _, other, other_status, other_error in failures[1:]:
        what = "" if other_error is None else f": {type(other_error).__name__}: {other_error}"
        lines.append(f"also {other_status.value}: {other!r}{what}\n")
    return Report("\n".join(out), "".join(lines))


def compact_traceback(error: BaseException) -> str:
    """The traceback of a task's error without the executor's own frames.

    Chained exceptions (``raise ... from``, errors while handling another)
    are kept, each with its user frames only.

    >>> print(compact_traceback(ValueError("bad input")), end="")
    ValueError: bad input
    """
    parts: list[str] = []
    seen: set[int] = set()

    def add(exc: BaseException) -> None:
        seen.add(id(exc))
        if exc.__cause__ is not None and id(exc.__cause__) not in seen:
            add(exc.__cause__)
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
            )
        elif (
            exc.__context__ is not None
            and not exc.__suppress_context__
            and id(exc.__context__) not in seen
        ):
            add(exc.__context__)
            parts.append(
                "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith(_MACHINERY)
        ]
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(_format_frames(frames))
        parts.extend(traceback.format_exception_only(type(exc), exc))

    add(error)
    return "".join(parts)


def _format_frames(frames: list[traceback.FrameSummary]) -> list[str]:
    """User frames in full; a run of frames inside one installed library (pandas'
    internals behind a ``KeyError``, say) as a single line naming the library."""
    lines: list[str] = []
    i = 0
    while i < len(frames):
        library = _library_of(frames[i].filename)
        if library is None:
            lines.append(_format_frame(frames[i]))
            i += 1
            continue
        j = i
        while j < len(frames) and _library_of(frames[j].filename) == library:
            j += 1
        if j - i == 1:
            lines.append(_format_frame(frames[i]))
        else:
            lines.append(f"  ... {j - i} frames inside {library} ...\n")
        i = j
    return lines


def _library_of(filename: str) -> str | None:
    """The top-level package a file belongs to, if it is an installed library."""
    for marker in ("site-packages", "dist-packages"):
        _, found, rest = filename.partition(os.sep + marker + os.sep)
        if found:
            return rest.split(os.sep, 1)[0].removesuffix(".py")
    if not os.path.isabs(filename) and "/" in filename:
        return filename.split("/", 1)[0]  # compiled code: "pandas/_libs/index.pyx"
    return None


def _format_frame(frame: traceback.FrameSummary) -> str:
    where = f'File "{frame.filename}"'
    shell = _shell()
    if shell is not None:
        label = shell.compile.format_code_name(frame.filename)
        if label is not None:
            where = f"{label[0]} {label[1]}"  # e.g. "Cell In[3]", as IPython shows it
    text = f"  {where}, line {frame.lineno}, in {frame.name}\n"
    if frame.line:
        text += f"    {frame.line.strip()}\n"
    return text


def _shell() -> Any:
    """The running IPython shell, if IPython is loaded at all (never imports it)."""
    ipython = sys.modules.get("IPython")
    return None if ipython is None else ipython.get_ipython()
