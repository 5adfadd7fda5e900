"""Plan and run analysis: hand-computed examples, real runs, and brute force."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagron_nb import (
    DAG,
    AsyncDAGExecutor,
    ConfigurationError,
    DAGExecutor,
    ExecutionResult,
    NodeStatus,
)
from dagron_nb.core.analysis import plan_analysis, run_analysis

# -- helpers ---------------------------------------------------------------------


def synthetic_result(dag: DAG, times: Mapping[str, tuple[float, float]]) -> ExecutionResult:
    """A result where the nodes in ``times`` ran (start, finish) and the rest were
    taskless (SKIPPED, "no task"), so tests choose the times exactly."""
    snap = dag.snapshot()
    names = snap.index().names
    ran = [name in times for name in names]
    return ExecutionResult(
        snap,
        list(names),
        [NodeStatus.COMPLETED if r else NodeStatus.SKIPPED for r in ran],
        values=[None] * len(names),
        errors=[None] * len(names),
        started=[times[n][0] if n in times else None for n in names],
        finished=[times[n][1] if n in times else None for n in names],
        workers=["w0" if r else None for r in ran],
        reasons=[None if r else "no task" for r in ran],
        total_duration_seconds=max((f for _, f in times.values()), default=0.0),
    )


def diamond() -> DAG:
    return (
        DAG.builder()
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edges([("b", "d"), ("c", "d")])
        .build()
    )


# -- plan ------------------------------------------------------------------------


def test_plan_analysis_hand_computed_diamond() -> None:
    # a(1) -> b(3) -> d(2) and a -> c(1) -> d: the long branch is a, b, d = 6.
    plan = plan_analysis(diamond(), {"a": 1.0, "b": 3.0, "c": 1.0, "d": 2.0})
    assert plan.names == ["a", "b", "c", "d"]
    assert plan.level == [0, 1, 1, 2]
    assert plan.cost == [1.0, 3.0, 1.0, 2.0]
    assert plan.bottom_level == [6.0, 5.0, 3.0, 2.0]
    assert plan.earliest_start == [0.0, 1.0, 1.0, 4.0]
    assert plan.earliest_finish == [1.0, 4.0, 2.0, 6.0]
    assert plan.latest_start == [0.0, 1.0, 3.0, 4.0]
    assert plan.latest_finish == [1.0, 4.0, 4.0, 6.0]
    assert plan.slack == [0.0, 0.0, 2.0, 0.0]
    assert plan.on_critical_path == [True, True, False, True]
    assert plan.critical_path == ["a", "b", "d"]
    assert plan.predecessors == [0, 1, 1, 2]
    assert plan.successors == [2, 1, 1, 0]
    assert plan.makespan == 6.0
    # execution_plan order: by level, and b (bottom level 5) before c (3)
    assert [plan.names[i] for i in plan.order] == ["a", "b", "c", "d"]


def test_plan_order_follows_execution_plan() -> None:
    dag = DAG().add_nodes(["x", "y", "z"]).add_edge("x", "z")
    costs = {"y": 5.0}
    plan = plan_analysis(dag, costs)
    steps = dag.execution_plan(costs)
    assert [plan.names[i] for i in plan.order] == [n for s in steps for n in s.nodes]


def test_plan_analysis_defaults_to_unit_costs_and_handles_empty_dag() -> None:
    plan = plan_analysis(DAG().add_nodes(["a"]))
    assert (plan.cost, plan.slack, plan.makespan) == ([1.0], [0.0], 1.0)
    empty = plan_analysis(DAG())
    assert empty.names == []
    assert empty.makespan == 0.0
    assert empty.critical_path == []
    assert empty.order == []


def test_plan_analysis_refuses_bad_costs() -> None:
    with pytest.raises(ConfigurationError, match=r"not in the DAG: 'zz'"):
        plan_analysis(diamond(), {"zz": 1.0})
    with pytest.raises(ConfigurationError, match=r"cost of node 'a' must be a finite number"):
        plan_analysis(diamond(), {"a": -1.0})


@st.composite
def random_dags(draw: st.DrawFn, max_nodes: int = 7) -> tuple[DAG, dict[int, list[int]]]:
    """A random DAG on n0..nk with edges only from lower to higher numbers."""
    n = draw(st.integers(1, max_nodes))
    dag = DAG().add_nodes([f"n{i}" for i in range(n)])
    succ: dict[int, list[int]] = {i: [] for i in range(n)}
    for j in range(n):
        for i in range(j):
            if draw(st.booleans()):
                dag.add_edge(f"n{i}", f"n{j}")
                succ[i].append(j)
    return dag, succ


def all_paths(succ: Mapping[int, list[int]], start: int) -> Iterator[list[int]]:
    """Every path from ``start`` to a sink (brute force, exponential)."""
    stack = [[start]]
    while stack:
        path = stack.pop()
        if not succ[path[-1]]:
            yield path
        for nxt in succ[path[-1]]:
            stack.append([*path, nxt])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), graph=random_dags())
def test_plan_slack_matches_brute_force_longest_paths(
    data: st.DataObject, graph: tuple[DAG, dict[int, list[int]]]
) -> None:
    dag, succ = graph
    n = dag.node_count()
    # whole numbers keep every sum exact, so equality is exact too
    cost = [float(data.draw(st.integers(0, 9))) for _ in range(n)]
    plan = plan_analysis(dag, {f"n{i}": c for i, c in enumerate(cost)})
    pred: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, targets in succ.items():
        for j in targets:
            pred[j].append(i)
    roots = [i for i in range(n) if not pred[i]]
    paths = [p for r in roots for p in all_paths(succ, r)]
    weight = [sum(cost[i] for i in p) for p in paths]
    makespan = max(weight)
    assert plan.makespan == makespan
    assert sum(cost[plan.names.index(x)] for x in plan.critical_path) == makespan
    for i in range(n):
        through = [w for p, w in zip(paths, weight) if i in p]
        assert plan.slack[i] == makespan - max(through)
        before = [sum(cost[k] for k in p[: p.index(i)]) for p in paths if i in p]
        assert plan.earliest_start[i] == max(before)


# -- run: synthetic results --------------------------------------------------------


def test_run_analysis_hand_computed_synthetic() -> None:
    # a 0-1, then b 1-5 and c 1.5-2 (waited 0.5 for a worker), d 5-6.
    result = synthetic_result(
        diamond(), {"a": (0.0, 1.0), "b": (1.0, 5.0), "c": (1.5, 2.0), "d": (5.0, 6.0)}
    )
    analysis = run_analysis(result)
    assert analysis.end == 6.0
    assert analysis.critical_path == ["a", "b", "d"]
    assert analysis.critical_edges == [("a", "b"), ("b", "d")]
    assert analysis.on_critical_path == [True, True, False, True]
    # c could have finished as late as d's start (5.0)
    assert analysis.latest_finish == [1.0, 5.0, 5.0, 6.0]
    assert analysis.slack == [0.0, 0.0, 3.0, 0.0]
    assert analysis.ready_at == [0.0, 1.0, 1.0, 5.0]
    assert analysis.waited == [0.0, 0.0, 0.5, 0.0]
    assert result.critical_path() == ["a", "b", "d"]


def test_run_critical_path_looks_through_taskless_nodes() -> None:
    # t has no task: b became ready when a finished, through t.
    dag = DAG.builder().add_edge("a", "t").add_edge("t", "b").add_edge("x", "b").build()
    result = synthetic_result(dag, {"a": (0.0, 2.0), "x": (0.0, 1.0), "b": (2.0, 3.0)})
    analysis = run_analysis(result)
    assert analysis.critical_path == ["a", "b"]
    assert analysis.critical_edges == [("a", "t"), ("t", "b")]
    by_name = dict(zip(analysis.names, analysis.slack))
    assert by_name == {"a": 0.0, "t": None, "b": 0.0, "x": 1.0}
    assert analysis.ran == [True, False, True, True]


def test_run_critical_path_ties_go_to_the_first_node_in_dag_order() -> None:
    dag = DAG().add_nodes(["p", "q", "r"]).add_edge("p", "r").add_edge("q", "r")
    result = synthetic_result(dag, {"p": (0.0, 1.0), "q": (0.0, 1.0), "r": (1.0, 2.0)})
    assert run_analysis(result).critical_path == ["p", "r"]
    parallel = DAG().add_nodes(["u", "v"])
    both = synthetic_result(parallel, {"u": (0.0, 1.0), "v": (0.5, 1.0)})
    assert run_analysis(both).critical_path == ["u"]


def test_run_analysis_of_nothing() -> None:
    empty = run_analysis(synthetic_result(DAG(), {}))
    assert (empty.end, empty.critical_path, empty.critical_edges) == (0.0, [], [])
    none_ran = run_analysis(synthetic_result(DAG().add_nodes(["a", "b"]), {}))
    assert none_ran.critical_path == []
    assert none_ran.slack == [None, None]


def test_run_analysis_refuses_columns_that_do_not_match_the_dag() -> None:
    good = synthetic_result(diamond(), {"a": (0.0, 1.0)})
    bad = ExecutionResult(
        good.dag,
        good.names[:2],
        good.statuses[:2],
        values=[None, None],
        errors=[None, None],
        started=[0.0, None],
        finished=[1.0, None],
        workers=[None, None],
        reasons=[None, None],
        total_duration_seconds=1.0,
    )
    with pytest.raises(ValueError, match=r"2 start and 2 finish times for a DAG of 4 nodes"):
        run_analysis(bad)


@st.composite
def random_runs(draw: st.DrawFn) -> tuple[DAG, dict[int, list[int]], ExecutionResult, bool]:
    """A random DAG and a consistent synthetic run of it: every node that ran
    started at or after its inputs arrived (after ``gap`` waiting for a worker);
    taskless nodes pass their inputs' times on."""
    dag, succ = draw(random_dags())
    n = dag.node_count()
    tight = draw(st.booleans())  # unlimited workers: start as soon as ready
    pred: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, targets in succ.items():
        for j in targets:
            pred[j].append(i)
    arrive: dict[int, float | None] = {}
    times: dict[str, tuple[float, float]] = {}
    for i in range(n):  # edges go from lower to higher numbers: a topological order
        inputs = [arrive[p] for p in pred[i] if arrive[p] is not None]
        ready = max((x for x in inputs if x is not None), default=None)
        if draw(st.integers(0, 4)) == 0:  # a taskless node
            arrive[i] = ready
            continue
        start = (ready or 0.0) + (0 if tight else draw(st.integers(0, 3)))
        finish = start + draw(st.integers(0, 5))
        times[f"n{i}"] = (float(start), float(finish))
        arrive[i] = float(finish)
    return dag, succ, synthetic_result(dag, times), tight


