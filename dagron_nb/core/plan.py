"""Static analysis of a DAG: levels, bottom levels, plans and the critical path.

*Level* is the number of edges on the longest path from a root to the node.
*Bottom level* is the largest total cost of a path from the node to a sink,
the node's own cost included; it is the scheduler's priority, because the node
with the longest remaining chain behind it is the one that delays the run most
if it waits. Costs default to 1.0 per node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.graph import ExecutionStep, GraphIndex

if TYPE_CHECKING:
    from dagron_nb.core.graph import DAG


def cost_list(index: GraphIndex, costs: Mapping[str, float] | None) -> list[float]:
    """Per-node costs in index order; refuses unknown nodes and bad numbers."""
    values = [1.0] * len(index.names)
    if not costs:
        return values
    if not isinstance(costs, Mapping):
        raise ConfigurationError(
            f"costs must be a dict of node name -> seconds, got {type(costs).__name__}"
        )
    unknown = [name for name in costs if name not in index.position]
    if unknown:
        raise ConfigurationError(
            f"costs name node(s) not in the DAG: {', '.join(map(repr, unknown))}. "
            "Remove them or fix the spelling."
        )
    for name, cost in costs.items():
        ok = isinstance(cost, (int, float)) and not isinstance(cost, bool)
        if not ok or math.isnan(cost) or cost < 0 or math.isinf(cost):
            raise ConfigurationError(
                f"cost of node {name!r} must be a finite number >= 0, got {cost!r}."
            )
        values[index.position[name]] = float(cost)
    return values


def levels(index: GraphIndex) -> list[int]:
    level = [0] * len(index.names)
    for node in index.topo:
        here = level[node] + 1
        for t in index.succ[node]:
            if level[t] < here:
                level[t] = here
    return level


def bottom_levels(index: GraphIndex, cost: list[float]) -> list[float]:
    bottom = list(cost)
    succ = index.succ
    for node in reversed(index.topo):
        targets = succ[node]
        if targets:
            # a plain loop: max() over a generator costs a frame per node
            best = 0.0
            for t in targets:
                if bottom[t] > best:
                    best = bottom[t]
            bottom[node] = cost[node] + best
    return bottom


def priority_ranks(index: GraphIndex, cost: list[float]) -> list[int]:
    """Rank 0 is the most urgent: largest bottom level, then insertion order."""
    neg = [-b for b in bottom_levels(index, cost)]
    # sorted() is stable, so equal bottom levels keep insertion order
    order = sorted(range(len(neg)), key=neg.__getitem__)
    rank = [0] * len(order)
    for r, node in enumerate(order):
        rank[node] = r
    return rank


def execution_plan(dag: DAG, costs: Mapping[str, float] | None = None) -> list[ExecutionStep]:
    index = dag.index()
    rank = priority_ranks(index, cost_list(index, costs))
    by_level: dict[int, list[int]] = {}
    for node, lvl in enumerate(levels(index)):
        by_level.setdefault(lvl, []).append(node)
    return [
        ExecutionStep(
            level=lvl,
            nodes=[index.names[n] for n in sorted(by_level[lvl], key=rank.__getitem__)],
        )
        for lvl in sorted(by_level)
    ]


def earliest_finish(index: GraphIndex, cost: list[float]) -> tuple[list[float], list[int]]:
    """Earliest finish of every node with unlimited workers, and the predecessor
    that determines it (-1 for roots)."""
    finish = [0.0] * len(index.names)
    via = [-1] * len(index.names)
    pred = index.pred
    for node in index.topo:
        start = 0.0
        for p in pred[node]:
            # ties keep the earliest-inserted predecessor
            if via[node] == -1 or finish[p] > start:
                start = finish[p]
                via[node] = p
        finish[node] = start + cost[node]
    return finish, via


def critical_path(dag: DAG, costs: Mapping[str, float] | None = None) -> list[str]:
    index = dag.index()
    if not index.names:
        return []
    finish, via = earliest_finish(index, cost_list(index, costs))
    end = max(range(len(finish)), key=lambda i: (finish[i], -i))
    path = [end]
    while via[path[-1]] != -1:
        path.append(via[path[-1]])
    return [index.names[i] for i in reversed(path)]
