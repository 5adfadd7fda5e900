"""outputs=: a run keeps the named values and releases the others when they are used."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import TYPE_CHECKING, Any

import pytest

import dagron_nb as dagron
from dagron_nb.core.results import NodeStatus

if TYPE_CHECKING:
    from conftest import Runner


class Blob:
    """A value whose lifetime a test can watch through a weak reference."""

    def __init__(self, n: int) -> None:
        self.data = bytearray(n)


def test_only_the_named_values_are_kept(runner: Runner) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_edge("b", "c").add_edge("a", "d").build()
    tasks = {"a": lambda: [1] * 10, "b": lambda: 2, "c": lambda: 3, "d": lambda: 4}
    result = runner.execute(dag, tasks, outputs=["c"])
    assert result.outputs() == {"a": None, "b": None, "c": 3, "d": None}
    a = result["a"]
    assert a.status is NodeStatus.COMPLETED
    assert a.result is None
    assert a.size_bytes is not None
    assert a.size_bytes > 0
    assert a.duration_seconds >= 0
    assert result["c"].size_bytes is None  # kept values are not measured


def test_an_intermediate_is_freed_once_its_last_consumer_is_done() -> None:
    seen: dict[str, Any] = {}
    checked = threading.Event()

    def first() -> Blob:
        blob = Blob(1000)
        seen["first"] = weakref.ref(blob)
        return blob

    def second(first: Blob) -> int:
        return len(first.data)

    def third(second: int) -> int:
        gc.collect()
        seen["alive while third runs"] = seen["first"]() is not None
        checked.set()
        return second + 1

    result = dagron.Pipeline([first, second, third]).execute(outputs=["third"], max_workers=1)
    assert checked.is_set()
    assert seen["alive while third runs"] is False
    assert result["third"].result == 1001
    assert result["first"].result is None
    assert result["first"].size_bytes is not None


def test_values_whose_consumers_never_ran_are_released_at_the_end(runner: Runner) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_edge("b", "c").build()
    tasks: dict[str, Any] = {"a": lambda: "A", "b": lambda: 1 / 0, "c": lambda: 3}
    result = runner.execute(dag, tasks, outputs=["c"])
    assert result["a"].result is None
    assert result["b"].status is NodeStatus.FAILED
    assert result["c"].status is NodeStatus.SKIPPED


def test_with_the_cache_the_value_stays_cached() -> None:
    cache = dagron.ResultCache()

    def a() -> list[int]:
        return [1, 2]

    def b(a: list[int]) -> int:
        return sum(a)

    pipeline = dagron.Pipeline([a, b])
    first = pipeline.execute(outputs=["b"], cache=cache)
    assert first["a"].result is None
    second = pipeline.execute(cache=cache)
    assert second["a"].status is NodeStatus.CACHE_HIT
    assert second["a"].result == [1, 2]


def test_async_pipeline_keeps_outputs(run_async: Any) -> None:
    async def a() -> int:
        return 1

    def b(a: int) -> int:
        return a + 1

    result = run_async(dagron.Pipeline([a, b]).execute_async(outputs=["b"]))
    assert result.outputs() == {"a": None, "b": 2}


def test_bad_outputs_are_refused_before_running() -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    ex = dagron.DAGExecutor(dag)
    with pytest.raises(dagron.ConfigurationError, match=r"outputs names node\(s\) not in the DAG"):
        ex.execute({"a": lambda: 1}, outputs=["zz"])
    with pytest.raises(dagron.ConfigurationError, match=r"write outputs=\['b'\]"):
        ex.execute({"a": lambda: 1}, outputs="b")
