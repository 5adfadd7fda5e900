"""Prompt deadlines while tasks hold the GIL: a shorter switch interval near them.

A thread waking at a deadline needs the GIL before it can do anything, and
CPython hands the GIL over only every ``sys.getswitchinterval()`` (5 ms); each
blocking step of the expiry (a lock, a loop iteration, a notify) pays that
again, and with several pure-Python tasks competing the run returned 100-400 ms
late. While a deadline is near (``LEAD`` seconds ahead, or passed and being
handled), ``SwitchInterval`` lowers the interval to ``FAST``; the last run to
let go restores the interval it found. Runs without deadlines never touch it.

``LEAD`` is a whole second because lowering the interval needs the GIL too: the
waiting thread wakes ``LEAD`` early to do it, and at the default interval that
wake was itself 50-200 ms late with eight spinning tasks, sometimes past a
deadline 0.1 s away. A second of 0.5 ms switching costs GIL-bound tasks about
3% of their speed, and only while a deadline is that close.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

#: how long before a deadline the interval is lowered (the wake-up that lowers it
#: may itself be late by tens of default switch intervals when tasks hold the GIL)
LEAD = 1.0
#: the switch interval near a deadline, in seconds
FAST = 0.0005

_lock = threading.Lock()
_holders = 0
_saved = 0.0


class SwitchInterval:
    """One run's hold on the lowered switch interval; ``release`` is idempotent."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        global _holders, _saved
        if self.held:
            return
        with _lock:
            if _holders == 0:
                _saved = sys.getswitchinterval()
                if _saved > FAST:
                    sys.setswitchinterval(FAST)
            _holders += 1
        self.held = True

    def release(self) -> None:
        global _holders
        if not self.held:
            return
        self.held = False
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved > FAST:
                sys.setswitchinterval(_saved)

    def from_start(self, timeout: float | None, node_timeouts: Iterable[float]) -> None:
        """Hold at once if the run's ``timeout``, or a node's timeout (counted from
        when the node starts, which may be at once), is within ``LEAD``: once the
        tasks hold the GIL, the wake-up that would lower it later is itself late."""
        if (timeout is not None and timeout <= LEAD) or any(s <= LEAD for s in node_timeouts):
            self.hold()

    def near(self, deadline: float | None, now: float) -> None:
        """Hold while ``deadline`` (a perf_counter time) is within ``LEAD``."""
        if deadline is not None and deadline - now <= LEAD:
            self.hold()
