"""``DaskExecutor`` beside dask's own ``client.get`` of the same graph, on one cluster.

One ``LocalCluster`` of 2 single-threaded worker processes serves both
candidates, interleaved. The graphs have 2,000 no-op nodes (a random layered
DAG and a chain); node ``i`` returns ``i``. dask runs ``client.get(graph, keys)``
of the equivalent task graph (every value fetched); dagron_nb runs
``DaskExecutor(dag, client=client).execute(tasks)`` (every value fetched too),
its tasks being ``functools.partial`` of one module-level function, so both
send the same amount of code. Figure: milliseconds per task (whole call /
nodes) and the ratio ours / dask's; target <= 1.5 (best of the runs).

Memory: a ``Pipeline`` of 10 steps, each returning a fresh 50 MB ``bytes`` made
from its predecessor's, runs with ``outputs=["step9"]``; the notebook process's
resident memory must not grow by more than one result (plus 10 MB of slack).

    python -m benchmarks.bench_dask [--nodes 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_dask.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import machine, noisy_verdict, table, verdict, write_section
from benchmarks.shapes import Shape, chain, random_layered
from benchmarks.timing import Candidate, interleave
from dagron_nb import Pipeline, task
from dagron_nb.execution.dask import DaskExecutor

TARGET = 1.5
MB = 1_000_000
RESULT_BYTES = 50 * MB
STEPS = 10
SLACK = 10 * MB


def _noop(i: int, *upstream: Any) -> int:
    return i


def _candidates(shape: Shape, client: Any) -> list[Candidate]:
    dag = shape.dag()
    tasks = {name: functools.partial(_noop, i) for i, name in enumerate(shape.names)}
    executor = DaskExecutor(dag, client=client)
    graph = shape.dask_graph(_noop)
    expected = list(range(shape.n))

    def ours() -> list[Any]:
        return list(executor.execute(tasks).values)

    def theirs() -> list[Any]:
        return list(client.get(graph, shape.names))

    def check(values: list[Any]) -> bool:
        return values == expected

    return [Candidate("dagron_nb", ours, check), Candidate("dask client.get", theirs, check)]


def speed(client: Any, n: int, repeats: int) -> list[list[str]]:
    side = round(n**0.5)
    rows = []
    for shape in (random_layered(n, width=side), chain(n)):
        samples = interleave(_candidates(shape, client), repeats)
        ours, theirs = samples["dagron_nb"], samples["dask client.get"]
        best, median = ours.best / theirs.best, ours.median / theirs.median
        rows.append(
            [
                shape.label,
                f"{ours.best / n * 1e3:.2f} ({ours.median / n * 1e3:.2f})",
                f"{theirs.best / n * 1e3:.2f} ({theirs.median / n * 1e3:.2f})",
                f"{best:.2f} ({median:.2f})",
                noisy_verdict(best <= TARGET, median <= TARGET),
            ]
        )
    return rows


def _first() -> bytes:
    return bytes(RESULT_BYTES)


def _grow(**upstream: bytes) -> bytes:
    (previous,) = upstream.values()
    return previous[:1] + bytes(RESULT_BYTES - 1)  # a new 50 MB value


def _pipeline() -> Pipeline:
    """step0 -> step1 -> ... -> step9, each step's parameter named after the one before."""
    steps = [task(name="step0")(_first)]
    for k in range(1, STEPS):
        step = functools.partial(_grow)
        source = inspect.Parameter(f"step{k - 1}", inspect.Parameter.KEYWORD_ONLY)
        step.__signature__ = inspect.Signature([source])  # type: ignore[attr-defined]
        steps.append(task(name=f"step{k}")(step))
    return Pipeline(steps)


def memory(client: Any) -> list[list[str]]:
    import psutil

    process = psutil.Process()
    pipeline = _pipeline()
    last = f"step{STEPS - 1}"
    pipeline.execute_dask(client=client, outputs=[last])  # warm up (imports, pools)
    gc.collect()
    before = process.memory_info().rss
    result = pipeline.execute_dask(client=client, outputs=[last])
    grown = process.memory_info().rss - before
    assert result.ok
    assert len(result[last].result) == RESULT_BYTES
    assert all(result[f"step{k}"].result is None for k in range(STEPS - 1))
    del result
    gc.collect()
    before = process.memory_info().rss
    everything = pipeline.execute_dask(client=client)  # for contrast: every value back
    grown_all = process.memory_info().rss - before
    assert everything.ok
    limit = RESULT_BYTES + SLACK
    return [
        [
            f"{STEPS} x {RESULT_BYTES // MB} MB chain, outputs=[{last!r}]",
            f"{grown / MB:.1f} MB",
            f"<= {limit / MB:.0f} MB",
            verdict(grown <= limit),
        ],
        [
            "the same, outputs=None (every value back, for contrast)",
            f"{grown_all / MB:.1f} MB",
            "-",
            "-",
        ],
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    try:
        client.get({"warm": (_noop, 0)}, "warm")
        rows = speed(client, args.nodes, args.repeats)
        mem = memory(client)
    finally:
        client.close()
        cluster.close()
    headers = ["graph", "dagron_nb ms/task", "dask ms/task", "ours/dask", "target <= 1.5"]
    body = "\n\n".join(
        [
            "## DaskExecutor vs dask's client.get (bench_dask)",
            f"`python -m benchmarks.bench_dask --nodes {args.nodes} --repeats {args.repeats}`"
            f" on {machine()}.",
            "One LocalCluster, 2 worker processes x 1 thread; best of the runs "
            "(median in brackets); whole call / nodes.",
            table(headers, rows),
            "Memory of the notebook process while the chain runs on the cluster:",
            table(["run", "RSS growth", "target", "verdict"], mem),
        ]
    )
    print(body)
    write_section("dask", body)


if __name__ == "__main__":
    main()
