"""Run every benchmark script and refresh ``benchmarks/RESULTS.md``.

Each ``benchmarks/bench_*.py`` runs in its own fresh interpreter (so one
benchmark's threads, garbage and memory do not colour the next) and rewrites its
own section of ``RESULTS.md``. A script that fails is reported and the others
still run; the exit status is non-zero if any failed.

    python -m benchmarks.run_all                 # everything (also: make bench)
    python -m benchmarks.run_all overhead async  # only bench_overhead and bench_async
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[str]:
    """Module names of the benchmark scripts, e.g. ``bench_overhead``."""
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only", nargs="*", help="run only these (e.g. overhead, bench_scale); default: all"
    )
    args = parser.parse_args(argv)
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in args.only}
    unknown = wanted - set(scripts())
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}; choose from {scripts()}")

    failed = []
    for name in scripts():
        if wanted and name not in wanted:
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - start:.0f} s\n")
        if done.returncode:
            failed.append(name)
    print(f"Results: {HERE / 'RESULTS.md'}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
