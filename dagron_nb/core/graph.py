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

Memory (a 1,000,000-node DAG must cost well under 1 KB per node, issue 10): a
DAG is stored either as dicts of dicts (name -> neighbours, cheap to change,
about 450 bytes per node) or only as its ``GraphIndex`` (tuples of ints, about
200 bytes per node). ``DAGBuilder.build()`` makes the second kind; the dicts are
made from the index on the first change. Queries answer from whichever is
there. A snapshot shares the DAG's storage instead of copying it; the DAG copies
its containers before its next change (copy on write), so the snapshot never
sees it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from dagron_nb.core.errors import (
    ConfigurationError,
    CycleError,
    DuplicateNodeError,
    EdgeNotFoundError,
    GraphError,
    InvalidNodeNameError,
    NodeNotFoundError,
    StaleNodeRefError,
)
from dagron_nb.core.index import GraphIndex, build_index, index_from_edges
from dagron_nb.core.items import check_label, check_metadata, check_weight, edge_item, node_item
from dagron_nb.core.plan import ExecutionPlan, critical_path, execution_plan, levels
from dagron_nb.core.refs import NodeArg, NodeRef, node_name

_V = TypeVar("_V")

#: up to this many successors, ``has_edge`` scans the index's tuple
_SCAN = 64


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidNodeNameError(name)
    return name


