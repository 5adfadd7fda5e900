"""A task's error as the user wants to read it: their frames, not the executor's.

``compact_traceback`` formats an exception like Python does, but leaves out
the frames of the machinery that ran the task (dagron_nb itself, asyncio,
concurrent.futures, threading) and folds a run of frames inside one installed
library into a single line. It is shared by the ``%%dagron`` summary, the
exception a failing cell raises and ``NodeInspection.traceback``. Nothing here
imports IPython; when a shell is already running it is only asked how to label
a cell's frames ("Cell In[3]").

>>> print(compact_traceback(ValueError("bad input")), end="")
ValueError: bad input
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import traceback
from typing import Any

# Frames from these places are the machinery that ran a task, not the user's
# code; a failure's traceback leaves them out. (The package's folder is found
# from this file's place, so core imports nothing of the package's top.)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MACHINERY = (
    _PACKAGE + os.sep,
    *(os.path.dirname(mod.__file__ or "") + os.sep for mod in (asyncio, concurrent.futures)),
    threading.__file__ or "threading.py",
)


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
