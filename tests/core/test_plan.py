"""Levels, bottom levels, priorities, execution plans and the critical path, by hand."""

from __future__ import annotations

import itertools
import math

import pytest

from dagron_nb import DAG, ConfigurationError, ExecutionStep
from dagron_nb.core.plan import (
    bottom_levels,
    cost_list,
    critical_path,
    earliest_finish,
    execution_plan,
    levels,
    priority_ranks,
)


def ml_dag() -> DAG:
    """extract -> clean -> train -> report, and extract -> features -> train."""
    return (
        DAG.builder()
        .add_edge("extract", "clean")
        .add_edge("extract", "features")
        .add_edge("clean", "train")
        .add_edge("features", "train")
        .add_edge("train", "report")
        .build()
    )


COSTS = {"extract": 1.0, "clean": 5.0, "features": 8.0, "train": 10.0, "report": 1.0}


def test_levels_count_edges_on_the_longest_path_from_a_root() -> None:
    dag = ml_dag().copy().add_nodes(["alone"]).add_edge("extract", "report")
    assert dict(zip(dag.index().names, levels(dag.index()))) == {
        "extract": 0,
        "clean": 1,
        "features": 1,
        "train": 2,
        "report": 3,
        "alone": 0,
    }


def test_bottom_levels_by_hand() -> None:
    index = ml_dag().index()
    bottom = bottom_levels(index, cost_list(index, COSTS))
    # report 1; train 10 + 1; clean 5 + 11; features 8 + 11; extract 1 + max(16, 19)
    assert dict(zip(index.names, bottom)) == {
        "extract": 20.0,
        "clean": 16.0,
        "features": 19.0,
        "train": 11.0,
        "report": 1.0,
    }


def test_bottom_levels_default_to_unit_costs() -> None:
    index = ml_dag().index()
    assert bottom_levels(index, cost_list(index, None)) == [4.0, 3.0, 3.0, 2.0, 1.0]


def test_priority_ranks_prefer_the_largest_bottom_level_then_insertion_order() -> None:
    index = ml_dag().index()
    ranks = priority_ranks(index, cost_list(index, COSTS))
    assert dict(zip(index.names, ranks)) == {
        "extract": 0,
        "features": 1,
        "clean": 2,
        "train": 3,
        "report": 4,
    }
    # equal bottom levels: insertion order decides
    equal = DAG().add_nodes(["x", "y", "z"]).index()
    assert priority_ranks(equal, cost_list(equal, None)) == [0, 1, 2]


def test_execution_plan_without_costs() -> None:
    plan = ml_dag().execution_plan()
    assert plan == [
        ExecutionStep(level=0, nodes=["extract"]),
        ExecutionStep(level=1, nodes=["clean", "features"]),
        ExecutionStep(level=2, nodes=["train"]),
        ExecutionStep(level=3, nodes=["report"]),
    ]
    assert repr(plan[1]) == "ExecutionStep(level=1, nodes=['clean', 'features'])"


def test_execution_plan_orders_a_level_by_priority() -> None:
    plan = ml_dag().execution_plan(COSTS)
    assert plan[1] == ExecutionStep(level=1, nodes=["features", "clean"])
    assert execution_plan(ml_dag().index(), COSTS) == plan


def test_execution_step_is_frozen() -> None:
    step = ExecutionStep(level=0, nodes=["a"])
    with pytest.raises(AttributeError):
        step.level = 1  # type: ignore[misc]


def test_critical_path_by_hand() -> None:
    dag = ml_dag()
    # finish times: extract 1, clean 6, features 9, train 19, report 20
    index = dag.index()
    finish, via = earliest_finish(index, cost_list(index, COSTS))
    assert dict(zip(index.names, finish)) == {
        "extract": 1.0,
        "clean": 6.0,
        "features": 9.0,
        "train": 19.0,
        "report": 20.0,
    }
    assert via[index.position["train"]] == index.position["features"]
    assert dag.critical_path(COSTS) == ["extract", "features", "train", "report"]
    assert critical_path(dag.index(), COSTS) == dag.critical_path(COSTS)
    # make clean the expensive branch and the path moves
    heavier = {**COSTS, "clean": 50.0}
    assert dag.critical_path(heavier) == ["extract", "clean", "train", "report"]


def test_critical_path_ties_keep_the_earliest_inserted_node() -> None:
    # without costs both middle branches tie; the earlier-inserted one is reported
    assert ml_dag().critical_path() == ["extract", "clean", "train", "report"]
    # two separate chains of equal cost: the one ending first in insertion order
    dag = DAG.builder().add_edge("a1", "a2").add_edge("b1", "b2").build()
    assert dag.critical_path() == ["a1", "a2"]
    assert dag.critical_path({"b1": 2.0}) == ["b1", "b2"]


def test_critical_path_picks_the_longest_of_independent_components() -> None:
    dag = DAG().add_nodes(["solo"]).add_nodes(["x", "y"]).add_edge("x", "y")
    assert dag.critical_path() == ["x", "y"]
    assert dag.critical_path({"solo": 3.0}) == ["solo"]


def test_zero_costs_are_allowed() -> None:
    dag = ml_dag()
    zero = dict.fromkeys(dag.nodes(), 0.0)
    # every path costs 0: any chain of real edges from a root is a right answer
    path = dag.critical_path(zero)
    assert path[0] == "extract"
    assert all(dag.has_edge(u, v) for u, v in itertools.pairwise(path))
    assert [s.level for s in dag.execution_plan(zero)] == [0, 1, 2, 3]


def test_cost_list_fills_defaults_and_converts_ints() -> None:
    index = ml_dag().index()
    assert cost_list(index, {"train": 3}) == [1.0, 1.0, 1.0, 3.0, 1.0]
    assert cost_list(index, {}) == [1.0] * 5


@pytest.mark.parametrize(
    ("costs", "pattern"),
    [
        ({"train": -1.0}, r"cost of node 'train' must be a finite number >= 0, got -1.0"),
        ({"train": math.nan}, r"cost of node 'train' must be a finite number >= 0, got nan"),
        ({"train": math.inf}, r"cost of node 'train' must be a finite number >= 0, got inf"),
        ({"train": "3"}, r"cost of node 'train' must be a finite number >= 0, got '3'"),
        ({"train": True}, r"cost of node 'train' must be a finite number >= 0, got True"),
        ({"trian": 1.0}, r"costs name node\(s\) not in the DAG: 'trian'"),
        ([("train", 1.0)], r"costs must be a dict of node name -> seconds, got list"),
    ],
)
def test_bad_costs_are_refused(costs: object, pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        ml_dag().execution_plan(costs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=pattern):
        ml_dag().critical_path(costs)  # type: ignore[arg-type]
