"""The result cache: one question before a node starts, one report after it ran.

A ``ResultCache`` holds results across runs (in memory, and on disk with
``cache_dir=``). Each run gets a ``RunCache`` from ``cache.for_run(...)``;
executors ask it ``lookup(node)`` before starting a node and call
``store(node, value, seconds)`` when it completed, both outside any lock
(hashing must never hold back other workers).

A node's key is the digest of: its name, its function's code fingerprint
(bytecode, constants, defaults, closures, the notebook helpers and globals it
reads; ``core.fingerprint``), the fingerprints of its external inputs (a
Pipeline's ``inputs``) and the *value* fingerprints of its predecessors. Using
the predecessors' values, not their keys, gives early cutoff for free: a node
that re-ran and returned an equal value leaves its successors' keys unchanged.
Every entry stores its value's fingerprint, so a hit gives its successors
their key inputs without hashing the value again... except that a hit's value
*is* re-hashed once before it is handed out, because a consumer may have
changed the cached object in place since it was stored (a DataFrame edited
with ``inplace=True``); such an entry is dropped and the node runs.

Anything that cannot be fingerprinted (an input that cannot be pickled, a
value read from a global lock) makes the node run, with a one-line note in
``ExecutionResult.cache_notes``; so does ``@task(cache=False)``.

>>> import dagron_nb as dagron
>>> cache = ResultCache()
>>> dag = dagron.DAG.builder().add_edge("a", "b").build()
>>> tasks = {"a": lambda: 1, "b": lambda: 2}
>>> dagron.DAGExecutor(dag, cache=cache).execute(tasks).cache_hits
0
>>> dagron.DAGExecutor(dag, cache=cache).execute(tasks).cache_hits
2
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dagron_nb.core.fingerprint import (
    Unfingerprintable,
    code_fingerprint,
    combine,
    value_fingerprint,
)
from dagron_nb.execution.cache_store import CacheEntry, DiskStore, MemoryStore, measure

#: a callable (or ``@task``) carrying ``dagron_cache = False`` is never cached
CACHE_ATTRIBUTE = "dagron_cache"
_VERSION = "dagron-cache-1"  # bump when the key recipe changes


def no_cache(fn: Any) -> Any:
    """Mark a function as never cached (side effects, randomness, the clock).

    A cached result is right only if the function gives the same result for
    the same code and inputs. Three ways that fails, and what to do:

    * random numbers: ``random.random()`` in a cached task returns the first
      draw forever. Mark it ``@no_cache``, or (better) take a ``seed`` input:
      then equal seeds give equal draws, and the cache is right;
    * the clock: ``datetime.now()`` is frozen at the first run; mark it;
    * a file that changes on disk: ``pd.read_csv(path)`` keyed by ``path``
      misses the edit. Make the file's state an input, e.g. a task
      ``def stamp(path): return os.stat(path).st_mtime_ns`` marked
      ``@no_cache``, and ``def load(path, stamp): return pd.read_csv(path)``:
      ``stamp`` runs every time (it is cheap) and ``load`` re-runs exactly
      when the modification time changed.

    A side effect (writing a file, sending a message) is skipped on a hit:
    mark such tasks too. Works on plain functions in a ``%%dagron`` cell and
    on ``@task`` objects (``@task(cache=False)`` says the same):

    >>> import random
    >>> @no_cache
    ... def draw():
    ...     return random.random()
    >>> draw.dagron_cache
    False
    """
    setattr(fn, CACHE_ATTRIBUTE, False)
    return fn


class CacheHit(NamedTuple):
    """A found result: the value and how long computing it took back then."""

    value: Any
    seconds: float


@dataclass(frozen=True)
class CacheStats:
    """Counts since the cache was made (or cleared), in upstream dagron's names."""

    hits: int
    misses: int
    evictions: int
    total_entries: int
    total_size_bytes: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups, 0.0 before any lookup."""
        looked = self.hits + self.misses
        return self.hits / looked if looked else 0.0


@dataclass(frozen=True)
class CacheInfo:
    """One row of ``ResultCache.entries()``."""

    key: str
    node: str
    size: int
    created: float
    hits: int
    seconds: float
    where: str  # "memory", "disk" or "memory+disk"


class ResultCache:
    """Results of past runs, keyed by what could change them.

    ``max_bytes`` is the memory budget (default a quarter of the RAM; least
    recently used entries go first); ``cache_dir`` adds a disk store that
    survives the process and may be shared by several kernels.
    """

    def __init__(
        self, *, max_bytes: int | None = None, cache_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.memory = MemoryStore(max_bytes)
        self.disk = DiskStore(cache_dir) if cache_dir is not None else None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    # -- what executors use ----------------------------------------------------------
    def for_run(
        self,
        names: Sequence[str],
        pred: Sequence[Sequence[int]],
        tasks: Sequence[Callable[..., Any] | None],
        *,
        refresh: bool | Collection[str] = False,
    ) -> RunCache:
        """The per-run view; ``refresh=True`` stores results but never hits
        (a collection of node names: for those nodes only)."""
        return RunCache(self, names, pred, tasks, refresh=refresh)

    def get(self, key: str) -> CacheEntry | None:
        entry = self.memory.get(key)
        if entry is None and self.disk is not None:
            entry = self.disk.get(key)
            if entry is not None:
                entry.size = measure(entry.value)
                self.memory.put(key, entry)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        self.memory.put(key, entry)
        if self.disk is not None:
            self.disk.put(key, entry)

    def discard(self, key: str) -> None:
        self.memory.discard(key)
        if self.disk is not None:
            path = self.disk.path(key)
            try:
                path.unlink()
            except OSError:
                pass

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    # -- what people use -----------------------------------------------------------
    def clear(self) -> None:
        """Forget every stored result (on disk too) and reset the counts."""
        self.memory.clear()
        if self.disk is not None:
            self.disk.clear()
        self.hits = self.misses = 0
        self.memory.evictions = 0

    def stats(self) -> CacheStats:
        rows = self.entries()
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.memory.evictions,
            total_entries=len(rows),
            total_size_bytes=sum(r.size for r in rows),
        )

    def entries(self) -> list[CacheInfo]:
        """What is stored, oldest first (memory, then disk-only entries)."""
        rows: dict[str, CacheInfo] = {}
        for key, e in self.memory.items():
            rows[key] = CacheInfo(key, e.node, e.size, e.created, e.hits, e.seconds, "memory")
        if self.disk is not None:
            for key, h in self.disk.headers():
                if key in rows:
                    rows[key] = CacheInfo(**{**rows[key].__dict__, "where": "memory+disk"})
                else:
                    rows[key] = CacheInfo(
                        key, h["node"], int(h["size"]), h["created"], 0, h["seconds"], "disk"
                    )
        return sorted(rows.values(), key=lambda r: r.created)

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        s = self.stats()
        where = f", cache_dir={str(self.disk.directory)!r}" if self.disk else ""
        return (
            f"<ResultCache {s.total_entries} entries, {s.total_size_bytes / 1e6:.1f} MB, "
            f"{s.hits} hits / {s.misses} misses{where}>"
        )


class RunCache:
    """One run's questions to the cache; indexed like the DAG's ``GraphIndex``.

    ``value_fp[i]`` is the fingerprint of node i's value once it completed or
    hit (None: not known, its consumers cannot be keyed); ``notes`` says why a
    node could not use the cache; ``saved[i]`` is what a hit saved.
    """

    def __init__(
        self,
        cache: ResultCache,
        names: Sequence[str],
        pred: Sequence[Sequence[int]],
        tasks: Sequence[Callable[..., Any] | None],
        *,
        refresh: bool | Collection[str],
    ) -> None:
        self.cache = cache
        self.names = names
        self.pred = pred
        self.tasks = tasks
        #: nodes that must run even if the cache has their result (then store it)
        self.refresh: frozenset[int] = (
            frozenset(range(len(names)))
            if refresh is True
            else frozenset(i for i, name in enumerate(names) if name in set(refresh or ()))
        )
        n = len(names)
        self.keys: list[str | None] = [None] * n
        self.value_fp: list[str | None] = [None] * n
        self.notes: dict[int, str] = {}
        self.saved: dict[int, float] = {}

    def lookup(self, node: int) -> CacheHit | None:
        """The stored result for ``node``, or None: run it (then call ``store``)."""
        key = self._key(node)
        self.keys[node] = key
        if key is None or node in self.refresh:
            return None
        entry = self.cache.get(key)
        if entry is None:
            self.cache._count(False)
            return None
        try:
            now_fp = value_fingerprint(entry.value)
        except Unfingerprintable:
            now_fp = None
        if now_fp != entry.value_fp:
            # a consumer (or the notebook) changed the cached object in place
            self.cache.discard(key)
            self.cache._count(False)
            self.notes[node] = (
                f"the cached value of {self.names[node]!r} was changed in place after it "
                "was stored, so it ran again"
            )
            return None
        entry.hits += 1
        self.cache._count(True)
        self.value_fp[node] = entry.value_fp
        self.saved[node] = entry.seconds
        return CacheHit(entry.value, entry.seconds)

    def store(self, node: int, value: Any, seconds: float) -> None:
        """``node`` completed with ``value`` after ``seconds``: remember it."""
        try:
            fp = value_fingerprint(value)
        except Unfingerprintable as exc:
            self.notes.setdefault(node, f"its result is not cached: {exc}")
            return
        self.value_fp[node] = fp
        key = self.keys[node]
        if key is None:
            return
        entry = CacheEntry(self.names[node], value, fp, measure(value), seconds)
        self.cache.put(key, entry)

    # -- the key ---------------------------------------------------------------------
    def _key(self, node: int) -> str | None:
        name = self.names[node]
        fn = self.tasks[node]
        if fn is None:
            return None
        if getattr(fn, CACHE_ATTRIBUTE, True) is False or (
            getattr(getattr(fn, "func", None), CACHE_ATTRIBUTE, True) is False
        ):
            self.notes[node] = "cache=False: always runs"
            return None
        parts = [_VERSION, name]
        names = self.names
        # by name: the same task in a pipeline built in another order has the same key
        for p in sorted(self.pred[node], key=names.__getitem__):
            fp = self.value_fp[p]
            if fp is None:
                self.notes[node] = (
                    f"its input {self.names[p]!r} has no fingerprint, so it always runs"
                )
                return None
            parts.append(f"dep:{self.names[p]}={fp}")
        try:
            parts.extend(_task_parts(fn, name))
        except Unfingerprintable as exc:
            self.notes[node] = f"always runs: {exc}"
            return None
        return combine(*parts)


def _task_parts(fn: Callable[..., Any], name: str) -> list[str]:
    """The code and input fingerprints of one task callable.

    A Pipeline's bound callable carries ``func`` (the user's function) and
    ``fixed`` (its inputs by parameter name); anything else is fingerprinted as
    the callable it is (a lambda's closure holds its inputs).
    """
    func = getattr(fn, "func", None)
    fixed = getattr(fn, "fixed", None)
    if func is not None and isinstance(fixed, dict):
        parts = [f"code:{code_fingerprint(func)}"]
        for param in sorted(fixed):
            try:
                parts.append(f"in:{param}={value_fingerprint(fixed[param])}")
            except Unfingerprintable as exc:
                raise Unfingerprintable(f"input {param!r} of {name!r}: {exc}") from None
        return parts
    return [f"code:{code_fingerprint(fn)}"]


def deliver(fn: Callable[..., Any] | None, value: Any) -> None:
    """Hand a cache hit's value to a task that passes its value on (a Pipeline's)."""
    hook = getattr(fn, "dagron_deliver", None)
    if hook is not None:
        hook(value)
