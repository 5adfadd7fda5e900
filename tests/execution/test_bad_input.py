"""Bad input: a clear, pinned error before any task runs, and no thread left behind."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from dagron_nb import (
    DAG,
    AsyncDAGExecutor,
    ConfigurationError,
    CycleError,
    DAGExecutor,
    DuplicateNodeError,
    ExecutionCallbacks,
    InvalidNodeNameError,
    Pipeline,
    task,
)

if TYPE_CHECKING:
    from conftest import Runner

RAN: list[str] = []


def spy(name: str) -> Callable[[], str]:
    def run() -> str:
        RAN.append(name)
        return name

    return run


def etl() -> tuple[DAG, dict[str, Any]]:
    dag = DAG.builder().add_edge("extract", "transform").add_edge("transform", "load").build()
    return dag, {name: spy(name) for name in dag.nodes()}


@pytest.fixture(autouse=True)
def nothing_runs_and_no_thread_is_left() -> Iterator[None]:
    RAN.clear()
    before = set(threading.enumerate())
    yield
    assert RAN == [], "a task ran although the input was refused"
    assert set(threading.enumerate()) - before == set()


# -- the graph ------------------------------------------------------------------------
def test_cycle() -> None:
    with pytest.raises(CycleError, match=r"the graph has a cycle: 'a' -> 'b' -> 'c' -> 'a'"):
        DAG.builder().add_edges([("a", "b"), ("b", "c"), ("c", "a")]).build()
    dag = DAG().add_nodes(["a", "b"]).add_edge("a", "b")
    with pytest.raises(CycleError, match=r"would close this cycle; the DAG is unchanged"):
        dag.add_edge("b", "a")


@pytest.mark.parametrize("bad", [None, 7, 1.5, ("a",), ""])
def test_non_string_or_empty_node_names(bad: Any) -> None:
    with pytest.raises(InvalidNodeNameError, match=r"node names must be non-empty strings, got"):
        DAG().add_node(bad)
    with pytest.raises(InvalidNodeNameError, match=r"node names must be non-empty strings, got"):
        DAG.builder().add_edge("a", bad)


def test_not_a_dag(runner: Runner) -> None:
    with pytest.raises(ConfigurationError, match=r"needs a dagron_nb DAG, got dict; build one"):
        runner.execute({"a": []}, {"a": spy("a")})  # type: ignore[arg-type]


# -- tasks ----------------------------------------------------------------------------
def test_task_for_an_unknown_node_suggests_the_right_name(runner: Runner) -> None:
    dag, tasks = etl()
    tasks["trasnform"] = tasks.pop("transform")
    with pytest.raises(
        ConfigurationError,
        match=r"tasks given for node\(s\) not in the DAG: 'trasnform' \(did you mean "
        r"'transform'\?\)\. Fix the name, or add the node to the DAG first\.",
    ):
        runner.execute(dag, tasks)


def test_task_for_an_unknown_node_without_a_close_match(runner: Runner) -> None:
    dag, tasks = etl()
    tasks["zzz"] = spy("zzz")
    with pytest.raises(ConfigurationError, match=r"not in the DAG: 'zzz'\. Fix the name"):
        runner.execute(dag, tasks)


@pytest.mark.parametrize(("key", "shown"), [(1, r"1 \(int;"), ("", r"'' \(str;")])
def test_task_keys_that_cannot_be_node_names(runner: Runner, key: Any, shown: str) -> None:
    dag, tasks = etl()
    tasks[key] = spy("bad key")
    with pytest.raises(ConfigurationError, match=shown + r" node names are non-empty strings\)"):
        runner.execute(dag, tasks)


def test_non_callable_task(runner: Runner) -> None:
    dag, tasks = etl()
    tasks["load"] = 42
    with pytest.raises(
        ConfigurationError,
        match=r"tasks must be callables \(functions taking no arguments\); not callable: "
        r"'load' = 42\. Wrap a value v as lambda: v\.",
    ):
        runner.execute(dag, tasks)


def test_tasks_not_a_mapping(runner: Runner) -> None:
    dag, tasks = etl()
    with pytest.raises(
        ConfigurationError, match=r"tasks must be a dict of node name -> callable, got list\."
    ):
        runner.execute(dag, list(tasks.values()))  # type: ignore[arg-type]


# -- executor options -----------------------------------------------------------------
@pytest.mark.parametrize("workers", [0, -1, True, False, 2.0, "2"])
def test_bad_max_workers(runner: Runner, workers: Any) -> None:
    dag, tasks = etl()
    with pytest.raises(
        ConfigurationError,
        match=rf"max_workers must be a whole number >= 1 or None, got {workers!r}\.",
    ):
        runner.execute(dag, tasks, max_workers=workers)


@pytest.mark.parametrize(
    ("costs", "pattern"),
    [
        ({"load": -1.0}, r"cost of node 'load' must be a finite number >= 0, got -1\.0\."),
        ({"load": math.nan}, r"cost of node 'load' must be a finite number >= 0, got nan\."),
        ({"load": "high"}, r"cost of node 'load' must be a finite number >= 0, got 'high'\."),
        (
            {"lod": 1.0, "extrct": 2.0},
            r"costs name node\(s\) not in the DAG: 'lod', 'extrct'\. Remove them or fix",
        ),
    ],
)
def test_bad_costs(runner: Runner, costs: dict[str, Any], pattern: str) -> None:
    dag, tasks = etl()
    with pytest.raises(ConfigurationError, match=pattern):
        runner.execute(dag, tasks, costs=costs)


@pytest.mark.parametrize("timeout", [0, -1.0, math.nan, "5", True])
def test_bad_timeout(runner: Runner, timeout: Any) -> None:
    dag, tasks = etl()
    with pytest.raises(
        ConfigurationError, match=rf"timeout must be a number of seconds > 0, got {timeout!r}\."
    ):
        runner.execute(dag, tasks, timeout=timeout)


@pytest.mark.parametrize(
    ("node_timeouts", "pattern"),
    [
        ({"load": -1}, r"node_timeouts\['load'\] must be a number of seconds > 0, got -1\."),
        ({"load": math.nan}, r"node_timeouts\['load'\] must be a number of seconds > 0, got nan"),
        ({"load": None}, r"node_timeouts\['load'\] must be a number of seconds > 0, got None"),
        (
            {"laod": 1.0},
            r"node_timeouts given for node\(s\) not in the DAG: 'laod' \(did you mean 'load'\?\)",
        ),
        ([("load", 1.0)], r"node_timeouts must be a dict of node name -> seconds, got list\."),
    ],
)
def test_bad_node_timeouts(runner: Runner, node_timeouts: Any, pattern: str) -> None:
    dag, tasks = etl()
    with pytest.raises(ConfigurationError, match=pattern):
        runner.execute(dag, tasks, node_timeouts=node_timeouts)


def test_bad_task_timeout(runner: Runner) -> None:
    dag, tasks = etl()
    tasks["load"] = task(timeout=-2)(spy("load"))
    with pytest.raises(
        ConfigurationError, match=r"timeout of task 'load' must be a number of seconds > 0, got -2"
    ):
        runner.execute(dag, tasks)


@pytest.mark.parametrize("callbacks", [object(), 42, [ExecutionCallbacks(), "text"]])
def test_bad_callbacks(runner: Runner, callbacks: Any) -> None:
    dag, tasks = etl()
    with pytest.raises(
        ConfigurationError,
        match=r"callbacks object .* has none of the callback methods \(on_node_start, "
        r"on_node_complete, on_node_error, on_node_skip, \.\.\.\); pass an object that defines "
        r"some of them, or ExecutionCallbacks\(\.\.\.\)\.",
    ):
        runner.execute(dag, tasks, callbacks=callbacks)


def test_bad_hooks(runner: Runner) -> None:
    dag, tasks = etl()
    with pytest.raises(ConfigurationError, match=r"hooks must be a HookRegistry, got \[\]\."):
        runner.execute(dag, tasks, hooks=[])


def test_bad_cancel_event(runner: Runner) -> None:
    dag, tasks = etl()
    with pytest.raises(
        ConfigurationError,
        match=r"cancel_event must be a threading\.Event \(or asyncio\.Event\), got 'stop'\.",
    ):
        runner.execute(dag, tasks, cancel_event="stop")


@pytest.mark.parametrize("fail_fast", ["no", None, 0])
def test_bad_fail_fast(runner: Runner, fail_fast: Any) -> None:
    dag, tasks = etl()
    with pytest.raises(ConfigurationError, match=r"fail_fast must be True or False, got"):
        runner.execute(dag, tasks, fail_fast=fail_fast)


def test_constructor_refuses_bad_options_before_execute() -> None:
    dag, _ = etl()
    for executor in (DAGExecutor, AsyncDAGExecutor):
        with pytest.raises(ConfigurationError, match=r"max_workers"):
            executor(dag, max_workers=0)
        with pytest.raises(ConfigurationError, match=r"costs name node"):
            executor(dag, costs={"nope": 1.0})


# -- pipelines ------------------------------------------------------------------------
def test_duplicate_task_names() -> None:
    @task
    def load() -> str:
        RAN.append("load")
        return "a"

    def make_other() -> Any:
        @task(name="load")
        def other() -> str:
            RAN.append("other")
            return "b"

        return other

    with pytest.raises(
        DuplicateNodeError,
        match=r"node 'load' already exists; node names must be unique\. two tasks of the "
        r"pipeline have this name; rename one with @task\(name=\.\.\.\), or pass each "
        r"function once\.",
    ):
        Pipeline([load, make_other()])
    with pytest.raises(DuplicateNodeError, match=r"'load' already exists"):
        Pipeline([load, load])


def test_pipeline_cycle_through_parameters() -> None:
    @task
    def a(b: int) -> int:
        RAN.append("a")
        return b

    @task
    def b(a: int) -> int:
        RAN.append("b")
        return a

    with pytest.raises(CycleError, match=r"the graph has a cycle: 'a' -> 'b' -> 'a'"):
        Pipeline([a, b])


@pytest.mark.parametrize("name", ["", 5])
def test_pipeline_task_with_an_invalid_name(name: Any) -> None:
    with pytest.raises(InvalidNodeNameError, match=r"node names must be non-empty strings"):
        Pipeline([task(name=name)(spy("x"))])


def test_unresolved_pipeline_parameter() -> None:
    @task
    def load(path: str) -> str:
        RAN.append("load")
        return path

    @task
    def report(load: str, fmt: str) -> str:
        RAN.append("report")
        return load

    pipeline = Pipeline([load, report], inputs={"path": "/tmp/x"})
    with pytest.raises(
        ConfigurationError,
        match=r"cannot resolve parameter\(s\) report\(fmt\): each parameter must name a task",
    ):
        pipeline.execute()
    with pytest.raises(ConfigurationError, match=r"report\(fmt\)"):
        asyncio.run(pipeline.execute_async())
