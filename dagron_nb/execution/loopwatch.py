"""Keeping the event loop free: quick plain callables inline, blocked loops reported.

``AsyncDAGExecutor`` runs plain (sync) callables on threads so that a slow one
cannot block the loop, but a thread hand-off costs ~50-300 us per node, which
made a chain of no-op functions 20-30x slower than on ``DAGExecutor``.
``QuickCalls`` learns, per function (its code object: every lambda made by the
same line shares one), whether its calls are quick: the first call runs on a
thread and is timed; a function whose calls took less than ``INLINE_BUDGET``
runs inline on the loop from then on, timed again, and goes back to threads
for good the first time a call overruns. So the loop is blocked at most once
per function, by at most that one call. A call is made on the loop only when
its node is the only one running (it cannot be waiting for another task), and
never in a run with a timeout or for a node with its own (a call on the loop
could not be cut short at the deadline): long chains of small functions are
the case this is for.

An ``async def`` task that blocks the loop (``time.sleep``, a CPU-bound loop
without ``await``) cannot be interrupted by anything: deadlines, Ctrl-C and
other tasks wait for it. ``timed_steps`` wraps its coroutine and measures each
stretch it runs between two awaits; one longer than ``BLOCKED_LOOP`` seconds is
logged as a warning on the ``dagron_nb`` logger naming the node (asyncio's
debug mode does the same for slow callbacks, with the same 0.1 s default).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

logger = logging.getLogger("dagron_nb")

#: a plain callable whose calls take less than this (seconds) runs on the loop
INLINE_BUDGET = 0.0005
#: an async task running longer than this without awaiting is reported
BLOCKED_LOOP = 0.1


def function_key(fn: object) -> object:
    """What identifies a task's function across nodes: its code object."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif getattr(fn, "func", None) is not None and callable(fn.func):  # type: ignore[attr-defined]
            fn = fn.func  # type: ignore[attr-defined]  # a Pipeline's bound call
        else:
            break
    return getattr(fn, "__code__", None) or type(fn)


class QuickCalls:
    """Which functions have shown quick calls (see the module docstring)."""

    def __init__(self) -> None:
        self._quick: dict[object, bool] = {}

    def inline(self, key: object) -> bool:
        """Run the next call of ``key`` on the loop?"""
        return self._quick.get(key, False)

    def observed(self, key: object, seconds: float) -> None:
        """A call of ``key`` took ``seconds``; one overrun sends it to threads for good."""
        if seconds >= INLINE_BUDGET or INLINE_BUDGET <= 0:
            self._quick[key] = False
        else:
            self._quick.setdefault(key, True)


def report_blocked(name: str, seconds: float) -> None:
    logger.warning(
        "task %r blocked the event loop for %.3f s without awaiting (more than %g s): "
        "deadlines, Ctrl-C and other tasks waited for it. Await something (e.g. "
        "asyncio.sleep(0)) in long loops, or run blocking code with asyncio.to_thread.",
        name,
        seconds,
        BLOCKED_LOOP,
    )


def timed_steps(
    name: str, coro: Coroutine[Any, Any, Any], given_up: Callable[[], bool]
) -> Awaitable[Any]:
    """``coro``, with each stretch it runs between awaits timed (see module docstring).

    If ``coro`` swallows a cancellation after its node was ``given_up`` on (a
    deadline), it is closed instead of being driven on: a coroutine that ignores
    cancellation would otherwise hold ``asyncio.run`` at its end forever.
    """
    return _Timed(name, coro, given_up)


class _Timed:
    def __init__(
        self, name: str, coro: Coroutine[Any, Any, Any], given_up: Callable[[], bool]
    ) -> None:
        self.name = name
        self.coro = coro
        self.given_up = given_up

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        send: Any = None
        error: BaseException | None = None
        warned = False
        while True:
            start = time.perf_counter()
            try:
                yielded = coro.send(send) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                if not warned:
                    warned = self._check(start)
            if isinstance(error, asyncio.CancelledError) and self.given_up():
                try:  # it swallowed the cancellation: stop driving it
                    coro.close()
                except RuntimeError:  # it ignores GeneratorExit too: just let go of it
                    pass
                raise error
            try:
                send, error = (yield yielded), None
            except BaseException as exc:  # cancellation and the like go to the task
                send, error = None, exc

    def _check(self, start: float) -> bool:
        seconds = time.perf_counter() - start
        if seconds > BLOCKED_LOOP:
            report_blocked(self.name, seconds)
            return True
        return False
