"""Scale: 100,000-node DAGs build, plan and execute without recursion errors.

Issue 2, acceptance 6. Behaviour only (no speed asserts; the figures live in
``benchmarks/RESULTS.md``): a 100,000-node chain (deeper than any recursion limit),
100,000 independent nodes and one root with 100,000 children are built, planned
and executed with no-op tasks on both executors, and every node ends COMPLETED
with its own value, after its predecessors. A failure at the head of the chain
skips the whole tail, also iteratively. And memory (issue 10, item 14): a
chain of no-op tasks costs well under 1 KB per node, measured in bytes allocated
(tracemalloc), not in time.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from dagron_nb import (
    DAG,
    AsyncDAGExecutor,
    DAGBuilder,
    DAGExecutor,
    ExecutionResult,
    NodeStatus,
)

N = 100_000
NAMES = [f"n{i}" for i in range(N)]

pytestmark = pytest.mark.timeout(300)  # generous: a hang must fail, a slow machine must not


def _returning(i: int) -> Callable[[], int]:
    return lambda: i


def _tasks() -> dict[str, Callable[[], int]]:
    return {name: _returning(i) for i, name in enumerate(NAMES)}


def _async_tasks() -> dict[str, Callable[[], Any]]:
    def make(i: int) -> Callable[[], Any]:
        async def task() -> int:
            return i

        return task

    return {name: make(i) for i, name in enumerate(NAMES)}


def _execute(dag: DAG, kind: str, **options: Any) -> ExecutionResult:
    if kind == "threads":
        return DAGExecutor(dag, max_workers=2, **options).execute(_tasks())
    return asyncio.run(AsyncDAGExecutor(dag, **options).execute(_async_tasks()))


def _assert_all_completed(result: ExecutionResult) -> None:
    assert result.succeeded == N
    assert result.statuses == [NodeStatus.COMPLETED] * N
    assert result.values == list(range(N))


@pytest.fixture(scope="module")
def chain() -> DAG:
    return DAGBuilder().add_edges(itertools.pairwise(NAMES)).build()


@pytest.fixture(scope="module")
def wide() -> DAG:
    return DAGBuilder().add_nodes(NAMES).build()


@pytest.fixture(scope="module")
def fan_out() -> DAG:
    return DAGBuilder().add_edges(("root", name) for name in NAMES).build()


# -- the chain ---------------------------------------------------------------------
def test_chain_queries_and_plan(chain: DAG) -> None:
    assert 10 * sys.getrecursionlimit() < N  # any recursion along the chain would fail
    assert (chain.node_count(), chain.edge_count()) == (N, N - 1)
    assert chain.topological_sort() == NAMES
    assert (chain.roots(), chain.leaves()) == (["n0"], [NAMES[-1]])
    assert len(chain.ancestors(NAMES[-1])) == N - 1
    assert len(chain.descendants("n0")) == N - 1

    plan = chain.execution_plan()
    assert len(plan) == N
    assert [step.level for step in plan[:3]] == [0, 1, 2]
    assert plan[-1].level == N - 1
    assert plan[-1].nodes == [NAMES[-1]]
    assert chain.critical_path() == NAMES


def test_chain_built_step_by_step_checks_every_edge() -> None:
    # the mutable DAG looks for a cycle on every add_edge, iteratively
    dag = DAG().add_nodes(NAMES)
    for source, target in itertools.pairwise(NAMES):
        dag.add_edge(source, target)
    assert dag.edge_count() == N - 1
    assert dag.critical_path() == NAMES


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_chain_executes_in_order(chain: DAG, kind: str) -> None:
    result = _execute(chain, kind)
    _assert_all_completed(result)
    started, finished = result.started, result.finished
    assert all(
        finished[i] <= started[i + 1]  # type: ignore[operator]
        for i in range(N - 1)
    ), "a chain node started before its predecessor finished"


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_chain_failure_at_the_head_skips_the_whole_tail(chain: DAG, kind: str) -> None:
    def boom() -> None:
        raise RuntimeError("head failed")

    tasks: dict[str, Callable[[], Any]] = {name: (lambda: None) for name in NAMES}
    tasks["n0"] = boom
    if kind == "threads":
        result = DAGExecutor(chain, max_workers=2, fail_fast=False).execute(tasks)
    else:
        result = asyncio.run(AsyncDAGExecutor(chain, fail_fast=False).execute(tasks))
    assert (result.failed, result.skipped) == (1, N - 1)
    assert result.reasons[-1] == "upstream 'n0' failed"


# -- wide DAGs ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_independent_nodes_plan_and_execute(wide: DAG, kind: str) -> None:
    plan = wide.execution_plan()
    assert len(plan) == 1
    assert plan[0].nodes == NAMES  # equal priority: insertion order
    assert len(wide.critical_path()) == 1
    _assert_all_completed(_execute(wide, kind))


def test_one_root_with_100000_children(fan_out: DAG) -> None:
    assert fan_out.node_count() == N + 1
    plan = fan_out.execution_plan()
    assert [(step.level, len(step.nodes)) for step in plan] == [(0, 1), (1, N)]
    assert fan_out.critical_path() == ["root", "n0"]

    tasks: dict[str, Callable[[], Any]] = {"root": lambda: "root", **_tasks()}
    result = DAGExecutor(fan_out, max_workers=2).execute(tasks)
    assert result.succeeded == N + 1
    root_end = result["root"].finished_at
    assert root_end is not None
    assert min(s for s in result.started[1:] if s is not None) >= root_end
    assert result.outputs()["n99999"] == 99_999


# -- memory ------------------------------------------------------------------------
def test_a_chain_of_no_op_tasks_costs_well_under_a_kilobyte_per_node() -> None:
    """Peak bytes allocated from the names to the result, per node, the
    benchmark's job (``bench_reliability``) at 50,000 nodes: ~520 now, ~2,100
    when a run copied the DAG's dicts of dicts and every DAG kept them."""
    n = N // 2  # per node it is the same; tracemalloc makes it slow
    gc.collect()
    tracemalloc.start()
    try:
        names = [f"m{i}" for i in range(n)]
        builder = DAGBuilder().add_nodes(names)
        builder.add_edges(itertools.pairwise(names))
        dag = builder.build()
        tasks = dict.fromkeys(names, _noop)
        result = DAGExecutor(dag, max_workers=2).execute(tasks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.succeeded == n
    assert peak / n < 1024, f"{peak / n:.0f} bytes per node"


def _noop() -> None:
    return None
