"""100,000-node DAGs: time to build, plan and execute, and the memory it takes.

Three shapes: a chain of 100,000 nodes, 100,000 independent nodes, and one root
with 100,000 children. Each shape runs in a fresh child process (so the process's
max RSS belongs to that shape alone), twice: once untimed by tracemalloc for the
step times and the max RSS, once under ``tracemalloc`` for the peak of Python
allocations over build + plan + execute, and during ``execute`` alone. The
tasks are no-ops that return their node number; the child checks every node
COMPLETED with the right value.

Steps: *build* = ``DAGBuilder`` ``add_nodes`` + ``add_edges`` + ``build()``;
*plan* = ``execution_plan()`` and ``critical_path()``; *execute* =
``DAGExecutor(dag, max_workers=2).execute(tasks)``.

    python -m benchmarks.bench_scale [--nodes 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_scale.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import machine, table, write_section
from benchmarks.shapes import Shape, chain, fan_out, independent, returning
from dagron_nb import DAG, DAGBuilder, DAGExecutor, ExecutionResult

ROOT = Path(__file__).resolve().parents[1]
SHAPES: dict[str, Callable[[int], Shape]] = {
    "chain": chain,
    "independent": independent,
    "fan-out": lambda n: fan_out(n + 1),  # one root plus n children
}
MIB = 1024 * 1024


def _build(shape: Shape) -> DAG:
    names = shape.names
    builder = DAGBuilder().add_nodes(names)
    builder.add_edges([(names[s], names[t]) for s, t in shape.edges])
    return builder.build()


def _steps(shape: Shape) -> dict[str, float]:
    """Build, plan and execute ``shape``; seconds per step (and memory, when tracing)."""
    tasks = {name: returning(i) for i, name in enumerate(shape.names)}
    tracing = tracemalloc.is_tracing()
    figures: dict[str, float] = {}
    marks = [time.perf_counter()]
    dag = _build(shape)
    marks.append(time.perf_counter())
    plan = dag.execution_plan()
    path = dag.critical_path()
    marks.append(time.perf_counter())
    if tracing:  # the peak during execute alone, above what build and plan left behind
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
    result = DAGExecutor(dag, max_workers=2).execute(tasks)
    marks.append(time.perf_counter())
    if tracing:
        figures["execute_peak_mib"] = (tracemalloc.get_traced_memory()[1] - before) / MIB
    _check(shape, result)
    del result  # so the second run's memory does not stack on the first one's
    again = DAGExecutor(dag, max_workers=2).execute(tasks)  # reuses the DAG's snapshot
    marks.append(time.perf_counter())
    _check(shape, again)
    if sum(len(step.nodes) for step in plan) != shape.n or not path:
        raise AssertionError(f"{shape.label}: the plan does not cover every node")
    for k, step in enumerate(("build_s", "plan_s", "execute_s", "again_s")):
        figures[step] = marks[k + 1] - marks[k]
    return figures


def _check(shape: Shape, result: ExecutionResult) -> None:
    if result.succeeded != shape.n or result.values != list(range(shape.n)):
        raise AssertionError(f"{shape.label}: not every node COMPLETED with its value")


def child(kind: str, n: int) -> dict[str, Any]:
    """Everything measured for one shape, in this (fresh) process."""
    shape = SHAPES[kind](n)
    figures: dict[str, Any] = {"label": shape.label, "nodes": shape.n, "edges": len(shape.edges)}
    figures.update(_steps(shape))  # untraced: the times and the RSS
    figures["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gc.collect()
    tracemalloc.start()
    figures["execute_peak_mib"] = _steps(shape)["execute_peak_mib"]
    figures["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / MIB
    tracemalloc.stop()
    return figures


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--child", choices=sorted(SHAPES), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.nodes)))
        return ""

    rows = []
    for kind in SHAPES:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_scale",
                "--child",
                kind,
                "--nodes",
                str(args.nodes),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        rows.append(
            [
                f["label"],
                f"{f['nodes']:,}",
                f"{f['edges']:,}",
                f"{f['build_s']:.2f}",
                f"{f['plan_s']:.2f}",
                f"{f['execute_s']:.2f}",
                f"{f['execute_s'] / f['nodes'] * 1e6:.1f}",
                f"{f['again_s']:.2f}",
                f"{f['tracemalloc_peak_mib']:.0f}",
                f"{f['execute_peak_mib']:.0f}",
                f"{f['max_rss_mib']:.0f}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)

    command = "python -m benchmarks.bench_scale" + (
        f" --nodes {args.nodes}" if args.nodes != 100_000 else ""
    )
    body = f"""\
## Scale: {args.nodes:,}-node DAGs, build / plan / execute and peak memory (`bench_scale`)

Machine: {machine()}
Command: `{command}` (also run by `python -m benchmarks.run_all`)

One fresh process per shape. Seconds per step (one run); "build" = DAGBuilder +
build(), "plan" = execution_plan() + critical_path(), "execute" =
DAGExecutor(max_workers=2) with no-op tasks, all nodes COMPLETED; the first execute
includes the DAG's frozen snapshot and integer index, which a second execute
("execute again") reuses. Memory in MiB:
tracemalloc peak over build + plan + execute, the tracemalloc peak added during
execute alone, and the process max RSS (`resource.getrusage`, interpreter and
imports included, ~{_baseline_rss():.0f} MiB for an interpreter that only imported dagron_nb).
No step hits the recursion limit (all graph algorithms are iterative).

{table(["shape", "nodes", "edges", "build s", "plan s", "execute s", "execute us/node", "execute again s", "tracemalloc peak", "execute peak", "max RSS"], rows)}

Acceptance (issue 2, item 6): every shape built, planned and executed; **PASS**.
"""
    if not args.no_write:
        write_section("bench_scale", body)
    return body


def _baseline_rss() -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, dagron_nb; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out) / 1024


if __name__ == "__main__":
    print(main())
