"""The README's main job: a small ETL pipeline run in parallel with a progress line.

Six tasks whose parameter names give the edges (extract -> validate -> two
parallel branches -> load -> report). A callbacks object draws one progress
line in the terminal while the run goes; at the end the script prints the
summary, a per-node table and the critical path. Run it with ``make demo``.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import TextIO

from dagron_nb import NodeStatus, Pipeline, task


@task
def extract() -> list[dict[str, float]]:
    time.sleep(0.3)
    rng = random.Random(7)
    return [{"id": i, "amount": round(rng.uniform(1, 100), 2)} for i in range(1_000)]


@task
def validate(extract: list[dict[str, float]]) -> list[dict[str, float]]:
    time.sleep(0.1)
    return [row for row in extract if row["amount"] > 0]


@task
def totals(validate: list[dict[str, float]]) -> float:
    time.sleep(0.4)
    return round(sum(row["amount"] for row in validate), 2)


@task
def top_customers(validate: list[dict[str, float]]) -> list[int]:
    time.sleep(0.25)
    return [row["id"] for row in sorted(validate, key=lambda r: -r["amount"])[:3]]


@task
def load(totals: float, top_customers: list[int]) -> str:
    time.sleep(0.15)
    return f"stored total={totals} top={top_customers}"


@task
def report(load: str) -> str:
    return f"report: {load}"


class ProgressLine:
    """Redraws one terminal line: a bar, done/total, and what is running.

    Where the output is not a terminal (a CI log), each update is its own line.
    """

    def __init__(self, total: int, stream: TextIO = sys.stdout) -> None:
        self.total = total
        self.end = "" if stream.isatty() else "\n"
        self.done = 0
        self.running: list[str] = []
        self.stream = stream
        self.lock = threading.Lock()
        self.t0 = time.perf_counter()

    def _draw(self) -> None:
        width = 24
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        running = ", ".join(self.running) or "-"
        line = (
            ("" if self.end else "\r") + f"[{bar}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.t0:5.2f}s  running: {running}"
        )
        print(line.ljust(90) if not self.end else line, end=self.end, file=self.stream, flush=True)

    def on_node_start(self, name: str) -> None:
        with self.lock:
            self.running.append(name)
            self._draw()

    def _end(self, name: str) -> None:
        with self.lock:
            if name in self.running:
                self.running.remove(name)
            self.done += 1
            self._draw()

    def on_node_complete(self, name: str, result: object) -> None:
        self._end(name)

    def on_node_error(self, name: str, error: BaseException) -> None:
        self._end(name)

    def on_node_skip(self, name: str) -> None:
        self._end(name)

    def on_run_end(self, result: object) -> None:
        if not self.end:
            print(file=self.stream)


def main() -> int:
    pipeline = Pipeline([extract, validate, totals, top_customers, load, report], name="etl")
    costs = {"totals": 4.0, "top_customers": 2.5}  # rough seconds, for the priority
    print(f"Running {pipeline!r} on 4 threads")
    result = pipeline.execute(
        max_workers=4, callbacks=ProgressLine(pipeline.dag.node_count()), costs=costs
    )
    print(result.summary())
    print(f"{'node':<15} {'status':<10} {'start':>7} {'seconds':>8}  worker")
    for name, nr in result.node_results.items():
        start = f"{nr.started_at:.3f}" if nr.started_at is not None else "-"
        print(
            f"{name:<15} {nr.status.value:<10} {start:>7} "
            f"{nr.duration_seconds:8.3f}  {nr.worker or '-'}"
        )
    print("critical path:", " -> ".join(pipeline.dag.critical_path(costs)))
    print("result:", result["report"].result)
    return 0 if all(nr.status is NodeStatus.COMPLETED for nr in result.node_results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
