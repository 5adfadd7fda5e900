"""``ExecutionResult.to_dataframe()`` of a 100,000-node run, and the other analysis tables.

The result comes from a real ``DAGExecutor`` run (2 workers, ``fail_fast=False``)
of a random layered DAG of 100,000 no-op tasks (1,000 layers of 100, three
inputs per node), where every 10th node of the last two layers raises and every
997th node has no task, so the table holds COMPLETED, FAILED and SKIPPED rows
with errors and reasons.

Timed, interleaved, each output checked: ``to_dataframe()`` (target: under
0.25 s), beside the obvious alternative, ``pandas.DataFrame`` of the 100,000
``NodeResult`` dataclasses (already built, so only pandas' share is timed), and,
for information, ``slack_frame``, ``critical_path_frame``, ``plan_frame`` of the
DAG, ``compare_runs`` of the run with itself and ``timeline`` (figure built
and drawn to PNG).

    python -m benchmarks.bench_frames [--nodes 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_frames.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from benchmarks.report import machine, table, verdict, write_section
from benchmarks.shapes import random_layered
from benchmarks.timing import Candidate, interleave
from dagron_nb import DAGExecutor, ExecutionResult
from dagron_nb.notebook.frames import compare_runs, critical_path_frame, plan_frame, slack_frame
from dagron_nb.notebook.timeline import timeline

TARGET = 0.25
OURS = "result.to_dataframe()"
DATACLASSES = "pandas.DataFrame(NodeResult list)"


def make_result(n: int) -> ExecutionResult:
    dag = random_layered(n, width=100).dag()

    def boom() -> None:
        raise ValueError("a broken row")

    # Failures only near the end, so that most of the run still happens: every
    # 10th node of the last two layers raises (its children in the last layer are
    # SKIPPED), and every 997th node has no task (SKIPPED, "no task").
    tasks: dict[str, Callable[[], Any] | None] = {}
    for i, name in enumerate(dag.nodes()):
        if i % 997 == 500:
            tasks[name] = None
        elif i >= n - 200 and i % 10 == 0:
            tasks[name] = boom
        else:
            tasks[name] = int
    return DAGExecutor(dag, max_workers=2, fail_fast=False).execute(tasks)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args(argv)
    n = args.nodes

    result = make_result(n)
    counts = {s.value: c for s, c in result.counts.items() if c}
    records = list(result.node_results.values())

    def right_frame(frame: pd.DataFrame) -> bool:
        got = frame["status"].astype(str).value_counts().to_dict()
        return len(frame) == n and got == counts

    def draw() -> int:
        fig = timeline(result)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=60)
        return len(fig.axes[0].collections)

    main_candidates = [
        Candidate(OURS, result.to_dataframe, right_frame),
        Candidate(DATACLASSES, lambda: pd.DataFrame(records), lambda f: len(f) == n),
    ]
    main_samples = interleave(main_candidates, args.repeats)
    others = [
        Candidate("slack_frame(result)", lambda: slack_frame(result), right_frame),
        Candidate(
            "critical_path_frame(result)",
            lambda: critical_path_frame(result),
            lambda f: len(f) == len(result.critical_path()),
        ),
        Candidate("plan_frame(dag)", lambda: plan_frame(result.dag), lambda f: len(f) == n),
        Candidate(
            "compare_runs({a: result, b: result})",
            lambda: compare_runs({"a": result, "b": result}),
            lambda f: len(f) == n and bool((f["speedup"]["b"].dropna() == 1.0).all()),
        ),
        Candidate("timeline(result) + PNG", draw, lambda lanes: lanes >= 2),
    ]
    other_samples = interleave(others, max(1, args.repeats // 2))

    ours = main_samples[OURS]
    ok = ours.median < TARGET
    rows = [
        [name, f"{s.median:.3f}", f"{s.best:.3f}-{s.worst:.3f}"]
        for name, s in [*main_samples.items(), *other_samples.items()]
    ]
    for row in rows:
        print(" | ".join(row), flush=True)
    command = "python -m benchmarks.bench_frames" + (f" --nodes {n}" if n != 100_000 else "")
    status_line = ", ".join(f"{c:,} {s}" for s, c in counts.items())
    body = f"""\
## pandas tables of a {n:,}-node run (`bench_frames`)

Machine: {machine()}
Command: `{command}` (also run by `python -m benchmarks.run_all`)

A real `DAGExecutor` run (2 workers, `fail_fast=False`) of a random layered DAG of
{n:,} no-op tasks: {status_line}. Seconds per call, median of
{args.repeats} interleaved calls ({max(1, args.repeats // 2)} for the rows below the first two);
`NodeResult` objects already built for the dataclass row. Target: `to_dataframe()`
under {TARGET} s.

{table(["call", "median s", "best-worst s"], rows)}

Overall: **{verdict(ok)}** (`to_dataframe()` {ours.median:.3f} s,
{main_samples[DATACLASSES].median / ours.median:.1f}x faster than from dataclasses)
"""
    if not args.no_write:
        write_section("frames", body)
    return body


if __name__ == "__main__":
    print(main())
