"""The integer-indexed form of a DAG that every algorithm and executor works on.

``build_index`` turns a name -> successors mapping into positions, adjacency
lists and a topological order (Kahn's algorithm, so independent nodes keep
insertion order), or raises ``CycleError`` naming one cycle. It is the bottom
of ``core``: it knows nothing of ``DAG`` objects, plans or results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dagron_nb.core.errors import CycleError


@dataclass(frozen=True, slots=True)
class GraphIndex:
    """Integer-indexed adjacency of a DAG snapshot; ``topo`` is a topological order."""

    names: list[str]
    position: dict[str, int]
    succ: list[list[int]]
    pred: list[list[int]]
    topo: list[int]


def build_index(succ_map: Mapping[str, Mapping[str, None]]) -> GraphIndex:
    names = list(succ_map)
    position = {name: i for i, name in enumerate(names)}
    succ = [[position[t] for t in succ_map[name]] for name in names]
    pred: list[list[int]] = [[] for _ in names]
    for i, targets in enumerate(succ):
        for t in targets:
            pred[t].append(i)
    # Kahn's algorithm, FIFO so that independent nodes keep insertion order.
    indegree = [len(p) for p in pred]
    order = [i for i, d in enumerate(indegree) if d == 0]
    head = 0
    while head < len(order):
        node = order[head]
        head += 1
        for t in succ[node]:
            indegree[t] -= 1
            if indegree[t] == 0:
                order.append(t)
    if len(order) != len(names):
        raise CycleError([names[i] for i in _find_cycle(pred, indegree)])
    return GraphIndex(names, position, succ, pred, order)


def _find_cycle(pred: list[list[int]], indegree: list[int]) -> list[int]:
    """One cycle among the nodes Kahn's algorithm could not order.

    Each left-over node still has a left-over predecessor (that is why its
    indegree never reached zero), so walking backwards from any of them must
    repeat a node; the stretch between the repeats, reversed, is a cycle. It is
    rotated to start at its earliest-inserted node, so the message reads the
    way the user wrote the graph (``'a' -> 'b' -> 'a'``).
    """
    left = {i for i, d in enumerate(indegree) if d > 0}
    seen: dict[int, int] = {}
    walk: list[int] = []
    node = min(left)
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(p for p in pred[node] if p in left)
    cycle = walk[seen[node] :][::-1]
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]
    return [*cycle, cycle[0]]
