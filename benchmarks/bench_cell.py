"""Shift+Enter to the cell returning: a ``%%dagron`` cell of no-op tasks in a real kernel.

A kernel is started with jupyter_client, as JupyterLab does, and two cells are
sent for each size (100, 1,000 and 3,000 nodes), interleaved and repeated:

- the ``%%dagron --no-cache`` cell: N no-op ``def`` s (node ``i`` takes up to
  two earlier nodes as parameters: a random layered DAG of fixed seed), with the
  live widget as a user gets it (and ``--no-live`` beside it); ``--no-cache``, so
  that every round runs every task (the cache would answer all of them from the
  second round on);
- the bare run: the same ``def`` s and ``Pipeline([...]).execute()`` in one cell.

Time is measured from sending ``execute_request`` until its ``execute_reply``
arrives, which is when the frontend shows the cell as done. The cell's overhead
is the ``%%dagron`` cell's time minus the bare run's. Goal: under 0.5 s at every
size. (Without a browser nobody draws the widget; what the kernel does for it,
sending the model and laying the graph out, is in the time. Layout that runs
after the cell returned is not.)

    python -m benchmarks.bench_cell [--sizes 100 1000 3000] [--repeats 5] [--no-write]
"""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/bench_cell.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import machine, noisy_verdict, table, write_section

TARGET = 0.5  # seconds of overhead over the bare run, at every size
SEED = 20240611


def task_defs(n: int) -> str:
    """N no-op functions; node i takes up to two earlier nodes as parameters."""
    rng = random.Random(SEED)
    lines = []
    for i in range(n):
        params = sorted(rng.sample(range(max(0, i - 50), i), k=min(i, 2))) if i else []
        args = ", ".join(f"t{p}" for p in params)
        lines.append(f"def t{i}({args}):\n    return {i}\n")
    return "".join(lines)


def cells(n: int) -> dict[str, str]:
    defs = task_defs(n)
    names = ", ".join(f"t{i}" for i in range(n))
    return {
        "%%dagron": f"%%dagron --no-cache -o _bench\n{defs}",
        "%%dagron --no-live": f"%%dagron --no-cache --no-live -o _bench\n{defs}",
        "bare run": (
            f"{defs}_t0 = _perf_counter()\n"
            f"_bench = Pipeline([{names}]).execute()\n"
            "print(_bench.summary(), f'(pipeline + execute: {_perf_counter() - _t0:.3f} s)')\n"
        ),
    }


class Kernel:
    """A kernel started like JupyterLab starts one, driven through its messages."""

    def __init__(self) -> None:
        import jupyter_client

        self.km, self.kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
        self.run(
            "%load_ext dagron_nb\nfrom time import perf_counter as _perf_counter\n"
            "from dagron_nb import Pipeline",
            timeout=120,
        )

    def run(self, code: str, timeout: float = 600) -> tuple[float, str]:
        """Seconds from the request to the reply, and what the cell printed."""
        start = time.perf_counter()
        msg_id = self.kc.execute(code)
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - start
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the cell failed: {reply['content']}")
        return elapsed, self._printed(msg_id)

    def _printed(self, msg_id: str) -> str:
        """The stdout of the cell ``msg_id``, read up to its idle status."""
        out = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=60)
            except queue.Empty:
                return "".join(out)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def measure(kernel: Kernel, n: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per cell kind, interleaved (the order rotates every round); under
    "pipeline + execute", the bare cell's own time for those two steps."""
    kinds = cells(n)
    samples: dict[str, list[float]] = {k: [] for k in [*kinds, "pipeline + execute"]}
    order = list(kinds)
    for r in range(repeats + 1):
        k = r % len(order)
        for kind in [*order[k:], *order[:k]]:
            seconds, printed = kernel.run(kinds[kind])
            if f"{n} completed" not in printed:
                raise RuntimeError(f"{kind} with {n} nodes did not complete: {printed!r}")
            if r:  # the first round warms the kernel up (imports, first widget)
                samples[kind].append(seconds)
                if kind == "bare run":
                    inside = printed.rsplit("(pipeline + execute: ", 1)[1].split(" s)")[0]
                    samples["pipeline + execute"].append(float(inside))
    return samples


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args(argv)

    kernel = Kernel()
    rows = []
    verdicts = []
    try:
        for n in args.sizes:
            samples = measure(kernel, n, args.repeats)
            bare = samples["bare run"]
            inside = samples["pipeline + execute"]
            for kind in ("%%dagron", "%%dagron --no-live"):  # both with --no-cache
                mine = samples[kind]
                best = min(mine) - min(bare)
                median = statistics.median(mine) - statistics.median(bare)
                if kind == "%%dagron":
                    verdicts.append((best < TARGET, median < TARGET))
                rows.append(
                    [
                        f"{n:,}",
                        f"`{kind}`",
                        f"{min(mine):.3f}",
                        f"{statistics.median(mine):.3f}",
                        f"{min(bare):.3f}",
                        f"{statistics.median(bare):.3f}",
                        f"{statistics.median(inside):.3f}",
                        f"{best:+.3f}",
                        f"{median:+.3f}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    finally:
        kernel.close()
    ok = noisy_verdict(all(b for b, _ in verdicts), all(m for _, m in verdicts))
    sizes = " ".join(str(n) for n in args.sizes)
    command = "python -m benchmarks.bench_cell" + (
        f" --sizes {sizes}" if args.sizes != [100, 1000, 3000] else ""
    )
    body = f"""\
## `%%dagron` cell: Shift+Enter to the cell returning, in a kernel (`bench_cell`)

Machine: {machine()}
Command: `{command}` (also run by `python -m benchmarks.run_all`)

Seconds from `execute_request` to `execute_reply` (jupyter_client, as a frontend sees
it) over {args.repeats} interleaved rounds after one warm-up round. The cell defines N
no-op functions (each takes up to two earlier ones: a random layered DAG) and runs
them, with `--no-cache` (else every round after the first is all cache hits); the bare run is the same `def`s and `Pipeline([...]).execute()` in a plain
cell. Overhead = the `%%dagron` cell minus the bare run (best vs best, median vs
median). No browser is attached: the widget's model is sent and its layout runs in
the kernel, but nobody draws it.

{table(["nodes", "cell", "best s", "median s", "bare best s", "bare median s", "bare: run only, median s", "overhead best s", "overhead median s"], rows)}

"bare: run only" is the part of the bare cell spent in `Pipeline([...])` and
`.execute()`; the rest of the bare cell is IPython tokenizing, parsing and
compiling the N `def`s (its input transformers tokenize the whole cell: about a
second for 3,000 functions). `%%dagron` parses a plain-Python cell directly, without
IPython's transforms (they leave valid Python unchanged), which is why it can be
faster than the bare cell.

Overall (`%%dagron` overhead under {TARGET} s at every size): **{ok}**
"""
    if not args.no_write:
        write_section("cell", body)
    return body


if __name__ == "__main__":
    print(main())
