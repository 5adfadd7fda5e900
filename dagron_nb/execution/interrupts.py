"""Ctrl-C during a run: counted presses instead of an exception at a random line.

Python turns SIGINT into a ``KeyboardInterrupt`` raised at whatever line the
main thread runs; in the middle of an executor's bookkeeping (a second press
while the first is being handled, a press during ``on_run_end``) that lost the
partial result, or left callbacks firing after ``execute`` had raised. While a
run is in progress, ``CtrlC`` replaces the SIGINT handler of the main thread
with one that only counts the presses (and, optionally, pokes the run with
``wake``), so the executor acts on them at a point of its choosing: the first
press cancels, the second abandons, and ``execute`` raises ``KeyboardInterrupt``
with the result. If a press has been left unhandled for ``STUCK`` seconds when
the next arrives (the main thread is stuck in user code, e.g. a callback or a
task blocking the event loop), the handler raises ``KeyboardInterrupt`` there,
as Python would; the executor then counts every press, that one included.

The handler is installed only in the main thread, and only over Python's
default one (``signal.default_int_handler``) or the one ``asyncio.run`` installs
(which would cancel the run without its result); a handler of the user's own,
``SIG_IGN`` and ``SIG_DFL`` are left alone. The previous one is restored when
the run ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

#: an executor acts on a press within ~0.1 s; one left this long means it is stuck
STUCK = 0.5


class CtrlC:
    """Counts SIGINTs between ``__enter__`` and ``__exit__`` (see the module docstring)."""

    def __init__(self, wake: Callable[[], Any] | None = None) -> None:
        self.presses = 0
        self.handled = 0
        self.pending_since = 0.0  # monotonic time of the oldest unhandled press
        self.wake = wake
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if _replaceable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGINT, self._previous)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.presses == self.handled:
            self.pending_since = now
        self.presses += 1
        if self.presses > self.handled + 1 and now - self.pending_since > STUCK:
            # a press was never acted on: whatever runs now holds the thread
            # that should have; interrupt it as Python would
            raise KeyboardInterrupt
        if self.wake is not None:
            self.wake()

    def take(self) -> int:
        """Presses not yet acted on (now counted as handled)."""
        new = self.presses - self.handled
        self.handled += new
        return new


def _replaceable(handler: object) -> bool:
    """Python's default SIGINT handler, or asyncio.run's (a partial of ``_on_sigint``)."""
    if handler is signal.default_int_handler:
        return True
    func = getattr(handler, "func", None)  # asyncio.Runner installs a functools.partial
    return getattr(func, "__name__", None) == "_on_sigint" and "asyncio" in str(
        getattr(func, "__module__", "")
    )
