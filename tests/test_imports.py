"""Importing dagron_nb (and running a DAG) loads no Jupyter, pandas, graphviz or dask.

Each check runs in a fresh interpreter, so nothing the test session imported
can hide a stray import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "IPython",
    "ipywidgets",
    "anywidget",
    "traitlets",
    "pandas",
    "numpy",
    "graphviz",
    "matplotlib",
    "dask",
    "distributed",
    "nest_asyncio",
]


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_import_dagron_nb_is_light() -> None:
    modules = modules_after("import dagron_nb")
    assert "dagron_nb" in modules
    assert heavy_in(modules) == []


@pytest.mark.parametrize(
    "module",
    [
        "dagron_nb.core.graph",
        "dagron_nb.core.plan",
        "dagron_nb.core.results",
        "dagron_nb.core.callbacks",
        "dagron_nb.core.tracing",
        "dagron_nb.core.errors",
        "dagron_nb.core.extras",
        "dagron_nb.execution.scheduler",
        "dagron_nb.execution.run",
        "dagron_nb.execution.threads",
        "dagron_nb.execution.aio",
        "dagron_nb.execution.pipeline",
    ],
)
def test_core_and_execution_modules_are_light(module: str) -> None:
    assert heavy_in(modules_after(f"import {module}")) == []


def test_running_dags_and_pipelines_stays_light() -> None:
    code = """
import asyncio
import dagron_nb as dagron
dag = dagron.DAG.builder().add_edge("a", "b").build()
r = dagron.DAGExecutor(dag, enable_tracing=True).execute({"a": lambda: 1, "b": lambda: 2})
assert r.succeeded == 2, r
r.trace.to_chrome_trace()
r.summary()
dag.execution_plan(); dag.critical_path()
async def one(): return 1
r = asyncio.run(dagron.AsyncDAGExecutor(dag).execute({"a": one, "b": one}))
assert r.succeeded == 2, r
@dagron.task
def x(): return 1
@dagron.task
def y(x): return x + 1
assert dagron.Pipeline([x, y]).execute()["y"].result == 2
"""
    assert heavy_in(modules_after(code)) == []
