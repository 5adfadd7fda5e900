"""The original dagron's caching names, over dagron_nb's result cache.

Users of dagron know ``CachedDAGExecutor(dag, cache=ContentAddressableCache(
FileSystemCacheBackend(dir)))`` and ``IncrementalExecutor``; these are the same
names and results over ``ResultCache``, so the runs are parallel, work with
callbacks and the live widget, and key nodes by content (code, inputs and
upstream values; see ``cache.py``). Differences: a node's key also covers its
code's globals and closures, and an ``IncrementalExecutor`` notices changed
code and inputs on its own; ``changed_nodes`` adds nodes it cannot see change
(an external file, a database table).

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("fetch", "process").build()
>>> cache = ContentAddressableCache()
>>> tasks = {"fetch": lambda: [1, 2, 3], "process": lambda: [2, 4, 6]}
>>> r = CachedDAGExecutor(dag, cache=cache).execute(tasks)
>>> r.cache_hits, r.cache_misses
(0, 2)
>>> r = CachedDAGExecutor(dag, cache=cache).execute(tasks)
>>> r.cache_hits, r.cache_misses, r.cached_nodes
(2, 0, ['fetch', 'process'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.fingerprint import code_fingerprint, combine, value_fingerprint
from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeResult, NodeStatus
from dagron_nb.execution.cache import CacheStats, ResultCache
from dagron_nb.execution.cache_store import CacheEntry, measure
from dagron_nb.execution.threads import DAGExecutor

_RAN = (NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.TIMED_OUT)


class FileSystemCacheBackend:
    """Where a ``ContentAddressableCache`` keeps its entries on disk: ``cache_dir``.

    Entries are written atomically and checked when read (``cache_store.DiskStore``).
    """

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return f"FileSystemCacheBackend({str(self.cache_dir)!r})"


class ContentAddressableCache:
    """A result cache keyed by content, with dagron's methods.

    Give it to ``CachedDAGExecutor``, or as ``cache=`` to any executor or
    ``Pipeline.execute``. ``backend=None`` keeps entries in memory only.
    """

    def __init__(
        self, backend: FileSystemCacheBackend | None = None, *, max_bytes: int | None = None
    ) -> None:
        if backend is not None and not isinstance(backend, FileSystemCacheBackend):
            raise ConfigurationError(
                f"backend must be a FileSystemCacheBackend (or None), got {backend!r}."
            )
        self.backend = backend
        #: the dagron_nb cache underneath; executors use this
        self.result_cache = ResultCache(
            max_bytes=max_bytes, cache_dir=None if backend is None else backend.cache_dir
        )

    def compute_key(
        self, name: str, task: Callable[..., Any], predecessor_hashes: Mapping[str, str]
    ) -> str:
        """The key of node ``name`` running ``task`` on inputs with these hashes."""
        parts = [name, code_fingerprint(task)]
        parts += [f"{p}={h}" for p, h in sorted(predecessor_hashes.items())]
        return combine(*parts)

    def get(self, key: str) -> Any | None:
        """The stored value for ``key``, or None."""
        entry = self.result_cache.get(key)
        return None if entry is None else entry.value

    def put(self, key: str, value: Any) -> None:
        self.result_cache.put(
            key, CacheEntry(key, value, value_fingerprint(value), measure(value), 0)
        )

    def has(self, key: str) -> bool:
        return self.result_cache.get(key) is not None

    def clear(self) -> None:
        self.result_cache.clear()

    def stats(self) -> CacheStats:
        return self.result_cache.stats()

    def __repr__(self) -> str:
        return f"ContentAddressableCache({self.backend!r})"


class _Wrapped:
    """An ``ExecutionResult`` with extra counts; everything else is the result's."""

    def __init__(self, execution_result: ExecutionResult) -> None:
        self.execution_result = execution_result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.execution_result, name)

    def __getitem__(self, name: str) -> NodeResult:
        return self.execution_result[name]

    def __contains__(self, name: object) -> bool:
        return name in self.execution_result

    def _names(self, *statuses: NodeStatus) -> list[str]:
        result = self.execution_result
        return [n for n, s in zip(result.names, result.statuses) if s in statuses]


