"""Speed and scale benchmarks for dagron_nb (not tests: they measure, they do not assert).

Run everything with ``python -m benchmarks.run_all`` from the repository root; each
script also runs alone (``python -m benchmarks.bench_overhead``). Figures land in
``benchmarks/RESULTS.md``, one section per script.
"""
