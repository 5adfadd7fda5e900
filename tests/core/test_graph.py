"""DAG and DAGBuilder: construction, errors, queries, payload/metadata, snapshots, scale."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagron_nb import (
    DAG,
    CycleError,
    DAGBuilder,
    DagronError,
    DuplicateNodeError,
    GraphError,
    InvalidNodeNameError,
    NodeNotFoundError,
    NodeRef,
)


def diamond() -> DAG:
    return (
        DAG.builder()
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .build()
    )


# -- the mutable DAG --------------------------------------------------------------------
def test_mutable_dag_is_built_step_by_step_and_chains() -> None:
    dag = DAG()
    assert dag.add_node("a") == NodeRef("a", 0)  # a handle, as in the original dagron
    assert dag.add_nodes(["b", "c"]) is dag
    assert dag.add_edge("a", "b") is dag
    assert dag.add_edges([("a", "c"), ("b", "c")]) is dag
    assert dag.nodes() == ["a", "b", "c"]
    assert dag.edges() == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (dag.node_count(), dag.edge_count(), len(dag)) == (3, 3, 3)
    assert repr(dag) == "DAG(nodes=3, edges=3)"


def test_adding_an_existing_edge_again_changes_nothing() -> None:
    dag = DAG().add_nodes(["a", "b"]).add_edge("a", "b").add_edge("a", "b")
    assert dag.edge_count() == 1
    assert dag.edges() == [("a", "b")]


def test_mutable_duplicate_node_raises() -> None:
    dag = DAG().add_nodes(["a"])
    with pytest.raises(DuplicateNodeError, match=r"node 'a' already exists") as info:
        dag.add_node("a")
    assert info.value.name == "a"
    assert isinstance(info.value, GraphError)
    assert isinstance(info.value, ValueError)
    assert dag.node_count() == 1


@pytest.mark.parametrize(("source", "target", "missing"), [("a", "zz", "zz"), ("zz", "a", "zz")])
def test_mutable_edge_to_unknown_node_raises(source: str, target: str, missing: str) -> None:
    dag = DAG().add_nodes(["a"])
    with pytest.raises(NodeNotFoundError, match=rf"node '{missing}' is not in the DAG") as info:
        dag.add_edge(source, target)
    assert info.value.name == missing
    assert "add_node()" in str(info.value)
    assert isinstance(info.value, KeyError)
    assert dag.edge_count() == 0
    assert dag.nodes() == ["a"]


def test_mutable_cycle_is_refused_named_and_leaves_the_dag_unchanged() -> None:
    dag = DAG().add_nodes(["a", "b", "c"]).add_edge("a", "b").add_edge("b", "c")
    before = (dag.nodes(), dag.edges(), dag.topological_sort())
    with pytest.raises(CycleError, match=r"'c' -> 'a' -> 'b' -> 'c'") as info:
        dag.add_edge("c", "a")
    assert info.value.cycle == ["c", "a", "b", "c"]
    assert "the DAG is unchanged" in str(info.value)
    assert (dag.nodes(), dag.edges(), dag.topological_sort()) == before
    assert not dag.has_edge("c", "a")
    # the DAG is still usable afterwards
    dag.add_edge("a", "c")
    assert dag.edge_count() == 3


def test_two_node_cycle_message() -> None:
    dag = DAG().add_nodes(["a", "b"]).add_edge("a", "b")
    with pytest.raises(CycleError, match=r"the graph has a cycle: 'b' -> 'a' -> 'b'"):
        dag.add_edge("b", "a")
    assert dag.edges() == [("a", "b")]


def test_self_loop_is_a_cycle() -> None:
    dag = DAG().add_nodes(["a"])
    with pytest.raises(CycleError, match=r"(?s)'a' -> 'a'.*cannot depend on itself"):
        dag.add_edge("a", "a")
    assert dag.edge_count() == 0
    # the builder reports it from build(), like every other cycle
    builder = DAG.builder().add_edge("x", "x")
    with pytest.raises(CycleError, match=r"'x' -> 'x'") as info:
        builder.build()
    assert info.value.cycle == ["x", "x"]


@pytest.mark.parametrize("bad", [None, 1, 2.5, b"a", ("a",), ""])
def test_invalid_node_names_are_refused_everywhere(bad: object) -> None:
    pattern = r"node names must be non-empty strings, got "
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG().add_node(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG().add_nodes(["ok", bad])  # type: ignore[list-item]
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG().add_nodes(["ok"]).add_edge("ok", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG.builder().add_node(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG.builder().add_edge(bad, "ok")  # type: ignore[arg-type]
    with pytest.raises(InvalidNodeNameError, match=pattern):
        DAG.builder().add_edges([("ok", bad)])  # type: ignore[list-item]


def test_invalid_name_error_is_both_a_graph_and_type_error() -> None:
    with pytest.raises(InvalidNodeNameError) as info:
        DAG().add_node("")
    assert isinstance(info.value, GraphError)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, DagronError)
    assert "''" in str(info.value)
    assert "(str)" in str(info.value)


# -- the builder ------------------------------------------------------------------------
def test_builder_creates_nodes_named_by_edges_in_first_seen_order() -> None:
    dag = DAGBuilder().add_edge("x", "y").add_node("w").add_edge("y", "z").build()
    assert dag.nodes() == ["x", "y", "w", "z"]
    assert dag.edges() == [("x", "y"), ("y", "z")]


def test_builder_explicit_node_after_edge_is_allowed_and_keeps_payload() -> None:
    dag = DAG.builder().add_edge("a", "b").add_node("a", payload=7, metadata={"k": 1}).build()
    assert dag.nodes() == ["a", "b"]
    assert dag.get_payload("a") == 7
    assert dag.get_metadata("a") == {"k": 1}


def test_builder_duplicate_explicit_node_raises() -> None:
    builder = DAG.builder().add_node("a")
    with pytest.raises(DuplicateNodeError, match=r"node 'a' already exists"):
        builder.add_node("a")
    with pytest.raises(DuplicateNodeError, match=r"node 'b' already exists"):
        DAG.builder().add_nodes(["b", "c", "b"])


def test_builder_duplicate_edge_is_kept_once() -> None:
    dag = DAG.builder().add_edges([("a", "b"), ("a", "b")]).build()
    assert dag.edge_count() == 1


def test_builder_cycle_raises_at_build_naming_the_cycle() -> None:
    builder = DAG.builder().add_edge("a", "b").add_edge("b", "a")
    with pytest.raises(CycleError, match=r"the graph has a cycle: 'a' -> 'b' -> 'a'") as info:
        builder.build()
    assert info.value.cycle == ["a", "b", "a"]


def test_builder_cycle_deep_inside_a_larger_graph_names_only_the_cycle() -> None:
    builder = (
        DAG.builder()
        .add_edges([("root", "p"), ("p", "q"), ("q", "r"), ("r", "p"), ("r", "leaf")])
        .add_edge("root", "other")
    )
    with pytest.raises(CycleError) as info:
        builder.build()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["p", "q", "r"]
    # each step of the reported cycle is a real edge
    edges = {("root", "p"), ("p", "q"), ("q", "r"), ("r", "p"), ("r", "leaf")}
    assert all((u, v) in edges for u, v in itertools.pairwise(cycle))
    assert "'p' -> 'q' -> 'r' -> 'p'" in str(info.value)


def test_builder_is_fluent_and_can_build_twice_independently() -> None:
    builder = DAG.builder().add_node("a", metadata={"k": 1}).add_edge("a", "b")
    first = builder.build()
    second = builder.build()
    first.add_node("c")
    assert second.nodes() == ["a", "b"]
    assert second.get_metadata("a") == {"k": 1}


# -- queries ----------------------------------------------------------------------------
def test_queries_on_a_diamond() -> None:
    dag = diamond()
    assert dag.has_node("a")
    assert not dag.has_node("z")
    assert "a" in dag
    assert "z" not in dag
    assert list(dag) == ["a", "b", "c", "d"]
    assert dag.has_edge("a", "b")
    assert not dag.has_edge("b", "a")
    assert not dag.has_edge("z", "a")
    assert dag.predecessors("d") == ["b", "c"]
    assert dag.successors("a") == ["b", "c"]
    assert dag.predecessors("a") == []
    assert dag.ancestors("d") == {"a", "b", "c"}
    assert dag.ancestors("a") == set()
    assert dag.descendants("a") == {"b", "c", "d"}
    assert dag.descendants("d") == set()
    assert dag.roots() == ["a"]
    assert dag.leaves() == ["d"]
    assert dag.topological_sort() == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "query", ["predecessors", "successors", "ancestors", "descendants", "get_payload"]
)
def test_queries_on_unknown_nodes_raise(query: str) -> None:
    with pytest.raises(NodeNotFoundError, match=r"node 'nope' is not in the DAG"):
        getattr(diamond(), query)("nope")


def test_topological_sort_keeps_insertion_order_among_independent_nodes() -> None:
    dag = DAG().add_nodes(["z", "y", "x", "w"]).add_edge("x", "y")
    order = dag.topological_sort()
    assert order == ["z", "x", "w", "y"]
    for u, v in dag.edges():
        assert order.index(u) < order.index(v)


def test_roots_and_leaves_include_isolated_nodes() -> None:
    dag = DAG().add_nodes(["lonely", "a", "b"]).add_edge("a", "b")
    assert dag.roots() == ["lonely", "a"]
    assert dag.leaves() == ["lonely", "b"]


def test_empty_dag() -> None:
    dag = DAG()
    assert dag.node_count() == 0
    assert dag.edges() == []
    assert dag.topological_sort() == []
    assert dag.execution_plan() == []
    assert dag.critical_path() == []
    assert DAG.builder().build().node_count() == 0


def test_remove_edge_and_node() -> None:
    dag = diamond()
    dag.remove_edge("a", "b")
    assert not dag.has_edge("a", "b")
    assert dag.edge_count() == 3
    dag.remove_node("c")
    assert dag.nodes() == ["a", "b", "d"]
    assert dag.edges() == [("b", "d")]
    assert dag.edge_count() == 1
    with pytest.raises(NodeNotFoundError, match=r"no such edge"):
        dag.remove_edge("a", "b")
    with pytest.raises(NodeNotFoundError, match=r"node 'c' is not in the DAG"):
        dag.remove_node("c")


# -- payload and metadata ---------------------------------------------------------------
def test_payload_and_metadata() -> None:
    sentinel = object()
    dag = DAG().add_nodes([("a", sentinel, {"owner": "me", "n": 1}), "b"])
    assert dag.get_payload("a") is sentinel
    assert dag.get_payload("b") is None
    assert dag.get_metadata("a") == {"owner": "me", "n": 1}
    assert dag.get_metadata("b") == {}
    # the caller gets a copy: editing it does not edit the DAG
    dag.get_metadata("a")["owner"] = "you"
    assert dag.get_metadata("a")["owner"] == "me"
    with pytest.raises(NodeNotFoundError):
        dag.get_metadata("zz")


def test_metadata_passed_in_is_copied() -> None:
    meta = {"k": 1}
    dag = DAG()
    dag.add_node("a", metadata=meta)
    meta["k"] = 2
    assert dag.get_metadata("a") == {"k": 1}


def test_remove_node_drops_payload_and_metadata() -> None:
    dag = DAG().add_nodes([("a", 1, {"k": 1})]).remove_node("a")
    dag.add_node("a")
    assert dag.get_payload("a") is None
    assert dag.get_metadata("a") == {}


# -- snapshots --------------------------------------------------------------------------
def test_snapshot_is_frozen_cached_and_refreshed_after_a_change() -> None:
    dag = diamond()
    snap = dag.snapshot()
    assert snap.frozen
    assert not dag.frozen
    assert snap is dag.snapshot()  # cached while nothing changes
    assert snap.snapshot() is snap
    for change in (
        lambda: snap.add_node("e"),
        lambda: snap.add_edge("b", "c"),
        lambda: snap.remove_node("a"),
        lambda: snap.remove_edge("a", "b"),
    ):
        with pytest.raises(GraphError, match=r"snapshot taken for a run and cannot change"):
            change()
    assert snap.nodes() == ["a", "b", "c", "d"]
    assert snap.edge_count() == 4
    dag.add_node("e")
    fresh = dag.snapshot()
    assert fresh is not snap
    assert fresh.nodes() == ["a", "b", "c", "d", "e"]
    assert snap.nodes() == ["a", "b", "c", "d"]


def test_snapshot_is_independent_of_later_changes_to_payload_and_metadata() -> None:
    dag = DAG().add_nodes([("a", None, {"k": 1})])
    snap = dag.snapshot()
    dag.remove_node("a").add_nodes([("a", None, {"k": 2})])
    assert snap.get_metadata("a") == {"k": 1}


def test_copy_of_a_snapshot_is_editable() -> None:
    snap = diamond().snapshot()
    editable = snap.copy()
    assert not editable.frozen
    editable.add_edge("b", "c")
    assert editable.edge_count() == 5
    assert snap.edge_count() == 4


def test_index_matches_the_graph_and_is_cached() -> None:
    dag = diamond()
    index = dag.index()
    assert index is dag.index()
    assert index.names == ["a", "b", "c", "d"]
    assert index.position == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert index.succ == [(1, 2), (3,), (3,), ()]
    assert index.pred == [(), (0,), (0,), (1, 2)]
    assert index.topo == [0, 1, 2, 3]
    dag.add_node("e")
    assert dag.index() is not index


# -- storage: a built DAG is its index; snapshots share (issue 10, item 14) ----------------
def _both_ways(nodes: list[str], edges: list[tuple[str, str, float | None]]) -> tuple[DAG, DAG]:
    """The same graph from the builder (stored as its index only) and step by step."""
    builder = DAG.builder().add_nodes(nodes)
    stepwise = DAG().add_nodes(nodes)
    for u, v, weight in edges:
        builder.add_edge(u, v, weight=weight)
        stepwise.add_edge(u, v, weight=weight)
    return builder.build(), stepwise


def _answers(dag: DAG) -> dict[str, object]:
    """Everything the queries say about ``dag``."""
    nodes = dag.nodes()
    index = dag.index()
    return {
        "nodes": nodes,
        "list": list(dag),
        "len": len(dag),
        "edges": dag.edges(),
        "edge_count": dag.edge_count(),
        "roots": dag.roots(),
        "leaves": dag.leaves(),
        "topo": dag.topological_sort(),
        "levels": dag.topological_levels(),
        "index": (index.names, index.position, index.succ, index.pred, index.topo),
        "weights": dag.edge_attributes(),
        "per node": [
            (
                dag.predecessors(n),
                dag.successors(n),
                dag.ancestors(n),
                dag.descendants(n),
                dag.in_degree(n),
                dag.out_degree(n),
                n in dag,
                dag.node_ref(n),
            )
            for n in nodes
        ],
        "has_edge": [dag.has_edge(u, v) for u in nodes for v in nodes],
    }


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str, float | None]]]:
    n = draw(st.integers(1, 9))
    nodes = [f"n{i}" for i in draw(st.permutations(range(n)))]
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1])
    weights = st.none() | st.floats(0, 10)
    # forward in node order, so acyclic; drawn in any order and with repeats
    edges = draw(st.lists(st.tuples(pairs, weights), max_size=20))
    return nodes, [(nodes[u], nodes[v], w) for (u, v), w in edges]


@settings(max_examples=60, deadline=None)
@given(_graphs())
def test_a_built_dag_answers_every_query_like_one_built_step_by_step(
    graph: tuple[list[str], list[tuple[str, str, float | None]]],
) -> None:
    built, stepwise = _both_ways(*graph)
    assert _answers(built) == _answers(stepwise)
    # the first change turns the built DAG into dicts; it goes on to agree
    for dag in (built, stepwise):
        dag.add_nodes(["new"]).add_edge(graph[0][0], "new")
        dag.remove_node(graph[0][-1])
    assert _answers(built) == _answers(stepwise)


def test_predecessors_keep_the_order_their_edges_were_added() -> None:
    built, stepwise = _both_ways(["a", "b", "c", "d"], [("c", "d", None), ("a", "d", None)])
    assert built.predecessors("d") == stepwise.predecessors("d") == ["c", "a"]
    assert built.index().pred[3] == (0, 2)  # the index keeps node order
    assert built.copy().predecessors("d") == ["c", "a"]
    built.add_node("e")  # made into dicts
    assert built.predecessors("d") == ["c", "a"]


def test_a_repeated_edge_counts_once_and_keeps_its_first_place() -> None:
    dag = DAG.builder().add_edges([("a", "c"), ("a", "b"), ("a", "c"), ("a", "c", 2.0)]).build()
    assert dag.edge_count() == 2
    assert dag.successors("a") == ["c", "b"]
    assert dag.edge_weight("a", "c") == 2.0


def test_a_builder_builds_again_after_more_edges() -> None:
    builder = DAG.builder().add_edge("a", "b")
    first = builder.build()
    second = builder.add_edge("b", "c").build()
    assert first.edges() == [("a", "b")]
    assert second.edges() == [("a", "b"), ("b", "c")]


def test_has_edge_on_a_node_with_many_successors() -> None:
    children = [f"c{i}" for i in range(200)]  # more than the index is scanned for
    dag = DAG.builder().add_edges(("root", c) for c in children).build()
    assert dag.has_edge("root", "c199")
    assert not dag.has_edge("c199", "root")
    assert dag.out_degree("root") == 200


@pytest.mark.parametrize("made", ["built", "stepwise"])
def test_a_snapshot_shares_the_dags_storage_and_never_sees_its_changes(made: str) -> None:
    built, stepwise = _both_ways(["a", "b", "c"], [("a", "b", 1.0), ("b", "c", None)])
    dag = built if made == "built" else stepwise
    dag.set_payload("a", "p").set_metadata("a", {"k": 1})
    snap = dag.snapshot()
    assert snap.index() is dag.index()  # nothing copied for a run
    before = _answers(snap)
    dag.add_edge("a", "b", weight=5.0)  # an edge that is there: new weight only
    dag.set_payload("a", "q").set_metadata("a", {"k": 2})
    dag.add_nodes(["d"]).add_edge("c", "d").remove_edge("a", "b").remove_node("b")
    assert _answers(snap) == before
    assert snap.edge_weight("a", "b") == 1.0
    assert (snap.get_payload("a"), snap.get_metadata("a")) == ("p", {"k": 1})
    assert dag.nodes() == ["a", "c", "d"]
    assert dag.snapshot() is not snap
    with pytest.raises(GraphError, match="snapshot taken for a run"):
        snap.add_edge("a", "b", weight=3.0)  # new attributes are a change too
    assert snap.edge_weight("a", "b") == 1.0


def test_a_new_weight_on_an_existing_edge_reaches_the_next_snapshot() -> None:
    dag = DAG().add_nodes(["a", "b"]).add_edge("a", "b")
    old = dag.snapshot()
    dag.add_edge("a", "b", weight=2.0)
    assert dag.snapshot() is not old
    assert dag.snapshot().edge_weight("a", "b") == 2.0
    assert old.edge_weight("a", "b") is None


# -- scale: iterative algorithms --------------------------------------------------------
N = 100_000


def test_100k_chain_without_recursion_errors() -> None:
    names = [f"n{i}" for i in range(N)]
    dag = DAG.builder().add_edges(itertools.pairwise(names)).build()
    assert dag.topological_sort() == names
    assert len(dag.ancestors(names[-1])) == N - 1
    assert len(dag.descendants(names[0])) == N - 1
    assert dag.critical_path() == names
    plan = dag.execution_plan()
    assert len(plan) == N
    assert plan[-1].level == N - 1


def test_100k_chain_built_step_by_step_checks_cycles_iteratively() -> None:
    names = [f"n{i}" for i in range(N)]
    dag = DAG().add_nodes(names)
    dag.add_edges(itertools.pairwise(names))
    # closing the cycle needs a search along the whole chain
    with pytest.raises(CycleError) as info:
        dag.add_edge(names[-1], names[0])
    assert len(info.value.cycle) == N + 1
    assert dag.edge_count() == N - 1


def test_100k_cycle_found_by_the_builder() -> None:
    names = [f"n{i}" for i in range(N)]
    builder = DAG.builder().add_edges(itertools.pairwise(names)).add_edge(names[-1], names[0])
    with pytest.raises(CycleError) as info:
        builder.build()
    assert len(info.value.cycle) == N + 1
    assert info.value.cycle[0] == info.value.cycle[-1]
    # the message names the start of the cycle and says how long it is
    message = str(info.value)
    assert len(message) < 500
    assert message.startswith("the graph has a cycle: 'n0' -> 'n1' -> ")
    assert f"-> ... ({N + 1 - 11} more) -> 'n0'\n" in message


def test_add_nodes_is_all_or_nothing() -> None:
    dag = DAG().add_nodes(["a"])
    with pytest.raises(DuplicateNodeError, match="'a' already exists"):
        dag.add_nodes(["b", "c", "a", "d"])
    assert dag.nodes() == ["a"]
    dag.add_nodes(["b", "c"])  # the names are free again
    assert dag.nodes() == ["a", "b", "c"]


def test_add_edges_is_all_or_nothing() -> None:
    dag = DAG().add_nodes(["a", "b", "c"]).add_edge("a", "b")
    with pytest.raises(CycleError, match="'c' -> 'a'"):
        # the already present edge stays, the new one goes again, the cycle is refused
        dag.add_edges([("a", "b"), ("b", "c"), ("c", "a")])
    assert dag.edges() == [("a", "b")]
    assert dag.edge_count() == 1
    with pytest.raises(NodeNotFoundError, match="'nope'"):
        dag.add_edges([("b", "c"), ("c", "nope")])
    assert dag.edges() == [("a", "b")]
    assert dag.successors("b") == []
    assert dag.predecessors("a") == []