class CachedExecutionResult(_Wrapped):
    """A run with its cache statistics (dagron's names).

    ``cache_hits`` / ``nodes_cached`` count the nodes taken from the cache,
    ``cache_misses`` / ``nodes_executed`` the nodes that ran; ``cached_nodes``
    and ``executed_nodes`` name them.
    """

    def __init__(self, execution_result: ExecutionResult) -> None:
        super().__init__(execution_result)
        self.cached_nodes = self._names(NodeStatus.CACHE_HIT)
        self.executed_nodes = self._names(*_RAN)
        self.cache_hits = self.nodes_cached = len(self.cached_nodes)
        self.cache_misses = self.nodes_executed = len(self.executed_nodes)

    def __repr__(self) -> str:
        return (
            f"<CachedExecutionResult {self.cache_hits} hits, {self.cache_misses} misses: "
            f"{self.execution_result.summary()}>"
        )


class CachedDAGExecutor(DAGExecutor):
    """``DAGExecutor`` with a ``ContentAddressableCache`` (or a ``ResultCache``).

    Unchanged nodes are CACHE_HIT and do not run; ``execute`` returns a
    ``CachedExecutionResult``.
    """

    def __init__(
        self,
        dag: DAG,
        cache: ContentAddressableCache | ResultCache,
        callbacks: object = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        *,
        max_workers: int | None = None,
        costs: Mapping[str, float] | None = None,
        hooks: object = None,
    ) -> None:
        super().__init__(
            dag,
            max_workers=max_workers,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            hooks=hooks,
            cache=_result_cache(cache),
        )

    def execute(  # type: ignore[override]
        self, tasks: Mapping[str, Callable[[], Any] | None], *args: Any, **kwargs: Any
    ) -> CachedExecutionResult:
        return CachedExecutionResult(super().execute(tasks, *args, **kwargs))


class IncrementalResult(_Wrapped):
    """An incremental run (dagron's names).

    ``recomputed``: nodes that ran; ``reused``: cache hits outside the dirty
    set (the changed nodes and their descendants); ``early_cutoff``: cache hits
    inside it (an upstream node re-ran and returned an equal value);
    ``provenance``: for each node that ran, the changed nodes that caused it
    (itself when its own code or inputs changed).
    """

    def __init__(self, execution_result: ExecutionResult, changed: Collection[str]) -> None:
        super().__init__(execution_result)
        dag = execution_result.dag
        dirty = set(changed)
        for name in changed:
            dirty.update(dag.descendants(name))
        ran = self._names(*_RAN)
        hits = self._names(NodeStatus.CACHE_HIT)
        self.recomputed = len(ran)
        self.early_cutoff = sum(1 for n in hits if n in dirty)
        self.reused = len(hits) - self.early_cutoff
        self.provenance: dict[str, list[str]] = {}
        for name in ran:
            upstream = set(dag.ancestors(name)) | {name}
            self.provenance[name] = [c for c in changed if c in upstream] or [name]


class IncrementalExecutor(DAGExecutor):
    """Re-runs only what changed since its previous ``execute``, with early cutoff.

    It keeps its own ``ResultCache``: a node whose code, inputs and upstream
    values are unchanged is reused. ``changed_nodes`` names nodes to run again
    anyway (they changed in a way no fingerprint sees: a file, a database);
    ``changed_nodes=None`` runs everything (as the first call does).
    """

    def __init__(
        self,
        dag: DAG,
        callbacks: object = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        *,
        max_workers: int | None = None,
        costs: Mapping[str, float] | None = None,
        hooks: object = None,
        cache: ResultCache | None = None,
    ) -> None:
        super().__init__(
            dag,
            max_workers=max_workers,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            hooks=hooks,
            cache=cache if cache is not None else ResultCache(),
        )

    def execute(  # type: ignore[override]
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        changed_nodes: Collection[str] | None = None,
        **kwargs: Any,
    ) -> IncrementalResult:
        if changed_nodes is None:
            result = super().execute(tasks, refresh_cache=True, **kwargs)
            return IncrementalResult(result, list(result.names))
        changed = list(changed_nodes)
        result = super().execute(tasks, refresh_cache=changed, **kwargs)
        return IncrementalResult(result, changed)


def _result_cache(cache: object) -> ResultCache:
    if isinstance(cache, ContentAddressableCache):
        return cache.result_cache
    if isinstance(cache, ResultCache):
        return cache
    raise ConfigurationError(
        f"cache must be a ContentAddressableCache or ResultCache, got {type(cache).__name__}."
    )
