"""The integer-indexed form of a DAG that every algorithm and executor works on.

``build_index`` turns a name -> successors mapping into positions, adjacency
tuples and a topological order (Kahn's algorithm, so independent nodes keep
insertion order), or raises ``CycleError`` naming one cycle; ``index_from_edges``
does the same from node names and edges given as position pairs, which is how
``DAGBuilder`` builds a DAG without a dict per node. It is the bottom of
``core``: it knows nothing of ``DAG`` objects, plans or results.

Memory matters here (a 1,000,000-node chain must fit in well under 1 KB per
node): adjacency is one tuple per node (``()``, shared, for none), and the
position ints are the same objects everywhere they appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dagron_nb.core.errors import CycleError

#: one node's neighbours, by position
Adjacent = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GraphIndex:
    """Integer-indexed adjacency of a DAG snapshot; ``topo`` is a topological order.

    ``succ[i]`` lists node ``i``'s successors in the order their edges were
    added; ``pred[i]`` its predecessors in node order. Nothing may change it.
    """

    names: list[str]
    position: dict[str, int]
    succ: list[Adjacent]
    pred: list[Adjacent]
    topo: list[int]


def build_index(succ_map: Mapping[str, Mapping[str, None]]) -> GraphIndex:
    sources = (u for u, targets in succ_map.items() for _ in targets)
    targets = (v for targets in succ_map.values() for v in targets)
    return index_from_edges(list(succ_map), sources, targets)[0]


def index_from_edges(
    names: list[str], sources: Iterable[str], targets: Iterable[str]
) -> tuple[GraphIndex, int, dict[int, Adjacent]]:
    """The index of nodes ``names`` and edges ``sources[k] -> targets[k]``.

    A repeated edge counts once (where it first appeared). Returns the index,
    the number of distinct edges, and the predecessors of the nodes whose edges
    came in another order than node order, in edge order (``DAG.predecessors``
    reports that order, as a DAG built step by step does).
    """
    position = {name: i for i, name in enumerate(names)}
    succ_lists: list[list[int]] = [[] for _ in names]
    pred_lists: list[list[int]] = [[] for _ in names]
    for u, v in zip(map(position.__getitem__, sources), map(position.__getitem__, targets)):
        # `position`'s own int objects: adjacency shares them
        succ_lists[u].append(v)
        pred_lists[v].append(u)
    succ = _tuples(succ_lists)
    edges = sum(map(len, succ))
    pred = _tuples(pred_lists)
    in_edge_order: dict[int, Adjacent] = {}
    for v, sources_of_v in enumerate(pred):
        if len(sources_of_v) > 1:
            ordered = tuple(sorted(sources_of_v))
            if ordered != sources_of_v:
                in_edge_order[v] = sources_of_v
                pred[v] = ordered
    return _finish(names, position, succ, pred), edges, in_edge_order


def _tuples(lists: list[list[int]]) -> list[Adjacent]:
    """Each list as a tuple without repeats (first occurrence kept), in place:
    every list is freed as soon as its tuple exists, so the peak stays low."""
    out: list[Adjacent] = lists  # type: ignore[assignment]
    for i, items in enumerate(lists):
        if not items:
            out[i] = ()
        elif len(items) == 1 or len(set(items)) == len(items):
            out[i] = tuple(items)
        else:
            out[i] = tuple(dict.fromkeys(items))
    return out


def _finish(
    names: list[str], position: dict[str, int], succ: list[Adjacent], pred: list[Adjacent]
) -> GraphIndex:
    """Kahn's algorithm, FIFO so that independent nodes keep insertion order."""
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


def _find_cycle(pred: list[Adjacent], indegree: list[int]) -> list[int]:
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