def effective_successors(succ: Mapping[int, list[int]], ran: list[bool], node: int) -> set[int]:
    """Nodes that ran and are reached from ``node`` only through nodes that did not."""
    out: set[int] = set()
    stack = list(succ[node])
    while stack:
        x = stack.pop()
        if ran[x]:
            out.add(x)
        else:
            stack.extend(succ[x])
    return out


def delayed_end(
    result: ExecutionResult, eff: Mapping[int, set[int]], node: int, delay: float
) -> float:
    """The run's end if ``node`` had finished ``delay`` later and every later node
    had started when it did or, if later, when its inputs arrived."""
    n = len(result.names)
    finish = {i: result.finished[i] for i in range(n) if result.started[i] is not None}
    eff_pred: dict[int, list[int]] = {i: [] for i in finish}
    for p in finish:
        for c in eff[p]:
            eff_pred[c].append(p)
    new: dict[int, float] = {}
    for i in range(n):  # a topological order of this synthetic DAG
        if i not in finish:
            continue
        start, stop = result.started[i], finish[i]
        assert start is not None
        assert stop is not None
        if i == node:
            new[i] = stop + delay
            continue
        ready = max((new[p] for p in eff_pred[i]), default=0.0)
        new[i] = max(start, ready) + (stop - start)
    return max(new.values())


