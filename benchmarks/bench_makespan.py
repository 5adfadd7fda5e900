"""Makespan of sleep-task DAGs against the lower bound, beside a level-by-level executor.

Two DAGs of ``time.sleep`` tasks:

* *priority*: 20 independent 10 ms tasks declared BEFORE a chain of ten 10 ms
  tasks. A scheduler that starts ready nodes in declaration order leaves the
  chain for last; bottom-level priority must start the chain's head first.
* *random layered*: 200 nodes in 10 layers of 20, three random predecessors each
  in the layer before, sleeping 1-20 ms (fixed seed).

Each runs at 2 workers, 4 workers and "unlimited" (one worker per node) under
dagron_nb's ``DAGExecutor`` (with ``costs`` = the sleep times, and without costs,
where every node counts 1.0) and under ``run_level_by_level`` (each level of
``dag.execution_plan()`` as one batch on a ``ThreadPoolExecutor``). The figure is
the wall time of the whole call divided by the lower bound
``max(critical path, total work / workers)``; target <= 1.05.

    python -m benchmarks.bench_makespan [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_makespan.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reference import run_level_by_level
from benchmarks.report import machine, noisy_verdict, table, write_section
from benchmarks.shapes import SEED, Shape, random_layered
from benchmarks.timing import Candidate, Samples, interleave
from dagron_nb import DAGExecutor, ExecutionResult

TARGET = 1.05
OURS_COSTS, OURS_PLAIN, LEVELS = "dagron_nb, costs", "dagron_nb, no costs", "level-by-level"


def priority_shape() -> tuple[Shape, list[float]]:
    """20 independent nodes first, then a chain of 10; every node sleeps 10 ms."""
    edges = [(i, i + 1) for i in range(20, 29)]
    return Shape("20 independent, then a chain of 10", 30, edges), [0.010] * 30


def layered_shape() -> tuple[Shape, list[float]]:
    shape = random_layered(200, width=20)
    rng = random.Random(SEED + 1)
    seconds = [rng.randint(1, 20) / 1000 for _ in range(shape.n)]
    return Shape("random layered 200, 1-20 ms", shape.n, shape.edges), seconds


def critical_path_seconds(shape: Shape, seconds: list[float]) -> float:
    """Longest sum of sleeps along a path (node numbers are a topological order)."""
    finish = [0.0] * shape.n
    for node in range(shape.n):
        start = max((finish[p] for p in shape.pred[node]), default=0.0)
        finish[node] = start + seconds[node]
    return max(finish)


def _respects_edges(shape: Shape, result: ExecutionResult) -> bool:
    started, finished = result.started, result.finished
    for s, t in shape.edges:
        end, start = finished[s], started[t]
        if end is None or start is None or end > start:
            return False
    return result.succeeded == shape.n


def candidates(shape: Shape, seconds: list[float], workers: int) -> list[Candidate]:
    dag = shape.dag()
    tasks: dict[str, Callable[[], Any]] = {
        name: functools.partial(time.sleep, s) for name, s in zip(shape.names, seconds)
    }
    costs = dict(zip(shape.names, seconds))
    ours_costs = DAGExecutor(dag, max_workers=workers, costs=costs)
    ours_plain = DAGExecutor(dag, max_workers=workers)
    return [
        Candidate(
            OURS_COSTS, lambda: ours_costs.execute(tasks), functools.partial(_respects_edges, shape)
        ),
        Candidate(
            OURS_PLAIN, lambda: ours_plain.execute(tasks), functools.partial(_respects_edges, shape)
        ),
        Candidate(
            LEVELS,
            lambda: run_level_by_level(dag, tasks, workers=workers),
            lambda values: len(values) == shape.n,
        ),
    ]


def chain_started_first(shape: Shape, seconds: list[float], workers: int) -> bool:
    """In the priority DAG, did the chain's head (node 20) start in the first wave?"""
    result = DAGExecutor(shape.dag(), max_workers=workers).execute(
        {name: functools.partial(time.sleep, s) for name, s in zip(shape.names, seconds)}
    )
    first = sorted(range(shape.n), key=lambda i: result.started[i] or 0.0)[:workers]
    return 20 in first


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per candidate")
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args(argv)

    rows = []
    target_ok = True
    edge = True  # stays True while the median runs meet the target too
    notes = []
    for shape, seconds in (priority_shape(), layered_shape()):
        total = sum(seconds)
        cp = critical_path_seconds(shape, seconds)
        for workers, label in ((2, "2"), (4, "4"), (shape.n, f"unlimited ({shape.n})")):
            bound = max(cp, total / workers)
            samples: dict[str, Samples] = interleave(
                candidates(shape, seconds, workers), args.repeats
            )
            ratio = {name: s.best / bound for name, s in samples.items()}
            ok = ratio[OURS_COSTS] <= TARGET and ratio[OURS_PLAIN] <= TARGET
            median_ok = all(
                samples[name].median / bound <= TARGET for name in (OURS_COSTS, OURS_PLAIN)
            )
            target_ok &= ok
            edge &= median_ok
            rows.append(
                [
                    shape.label,
                    label,
                    f"{bound * 1000:.0f}",
                    *(
                        f"{ratio[name]:.3f} ({samples[name].median / bound:.3f})"
                        for name in (OURS_COSTS, OURS_PLAIN, LEVELS)
                    ),
                    noisy_verdict(ok, median_ok),
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
        if shape.n == 30:
            first = {w: chain_started_first(shape, seconds, w) for w in (2, 4)}
            notes.append(
                "Chain head among the first nodes started (priority DAG): "
                + ", ".join(f"{w} workers: {'yes' if ok else 'NO'}" for w, ok in first.items())
                + "."
            )
            target_ok &= all(first.values())

    body = f"""\
## Makespan of sleep-task DAGs vs the lower bound (`bench_makespan`)

Machine: {machine()}
Command: `python -m benchmarks.bench_makespan` (also run by `python -m benchmarks.run_all`)

Makespan (wall time of the whole call) / lower bound max(critical path, total work /
workers) over {args.repeats} interleaved runs: best (median in brackets); the machine is
shared, so the best run is the one least disturbed by others, and the verdict uses it.
Target: dagron_nb <= {TARGET} with and without costs. "costs" passes each node's sleep time as its cost;
"no costs" leaves every node at 1.0. {" ".join(notes)}

{table(["DAG", "workers", "bound ms", OURS_COSTS, OURS_PLAIN, LEVELS, "target"], rows)}

Overall: **{noisy_verdict(target_ok, edge)}**
"""
    if not args.no_write:
        write_section("bench_makespan", body)
    return body


if __name__ == "__main__":
    print(main())
