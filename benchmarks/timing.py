"""Fair timing: candidates run interleaved, repeatedly, and every output is checked.

The machine is shared and noisy, so one sample means little. ``interleave`` runs
each candidate ``repeats`` times, rotating the order every round so no candidate
always runs first (on a cold cache) or last (after the others' garbage), collects
garbage before each sample, and checks each run's output outside the timed span:
a fast wrong answer must fail loudly, not win.

>>> samples = interleave([Candidate("sum", lambda: sum(range(10)), lambda v: v == 45)], 3)
>>> len(samples["sum"].seconds)
3
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """Something to time: ``run()`` does the work, ``check(output)`` says if it was right."""

    name: str
    run: Callable[[], Any]
    check: Callable[[Any], bool]


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)


class WrongResult(AssertionError):
    """A candidate produced a wrong output; its timing would be meaningless."""


def time_once(candidate: Candidate) -> float:
    gc.collect()
    start = time.perf_counter()
    output = candidate.run()
    elapsed = time.perf_counter() - start
    if not candidate.check(output):
        raise WrongResult(f"{candidate.name!r} produced a wrong result; fix it before timing it.")
    return elapsed


def interleave(candidates: Sequence[Candidate], repeats: int) -> dict[str, Samples]:
    """Time every candidate ``repeats`` times, rotating the order each round."""
    samples = {c.name: Samples() for c in candidates}
    for r in range(repeats):
        k = r % len(candidates)
        for candidate in [*candidates[k:], *candidates[:k]]:
            samples[candidate.name].seconds.append(time_once(candidate))
    return samples
