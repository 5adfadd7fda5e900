"""Code written for the original dagron, run after ``import dagron_nb as dagron``.

Each test follows what dagron's documentation describes (plans, tracing,
payloads and metadata, edge weights and labels, ``NodeRef`` handles, the
``@task`` marker, cycles reported by ``build()``), in our own words. Where
dagron_nb differs on purpose, the test pins our behaviour and
docs/differences-from-dagron.md says why.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeRef, StaleNodeRefError, TraceEventType

COSTS = {"extract": 2.0, "transform": 5.0, "check": 1.0, "load": 1.0}


def etl() -> dagron.DAG:
    return (
        dagron.DAG.builder()
        .add_edge("extract", "transform")
        .add_edge("extract", "check")
        .add_edge("transform", "load")
        .add_edge("check", "load")
        .build()
    )


# -- plans ------------------------------------------------------------------------------
def test_plan_reads_as_dagron_execution_plan() -> None:
    plan = etl().execution_plan(costs=COSTS)
    assert isinstance(plan, dagron.ExecutionPlan)
    assert len(plan.steps) == 3
    assert plan.total_nodes == 4
    assert plan.max_parallelism == 2
    assert plan.estimated_makespan == 2.0 + 5.0 + 1.0
    assert plan.critical_path == ["extract", "transform", "load"]
    assert [n.name for n in plan.critical_path] == ["extract", "transform", "load"]
    schedule = [
        (step.step_index, sn.node.name, sn.start_time, sn.duration)
        for step in plan.steps
        for sn in step.nodes
    ]
    assert schedule == [
        (0, "extract", 0.0, 2.0),
        (1, "transform", 2.0, 5.0),
        (1, "check", 2.0, 1.0),
        (2, "load", 7.0, 1.0),
    ]
    assert repr(plan) == (
        "ExecutionPlan(steps=3, total_nodes=4, max_parallelism=2, estimated_makespan=8.0)"
    )


def test_the_same_plan_reads_as_the_spec_list_of_steps(capsys: pytest.CaptureFixture[str]) -> None:
    plan = etl().execution_plan()
    for step in plan:
        print(step)
    assert capsys.readouterr().out.splitlines() == [
        "ExecutionStep(level=0, nodes=['extract'])",
        "ExecutionStep(level=1, nodes=['transform', 'check'])",
        "ExecutionStep(level=2, nodes=['load'])",
    ]
    assert plan == [
        dagron.ExecutionStep(level=0, nodes=["extract"]),
        dagron.ExecutionStep(level=1, nodes=["transform", "check"]),
        dagron.ExecutionStep(level=2, nodes=["load"]),
    ]
    assert plan[1].nodes == ["transform", "check"]
    assert list(plan[1]) == plan[1].nodes
    assert plan[-1].level == plan[-1].step_index == 2
    assert len(plan) == len(plan.steps) == 3
    assert plan[1:] == plan.steps[1:]
    assert dagron.DAG().execution_plan() == []
    empty = dagron.DAG().execution_plan()
    assert (empty.total_nodes, empty.max_parallelism, empty.estimated_makespan) == (0, 0, 0.0)


def test_plan_schedule_agrees_with_the_plan_table() -> None:
    pytest.importorskip("pandas", reason="plan_frame needs pandas")
    from dagron_nb.notebook.frames import plan_frame

    dag = etl()
    frame = plan_frame(dag, COSTS)
    plan = dag.execution_plan(COSTS)
    scheduled = [sn for step in plan for sn in step.nodes]
    assert list(frame.index) == scheduled
    assert frame["earliest_start"].tolist() == [sn.start_time for sn in scheduled]
    assert frame["cost"].tolist() == [sn.duration for sn in scheduled]
    assert frame.index[frame["on_critical_path"]].tolist() == plan.critical_path


def test_scheduled_nodes_are_names_and_survive_pickling() -> None:
    plan = etl().execution_plan(COSTS)
    node = plan.steps[1].nodes[0]
    assert isinstance(node, str)
    assert node == "transform"
    assert hash(node) == hash("transform")
    assert {node: 1}["transform"] == 1
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan
    assert again.steps[1].nodes[0].start_time == 2.0
    assert again.estimated_makespan == plan.estimated_makespan


def test_graph_queries_of_dagron_getting_started() -> None:
    dag = (
        dagron.DAG.builder()
        .add_edge("extract_api", "transform_api")
        .add_edge("extract_db", "transform_db")
        .add_edge("transform_api", "merge")
        .add_edge("transform_db", "merge")
        .add_edge("merge", "load")
        .build()
    )
    assert dag.topological_levels() == [
        ["extract_api", "extract_db"],
        ["transform_api", "transform_db"],
        ["merge"],
        ["load"],
    ]
    assert (dag.in_degree("merge"), dag.out_degree("merge")) == (2, 1)
    assert dag.node_names() == dag.nodes()
    with pytest.raises(dagron.NodeNotFoundError):
        dag.in_degree("nope")
    assert dagron.DAG().topological_levels() == []


# -- tracing ----------------------------------------------------------------------------
def boom() -> None:
    raise ValueError("bad row")


def test_trace_of_a_run_reads_as_dagron_trace() -> None:
    dag = dagron.DAG.builder().add_edge("extract", "load").add_node("other").build()
    tasks = {"extract": boom, "load": lambda: None, "other": lambda: 1}
    result = dagron.DAGExecutor(dag, enable_tracing=True, fail_fast=False).execute(tasks)
    trace = result.trace
    assert trace is not None
    kinds = [e.event_type for e in trace.events]
    assert kinds[0] is TraceEventType.EXECUTION_STARTED
    assert kinds[-1] is TraceEventType.EXECUTION_COMPLETED
    failed = [e for e in trace.events if e.event_type == TraceEventType.NODE_FAILED]
    assert [(e.node_name, e.error) for e in failed] == [("extract", "ValueError: bad row")]
    assert failed[0].duration is not None
    assert failed[0].duration >= 0.0
    assert [e.event_type for e in trace.events_for_node("other")] == [
        TraceEventType.NODE_STARTED,
        TraceEventType.NODE_COMPLETED,
    ]
    skipped = trace.events_for_node("load")
    assert [e.event_type for e in skipped] == [TraceEventType.NODE_SKIPPED]
    assert skipped[0].error is None
    records = json.loads(trace.to_json())
    assert records[0]["event_type"] == "execution_started"
    assert {"event_type", "timestamp"} <= set(records[1])
    chrome = json.loads(trace.to_chrome_trace())
    assert {"extract", "other"} <= {e["name"] for e in chrome["traceEvents"]}
    assert trace.summary().startswith("trace: ")


def test_trace_event_types_include_dagron_execution_and_cache_members() -> None:
    names = {member.name for member in TraceEventType}
    assert {"EXECUTION_STARTED", "EXECUTION_COMPLETED", "NODE_CACHE_HIT", "NODE_CACHE_MISS"} <= (
        names
    )
    fields = set(dagron.TraceEvent.__dataclass_fields__)
    assert {"event_type", "timestamp", "node_name", "step_index", "duration", "error"} <= fields
    assert "metadata" in fields


# -- payloads, metadata, edge weight and label --------------------------------------------
def test_payload_and_metadata_on_a_mutable_dag() -> None:
    dag = dagron.DAG()
    dag.add_node("extract", payload={"source": "api"}, metadata={"team": "data"})
    dag.add_nodes(["plain", ("with_payload", 42), ("full", "p", {"owner": "me"})])
    assert dag.get_payload("extract") == {"source": "api"}
    assert dag.get_metadata("extract") == {"team": "data"}
    assert (dag.get_payload("plain"), dag.get_metadata("plain")) == (None, {})
    assert (dag.get_payload("with_payload"), dag.get_metadata("with_payload")) == (42, {})
    assert (dag.get_payload("full"), dag.get_metadata("full")) == ("p", {"owner": "me"})
    dag.set_payload("extract", {"source": "db"})
    dag.set_metadata("extract", {"team": "ml"})
    assert dag.get_payload("extract") == {"source": "db"}
    assert dag.get_metadata("extract") == {"team": "ml"}
    with pytest.raises(dagron.NodeNotFoundError):
        dag.set_payload("nope", 1)


def test_builder_takes_payload_metadata_weight_and_label() -> None:
    dag = (
        dagron.DAG.builder()
        .add_node("fetch", payload={"url": "https://example.com"})
        .add_node("parse", metadata={"team": "data-eng"})
        .add_nodes([("store", "db")])
        .add_edge("fetch", "parse", weight=2.0)
        .add_edge("parse", "store", label="rows")
        .add_edges([("fetch", "audit", 0.5, "copy")])
        .build()
    )
    assert dag.get_payload("fetch") == {"url": "https://example.com"}
    assert dag.get_metadata("parse") == {"team": "data-eng"}
    assert dag.get_payload("store") == "db"
    assert (dag.edge_weight("fetch", "parse"), dag.edge_label("fetch", "parse")) == (2.0, None)
    assert (dag.edge_weight("parse", "store"), dag.edge_label("parse", "store")) == (None, "rows")
    assert (dag.edge_weight("fetch", "audit"), dag.edge_label("fetch", "audit")) == (0.5, "copy")
    assert dag.edge_attributes() == {
        ("fetch", "parse"): {"weight": 2.0},
        ("parse", "store"): {"label": "rows"},
        ("fetch", "audit"): {"weight": 0.5, "label": "copy"},
    }


def test_edge_weight_and_label_on_a_mutable_dag() -> None:
    dag = dagron.DAG().add_nodes(["a", "b", "c"])
    dag.add_edge("a", "b", weight=3, label="big")
    dag.add_edges([("b", "c", 1.5)])
    assert dag.edge_weight("a", "b") == 3.0
    assert dag.edge_label("a", "b") == "big"
    assert dag.edge_weight("b", "c") == 1.5
    assert dag.edge_label("b", "c") is None
    dag.add_edge("a", "b", label="bigger")  # the same edge: new label, weight kept
    assert (dag.edge_count(), dag.edge_weight("a", "b"), dag.edge_label("a", "b")) == (
        2,
        3.0,
        "bigger",
    )
    with pytest.raises(dagron.EdgeNotFoundError, match=r"'a' -> 'c'"):
        dag.edge_weight("a", "c")
    dag.remove_edge("a", "b")
    dag.add_edge("a", "b")
    assert dag.edge_weight("a", "b") is None  # a new edge starts without attributes


@pytest.mark.parametrize(
    ("weight", "label"), [("heavy", None), (float("nan"), None), (True, None), (None, 3)]
)
def test_bad_weight_or_label_is_refused_and_names_the_edge(weight: Any, label: Any) -> None:
    dag = dagron.DAG().add_nodes(["a", "b"])
    with pytest.raises(dagron.ConfigurationError, match=r"edge 'a' -> 'b' must be"):
        dag.add_edge("a", "b", weight=weight, label=label)
    assert dag.edge_count() == 0


def test_add_edges_that_fails_leaves_weights_and_labels_as_they_were() -> None:
    dag = dagron.DAG().add_nodes(["a", "b", "c"]).add_edge("a", "b", weight=1.0)
    with pytest.raises(dagron.NodeNotFoundError):
        dag.add_edges([("a", "b", 9.0, "changed"), ("b", "c", 2.0), ("c", "zz")])
    assert dag.edges() == [("a", "b")]
    assert dag.edge_attributes() == {("a", "b"): {"weight": 1.0}}


def test_bad_item_shapes_say_what_is_accepted() -> None:
    with pytest.raises(dagron.InvalidNodeNameError, match=r"\(name, payload\)"):
        dagron.DAG().add_nodes([("a", 1, {}, "extra")])
    with pytest.raises(dagron.ConfigurationError, match=r"\(source, target, weight, label\)"):
        dagron.DAG().add_nodes(["a", "b"]).add_edges([("a",)])
    with pytest.raises(dagron.ConfigurationError, match=r"metadata of node 'a' must be a dict"):
        dagron.DAG().add_node("a", metadata=["not", "a", "dict"])  # type: ignore[arg-type]


def test_snapshots_and_copies_keep_payloads_metadata_and_edge_attributes() -> None:
    dag = dagron.DAG()
    dag.add_node("a", payload=1, metadata={"k": "v"})
    dag.add_node("b")
    dag.add_edge("a", "b", weight=2.0, label="x")
    for other in (dag.snapshot(), dag.copy()):
        assert other.get_payload("a") == 1
        assert other.get_metadata("a") == {"k": "v"}
        assert (other.edge_weight("a", "b"), other.edge_label("a", "b")) == (2.0, "x")
    snap = dag.snapshot()
    dag.set_payload("a", 2)  # the live DAG changes; the snapshot a run holds does not
    assert (dag.get_payload("a"), snap.get_payload("a")) == (2, 1)
    with pytest.raises(dagron.GraphError, match=r"snapshot"):
        snap.set_payload("a", 3)


# -- NodeRef ----------------------------------------------------------------------------
def test_add_node_returns_a_node_ref_accepted_where_a_name_is() -> None:
    dag = dagron.DAG()
    extract = dag.add_node("extract")
    transform = dag.add_node("transform")
    dag.add_edge(extract, transform)
    assert isinstance(extract, NodeRef)
    assert (extract.name, extract.epoch, str(extract)) == ("extract", 0, "extract")
    assert dag.node_ref("extract") == extract
    assert hash(dag.node_ref("extract")) == hash(extract)
    assert dag.node_ref("missing") is None
    assert {extract: "stored"}[NodeRef("extract", 0)] == "stored"
    assert dag.has_node(extract)
    assert extract in dag
    assert dag.has_edge(extract, "transform")
    assert dag.successors(extract) == ["transform"]
    assert dag.predecessors(transform) == ["extract"]
    assert dag.descendants(extract) == {"transform"}
    assert dag.ancestors(transform) == {"extract"}
    dag.set_payload(extract, "p")
    assert dag.get_payload(extract) == "p"
    dag.add_edge(transform, dag.add_node("load"), weight=1.0)
    assert dag.edge_weight(transform, "load") == 1.0
    dag.remove_edge(transform, "load")
    assert not dag.has_edge("transform", "load")


def test_a_removed_node_invalidates_its_ref() -> None:
    dag = dagron.DAG()
    extract = dag.add_node("extract")
    transform = dag.add_node("transform")
    dag.add_node("other")
    dag.remove_node("other")  # unrelated changes leave the handle valid
    assert dag.has_node(extract)
    dag.remove_node(extract)
    assert not dag.has_node(extract)
    assert extract not in dag
    with pytest.raises(dagron.NodeNotFoundError):
        dag.add_edge(extract, transform)
    fresh = dag.add_node("extract")
    assert fresh != extract
    assert fresh.epoch == 1
    assert dag.node_ref("extract") == fresh
    with pytest.raises(StaleNodeRefError, match=r"stale.*dag\.node_ref\('extract'\)"):
        dag.has_edge(extract, transform)
    with pytest.raises(StaleNodeRefError):
        dag.get_payload(extract)
    assert extract not in dag  # `in` answers for a stale handle, it does not raise
    assert fresh in dag
    assert isinstance(StaleNodeRefError("a", 0, 1), dagron.NodeNotFoundError)


def test_a_failed_add_nodes_does_not_move_epochs() -> None:
    dag = dagron.DAG()
    with pytest.raises(dagron.DuplicateNodeError):
        dag.add_nodes(["a", "a"])
    assert dag.add_node("a") == NodeRef("a", 0)


def test_node_refs_as_task_keys_result_keys_and_builder_edges() -> None:
    helper = dagron.DAG()
    a, b = helper.add_node("a"), helper.add_node("b")
    built = dagron.DAG.builder().add_edge(a, b).build()  # the builder uses the names
    assert built.edges() == [("a", "b")]
    helper.add_edge(a, b)
    tasks: dict[Any, Callable[[], Any]] = {a: lambda: 42, "b": lambda: 99}
    result = dagron.DAGExecutor(helper).execute(tasks, node_timeouts={b: 30.0})
    assert result.succeeded == 2
    assert result[a].result == 42
    assert result["b"].result == 99
    assert a in result
    assert "a" in result
    helper.remove_node(a)
    helper.add_node("a")
    with pytest.raises(StaleNodeRefError):
        dagron.DAGExecutor(helper).execute({a: lambda: 1})


# -- @task marker and Pipeline --------------------------------------------------------------
def test_task_carries_dagron_marker_and_plain_functions_are_still_accepted() -> None:
    @dagron.task
    def fetch() -> list[int]:
        return [1, 2]

    def total(fetch: list[int]) -> int:  # not decorated: dagron would refuse it
        return sum(fetch)

    spec = fetch._dagron_task
    assert (spec.name, spec.dependencies, spec.is_async) == ("fetch", [], False)
    assert getattr(total, "_dagron_task", None) is None
    pipeline = dagron.Pipeline([fetch, total])
    assert pipeline.task_names == ["fetch", "total"]
    assert pipeline.dag.edges() == [("fetch", "total")]
    assert pipeline.execute()["total"].result == 3


# -- cycles -----------------------------------------------------------------------------
def test_builder_reports_a_self_loop_from_build_naming_it() -> None:
    builder = dagron.DAG.builder().add_node("a").add_edge("a", "a")
    with pytest.raises(dagron.CycleError, match=r"the graph has a cycle: 'a' -> 'a'") as info:
        builder.build()
    assert info.value.cycle == ["a", "a"]
    with pytest.raises(dagron.CycleError, match=r"'x' -> 'y' -> 'x'"):
        dagron.DAG.builder().add_edge("x", "y").add_edge("y", "x").build()


def test_mutable_dag_refuses_a_self_loop_at_once() -> None:
    dag = dagron.DAG()
    dag.add_node("a")
    with pytest.raises(dagron.CycleError, match=r"(?s)'a' -> 'a'.*cannot depend on itself"):
        dag.add_edge("a", "a")
    assert dag.edge_count() == 0
