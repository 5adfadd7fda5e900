"""@task and Pipeline: inferred edges, data passing, inputs, defaults, async, timeouts."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from dagron_nb import (
    DAG,
    ConfigurationError,
    CycleError,
    DAGExecutor,
    DuplicateNodeError,
    NodeStatus,
    Pipeline,
    Task,
    task,
)

if TYPE_CHECKING:
    from conftest import Recorder

S = NodeStatus


class Kind(str):
    """ "thread" or "async", plus the loop runner the async flavour needs."""

    run_async: Callable[[Any], Any]


def execute(pipeline: Pipeline, kind: Kind, inputs: Any = None, **options: Any) -> Any:
    """Run ``pipeline`` on threads or on asyncio with the same arguments."""
    if kind == "thread":
        return pipeline.execute(inputs, **options)
    # not asyncio.run: that would wait for a thread stuck in an abandoned task
    return kind.run_async(pipeline.execute_async(inputs, **options))


@pytest.fixture(params=["thread", "async"])
def kind(request: pytest.FixtureRequest, run_async: Callable[[Any], Any]) -> Kind:
    flavour = Kind(request.param)
    flavour.run_async = run_async
    return flavour


# -- @task ----------------------------------------------------------------------------
def test_task_keeps_the_function_usable_and_described() -> None:
    @task
    def load(path: str, limit: int = 3) -> list[str]:
        """Read some lines."""
        return [path] * limit

    assert isinstance(load, Task)
    assert load("x", 2) == ["x", "x"]
    assert load.name == "load"
    assert load.timeout is None
    assert load.__name__ == "load"
    assert load.__doc__ == "Read some lines."
    assert inspect.signature(load) == inspect.signature(load.func)
    assert str(inspect.signature(load)).startswith("(path: ")
    assert [p.name for p in load.parameters] == ["path", "limit"]
    assert repr(load) == "<task 'load'>"
    assert not load.is_async


def test_task_with_options() -> None:
    @task(name="custom", timeout=2.5)
    async def fetch() -> int:
        return 1

    assert fetch.name == "custom"
    assert fetch.timeout == 2.5
    assert fetch.is_async
    assert asyncio.run(fetch()) == 1


def test_a_task_wrapped_twice_keeps_the_outer_settings() -> None:
    def load() -> int:
        return 1

    outer = task(name="outer", timeout=3.0)(task(name="inner")(load))
    assert (outer.name, outer.timeout) == ("outer", 3.0)
    assert outer() == 1
    assert Pipeline([outer]).execute()["outer"].result == 1


def test_variadic_parameters_are_not_dependencies() -> None:
    @task
    def a() -> int:
        return 1

    @task
    def b(a: int, *args: Any, **kwargs: Any) -> int:
        return a + 1

    pipeline = Pipeline([a, b])
    assert pipeline.dag.edges() == [("a", "b")]
    assert pipeline.execute()["b"].result == 2


def test_task_refuses_a_non_callable() -> None:
    with pytest.raises(ConfigurationError, match=r"@task needs a function, got 42"):
        task(42)  # type: ignore[call-overload]


# -- inference and data passing -------------------------------------------------------
def test_edges_come_from_parameter_names(kind: Kind) -> None:
    @task
    def a() -> int:
        return 1

    @task
    def b() -> int:
        return 2

    @task
    def c(a: int, b: int) -> int:
        return a + b

    @task
    def d(c: int, a: int) -> int:
        return c * 10 + a

    pipeline = Pipeline(tasks=[d, c, b, a], name="sums")
    assert pipeline.name == "sums"
    assert pipeline.task_names == ["d", "c", "b", "a"]
    assert sorted(pipeline.dag.edges()) == [("a", "c"), ("a", "d"), ("b", "c"), ("c", "d")]
    result = execute(pipeline, kind)
    assert result["c"].result == 3
    assert result["d"].result == 31
    assert repr(pipeline) == "Pipeline('sums', tasks=['d', 'c', 'b', 'a'])"


def test_plain_functions_are_accepted_as_tasks() -> None:
    def first() -> str:
        return "x"

    def second(first: str) -> str:
        return first * 2

    assert Pipeline([first, second]).execute()["second"].result == "xx"


def test_values_are_passed_by_reference_not_copied(kind: Kind) -> None:
    payload = {"big": list(range(10))}

    @task
    def make() -> dict[str, Any]:
        return payload

    @task
    def use(make: dict[str, Any]) -> bool:
        return make is payload

    assert execute(Pipeline([make, use]), kind)["use"].result is True


def test_inputs_defaults_and_precedence(kind: Kind) -> None:
    @task
    def load(path: str, scale: int = 2) -> list[int]:
        return [len(path) * scale]

    @task
    def total(load: list[int], offset: int) -> int:
        return sum(load) + offset

    pipeline = Pipeline([load, total], inputs={"path": "abc", "offset": 1})
    assert execute(pipeline, kind)["total"].result == 7
    # execute's inputs override the pipeline's, and may set a defaulted parameter
    result = execute(pipeline, kind, {"offset": 100, "scale": 10})
    assert result["total"].result == 130
    assert pipeline.inputs == {"path": "abc", "offset": 1}


def test_each_run_gets_fresh_values(kind: Kind) -> None:
    calls: list[int] = []

    @task
    def source(seed: int) -> int:
        calls.append(seed)
        return seed

    @task
    def double(source: int) -> int:
        return source * 2

    pipeline = Pipeline([source, double])
    assert execute(pipeline, kind, {"seed": 1})["double"].result == 2
    assert execute(pipeline, kind, {"seed": 5})["double"].result == 10
    assert calls == [1, 5]


def test_a_failing_task_skips_its_consumers(kind: Kind) -> None:
    @task
    def broken() -> int:
        raise ValueError("no data")

    @task
    def consumer(broken: int) -> int:
        return broken

    @task
    def independent() -> str:
        return "fine"

    result = execute(Pipeline([broken, consumer, independent]), kind, fail_fast=False)
    assert result["broken"].status is S.FAILED
    assert str(result["broken"].error) == "no data"
    assert result["consumer"].status is S.SKIPPED
    assert result["consumer"].reason == "upstream 'broken' failed"
    assert result["independent"].result == "fine"


def test_execute_options_reach_the_executor(kind: Kind, recorder: Recorder) -> None:
    @task
    def a() -> int:
        return 1

    @task
    def b(a: int) -> int:
        return a + 1

    result = execute(
        Pipeline([a, b]),
        kind,
        callbacks=recorder,
        max_workers=1,
        enable_tracing=True,
        costs={"a": 2.0},
        timeout=30.0,
    )
    assert recorder.kinds("b") == ["start", "complete"]
    assert recorder.values == {"a": 1, "b": 2}
    assert result.trace is not None


def test_cancel_event_in_a_pipeline(kind: Kind) -> None:
    cancel = threading.Event()

    @task
    def first() -> int:
        cancel.set()
        return 1

    @task
    def second(first: int) -> int:
        return first

    result = execute(Pipeline([first, second]), kind, cancel_event=cancel)
    assert result["second"].status is S.CANCELLED


# -- async pipelines ------------------------------------------------------------------
def test_async_pipeline_mixes_coroutines_and_plain_functions() -> None:
    @task
    async def fetch() -> list[int]:
        await asyncio.sleep(0)
        return [1, 2, 3]

    @task
    def parse(fetch: list[int]) -> list[int]:
        return [x * 10 for x in fetch]

    @task
    async def store(parse: list[int]) -> int:
        return sum(parse)

    result = asyncio.run(Pipeline([fetch, parse, store]).execute_async())
    assert result["store"].result == 60
    assert result["parse"].worker.startswith("async-")


# -- timeouts -------------------------------------------------------------------------
def test_task_timeout_applies_in_both_executors(kind: Kind) -> None:
    release = threading.Event()

    @task(timeout=0.1)
    def stuck() -> bool:
        return release.wait(10)

    @task
    def after(stuck: bool) -> bool:
        return stuck

    try:
        result = execute(Pipeline([stuck, after]), kind)
    finally:
        release.set()
    assert result["stuck"].status is S.TIMED_OUT
    assert "its node timeout of 0.1 s" in str(result["stuck"].error)
    assert result["after"].status is S.SKIPPED


def test_async_task_timeout_really_cancels() -> None:
    @task(timeout=0.1)
    async def slow() -> None:
        await asyncio.sleep(10)

    result = asyncio.run(Pipeline([slow]).execute_async())
    assert result["slow"].status is S.TIMED_OUT


def test_node_timeouts_override_in_execute(kind: Kind) -> None:
    release = threading.Event()

    @task
    def stuck() -> bool:
        return release.wait(10)

    try:
        result = execute(Pipeline([stuck]), kind, node_timeouts={"stuck": 0.1})
    finally:
        release.set()
    assert result["stuck"].status is S.TIMED_OUT


# -- errors found before running ------------------------------------------------------
def test_duplicate_task_names() -> None:
    @task
    def load() -> int:
        return 1

    @task(name="load")
    def other() -> int:
        return 2

    with pytest.raises(DuplicateNodeError, match=r"'load'"):
        Pipeline([load, other])


def test_a_task_depending_on_itself_is_a_cycle() -> None:
    @task
    def loop(loop: int) -> int:
        return loop

    with pytest.raises(CycleError, match=r"'loop' -> 'loop'"):
        Pipeline([loop])


def test_unresolved_parameters_are_named_before_anything_runs(kind: Kind) -> None:
    ran: list[str] = []

    @task
    def load(path: str) -> str:
        ran.append("load")
        return path

    @task
    def clean(load: str, threshold: float, mode: str = "fast") -> str:
        ran.append("clean")
        return load

    pipeline = Pipeline([load, clean])
    with pytest.raises(
        ConfigurationError,
        match=r"cannot resolve parameter\(s\) load\(path\), clean\(threshold\): each parameter "
        r"must name a task of the pipeline, come from inputs=\{\.\.\.\}, or have a default\. "
        r"Tasks: load, clean\.",
    ):
        execute(pipeline, kind)
    assert ran == []


def test_async_tasks_also_run_on_threads() -> None:
    @task
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 20

    @task
    def parse(fetch: int) -> int:
        return fetch + 1

    @task
    async def store(parse: int) -> str:
        return f"stored {parse}"

    result = Pipeline([fetch, parse, store]).execute()
    assert result["store"].result == "stored 21"
    assert result["fetch"].result == 20


def test_dag_executor_runs_a_coroutine_function_to_completion() -> None:
    dag = DAG.builder().add_edge("a", "b").build()

    async def a() -> int:
        await asyncio.sleep(0)
        return 1

    result = DAGExecutor(dag).execute({"a": a, "b": lambda: 2})
    assert result["a"].result == 1
    assert result.succeeded == 2
