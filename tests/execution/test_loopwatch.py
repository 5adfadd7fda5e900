"""QuickCalls: which plain functions the async executor may call on its loop (no threads here)."""

from __future__ import annotations

import math

import pytest

from dagron_nb.execution import loopwatch
from dagron_nb.execution.loopwatch import INLINE_BUDGET, PARDON, QuickCalls

QUICK = INLINE_BUDGET / 10
SLOW = INLINE_BUDGET * 10


def on_thread(calls: QuickCalls, key: object, seconds: float) -> None:
    calls.sent(key)
    calls.observed(key, seconds)


def test_a_function_runs_inline_after_its_probe_was_quick() -> None:
    calls = QuickCalls()
    assert not calls.inline("f")
    assert calls.probe("f")
    calls.sent("f")
    assert calls.waiting == {"f"}
    assert not calls.probe("f")  # one probe at a time
    calls.observed("f", QUICK)
    assert calls.inline("f")
    assert not calls.waiting
    assert not calls.probe("f")  # known to be quick


def test_a_call_slow_on_a_thread_keeps_its_function_there_for_good() -> None:
    calls = QuickCalls()
    calls.probe("f")
    on_thread(calls, "f", SLOW)
    for _ in range(1000):
        on_thread(calls, "f", QUICK)
    assert not calls.inline("f")


def test_a_call_given_up_on_counts_as_slow() -> None:
    calls = QuickCalls()
    on_thread(calls, "f", math.inf)
    on_thread(calls, "f", QUICK)
    assert not calls.inline("f")


def test_only_calls_made_alone_count_as_quick() -> None:
    # calls meeting at a barrier return quick when they arrive together, yet
    # one alone on the loop would wait for ever
    calls = QuickCalls()
    calls.sent("f")
    calls.sent("f")
    calls.observed("f", QUICK)
    calls.observed("f", QUICK)
    assert not calls.inline("f")
    assert calls.probe("f")  # none out: the next call is a probe again
    on_thread(calls, "f", QUICK)
    assert calls.inline("f")


def test_a_probe_is_due_again_after_an_overrun_on_the_loop() -> None:
    calls = QuickCalls()
    on_thread(calls, "f", QUICK)
    calls.observed("f", SLOW, inline=True)
    assert calls.probe("f")
    on_thread(calls, "f", QUICK)
    assert calls.inline("f")
    on_thread(calls, "g", SLOW)
    assert not calls.probe("g")  # slow for good: no probe, no waiting


def test_overruns_on_the_loop_need_ever_more_quick_calls_on_threads() -> None:
    calls = QuickCalls()
    on_thread(calls, "f", QUICK)
    for strike, needed in enumerate([1, 2, 4, 8], start=1):
        calls.observed("f", SLOW, inline=True)
        for _ in range(needed):
            assert not calls.inline("f"), f"strike {strike}"
            on_thread(calls, "f", QUICK)
        assert calls.inline("f")


def test_quick_calls_on_the_loop_pardon_a_strike() -> None:
    calls = QuickCalls()
    on_thread(calls, "f", QUICK)
    calls.observed("f", SLOW, inline=True)
    on_thread(calls, "f", QUICK)
    calls.observed("f", SLOW, inline=True)  # two strikes: 2 calls needed
    on_thread(calls, "f", QUICK)
    on_thread(calls, "f", QUICK)
    for _ in range(PARDON):
        calls.observed("f", QUICK, inline=True)
    calls.observed("f", SLOW, inline=True)  # the second strike again, not a third
    on_thread(calls, "f", QUICK)
    on_thread(calls, "f", QUICK)
    assert calls.inline("f")


def test_a_late_probe_stops_the_wait_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = QuickCalls()
    assert calls.probe("f")
    calls.sent("f")
    calls.late("f")
    assert not calls.waiting
    assert not calls.inline("f")
    calls.observed("f", QUICK)
    assert calls.inline("f")
    monkeypatch.setattr(loopwatch, "INLINE_BUDGET", 0.0)  # nothing is quick
    on_thread(calls, "g", 0.0)
    assert not calls.inline("g")
