"""The stores: LRU under a byte budget in memory; atomic, checked files on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dagron_nb.execution.cache_store import (
    CacheEntry,
    CacheWarning,
    DiskStore,
    MemoryStore,
    measure,
)


def entry(node: str, value: object, size: int | None = None) -> CacheEntry:
    return CacheEntry(node, value, f"fp-{node}", measure(value) if size is None else size, 1.5)


def test_sizes_are_measured() -> None:
    assert measure(np.zeros(1000, dtype=np.float64)) == 8000
    df = pd.DataFrame({"s": ["x" * 100] * 100})
    assert measure(df) == int(df.memory_usage(deep=True).sum()) > 100 * 100
    assert measure([b"x" * 1000] * 3) > 3000


def test_memory_store_evicts_least_recently_used_over_budget() -> None:
    store = MemoryStore(max_bytes=100)
    store.put("a", entry("a", None, size=40))
    store.put("b", entry("b", None, size=40))
    assert store.get("a") is not None  # a is now the most recently used
    store.put("c", entry("c", None, size=40))
    assert [k for k, _ in store.items()] == ["a", "c"]
    assert store.evictions == 1
    assert store.total_bytes == 80
    assert not store.put("huge", entry("huge", None, size=101))  # never fits
    assert len(store) == 2
    store.put("a", entry("a", None, size=10))  # replacing frees the old size
    assert store.total_bytes == 50


def test_disk_store_round_trips(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    df = pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")})
    store.put("ab12", entry("frame", df))
    got = store.get("ab12")
    assert got is not None
    pd.testing.assert_frame_equal(got.value, df)
    assert (got.node, got.value_fp, got.seconds) == ("frame", "fp-frame", 1.5)
    assert store.get("cd34") is None
    assert [k for k, _ in store.headers()] == ["ab12"]
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.rglob("*"))
    store.clear()
    assert store.get("ab12") is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated|header"),
        (lambda data: data[:-3] + b"zzz", "corrupt"),
        (lambda data: b"garbage", "not a dagron_nb cache entry"),
        (lambda data: b"", "not a dagron_nb cache entry"),
    ],
)
def test_damaged_entries_are_a_miss_with_a_warning(tmp_path: Path, damage, message) -> None:  # type: ignore[no-untyped-def]
    store = DiskStore(tmp_path)
    store.put("ef56", entry("n", list(range(1000))))
    path = store.path("ef56")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(CacheWarning, match=message):
        assert store.get("ef56") is None


def test_an_unpicklable_value_stays_out_of_the_disk_store(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    with pytest.warns(CacheWarning, match="kept in memory only"):
        assert not store.put("aa00", entry("gen", (i for i in range(3)), size=10))
    assert store.get("aa00") is None


_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from dagron_nb.execution.cache_store import CacheEntry, DiskStore

    store = DiskStore(sys.argv[1])
    me = int(sys.argv[2])
    value = np.full(200_000, me, dtype=np.int64)  # 1.6 MB: writes take a while
    for i in range(int(sys.argv[3])):
        store.put("shared", CacheEntry("n", value, f"fp-{me}", value.nbytes, 0.1))
        got = store.get("shared")  # whoever wrote last, never a mix of both
        assert got is not None and got.value_fp in ("fp-0", "fp-1"), got
        assert (got.value == int(got.value_fp[-1])).all()
    """
)


@pytest.mark.slow
def test_two_processes_sharing_a_directory_never_read_half_an_entry(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-W", "error", "-c", _WRITER, str(tmp_path), str(me), "40"], env=env
        )
        for me in (0, 1)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    got = DiskStore(tmp_path).get("shared")
    assert got is not None
    assert not list(tmp_path.rglob(".tmp-*"))