@settings(max_examples=200, deadline=None)
@given(run=random_runs())
def test_run_analysis_matches_brute_force(
    run: tuple[DAG, dict[int, list[int]], ExecutionResult, bool],
) -> None:
    dag, succ, result, tight = run
    analysis = run_analysis(result)
    n = dag.node_count()
    ran = [s is not None for s in result.started]
    eff = {i: effective_successors(succ, ran, i) for i in range(n) if ran[i]}
    eff_pred: dict[int, set[int]] = {i: set() for i in eff}
    for p, cs in eff.items():
        for c in cs:
            eff_pred[c].add(p)
    finished = result.finished
    if not any(ran):
        assert analysis.critical_path == []
        return
    end = max(f for f in finished if f is not None)
    assert analysis.end == end

    # slack: the largest delay of a node's finish that leaves the end where it is
    for i in eff:
        slack = analysis.slack[i]
        assert slack is not None
        assert slack >= 0
        assert delayed_end(result, eff, i, slack) == end
        assert delayed_end(result, eff, i, slack + 1.0) > end
    assert all(analysis.slack[i] is None for i in range(n) if not ran[i])

    # the chain: ends at the last finisher, each step to an input that arrived last
    chain = [analysis.names.index(x) for x in analysis.critical_path]
    assert finished[chain[-1]] == end
    assert not eff_pred[chain[0]]
    for p, c in itertools.pairwise(chain):
        assert p in eff_pred[c]
        assert finished[p] == max(finished[q] for q in eff_pred[c])  # type: ignore[type-var]
    assert analysis.on_critical_path == [i in chain for i in range(n)]
    # its edges are a walk along the DAG's edges through nodes that did not run
    walk = [analysis.critical_path[0]] + [t for _, t in analysis.critical_edges]
    assert [s for s, _ in analysis.critical_edges] == walk[:-1]
    assert all(dag.has_edge(s, t) for s, t in analysis.critical_edges)
    assert [x for x in walk if ran[analysis.names.index(x)]] == analysis.critical_path

    if tight:
        # with unlimited workers the chain is a longest path of measured durations
        dur = {i: finished[i] - result.started[i] for i in eff}  # type: ignore[operator]
        roots = [i for i in eff if not eff_pred[i]]
        paths = [p for r in roots for p in all_paths(eff_as_lists(eff), r)]
        longest = max(sum(dur[i] for i in p) for p in paths)
        assert sum(dur[i] for i in chain) == longest == end
        zero = {i for i in eff if analysis.slack[i] == 0.0}
        on_longest = {i for p in paths if sum(dur[k] for k in p) == longest for i in p}
        assert zero == on_longest


