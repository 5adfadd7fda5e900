"""The result cache in the executors: hits, misses, early cutoff, notes, disk."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import dagron_nb as dagron
from dagron_nb.core.results import NodeStatus
from dagron_nb.core.tracing import TraceEventType
from dagron_nb.execution.cache import ResultCache, no_cache
from dagron_nb.execution.cache_store import CacheWarning

if TYPE_CHECKING:
    from conftest import Recorder, Runner

HIT = NodeStatus.CACHE_HIT
DONE = NodeStatus.COMPLETED


def chain() -> dagron.DAG:
    return dagron.DAG.builder().add_edge("a", "b").add_edge("b", "c").build()


class Counter:
    """Counts calls per name. The tasks close over it, so it is part of their
    fingerprint: its own cache key keeps its changing list out of that."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __dagron_cache_key__(self) -> str:
        return "counter"

    def __call__(self, name: str, value: Any) -> Any:
        self.calls.append(name)
        return value


def statuses(result: dagron.ExecutionResult) -> dict[str, NodeStatus]:
    return {n: r.status for n, r in result.node_results.items()}


def test_second_run_hits_every_node_and_runs_nothing(runner: Runner) -> None:
    cache = ResultCache()
    count = Counter()
    tasks = {n: (lambda n=n: count(n, n.upper())) for n in "abc"}
    first = runner.execute(chain(), tasks, cache=cache)
    assert statuses(first) == dict.fromkeys("abc", DONE)
    second = runner.execute(chain(), tasks, cache=cache)
    assert statuses(second) == dict.fromkeys("abc", HIT)
    assert second.outputs() == {"a": "A", "b": "B", "c": "C"}
    assert second.cache_hits == 3
    assert second.succeeded == 0
    assert second.ok
    assert count.calls == ["a", "b", "c"]
    assert set(second.cache_saved_seconds) == {"a", "b", "c"}
    assert cache.stats().hit_rate == pytest.approx(0.5)


