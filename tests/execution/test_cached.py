"""dagron's caching names: CachedDAGExecutor, ContentAddressableCache, IncrementalExecutor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb.core.results import NodeStatus


def five() -> dagron.DAG:
    return (
        dagron.DAG.builder()
        .add_edge("source_a", "transform")
        .add_edge("source_b", "transform")
        .add_edge("transform", "aggregate")
        .add_edge("aggregate", "report")
        .build()
    )


def tasks() -> dict[str, Any]:
    return {
        "source_a": lambda: [1, 2, 3],
        "source_b": lambda: [4, 5, 6],
        "transform": lambda: "transformed",
        "aggregate": lambda: "aggregated",
        "report": lambda: "report ready",
    }


def test_cached_executor_on_a_file_system_backend(tmp_path: Path) -> None:
    cache = dagron.ContentAddressableCache(dagron.FileSystemCacheBackend(tmp_path))
    first = dagron.CachedDAGExecutor(five(), cache=cache).execute(tasks())
    assert (first.cache_hits, first.cache_misses) == (0, 5)
    assert first.executed_nodes == first.names
    # a new cache object on the same directory: as after a restart
    again_cache = dagron.ContentAddressableCache(dagron.FileSystemCacheBackend(tmp_path))
    second = dagron.CachedDAGExecutor(five(), cache=again_cache).execute(tasks())
    assert (second.cache_hits, second.cache_misses) == (5, 0)
    assert (second.nodes_cached, second.nodes_executed) == (5, 0)
    assert second["report"].result == "report ready"
    assert second.succeeded == 0  # attributes of the ExecutionResult pass through
    stats = again_cache.stats()
    assert stats.hits == 5
    assert stats.hit_rate == 1.0
    assert "5 hits" in repr(second)


def test_content_addressable_cache_methods() -> None:
    cache = dagron.ContentAddressableCache()

    def process() -> list[int]:
        return [2, 4, 6]

    key = cache.compute_key("process", process, {"fetch": "abc123"})
    assert key != cache.compute_key("process", process, {"fetch": "abc124"})
    assert not cache.has(key)
    cache.put(key, [2, 4, 6])
    assert cache.has(key)
    assert cache.get(key) == [2, 4, 6]
    assert cache.stats().total_entries == 1
    cache.clear()
    assert cache.get(key) is None
    with pytest.raises(dagron.ConfigurationError, match="FileSystemCacheBackend"):
        dagron.ContentAddressableCache("dir")  # type: ignore[arg-type]


def test_any_executor_takes_a_content_addressable_cache() -> None:
    cache = dagron.ContentAddressableCache()
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    dagron.DAGExecutor(dag, cache=cache).execute({"a": lambda: 1, "b": lambda: 2})  # type: ignore[arg-type]
    result = dagron.DAGExecutor(dag, cache=cache).execute({"a": lambda: 1, "b": lambda: 2})  # type: ignore[arg-type]
    assert result.cache_hits == 2


class Value:
    def __init__(self, version: int) -> None:
        self.version = version
        self.handle = open  # a builtin: fine, but the key says what matters

    def __dagron_cache_key__(self) -> str:
        return f"value-v{self.version}"


def test_incremental_executor_with_early_cutoff() -> None:
    executor = dagron.IncrementalExecutor(five())
    first = executor.execute(tasks())
    assert (first.recomputed, first.reused, first.early_cutoff) == (5, 0, 0)
    # source_a "changed" (an external file, say) but returns the same value:
    # it runs again, and everything below it is cut off early
    second = executor.execute(tasks(), changed_nodes=["source_a"])
    assert second["source_a"].status is NodeStatus.COMPLETED
    assert (second.recomputed, second.early_cutoff, second.reused) == (1, 3, 1)
    assert second.provenance == {"source_a": ["source_a"]}
    # now its value changes: transform runs again, returns what it returned
    # before, and cuts off aggregate and report; source_b is reused
    changed = tasks()
    changed["source_a"] = lambda: [1, 2, 3, 4]
    third = executor.execute(changed, changed_nodes=["source_a"])
    assert (third.recomputed, third.early_cutoff, third.reused) == (2, 2, 1)
    assert third.provenance["transform"] == ["source_a"]
    # nothing said, nothing changed: all reused
    fourth = executor.execute(changed, changed_nodes=[])
    assert (fourth.recomputed, fourth.reused) == (0, 5)
    # an object's own cache key decides its fingerprint
    with_value = {**changed, "source_b": lambda: Value(1)}
    executor.execute(with_value, changed_nodes=[])
    assert executor.execute(with_value, changed_nodes=[]).reused == 5


def test_refreshing_unknown_nodes_is_refused() -> None:
    executor = dagron.IncrementalExecutor(five())
    with pytest.raises(dagron.ConfigurationError, match=r"refresh_cache given for node\(s\)"):
        executor.execute(tasks(), changed_nodes=["source_c"])