def eff_as_lists(eff: Mapping[int, set[int]]) -> dict[int, list[int]]:
    return {i: sorted(cs) for i, cs in eff.items()}


# -- run: real executors -------------------------------------------------------------


def uneven_tasks() -> tuple[DAG, dict[str, Callable[[], Any]]]:
    """a -> (b: long, c: short) -> d. An event makes c's finish come before b's,
    whatever the machine's load, so the structure is certain."""
    c_done = threading.Event()

    def b() -> None:
        c_done.wait(5)
        time.sleep(0.15)

    def c() -> None:
        time.sleep(0.05)
        c_done.set()

    return diamond(), {"a": lambda: time.sleep(0.05), "b": b, "c": c, "d": lambda: None}


def check_uneven_run(result: ExecutionResult) -> None:
    assert result.ok
    analysis = run_analysis(result)
    assert analysis.critical_path == ["a", "b", "d"]
    assert analysis.critical_edges == [("a", "b"), ("b", "d")]
    slack = dict(zip(analysis.names, analysis.slack))
    assert slack["d"] == 0.0
    c_slack, b_slack = slack["c"], slack["b"]
    assert c_slack is not None
    assert b_slack is not None
    # c finished before b did, so it could have gone on at least until b's end
    b_end, c_end = result["b"].finished_at, result["c"].finished_at
    assert b_end is not None
    assert c_end is not None
    assert c_slack >= b_end - c_end > 0
    assert c_slack > b_slack


def test_run_critical_path_of_a_thread_run_with_uneven_branches() -> None:
    dag, tasks = uneven_tasks()
    check_uneven_run(DAGExecutor(dag, max_workers=2).execute(tasks))


def test_run_critical_path_of_an_async_run_with_uneven_branches() -> None:
    dag = diamond()
    c_done = asyncio.Event()

    async def b() -> None:
        await c_done.wait()
        await asyncio.sleep(0.15)

    async def c() -> None:
        await asyncio.sleep(0.05)
        c_done.set()

    async def main() -> ExecutionResult:
        tasks = {"a": lambda: asyncio.sleep(0.05), "b": b, "c": c, "d": lambda: None}
        return await AsyncDAGExecutor(dag).execute(tasks)

    check_uneven_run(asyncio.run(main()))


def test_run_critical_path_of_a_failed_run_stops_at_the_failure() -> None:
    dag = diamond()

    def boom() -> None:
        raise ValueError("bad input")

    result = DAGExecutor(dag, fail_fast=False).execute(
        {"a": lambda: None, "b": boom, "c": lambda: None, "d": lambda: None}
    )
    analysis = run_analysis(result)
    assert result["d"].status is NodeStatus.SKIPPED
    assert analysis.critical_path[0] == "a"
    assert analysis.critical_path[-1] in {"b", "c"}
    assert dict(zip(analysis.names, analysis.slack))["d"] is None
    assert result.critical_path() == analysis.critical_path


def test_run_analysis_counts_a_timed_out_node_as_ran() -> None:
    release = threading.Event()
    dag = DAG().add_nodes(["stuck", "after"]).add_edge("stuck", "after")
    try:
        result = DAGExecutor(dag).execute(
            {"stuck": lambda: release.wait(10), "after": lambda: None},
            node_timeouts={"stuck": 0.1},
        )
    finally:
        release.set()
    assert result["stuck"].status is NodeStatus.TIMED_OUT
    analysis = run_analysis(result)
    assert analysis.ran == [True, False]
    assert analysis.critical_path == ["stuck"]
