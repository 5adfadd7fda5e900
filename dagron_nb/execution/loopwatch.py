"""Keeping the event loop free: quick plain callables inline, blocked loops reported.

``AsyncDAGExecutor`` runs plain (sync) callables on threads so that a slow one
cannot block the loop, but a thread hand-off costs ~50-300 us per node, which
made a chain of no-op functions 20-30x slower than on ``DAGExecutor``.
``QuickCalls`` learns, per function (its code object: every lambda made by the
same line shares one), whether its calls are quick. A call of a function not
known to be quick runs on a thread and is timed (a probe); while it is out, the
function's other ready nodes wait up to ``PROBE_WAIT`` for its answer rather
than all going to threads at once (a wide graph of one function). Only calls
made alone count: calls that wait for each other (a barrier) return quick when
they arrive together, yet one called alone on the loop would wait for ever. A
function whose probe took less than ``INLINE_BUDGET`` runs inline on the loop
from then on, timed again. A call that overruns the budget on a thread keeps
the function on threads for good (a slow function, or one waiting for others,
never runs on the loop). One that overruns on the loop (a strike) sends it to
threads until it has made 1, 2, 4, ... (2 ** (strikes - 1)) quick probes there;
``PARDON`` quick calls on the loop forgive a strike. Most overruns of a quick
function on the loop are noise (a garbage collection, the OS or another thread
holding the CPU for a few ms) and cost one thread hand-off; a function that has
turned slow overruns its next call on a thread too, so it is not called on the
loop twice.

A call is made on the loop only when no other node of the run is running (it
cannot be waiting for one; the executor takes inline nodes one at a time, so a
chain or a fan-out still qualifies), and never in a run with a timeout or for a
node with its own (a call on the loop could not be cut short at the deadline).
The executor runs inline calls back to back and yields to the loop every
``BATCH_BUDGET`` seconds, so other coroutines, Ctrl-C, cancel events and the
live widget are still served. A quick function that suddenly blocks (or waits
for something only another node would do) still blocks the loop for that call.

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
#: inline calls run back to back for at most this long (seconds) before the loop's turn
BATCH_BUDGET = 0.002
#: quick inline calls in a row that pardon one overrun
PARDON = 256
#: how long other nodes of a function wait for its probe before going to threads
PROBE_WAIT = 0.002


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
        #: quick calls in a row still needed on threads before calls run inline again
        self._needed: dict[object, int] = {}
        self._strikes: dict[object, int] = {}  # overruns not yet forgiven
        self._streak: dict[object, int] = {}  # quick inline calls since the last pardon
        self._out: dict[object, int] = {}  # calls on threads not yet observed
        self._crowded: set[object] = set()  # ... and some of them overlapped
        #: functions whose probe is out and still worth waiting for
        self.waiting: set[object] = set()

    def inline(self, key: object) -> bool:
        """Run the next call of ``key`` on the loop?"""
        return self._needed.get(key) == 0

    def probe(self, key: object) -> bool:
        """Is a call of ``key``, about to go to a thread, a probe? True when ``key``
        is not known to be quick (unknown, or owing quick calls after an overrun),
        not known to be slow, and none of its calls is out: then until it returns
        or is ``late``, ``key`` is in ``waiting`` (its other nodes wait for it)."""
        needed = self._needed.get(key)
        if needed == 0 or needed == _NEVER or self._out.get(key):
            return False
        self.waiting.add(key)
        return True

    def late(self, key: object) -> None:
        """The probe of ``key`` is late or lost: its other calls go to threads."""
        self.waiting.discard(key)

    def sent(self, key: object) -> None:
        """A call of ``key`` goes to a thread; ``observed`` when it returns."""
        out = self._out[key] = self._out.get(key, 0) + 1
        if out > 1:
            self._crowded.add(key)

    def observed(self, key: object, seconds: float, *, inline: bool = False) -> None:
        """A call of ``key`` (on the loop if ``inline``, else ``sent`` before) took
        ``seconds`` (``math.inf``: it was given up on)."""
        if inline and seconds < INLINE_BUDGET and key not in self._strikes:
            return  # quick as it was: nothing to learn
        self.waiting.discard(key)
        needed = self._needed.get(key)
        crowded = False
        if not inline:
            out = self._out[key] = self._out[key] - 1
            crowded = key in self._crowded
            if not out:
                self._crowded.discard(key)
        if seconds >= INLINE_BUDGET or INLINE_BUDGET <= 0:
            if not inline:
                self._needed[key] = _NEVER  # slow on a thread: it stays there
                return
            strikes = self._strikes[key] = min(self._strikes.get(key, 0) + 1, 20)
            self._streak[key] = 0
            self._needed[key] = 1 << (strikes - 1)
        elif crowded:
            # other calls of it ran meanwhile: calls that wait for each other
            # (a barrier) return quick when they arrive together, yet one alone
            # on the loop would wait for ever. Only calls made alone count.
            pass
        elif needed is None or needed > 0:
            self._needed[key] = max(0, (needed or 1) - 1)
        elif needed == 0 and inline and key in self._strikes:
            # a long run of quick calls pardons one overrun (most are noise: a
            # garbage collection, the OS or another thread holding the CPU)
            streak = self._streak[key] = self._streak[key] + 1
            if streak >= PARDON:
                self._streak[key] = 0
                self._strikes[key] -= 1
                if not self._strikes[key]:
                    del self._strikes[key]


_NEVER = -1  # ``QuickCalls._needed`` of a function that overran on a thread


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
    name: str, coro: Coroutine[Any, Any, Any], given_up: Callable[[int], bool], node: int
) -> Awaitable[Any]:
    """``coro``, with each stretch it runs between awaits timed (see module docstring).

    If ``coro`` swallows a cancellation after ``given_up(node)`` says its node was given up on (a
    deadline), it is closed instead of being driven on: a coroutine that ignores
    cancellation would otherwise hold ``asyncio.run`` at its end forever.
    """
    return _Timed(name, coro, given_up, node)


class _Timed:
    # slots, and the node instead of a bound partial: two objects less per task
    # for the garbage collector, which 10,000 pending tasks made slow
    __slots__ = ("coro", "given_up", "name", "node")

    def __init__(
        self,
        name: str,
        coro: Coroutine[Any, Any, Any],
        given_up: Callable[[int], bool],
        node: int,
    ) -> None:
        self.name = name
        self.coro = coro
        self.given_up = given_up
        self.node = node

    def __await__(self) -> Generator[Any, Any, Any]:
        # The fast path, while nothing is thrown in: one clock reading on each
        # side of a step. It costs a few microseconds a step; 10,000 awaiting
        # tasks paid ~13 us each with the general loop below.
        coro = self.coro
        send = coro.send
        clock = time.perf_counter
        value: Any = None
        while True:
            start = clock()
            try:
                yielded = send(value)
            except StopIteration as stop:
                self._check(start)
                return stop.value
            except BaseException:
                self._check(start)
                raise
            if self._check(start):
                return (yield from self._steps(yielded, warned=True))
            try:
                value = yield yielded
            except BaseException as exc:  # cancellation and the like: the general loop
                return (yield from self._steps(None, error=exc))

    def _steps(
        self, yielded: Any, *, error: BaseException | None = None, warned: bool = False
    ) -> Generator[Any, Any, Any]:
        """Drive the coroutine on, throwing in what the task throws at it; starts
        by handing on ``yielded`` (or by throwing ``error`` in)."""
        coro = self.coro
        send: Any = None
        if error is None:
            try:
                send = yield yielded
            except BaseException as exc:
                error = exc
        while True:
            start = time.perf_counter()
            try:
                yielded = coro.send(send) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                if not warned:
                    warned = self._check(start)
            if isinstance(error, asyncio.CancelledError) and self.given_up(self.node):
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
