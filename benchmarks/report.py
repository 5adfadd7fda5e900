"""Writing figures to the shared ``benchmarks/RESULTS.md``, one section per script.

Each benchmark owns the lines between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` and rewrites only those, so scripts written by different
people (and run at different times) share the file without clobbering each other.
A file lock serialises concurrent writers. Sections open with the machine, the
date and the exact command, so every figure says where it came from.

>>> print(table(["shape", "us/task"], [["chain", "1.50"]]))
| shape | us/task |
| --- | --- |
| chain | 1.50 |
"""

from __future__ import annotations

import datetime
import fcntl
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

import dagron_nb

RESULTS = Path(__file__).with_name("RESULTS.md")

HEADER = """\
# Benchmark results

Measured figures for dagron_nb; none of them is asserted by the test suite.
Regenerate all of them from the repository root with `python -m benchmarks.run_all`
(or `make bench`); each section names the script and exact command that wrote it,
the machine and the date. Every script rewrites only its own section, between its
`<!-- BEGIN name -->` and `<!-- END name -->` lines.
"""


def machine() -> str:
    """One line describing where the figures were measured."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = f"load average {os.getloadavg()[0]:.1f} at the start"
    except OSError:  # not offered on this platform
        load = "load average unknown"
    return (
        f"{os.cpu_count()} cores (nproc), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}, "
        f"dagron_nb {dagron_nb.__version__}, {now}, {load}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def noisy_verdict(best_ok: bool, median_ok: bool) -> str:
    """PASS / MISS from the best run, flagged when the median run tells otherwise.

    On a shared machine the best of several runs is the fairest estimate, but a
    target met only by the best run is at the edge, and the reader should see it.
    """
    if best_ok:
        return "PASS" if median_ok else "PASS (best run only; the median misses)"
    return "MISS"


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section ``name`` of the results file with ``body``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    path.touch(exist_ok=True)
    with path.open("r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another script may be writing its own section
        text = f.read()
        if not text.strip():
            text = HEADER
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _: block, text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        f.seek(0)
        f.write(text)
        f.truncate()