class DAG:
    """A directed acyclic graph of named nodes.

    ``add_node`` returns a ``NodeRef`` (as in the original dagron); the other
    mutators return the DAG, so calls chain.

    >>> dag = DAG()
    >>> dag.add_node("load", payload={"path": "data.csv"})
    NodeRef('load', epoch=0)
    >>> dag.add_nodes(["clean", "plot"]).add_edge("load", "clean", weight=2.0)
    DAG(nodes=3, edges=1)
    >>> dag.add_edge("clean", "plot", label="figure").topological_sort()
    ['load', 'clean', 'plot']
    >>> dag.edge_weight("load", "clean"), dag.edge_label("clean", "plot")
    (2.0, 'figure')
    """

    def __init__(self) -> None:
        # name -> successors / predecessors (dicts as ordered sets); None while
        # the DAG is stored as its index only (see the module docstring)
        self._succ_d: dict[str, dict[str, None]] | None = {}
        self._pred_d: dict[str, dict[str, None]] | None = {}
        # index-only storage: predecessors of the nodes whose edges were added
        # in another order than node order (the index keeps node order)
        self._pred_order: dict[int, tuple[int, ...]] = {}
        self._payload: dict[str, Any] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        # (weight, label) of the edges that have either; most edges have neither
        self._edge_attrs: dict[tuple[str, str], tuple[float | None, str | None]] = {}
        # epoch of names added again after a removal; absent means epoch 0
        self._epochs: dict[str, int] = {}
        self._edge_count = 0
        self._frozen = False
        self._snapshot: DAG | None = None
        # the containers are shared with ``_snapshot``: copy them before a change
        self._shared = False
        self._index: GraphIndex | None = None

    @staticmethod
    def builder() -> DAGBuilder:
        """Start a fluent ``DAGBuilder``; finish it with ``.build()``."""
        return DAGBuilder()

    # -- storage ------------------------------------------------------------------
    @property
    def _succ(self) -> dict[str, dict[str, None]]:
        """name -> successors, made from the index on first use."""
        if self._succ_d is None:
            self._make_dicts()
        assert self._succ_d is not None
        return self._succ_d

    @property
    def _pred(self) -> dict[str, dict[str, None]]:
        """name -> predecessors (in the order their edges were added)."""
        if self._pred_d is None:
            self._make_dicts()
        assert self._pred_d is not None
        return self._pred_d

    def _make_dicts(self) -> None:
        assert self._index is not None
        names, succ, pred = self._index.names, self._index.succ, self._index.pred
        order = self._pred_order
        self._succ_d = {
            name: dict.fromkeys([names[t] for t in targets]) for name, targets in zip(names, succ)
        }
        self._pred_d = {
            name: dict.fromkeys([names[p] for p in order.get(i, sources)])
            for i, (name, sources) in enumerate(zip(names, pred))
        }
        self._pred_order = {}

    def _indexed(self) -> GraphIndex | None:
        """The index when the DAG is stored as its index only (queries use it)."""
        return self._index if self._succ_d is None else None

    def _share(self) -> DAG:
        """A frozen DAG that shares this one's containers (see ``snapshot``)."""
        snap = DAG.__new__(DAG)
        snap.__dict__.update(self.__dict__)
        snap._index = self.index()
        snap._frozen, snap._snapshot, snap._shared = True, None, False
        self._index = snap._index
        self._shared = True
        return snap

    def _unshare(self) -> None:
        """Take private copies of the containers a snapshot shares."""
        if self._succ_d is not None:
            self._succ_d = {n: dict(s) for n, s in self._succ_d.items()}
        if self._pred_d is not None:
            self._pred_d = {n: dict(p) for n, p in self._pred_d.items()}
        self._payload = dict(self._payload)
        self._metadata = dict(self._metadata)  # the inner dicts are replaced, never changed
        self._edge_attrs = dict(self._edge_attrs)
        self._epochs = dict(self._epochs)
        self._shared = False

    # -- mutation ---------------------------------------------------------------
    def _changed(self, *, structure: bool = True) -> None:
        """Called before every change; ``structure``: nodes or edges change."""
        if self._frozen:
            raise GraphError(
                "this DAG is a snapshot taken for a run and cannot change; "
                "call .copy() to get an editable DAG."
            )
        if self._shared:
            self._unshare()
        self._snapshot = None
        if structure:
            if self._succ_d is None:
                self._make_dicts()
            self._index = None

    def add_node(
        self, name: str, payload: Any = None, metadata: Mapping[str, Any] | None = None
    ) -> NodeRef:
        """Add a node and return its ``NodeRef``; a second node of the same name
        raises ``DuplicateNodeError``."""
        _check_name(name)
        if self._is_node(name):
            raise DuplicateNodeError(name)
        check_metadata(name, metadata)
        self._changed()
        self._succ[name] = {}
        self._pred[name] = {}
        if payload is not None:
            self._payload[name] = payload
        if metadata:
            self._metadata[name] = dict(metadata)
        return NodeRef(name, self._epochs.get(name, 0))

    def add_nodes(self, nodes: Iterable[str | tuple[Any, ...]]) -> DAG:
        """Add several nodes, each a name, ``(name, payload)`` or
        ``(name, payload, metadata)``; all or none (a bad one leaves the DAG
        unchanged). Returns the DAG; ``node_ref(name)`` gives a handle."""
        if isinstance(nodes, str):
            raise ConfigurationError(
                f"add_nodes() takes a list of nodes, got the string {nodes!r}; "
                f"write add_nodes([{nodes!r}]) or add_node({nodes!r})."
            )
        added: list[str] = []
        epochs = dict(self._epochs)  # small: only names added again after a removal
        try:
            for item in nodes:
                name, payload, metadata = node_item(item)
                self.add_node(name, payload, metadata)
                added.append(name)
        except BaseException:
            for name in reversed(added):
                self.remove_node(name)
            self._epochs = epochs  # as if the nodes had never been added
            raise
        return self

    def _is_node(self, name: object) -> bool:
        """Is ``name`` (a str) a node? From the index when stored as one."""
        index = self._indexed()
        if index is not None:
            return name in index.position
        return name in self._succ

    def node_ref(self, name: str) -> NodeRef | None:
        """The ``NodeRef`` of the node called ``name`` now, or None if there is none."""
        if not self._is_node(name):
            return None
        return NodeRef(name, self._epochs.get(name, 0))

    def _name(self, node: NodeArg) -> str:
        """The name of a node argument that must be in the DAG (a live handle)."""
        if type(node) is str:
            if not self._is_node(node):
                raise NodeNotFoundError(node)
            return node
        name = node_name(node)
        if not self._is_node(name):
            raise NodeNotFoundError(name)
        if isinstance(node, NodeRef):
            current = self._epochs.get(name, 0)
            if node.epoch != current:
                raise StaleNodeRefError(name, node.epoch, current)
        return name

    def _has(self, node: object) -> bool:
        try:
            self._name(node)  # type: ignore[arg-type]
        except StaleNodeRefError:
            raise
        except (NodeNotFoundError, InvalidNodeNameError):
            return False
        return True

    def add_edge(
        self,
        source: NodeArg,
        target: NodeArg,
        weight: float | None = None,
        label: str | None = None,
    ) -> DAG:
        """Add ``source -> target``; both must exist, and no cycle may result.

        ``weight`` and ``label`` are kept with the edge (``edge_weight``,
        ``edge_label``) and drawn on pictures; they do not change scheduling.
        Adding an edge that exists again keeps one edge and takes the new
        weight / label where given.
        """
        names = [node_name(source), node_name(target)]
        for node, name in zip((source, target), names):
            if not self._is_node(name):
                raise NodeNotFoundError(name, f"in edge {names[0]!r} -> {names[1]!r}")
            self._name(node)  # a stale NodeRef is refused here
        u, v = names
        attrs = (check_weight(u, v, weight), check_label(u, v, label))
        if self._has_edge(u, v):
            if attrs != (None, None):
                self._changed(structure=False)  # the snapshot keeps the old attributes
                old = self._edge_attrs.get((u, v), (None, None))
                self._edge_attrs[(u, v)] = (
                    old[0] if attrs[0] is None else attrs[0],
                    old[1] if attrs[1] is None else attrs[1],
                )
            return self
        if u == v:
            raise CycleError([u, u], "a node cannot depend on itself.")
        path = self._path(v, u)
        if path is not None:
            raise CycleError(
                [u, *path],
                f"adding {u!r} -> {v!r} would close this cycle; the DAG is unchanged.",
            )
        self._changed()
        self._succ[u][v] = None
        self._pred[v][u] = None
        self._edge_count += 1
        if attrs != (None, None):
            self._edge_attrs[(u, v)] = attrs
        return self

    def add_edges(self, edges: Iterable[tuple[Any, ...]]) -> DAG:
        """Add several edges, each ``(source, target)``, ``(source, target,
        weight)`` or ``(source, target, weight, label)``; all or none (a bad one
        leaves the DAG unchanged)."""
        added: list[tuple[str, str]] = []
        attrs_before = dict(self._edge_attrs)
        try:
            for item in edges:
                source, target, weight, label = edge_item(item)
                before = self._edge_count
                self.add_edge(source, target, weight, label)
                if self._edge_count != before:  # not an edge that was already there
                    added.append((node_name(source), node_name(target)))
        except BaseException:
            for source, target in reversed(added):
                self.remove_edge(source, target)
            self._edge_attrs = attrs_before
            raise
        return self

    def remove_edge(self, source: NodeArg, target: NodeArg) -> DAG:
        u, v = node_name(source), node_name(target)
        if not self.has_edge(source, target):
            raise EdgeNotFoundError(u, v)
        self._changed()
        del self._succ[u][v]
        del self._pred[v][u]
        self._edge_attrs.pop((u, v), None)
        self._edge_count -= 1
        return self

    def remove_node(self, node: NodeArg) -> DAG:
        """Remove a node and its edges; its ``NodeRef`` goes stale."""
        name = self._name(node)
        self._changed()
        for s in self._succ.pop(name):
            del self._pred[s][name]
            self._edge_attrs.pop((name, s), None)
            self._edge_count -= 1
        for p in self._pred.pop(name):
            del self._succ[p][name]
            self._edge_attrs.pop((p, name), None)
            self._edge_count -= 1
        self._payload.pop(name, None)
        self._metadata.pop(name, None)
        # a node added later under this name is another node, with the next epoch
        self._epochs[name] = self._epochs.get(name, 0) + 1
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

    # -- payload, metadata, edge attributes --------------------------------------
    def get_payload(self, node: NodeArg) -> Any:
        """The payload of a node (None if it has none)."""
        return self._payload.get(self._name(node))

    def set_payload(self, node: NodeArg, payload: Any) -> DAG:
        """Replace a node's payload; runs started afterwards see the new one."""
        name = self._name(node)
        self._changed(structure=False)
        if payload is None:
            self._payload.pop(name, None)
        else:
            self._payload[name] = payload
        return self

    def get_metadata(self, node: NodeArg) -> dict[str, Any]:
        """A copy of a node's metadata dict (``{}`` if it has none)."""
        return dict(self._metadata.get(self._name(node), {}))

    def set_metadata(self, node: NodeArg, metadata: Mapping[str, Any] | None) -> DAG:
        """Replace a node's metadata (None or ``{}`` clears it)."""
        name = self._name(node)
        check_metadata(name, metadata)
        self._changed(structure=False)
        if metadata:
            self._metadata[name] = dict(metadata)
        else:
            self._metadata.pop(name, None)
        return self

    def edge_weight(self, source: NodeArg, target: NodeArg) -> float | None:
        """The weight given to edge ``source -> target``, or None."""
        return self._edge_attr(source, target)[0]

    def edge_label(self, source: NodeArg, target: NodeArg) -> str | None:
        """The label given to edge ``source -> target``, or None."""
        return self._edge_attr(source, target)[1]

    def edge_attributes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(source, target): {"weight": ..., "label": ...}}`` for the edges
        that have a weight or a label (the keys set are the ones given)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for edge, (weight, label) in self._edge_attrs.items():
            attrs: dict[str, Any] = {}
            if weight is not None:
                attrs["weight"] = weight
            if label is not None:
                attrs["label"] = label
            out[edge] = attrs
        return out

    def _edge_attr(self, source: NodeArg, target: NodeArg) -> tuple[float | None, str | None]:
        if not self.has_edge(source, target):
            raise EdgeNotFoundError(node_name(source), node_name(target))
        return self._edge_attrs.get((node_name(source), node_name(target)), (None, None))

    # -- queries ----------------------------------------------------------------
    def node_count(self) -> int:
        index = self._indexed()
        return len(index.names) if index is not None else len(self._succ)

    def edge_count(self) -> int:
        return self._edge_count

    def has_node(self, node: NodeArg) -> bool:
        """Whether the node is in the DAG (a stale ``NodeRef`` raises)."""
        return self._has(node)

    def has_edge(self, source: NodeArg, target: NodeArg) -> bool:
        if not (self._has(source) and self._has(target)):
            return False
        return self._has_edge(node_name(source), node_name(target))

    def _has_edge(self, u: str, v: str) -> bool:
        """Is there an edge ``u -> v`` (both nodes of this DAG)?"""
        index = self._indexed()
        if index is not None and len(index.succ[index.position[u]]) <= _SCAN:
            return index.position[v] in index.succ[index.position[u]]
        return v in self._succ[u]  # many successors: worth the dicts

    def nodes(self) -> list[str]:
        index = self._indexed()
        return list(index.names) if index is not None else list(self._succ)

    def edges(self) -> list[tuple[str, str]]:
        index = self._indexed()
        if index is not None:
            names = index.names
            return [(u, names[t]) for u, targets in zip(names, index.succ) for t in targets]
        return [(s, t) for s, targets in self._succ.items() for t in targets]

    def predecessors(self, node: NodeArg) -> list[str]:
        """The node's predecessors, in the order their edges were added."""
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            i = index.position[name]
            return [index.names[p] for p in self._pred_order.get(i, index.pred[i])]
        return list(self._pred[name])

    def successors(self, node: NodeArg) -> list[str]:
        """The node's successors, in the order their edges were added."""
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            return [index.names[t] for t in index.succ[index.position[name]]]
        return list(self._succ[name])

    def ancestors(self, node: NodeArg) -> set[str]:
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            return _reach_index(index, index.position[name], index.pred)
        return self._reach(name, self._pred)

    def descendants(self, node: NodeArg) -> set[str]:
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            return _reach_index(index, index.position[name], index.succ)
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

    def node_names(self) -> list[str]:
        """The node names in insertion order (the same as ``nodes()``)."""
        return self.nodes()

    def in_degree(self, node: NodeArg) -> int:
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            return len(index.pred[index.position[name]])
        return len(self._pred[name])

    def out_degree(self, node: NodeArg) -> int:
        name = self._name(node)
        index = self._indexed()
        if index is not None:
            return len(index.succ[index.position[name]])
        return len(self._succ[name])

    def topological_levels(self) -> list[list[str]]:
        """Nodes grouped by level (the longest edge count from a root), in
        insertion order inside a level; ``execution_plan`` orders by priority."""
        index = self.index()
        grouped: dict[int, list[str]] = {}
        for node, level in enumerate(levels(index)):
            grouped.setdefault(level, []).append(index.names[node])
        return [grouped[level] for level in sorted(grouped)]

    def roots(self) -> list[str]:
        index = self._indexed()
        if index is not None:
            return [n for n, preds in zip(index.names, index.pred) if not preds]
        return [n for n, preds in self._pred.items() if not preds]

    def leaves(self) -> list[str]:
        index = self._indexed()
        if index is not None:
            return [n for n, succs in zip(index.names, index.succ) if not succs]
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
        if self._succ_d is None:  # stored as its index: share it (nobody changes one)
            new._succ_d = new._pred_d = None
            new._index = self._index
            new._pred_order = self._pred_order
        else:
            new._succ_d = {n: dict(s) for n, s in self._succ_d.items()}
            new._pred_d = {n: dict(p) for n, p in self._pred.items()}
        new._payload = dict(self._payload)
        new._metadata = {n: dict(m) for n, m in self._metadata.items()}
        new._edge_attrs = dict(self._edge_attrs)
        new._epochs = dict(self._epochs)  # handles to this DAG's nodes work on the copy
        new._edge_count = self._edge_count
        return new

    def snapshot(self) -> DAG:
        """A frozen copy, shared until this DAG next changes.

        It shares this DAG's storage (nothing is copied for a run); the DAG
        copies what it changes next, so the snapshot stays as it was.
        """
        if self._frozen:
            return self
        if self._snapshot is None:
            self._snapshot = self._share()
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
        return self.node_count()

    def __contains__(self, node: object) -> bool:
        """``name in dag``; a ``NodeRef`` is in the DAG while it is not stale
        (``in`` answers, it never raises; ``has_node`` refuses a stale handle)."""
        if type(node) is str:
            return self._is_node(node)
        if not isinstance(node, NodeRef):
            return False
        return self._epochs.get(node.name, 0) == node.epoch and self._is_node(node.name)

    def __iter__(self) -> Iterator[str]:
        index = self._indexed()
        return iter(index.names) if index is not None else iter(self._succ)

    def __repr__(self) -> str:
        return f"DAG(nodes={self.node_count()}, edges={self.edge_count()})"


