"""Static analysis of a DAG: levels, bottom levels, plans and the critical path.

*Level* is the number of edges on the longest path from a root to the node.
*Bottom level* is the largest total cost of a path from the node to a sink,
the node's own cost included; it is the scheduler's priority, because the node
with the longest remaining chain behind it is the one that delays the run most
if it waits. Costs default to 1.0 per node.

Every function here works on a ``GraphIndex``, never on a ``DAG``, so this
module sits below ``graph``: ``DAG.execution_plan`` calls down into it.

An ``ExecutionPlan`` has two readings, and both work on the same object:

- the spec's: a sequence of ``ExecutionStep(level=..., nodes=[...])``, one per
  level, whose ``nodes`` compare equal to (and print as) the node names;
- the original dagron's: ``plan.steps``, each step with ``step_index`` and
  ``nodes`` scheduled with ``node``, ``start_time`` and ``duration`` (earliest
  start and cost with unlimited workers), plus ``total_nodes``,
  ``max_parallelism``, ``estimated_makespan`` and ``critical_path``.

It is a preview: executors do not wait for levels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.index import GraphIndex


class ScheduledNode(str):
    """A node's name, carrying when the plan schedules it.

    It is a ``str`` (so ``step.nodes == ["a", "b"]`` and it prints as
    ``'a'``) with the original dagron's fields: ``node`` (this node; its
    ``name`` is the plain name), ``start_time`` (earliest start with unlimited
    workers, in cost units) and ``duration`` (its cost).

    >>> n = ScheduledNode("fit", 1.0, 5.0)
    >>> n == "fit", n.node.name, n.start_time, n.duration
    (True, 'fit', 1.0, 5.0)
    """

    _start_time: float
    _duration: float

    def __new__(cls, name: str, start_time: float = 0.0, duration: float = 1.0) -> ScheduledNode:
        self = super().__new__(cls, name)
        self._start_time = float(start_time)
        self._duration = float(duration)
        return self

    @property
    def name(self) -> str:
        return str.__str__(self)

    @property
    def node(self) -> ScheduledNode:
        return self

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def finish_time(self) -> float:
        return self._start_time + self._duration


@dataclass(frozen=True, slots=True)
class ExecutionStep:
    """One level of an execution plan: nodes that may run side by side.

    ``step_index`` is the original dagron's name for ``level``; iterating a
    step gives its nodes.

    >>> step = ExecutionStep(level=1, nodes=["b", "c"])
    >>> step, step.step_index, list(step)
    (ExecutionStep(level=1, nodes=['b', 'c']), 1, ['b', 'c'])
    """

    level: int
    nodes: list[str]

    @property
    def step_index(self) -> int:
        return self.level

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)


class ExecutionPlan(Sequence[ExecutionStep]):
    """The steps of a plan, plus its totals; equal to the list of its steps.

    >>> from dagron_nb import DAG
    >>> dag = DAG.builder().add_edge("a", "b").add_edge("a", "c").build()
    >>> plan = dag.execution_plan({"b": 3.0})
    >>> plan
    ExecutionPlan(steps=2, total_nodes=3, max_parallelism=2, estimated_makespan=4.0)
    >>> plan[1].nodes, plan.critical_path
    (['b', 'c'], ['a', 'b'])
    >>> [(n.node.name, n.start_time, n.duration) for n in plan.steps[1].nodes]
    [('b', 1.0, 3.0), ('c', 1.0, 1.0)]
    """

    __slots__ = ("_critical_path", "_makespan", "_steps")

    def __init__(
        self,
        steps: Sequence[ExecutionStep],
        *,
        critical_path: Sequence[str] = (),
        estimated_makespan: float = 0.0,
    ) -> None:
        self._steps = tuple(steps)
        self._critical_path = list(critical_path)
        self._makespan = float(estimated_makespan)

    @property
    def steps(self) -> list[ExecutionStep]:
        return list(self._steps)

    @property
    def total_nodes(self) -> int:
        return sum(len(step.nodes) for step in self._steps)

    @property
    def max_parallelism(self) -> int:
        return max((len(step.nodes) for step in self._steps), default=0)

    @property
    def estimated_makespan(self) -> float:
        """The largest cost-weighted path: the run's length with unlimited workers."""
        return self._makespan

    @property
    def critical_path(self) -> list[str]:
        """The nodes of one longest cost-weighted chain, as ``DAG.critical_path``."""
        return list(self._critical_path)

    @overload
    def __getitem__(self, i: int) -> ExecutionStep: ...
    @overload
    def __getitem__(self, i: slice) -> list[ExecutionStep]: ...
    def __getitem__(self, i: int | slice) -> ExecutionStep | list[ExecutionStep]:
        if isinstance(i, slice):
            return list(self._steps[i])
        return self._steps[i]

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[ExecutionStep]:
        return iter(self._steps)

    def __eq__(self, other: object) -> bool:
        # equal to the plain list of steps that execution_plan used to return
        if isinstance(other, ExecutionPlan):
            return self._steps == other._steps
        if isinstance(other, (list, tuple)):
            return list(self._steps) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ExecutionPlan(steps={len(self._steps)}, total_nodes={self.total_nodes}, "
            f"max_parallelism={self.max_parallelism}, "
            f"estimated_makespan={self._makespan!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_plan, (self._steps, self._critical_path, self._makespan))


def _rebuild_plan(
    steps: Sequence[ExecutionStep], critical: Sequence[str], makespan: float
) -> ExecutionPlan:
    return ExecutionPlan(steps, critical_path=critical, estimated_makespan=makespan)


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
    bottom = bottom_levels(index, cost)
    # the index's own int objects (0 .. n-1), so that no list here holds new ones:
    # a 1,000,000-node run would pay 32 bytes per node for each such list
    ints = list(index.position.values())
    # sorted() is stable, also with reverse=True: equal bottom levels keep insertion order
    order = sorted(ints, key=bottom.__getitem__, reverse=True)
    del bottom
    rank = [0] * len(order)
    for r, node in enumerate(order):
        rank[node] = ints[r]
    return rank


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


def _longest_chain(finish: list[float], via: list[int]) -> list[int]:
    """The chain ending at the latest finish (ties: earliest-inserted), root first."""
    if not finish:
        return []
    end = max(range(len(finish)), key=lambda i: (finish[i], -i))
    path = [end]
    while via[path[-1]] != -1:
        path.append(via[path[-1]])
    return path[::-1]


def critical_path(index: GraphIndex, costs: Mapping[str, float] | None = None) -> list[str]:
    finish, via = earliest_finish(index, cost_list(index, costs))
    return [index.names[i] for i in _longest_chain(finish, via)]


def execution_plan(index: GraphIndex, costs: Mapping[str, float] | None = None) -> ExecutionPlan:
    """The nodes by level, most urgent first in each, with their earliest schedule."""
    cost = cost_list(index, costs)
    rank = priority_ranks(index, cost)
    finish, via = earliest_finish(index, cost)
    scheduled = [
        ScheduledNode(name, finish[i] - cost[i], cost[i]) for i, name in enumerate(index.names)
    ]
    by_level: dict[int, list[int]] = {}
    for node, lvl in enumerate(levels(index)):
        by_level.setdefault(lvl, []).append(node)
    steps = [
        ExecutionStep(
            level=lvl,
            nodes=[scheduled[n] for n in sorted(by_level[lvl], key=rank.__getitem__)],
        )
        for lvl in sorted(by_level)
    ]
    chain = _longest_chain(finish, via)
    return ExecutionPlan(
        steps,
        critical_path=[scheduled[i] for i in chain],
        estimated_makespan=max(finish, default=0.0),
    )
