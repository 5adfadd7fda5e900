"""The DAG: nodes with optional payload and metadata, edges, and graph queries.

A ``DAG`` is built either fluently with ``DAG.builder()`` (edges may name nodes
not yet added; the cycle check runs once, in ``build()``) or step by step on a
mutable ``DAG()`` (every call is checked at once, and an edge that would close a
cycle is refused and leaves the DAG unchanged). Nodes keep insertion order,
which is the tie-break everywhere an order is not otherwise fixed.

Executors never look at a live ``DAG``: they take ``snapshot()``, a frozen copy
cached until the DAG next changes, and its ``index()``, the integer-indexed
adjacency they schedule on. All algorithms are iterative, so a 100,000-node
chain is as safe as a diamond.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dagron_nb.core.errors import (
    CycleError,
    DuplicateNodeError,
    GraphError,
    InvalidNodeNameError,
    NodeNotFoundError,
)
from dagron_nb.core.index import GraphIndex, build_index
from dagron_nb.core.plan import ExecutionPlan, critical_path, execution_plan


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidNodeNameError(name)
    return name


class DAG:
    """A directed acyclic graph of named nodes.

    >>> dag = DAG()
    >>> dag.add_nodes(["load", "clean", "plot"]).add_edge("load", "clean")
    DAG(nodes=3, edges=1)
    >>> dag.add_edge("clean", "plot").topological_sort()
    ['load', 'clean', 'plot']
    """

    def __init__(self) -> None:
        self._succ: dict[str, dict[str, None]] = {}
        self._pred: dict[str, dict[str, None]] = {}
        self._payload: dict[str, Any] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._edge_count = 0
        self._frozen = False
        self._snapshot: DAG | None = None
        self._index: GraphIndex | None = None

    @staticmethod
    def builder() -> DAGBuilder:
        """Start a fluent ``DAGBuilder``; finish it with ``.build()``."""
        return DAGBuilder()

    # -- mutation ---------------------------------------------------------------
    def _changed(self) -> None:
        if self._frozen:
            raise GraphError(
                "this DAG is a snapshot taken for a run and cannot change; "
                "call .copy() to get an editable DAG."
            )
        self._snapshot = None
        self._index = None

    def add_node(
        self, name: str, payload: Any = None, metadata: Mapping[str, Any] | None = None
    ) -> DAG:
        """Add a node; a second node of the same name raises ``DuplicateNodeError``."""
        _check_name(name)
        if name in self._succ:
            raise DuplicateNodeError(name)
        self._changed()
        self._succ[name] = {}
        self._pred[name] = {}
        if payload is not None:
            self._payload[name] = payload
        if metadata:
            self._metadata[name] = dict(metadata)
        return self

    def add_nodes(self, names: Iterable[str]) -> DAG:
        """Add several nodes; all or none (a bad one leaves the DAG unchanged)."""
        added: list[str] = []
        try:
            for name in names:
                self.add_node(name)
                added.append(name)
        except BaseException:
            for name in reversed(added):
                self.remove_node(name)
            raise
        return self

    def add_edge(self, source: str, target: str) -> DAG:
        """Add ``source -> target``; both must exist, and no cycle may result."""
        for name in (source, target):
            _check_name(name)
            if name not in self._succ:
                raise NodeNotFoundError(name, f"in edge {source!r} -> {target!r}")
        if target in self._succ[source]:
            return self
        if source == target:
            raise CycleError([source, source], "a node cannot depend on itself.")
        path = self._path(target, source)
        if path is not None:
            raise CycleError(
                [source, *path],
                f"adding {source!r} -> {target!r} would close this cycle; the DAG is unchanged.",
            )
        self._changed()
        self._succ[source][target] = None
        self._pred[target][source] = None
        self._edge_count += 1
        return self

    def add_edges(self, edges: Iterable[tuple[str, str]]) -> DAG:
        """Add several edges; all or none (a bad one leaves the DAG unchanged)."""
        added: list[tuple[str, str]] = []
        try:
            for source, target in edges:
                before = self._edge_count
                self.add_edge(source, target)
                if self._edge_count != before:  # not an edge that was already there
                    added.append((source, target))
        except BaseException:
            for source, target in reversed(added):
                self.remove_edge(source, target)
            raise
        return self

    def remove_edge(self, source: str, target: str) -> DAG:
        if not self.has_edge(source, target):
            raise NodeNotFoundError(
                f"{source} -> {target}", "no such edge; see .edges() for the edges"
            )
        self._changed()
        del self._succ[source][target]
        del self._pred[target][source]
        self._edge_count -= 1
        return self

    def remove_node(self, name: str) -> DAG:
        self._require(name)
        self._changed()
        for s in self._succ.pop(name):
            del self._pred[s][name]
            self._edge_count -= 1
        for p in self._pred.pop(name):
            del self._succ[p][name]
            self._edge_count -= 1
        self._payload.pop(name, None)
        self._metadata.pop(name, None)
        return self

    def _path(self, start: str, goal: str) -> list[str] | None:
        """A path ``start ... goal`` along edges, or None; breadth-first, iterative."""
        if not self._succ[start] or not self._pred[goal]:
            return None
        parent: dict[str, str] = {start: start}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in self._succ[node]:
                if nxt in parent:
                    continue
                parent[nxt] = node
                if nxt == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                queue.append(nxt)
        return None

    # -- payload and metadata ---------------------------------------------------
    def get_payload(self, name: str) -> Any:
        self._require(name)
        return self._payload.get(name)

    def get_metadata(self, name: str) -> dict[str, Any]:
        self._require(name)
        return dict(self._metadata.get(name, {}))

    # -- queries ----------------------------------------------------------------
    def _require(self, name: str) -> None:
        if name not in self._succ:
            raise NodeNotFoundError(name)

    def node_count(self) -> int:
        return len(self._succ)

    def edge_count(self) -> int:
        return self._edge_count

    def has_node(self, name: str) -> bool:
        return name in self._succ

    def has_edge(self, source: str, target: str) -> bool:
        return source in self._succ and target in self._succ[source]

    def nodes(self) -> list[str]:
        return list(self._succ)

    def edges(self) -> list[tuple[str, str]]:
        return [(s, t) for s, targets in self._succ.items() for t in targets]

    def predecessors(self, name: str) -> list[str]:
        self._require(name)
        return list(self._pred[name])

    def successors(self, name: str) -> list[str]:
        self._require(name)
        return list(self._succ[name])

    def ancestors(self, name: str) -> set[str]:
        self._require(name)
        return self._reach(name, self._pred)

    def descendants(self, name: str) -> set[str]:
        self._require(name)
        return self._reach(name, self._succ)

    @staticmethod
    def _reach(start: str, adjacency: dict[str, dict[str, None]]) -> set[str]:
        seen: set[str] = set()
        stack = list(adjacency[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(adjacency[node])
        return seen

    def roots(self) -> list[str]:
        return [n for n, preds in self._pred.items() if not preds]

    def leaves(self) -> list[str]:
        return [n for n, succs in self._succ.items() if not succs]

    def topological_sort(self) -> list[str]:
        """Nodes so that every edge points forward; ties keep insertion order."""
        idx = self.index()
        return [idx.names[i] for i in idx.topo]

    def execution_plan(self, costs: Mapping[str, float] | None = None) -> ExecutionPlan:
        """Group nodes by level (longest edge count from a root).

        Nodes of one level can run in parallel; inside a level they are listed
        in the order the scheduler prefers (largest cost-weighted path to a sink
        first). The executors do not wait for levels: this is a preview.
        """
        return execution_plan(self.index(), costs)

    def critical_path(self, costs: Mapping[str, float] | None = None) -> list[str]:
        """The chain of nodes with the largest total cost (1.0 per node by default)."""
        return critical_path(self.index(), costs)

    # -- snapshots --------------------------------------------------------------
    def copy(self) -> DAG:
        """An independent, editable copy."""
        new = DAG()
        new._succ = {n: dict(s) for n, s in self._succ.items()}
        new._pred = {n: dict(p) for n, p in self._pred.items()}
        new._payload = dict(self._payload)
        new._metadata = {n: dict(m) for n, m in self._metadata.items()}
        new._edge_count = self._edge_count
        return new

    def snapshot(self) -> DAG:
        """A frozen copy, shared until this DAG next changes."""
        if self._frozen:
            return self
        if self._snapshot is None:
            snap = self.copy()
            snap._frozen = True
            self._snapshot = snap
        return self._snapshot

    @property
    def frozen(self) -> bool:
        return self._frozen

    def index(self) -> GraphIndex:
        """Integer adjacency plus a topological order (cached until a change)."""
        if self._index is None:
            self._index = build_index(self._succ)
        return self._index

    # -- dunder -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._succ)

    def __contains__(self, name: object) -> bool:
        return name in self._succ

    def __iter__(self) -> Iterator[str]:
        return iter(self._succ)

    def __repr__(self) -> str:
        return f"DAG(nodes={self.node_count()}, edges={self.edge_count()})"


class DAGBuilder:
    """Fluent construction of a ``DAG``; ``build()`` checks for cycles once.

    >>> dag = DAGBuilder().add_edge("a", "b").add_edge("a", "c").build()
    >>> dag.successors("a")
    ['b', 'c']
    """

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[Any, dict[str, Any] | None]] = {}
        self._explicit: set[str] = set()
        self._edges: dict[tuple[str, str], None] = {}

    def add_node(
        self, name: str, payload: Any = None, metadata: Mapping[str, Any] | None = None
    ) -> DAGBuilder:
        _check_name(name)
        if name in self._explicit:
            raise DuplicateNodeError(name)
        self._explicit.add(name)
        self._nodes[name] = (payload, dict(metadata) if metadata else None)
        return self

    def add_nodes(self, names: Iterable[str]) -> DAGBuilder:
        for name in names:
            self.add_node(name)
        return self

    def add_edge(self, source: str, target: str) -> DAGBuilder:
        """Add an edge; nodes it names that do not exist yet are created."""
        _check_name(source)
        _check_name(target)
        if source == target:
            raise CycleError([source, source], "a node cannot depend on itself.")
        self._nodes.setdefault(source, (None, None))
        self._nodes.setdefault(target, (None, None))
        self._edges[(source, target)] = None
        return self

    def add_edges(self, edges: Iterable[tuple[str, str]]) -> DAGBuilder:
        for source, target in edges:
            self.add_edge(source, target)
        return self

    def build(self) -> DAG:
        """The finished DAG; raises ``CycleError`` naming a cycle if there is one."""
        dag = DAG()
        succ: dict[str, dict[str, None]] = {name: {} for name in self._nodes}
        pred: dict[str, dict[str, None]] = {name: {} for name in self._nodes}
        for source, target in self._edges:
            succ[source][target] = None
            pred[target][source] = None
        dag._succ, dag._pred = succ, pred
        dag._edge_count = len(self._edges)
        for name, (payload, metadata) in self._nodes.items():
            if payload is not None:
                dag._payload[name] = payload
            if metadata:
                dag._metadata[name] = metadata
        dag.index()  # validates acyclicity and caches the index
        return dag