def _reach_index(index: GraphIndex, start: int, adjacency: list[tuple[int, ...]]) -> set[str]:
    """The names reachable from ``start`` along ``adjacency`` (not ``start``)."""
    seen: set[int] = set()
    stack = list(adjacency[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(adjacency[node])
    return {index.names[i] for i in seen}


def by_name(dag: DAG, mapping: Mapping[Any, _V]) -> Mapping[Any, _V]:
    """``mapping`` with ``NodeRef`` keys turned into names (checked against
    ``dag``: a stale handle raises); unchanged when every key is a plain name,
    so other keys go on to the caller's own check."""
    if not isinstance(mapping, Mapping):
        return mapping
    # the key types, collected at C speed: a 1,000,000-node task dict has one
    if not any(issubclass(kind, NodeRef) for kind in set(map(type, mapping))):
        return mapping
    return {(dag._name(k) if isinstance(k, NodeRef) else k): v for k, v in mapping.items()}


class DAGBuilder:
    """Fluent construction of a ``DAG``; ``build()`` checks for cycles once.

    Every method returns the builder. An edge may name nodes not added yet
    (they are created); a self-loop or any other cycle is reported by
    ``build()``, naming the cycle, as in the original dagron.

    >>> dag = DAGBuilder().add_edge("a", "b").add_edge("a", "c", weight=2.0).build()
    >>> dag.successors("a"), dag.edge_weight("a", "c")
    (['b', 'c'], 2.0)
    """

    def __init__(self) -> None:
        # name -> added by add_node (False: only named by an edge so far); payload,
        # metadata and edge attributes are kept only for the nodes / edges that
        # have them, and edges as two lists of names (a few bytes per edge)
        self._nodes: dict[str, bool] = {}
        self._payload: dict[str, Any] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._sources: list[str] = []
        self._targets: list[str] = []
        self._edge_attrs: dict[tuple[str, str], tuple[float | None, str | None]] = {}

    def add_node(
        self, name: str, payload: Any = None, metadata: Mapping[str, Any] | None = None
    ) -> DAGBuilder:
        _check_name(name)
        if self._nodes.get(name):
            raise DuplicateNodeError(name)
        check_metadata(name, metadata)
        self._nodes[name] = True
        if payload is not None:
            self._payload[name] = payload
        if metadata:
            self._metadata[name] = dict(metadata)
        return self

    def add_nodes(self, nodes: Iterable[str | tuple[Any, ...]]) -> DAGBuilder:
        """Add nodes, each a name, ``(name, payload)`` or ``(name, payload, metadata)``."""
        if isinstance(nodes, str):
            raise ConfigurationError(
                f"add_nodes() takes a list of nodes, got the string {nodes!r}; "
                f"write add_nodes([{nodes!r}]) or add_node({nodes!r})."
            )
        for item in nodes:
            self.add_node(*node_item(item))
        return self

    def add_edge(
        self,
        source: NodeArg,
        target: NodeArg,
        weight: float | None = None,
        label: str | None = None,
    ) -> DAGBuilder:
        """Add an edge; nodes it names that do not exist yet are created.

        A ``NodeRef`` (from some DAG) stands for its name here.
        """
        u, v = node_name(source), node_name(target)
        attrs = (check_weight(u, v, weight), check_label(u, v, label))
        nodes = self._nodes
        if u not in nodes:
            nodes[u] = False
        if v not in nodes:
            nodes[v] = False
        self._sources.append(u)  # a repeated edge is dropped by build()
        self._targets.append(v)
        if attrs != (None, None):
            old = self._edge_attrs.get((u, v), (None, None))
            self._edge_attrs[(u, v)] = (
                old[0] if attrs[0] is None else attrs[0],
                old[1] if attrs[1] is None else attrs[1],
            )
        return self

    def add_edges(self, edges: Iterable[tuple[Any, ...]]) -> DAGBuilder:
        """Add edges, each ``(source, target)`` plus optional weight and label."""
        for item in edges:
            self.add_edge(*edge_item(item))
        return self

    def build(self) -> DAG:
        """The finished DAG; raises ``CycleError`` naming a cycle if there is one.

        The DAG is stored as its index only (see the module docstring); the
        builder can go on and build again.
        """
        index, edge_count, pred_order = index_from_edges(
            list(self._nodes), self._sources, self._targets
        )
        dag = DAG()
        dag._succ_d = dag._pred_d = None
        dag._index = index
        dag._pred_order = pred_order
        dag._edge_count = edge_count
        dag._payload = dict(self._payload)
        dag._metadata = dict(self._metadata)  # the inner dicts are never changed in place
        dag._edge_attrs = dict(self._edge_attrs)
        return dag
