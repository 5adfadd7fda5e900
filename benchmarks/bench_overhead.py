"""Per-task overhead of ``DAGExecutor(max_workers=2)`` on 10,000 no-op tasks.

Four shapes (independent, chain, random layered with 3 edges per node, 100x100
layered grid), each run in this one process by four candidates, interleaved:
dagron_nb's ``DAGExecutor``, the two reference schedulers of
``benchmarks/reference.py`` on a bare ``ThreadPoolExecutor(2)``, and
``dask.threaded.get(..., num_workers=2)``. A candidate's time is the whole call
(for dagron_nb: validation, snapshot, scheduling and building the
``ExecutionResult``) divided by the number of tasks. Before timing, every
candidate runs each shape once with tasks that record their order, which must be
a topological order; every timed run's values are checked too.

Targets (issue 2): dagron_nb at most 0.5x the faster reference on every shape,
and dask at least 10x slower than dagron_nb.

    python -m benchmarks.bench_overhead [--tasks 10000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_overhead.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dask.threaded

from benchmarks.reference import run_main_loop, run_worker_driven
from benchmarks.report import machine, noisy_verdict, table, write_section
from benchmarks.shapes import Shape, is_topological, overhead_shapes, returning
from benchmarks.timing import Candidate, Samples, WrongResult, interleave
from dagron_nb import DAGExecutor, ExecutionResult

WORKERS = 2
OURS, MAIN_LOOP, WORKER_DRIVEN, DASK = (
    "dagron_nb",
    "main-loop ref",
    "worker-driven ref",
    "dask threaded",
)
TARGET_VS_REFERENCE = 0.5
TARGET_DASK_FACTOR = 10.0


def _call(tasks: list[Callable[[], Any]], i: int, *_upstream: Any) -> Any:
    """A dask task: run node ``i``'s task (dask passes the upstream values too)."""
    return tasks[i]()


def candidates(shape: Shape, tasks: list[Callable[[], Any]]) -> list[Candidate]:
    """The four candidates on ``shape``; node ``i`` runs ``tasks[i]``, which returns ``i``.

    Everything a user would prepare once (the DAG, the task dict, dask's graph) is
    built here, outside the timed span; the checks run outside it too.
    """
    n = shape.n
    expected = list(range(n))
    dag = shape.dag()
    task_map = dict(zip(shape.names, tasks))
    graph = shape.dask_graph(functools.partial(_call, tasks))

    def ours_ok(result: ExecutionResult) -> bool:
        return (
            result.succeeded == n and result.values == expected and _respects_edges(shape, result)
        )

    return [
        Candidate(OURS, lambda: DAGExecutor(dag, max_workers=WORKERS).execute(task_map), ours_ok),
        Candidate(
            MAIN_LOOP,
            lambda: run_main_loop(shape.succ, shape.pred, tasks, workers=WORKERS),
            expected.__eq__,
        ),
        Candidate(
            WORKER_DRIVEN,
            lambda: run_worker_driven(shape.succ, shape.pred, tasks, workers=WORKERS),
            expected.__eq__,
        ),
        Candidate(
            DASK,
            lambda: dask.threaded.get(graph, shape.names, num_workers=WORKERS),
            lambda values: list(values) == expected,
        ),
    ]


def _respects_edges(shape: Shape, result: ExecutionResult) -> bool:
    """No node started before each of its predecessors finished (recorded times)."""
    started, finished = result.started, result.finished
    for s, t in shape.edges:
        end, start = finished[s], started[t]
        if end is None or start is None or end > start:
            return False
    return True


def check_order(shape: Shape) -> None:
    """Run every candidate once with tasks that record the order they ran in."""
    order: list[int] = []

    def recorder(i: int) -> Callable[[], int]:
        def task() -> int:
            order.append(i)  # list.append is atomic under the GIL
            return i

        return task

    for candidate in candidates(shape, [recorder(i) for i in range(shape.n)]):
        order.clear()
        if not candidate.check(candidate.run()):
            raise WrongResult(f"{candidate.name} computed wrong values on {shape.label!r}")
        if not is_topological(shape, order):
            raise WrongResult(f"{candidate.name} ran {shape.label!r} out of dependency order")


def measure(shape: Shape, repeats: int) -> dict[str, Samples]:
    check_order(shape)  # also warms every candidate up
    tasks: list[Callable[[], Any]] = [returning(i) for i in range(shape.n)]
    return interleave(candidates(shape, tasks), repeats)


def _us(samples: Samples, n: int) -> str:
    return f"{samples.best / n * 1e6:.2f} ({samples.median / n * 1e6:.2f})"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="nodes per shape (a square)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per candidate")
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args(argv)

    rows = []
    all_ok = True
    edge = True  # stays True while the median runs meet the targets too
    for shape in overhead_shapes(args.tasks):
        samples = measure(shape, args.repeats)
        ratios = {}
        for stat in ("best", "median"):
            ours = getattr(samples[OURS], stat)
            faster_ref = min(
                getattr(samples[MAIN_LOOP], stat), getattr(samples[WORKER_DRIVEN], stat)
            )
            ratios[stat] = (ours / faster_ref, getattr(samples[DASK], stat) / ours)
        vs_ref, dask_factor = ratios["best"]
        meets = {
            stat: vs <= TARGET_VS_REFERENCE and factor >= TARGET_DASK_FACTOR
            for stat, (vs, factor) in ratios.items()
        }
        all_ok &= meets["best"]
        edge &= meets["median"]
        rows.append(
            [
                shape.label,
                *(_us(samples[name], shape.n) for name in (OURS, MAIN_LOOP, WORKER_DRIVEN, DASK)),
                f"{vs_ref:.2f} ({ratios['median'][0]:.2f})",
                f"{dask_factor:.1f} ({ratios['median'][1]:.1f})",
                noisy_verdict(meets["best"], meets["median"]),
            ]
        )
        print(" | ".join(map(str, rows[-1])), flush=True)

    command = "python -m benchmarks.bench_overhead" + (
        f" --tasks {args.tasks}" if args.tasks != 10_000 else ""
    )
    body = f"""\
## Per-task overhead, {args.tasks:,} no-op tasks, 2 workers (`bench_overhead`)

Machine: {machine()}
Command: `{command}` (also run by `python -m benchmarks.run_all`)

Microseconds per task over {args.repeats} interleaved runs of each candidate: best
(median in brackets); the machine is shared, so the best run is the one least
disturbed by others, and the verdict uses it. "vs ref" is dagron_nb / the faster of
the two reference schedulers (target <= {TARGET_VS_REFERENCE}); "dask/ours" is dask's
time / dagron_nb's (target >= {TARGET_DASK_FACTOR:g}). Every run's values were
checked, and each candidate's run order was checked to be topological before timing.

{table(["shape", OURS, MAIN_LOOP, WORKER_DRIVEN, DASK, "vs ref", "dask/ours", "target"], rows)}

Overall: **{noisy_verdict(all_ok, edge)}**
"""
    if not args.no_write:
        write_section("bench_overhead", body)
    return body


if __name__ == "__main__":
    print(main())