def test_hits_are_heard_as_completions_without_a_start(runner: Runner, recorder: Recorder) -> None:
    cache = ResultCache()
    tasks = {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    rec = recorder
    result = runner.execute(chain(), tasks, cache=cache, callbacks=rec, enable_tracing=True)
    assert rec.events == [("complete", "a"), ("complete", "b"), ("complete", "c")]
    assert rec.values == {"a": 1, "b": 2, "c": 3}
    assert result.trace is not None
    kinds = [e.event_type for e in result.trace.events if e.node_name == "b"]
    assert kinds == [TraceEventType.NODE_CACHE_HIT]
    assert "from cache, saved" in (result.trace.for_node("b")[0].detail or "")
    assert result.to_dataframe()["status"].tolist() == ["cache-hit"] * 3


def test_a_changed_task_reruns_with_its_descendants_only(runner: Runner) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_edge("b", "c").add_edge("a", "d").build()
    cache = ResultCache()
    tasks: dict[str, Any] = {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3, "d": lambda: 4}
    runner.execute(dag, tasks, cache=cache, enable_tracing=True)
    tasks["b"] = lambda: 20
    result = runner.execute(dag, tasks, cache=cache, enable_tracing=True)
    assert statuses(result) == {"a": HIT, "b": DONE, "c": DONE, "d": HIT}
    assert result.trace is not None
    misses = [e.node_name for e in result.trace.events if e.event_type.name == "NODE_CACHE_MISS"]
    assert sorted(misses) == ["b", "c"]


def test_early_cutoff_when_a_rerun_returns_an_equal_value(runner: Runner) -> None:
    cache = ResultCache()
    tasks: dict[str, Any] = {"a": lambda: 1, "b": lambda: [1, 2], "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    tasks["b"] = lambda: list(range(1, 3))  # new code, same value: c stays a hit
    result = runner.execute(chain(), tasks, cache=cache)
    assert statuses(result) == {"a": HIT, "b": DONE, "c": HIT}


def test_inputs_by_value_and_an_in_place_edit_invalidates(runner: Runner) -> None:
    cache = ResultCache()
    df = pd.DataFrame({"x": [1.0, 2.0]})
    pipeline = dagron.Pipeline([total, doubled])
    r1 = pipeline.execute({"df": df}, cache=cache)
    assert r1["doubled"].result == 6.0
    df.loc[0, "x"] = 10.0  # same object, new content
    r2 = pipeline.execute({"df": df}, cache=cache)
    assert r2["doubled"].result == 24.0
    assert statuses(r2) == {"total": DONE, "doubled": DONE}
    r3 = pipeline.execute({"df": df.copy()}, cache=cache)
    assert statuses(r3) == {"total": HIT, "doubled": HIT}


def total(df: pd.DataFrame) -> float:
    return float(df["x"].sum())


def doubled(total: float) -> float:
    return total * 2


def test_a_cached_value_changed_in_place_is_not_handed_out(runner: Runner) -> None:
    cache = ResultCache()
    tasks = {"a": lambda: [1, 2], "b": lambda: 0, "c": lambda: 0}
    first = runner.execute(chain(), tasks, cache=cache)
    first["a"].result.append(3)  # the notebook edits the object the cache holds
    second = runner.execute(chain(), tasks, cache=cache)
    assert second["a"].status is DONE
    assert second["a"].result == [1, 2]
    assert "changed in place" in second.cache_notes["a"]


def test_unfingerprintable_input_runs_with_a_note(runner: Runner) -> None:
    lock = threading.Lock()
    cache = ResultCache()
    tasks = {"a": lambda: lock is not None, "b": lambda: 2, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    result = runner.execute(chain(), tasks, cache=cache)
    assert statuses(result) == {"a": DONE, "b": HIT, "c": HIT}
    assert "'lock'" in result.cache_notes["a"]
    assert "cannot be pickled" in result.cache_notes["a"]


def test_an_unfingerprintable_value_makes_its_consumers_run(runner: Runner) -> None:
    cache = ResultCache()
    tasks = {"a": threading.Lock, "b": lambda: 2, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    result = runner.execute(chain(), tasks, cache=cache)
    assert statuses(result) == {"a": DONE, "b": DONE, "c": HIT}
    assert "its input 'a' has no fingerprint" in result.cache_notes["b"]


def test_opting_out_with_task_cache_false_and_no_cache() -> None:
    cache = ResultCache()

    @dagron.task(cache=False)
    def seed() -> int:
        return 7

    @no_cache
    def noisy(seed: int) -> int:
        return seed

    def tail(noisy: int) -> int:
        return noisy + 1

    pipeline = dagron.Pipeline([seed, noisy, tail])
    pipeline.execute(cache=cache)
    result = pipeline.execute(cache=cache)
    # the opted-out nodes run; their equal values still let `tail` hit
    assert statuses(result) == {"seed": DONE, "noisy": DONE, "tail": HIT}
    assert result.cache_notes["seed"] == "cache=False: always runs"
    with pytest.raises(dagron.ConfigurationError, match=r"cache=\.\.\.\) takes True or False"):
        dagron.task(cache="no")(tail)  # type: ignore[call-overload]


def test_failures_are_not_cached_and_rerun(runner: Runner) -> None:
    cache = ResultCache()
    tasks: dict[str, Any] = {"a": lambda: 1, "b": lambda: 1 / 0, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    tasks["b"] = lambda: 2
    result = runner.execute(chain(), tasks, cache=cache)
    assert statuses(result) == {"a": HIT, "b": DONE, "c": DONE}


def test_pipeline_hits_pass_values_on(runner: Runner, run_async: Any) -> None:
    cache = ResultCache()

    def a() -> list[int]:
        return [1, 2, 3]

    def b(a: list[int], k: int) -> int:
        return sum(a) * k

    pipeline = dagron.Pipeline([a, b])
    run = (
        (lambda k: pipeline.execute({"k": k}, cache=cache))
        if runner.kind == "thread"
        else (lambda k: run_async(pipeline.execute_async({"k": k}, cache=cache)))
    )
    assert run(2)["b"].result == 12
    second = run(3)
    assert statuses(second) == {"a": HIT, "b": DONE}
    assert second["b"].result == 18


def test_the_disk_store_outlives_the_cache_object(tmp_path: Path, runner: Runner) -> None:
    tasks = {"a": lambda: pd.DataFrame({"v": [1, 2]}), "b": lambda: 2, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=ResultCache(cache_dir=tmp_path))
    fresh = ResultCache(cache_dir=tmp_path)  # as after a kernel restart
    assert {row.node for row in fresh.entries()} == {"a", "b", "c"}
    result = runner.execute(chain(), tasks, cache=fresh)
    assert statuses(result) == dict.fromkeys("abc", HIT)
    pd.testing.assert_frame_equal(result["a"].result, pd.DataFrame({"v": [1, 2]}))
    for path in tmp_path.rglob("*.entry"):
        path.write_bytes(path.read_bytes()[:-5])
    with pytest.warns(CacheWarning, match="truncated"):
        again = runner.execute(chain(), tasks, cache=ResultCache(cache_dir=tmp_path))
    assert statuses(again) == dict.fromkeys("abc", DONE)


def test_refresh_runs_everything_and_stores(runner: Runner) -> None:
    cache = ResultCache()
    tasks = {"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}
    runner.execute(chain(), tasks, cache=cache)
    run = dagron.DAGExecutor(chain(), cache=cache).new_run(tasks, None, None, None)
    assert run.cache is not None
    assert not run.cache.refresh
    forced = dagron.DAGExecutor(chain(), cache=cache)
    result = forced.execute(tasks, refresh_cache=True)
    assert statuses(result) == dict.fromkeys("abc", DONE)


def test_bad_cache_argument_is_refused() -> None:
    with pytest.raises(dagron.ConfigurationError, match="cache must be a dagron_nb ResultCache"):
        dagron.DAGExecutor(chain(), cache={})  # type: ignore[arg-type]


def test_clear_and_stats() -> None:
    cache = ResultCache()
    dagron.DAGExecutor(chain(), cache=cache).execute({"a": lambda: 1})
    assert cache.stats().total_entries == 1
    assert "1 entries" in repr(cache)
    cache.clear()
    assert cache.stats() == dagron.CacheStats(0, 0, 0, 0, 0)
    assert cache.stats().hit_rate == 0.0


def stamp(path: str) -> int:
    import os

    return os.stat(path).st_mtime_ns


def load(path: str, stamp: int) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_a_files_modification_time_as_an_input(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("one", encoding="utf-8")
    pipeline = dagron.Pipeline([no_cache(stamp), load], inputs={"path": str(path)})
    cache = ResultCache()
    assert pipeline.execute(cache=cache)["load"].result == "one"
    unchanged = pipeline.execute(cache=cache)
    assert statuses(unchanged) == {"stamp": DONE, "load": HIT}
    path.write_text("two", encoding="utf-8")
    import os

    os.utime(path, ns=(1, 10**18))  # a distinct modification time, whatever the clock
    edited = pipeline.execute(cache=cache)
    assert statuses(edited) == {"stamp": DONE, "load": DONE}
    assert edited["load"].result == "two"


def test_the_key_does_not_depend_on_the_order_tasks_are_given() -> None:
    def left() -> int:
        return 1

    def right() -> int:
        return 2

    def both(left: int, right: int) -> int:
        return left + right

    cache = ResultCache()
    dagron.Pipeline([left, right, both]).execute(cache=cache)
    again = dagron.Pipeline([both, right, left]).execute(cache=cache)
    assert statuses(again) == {"both": HIT, "right": HIT, "left": HIT}
