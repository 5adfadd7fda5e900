"""Where cached results live: in memory (LRU under a byte budget) and on disk.

``MemoryStore`` keeps entries, values included, in least-recently-used order
and evicts the oldest when the measured sizes pass ``max_bytes``. ``DiskStore``
writes one file per key under a directory: a header (node, value fingerprint,
seconds, format) and the payload, Parquet for plain DataFrames when pyarrow is
installed, otherwise pickle. A file is written to a temporary name in the same
directory and renamed into place (``os.replace`` is atomic), so a reader, in
this process or another kernel sharing the directory, sees either the whole
entry or none. A file that is truncated, corrupt or unreadable is a miss with a
``CacheWarning``, never an exception and never a wrong value: the header holds
the payload's length and digest, and both are checked before decoding.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import sys
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MAGIC = b"DAGRONC1"
_SUFFIX = ".entry"


class CacheWarning(UserWarning):
    """A cache entry could not be read or written; the node simply runs."""


@dataclass
class CacheEntry:
    """One stored result: the value, its fingerprint and what a hit saves."""

    node: str
    value: Any
    value_fp: str
    size: int  # measured bytes (memory estimate, or the file size on disk)
    seconds: float  # how long computing it took: what a hit saves
    created: float = field(default_factory=time.time)  # time.time() of storing
    hits: int = 0


def measure(value: object) -> int:
    """Bytes ``value`` holds: exact for arrays and pandas objects, estimated otherwise."""
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if isinstance(value, pandas.DataFrame):
            return int(value.memory_usage(deep=True).sum())
        if isinstance(value, (pandas.Series, pandas.Index)):
            return int(value.memory_usage(deep=True))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(measure(v) for v in list(value)[:10_000])
    if isinstance(value, dict):
        items = list(value.items())[:10_000]
        return sys.getsizeof(value) + sum(measure(k) + measure(v) for k, v in items)
    return sys.getsizeof(value)


def default_memory_budget() -> int:
    """A quarter of the machine's RAM (2 GiB where that cannot be read)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(total // 4)


class MemoryStore:
    """Entries in LRU order under a byte budget; safe to use from many threads."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = default_memory_budget() if max_bytes is None else int(max_bytes)
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self.total_bytes = 0
        self.evictions = 0

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: CacheEntry) -> bool:
        """Store ``entry``; False when it alone is bigger than the budget."""
        if entry.size > self.max_bytes:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.total_bytes -= old.size
            self._entries[key] = entry
            self.total_bytes += entry.size
            while self.total_bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.total_bytes -= evicted.size
                self.evictions += 1
        return True

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.total_bytes -= old.size

    def items(self) -> list[tuple[str, CacheEntry]]:
        with self._lock:
            return list(self._entries.items())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.total_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class DiskStore:
    """One file per key under ``directory``; atomic writes, checked reads."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / (key + _SUFFIX)

    # -- writing -----------------------------------------------------------------
    def put(self, key: str, entry: CacheEntry) -> bool:
        """Write ``entry``; False (with a warning) when its value cannot be saved."""
        try:
            kind, payload = _encode(entry.value)
        except Exception as exc:
            warnings.warn(
                f"dagron_nb cache: the result of {entry.node!r} is kept in memory only: it "
                f"cannot be written to disk ({type(exc).__name__}: {exc})",
                CacheWarning,
                stacklevel=2,
            )
            return False
        header = {
            "node": entry.node,
            "value_fp": entry.value_fp,
            "seconds": entry.seconds,
            "created": entry.created,
            "size": entry.size,
            "kind": kind,
            "length": len(payload),
            "digest": hashlib.sha256(payload).hexdigest(),
        }
        head = json.dumps(header).encode()
        target = self.path(key)
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + len(head).to_bytes(4, "little") + head)
                fh.write(payload)
            os.replace(tmp, target)  # atomic: readers see all of it or none of it
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            warnings.warn(
                f"dagron_nb cache: could not write {target} ({exc})", CacheWarning, stacklevel=2
            )
            return False
        return True

    # -- reading -----------------------------------------------------------------
    def get(self, key: str) -> CacheEntry | None:
        """The entry, or None if absent; a damaged file warns and is a miss."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _damaged(path, f"cannot be read ({exc})")
        header = _header(data)
        if header is None:
            return _damaged(path, "is not a dagron_nb cache entry or its header is cut off")
        head_len = int.from_bytes(data[8:12], "little")
        payload = memoryview(data)[12 + head_len :]
        if len(payload) != header["length"]:
            return _damaged(path, f"is truncated ({len(payload)} of {header['length']} bytes)")
        if hashlib.sha256(payload).hexdigest() != header["digest"]:
            return _damaged(path, "is corrupt (its content does not match its checksum)")
        try:
            value = _decode(header["kind"], payload)
        except Exception as exc:
            return _damaged(path, f"cannot be decoded ({type(exc).__name__}: {exc})")
        return CacheEntry(
            node=header["node"],
            value=value,
            value_fp=header["value_fp"],
            size=int(header["size"]),
            seconds=float(header["seconds"]),
            created=float(header["created"]),
        )

    def headers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(key, header)`` of every readable entry (payloads are not read)."""
        for path in self.directory.glob(f"*/*{_SUFFIX}"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                with path.open("rb") as fh:
                    start = fh.read(12)
                    head_len = int.from_bytes(start[8:12], "little")
                    header = _header(start + fh.read(head_len))
            except OSError:
                continue
            if header is not None:
                yield path.name.removesuffix(_SUFFIX), header

    def clear(self) -> None:
        for path in self.directory.glob(f"*/*{_SUFFIX}"):
            with contextlib.suppress(OSError):
                path.unlink()


def _header(data: bytes) -> dict[str, Any] | None:
    if len(data) < 12 or data[:8] != _MAGIC:
        return None
    head_len = int.from_bytes(data[8:12], "little")
    try:
        header = json.loads(data[12 : 12 + head_len])
    except ValueError:
        return None
    needed = {"node", "value_fp", "seconds", "created", "size", "kind", "length", "digest"}
    return header if isinstance(header, dict) and needed <= header.keys() else None


def _damaged(path: Path, what: str) -> CacheEntry | None:
    """Warn that an entry is unusable; the read is a miss (returns None)."""
    warnings.warn(
        f"dagron_nb cache: the entry {path} {what}; ignoring it, the node runs again",
        CacheWarning,
        stacklevel=3,
    )
    return None


# -- payload formats -------------------------------------------------------------
def _encode(value: object) -> tuple[str, bytes]:
    if _parquet_safe(value):
        out = io.BytesIO()
        value.to_parquet(out)  # type: ignore[attr-defined]
        return "parquet", out.getvalue()
    return "pickle", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(kind: str, payload: memoryview) -> Any:
    if kind == "parquet":
        import pandas

        return pandas.read_parquet(io.BytesIO(payload))
    if kind == "pickle":
        return pickle.loads(payload)
    raise ValueError(f"unknown entry format {kind!r}")


def _parquet_safe(value: object) -> bool:
    """Plain DataFrames that Parquet gives back exactly (else pickle is used):
    string column labels, numeric / bool / datetime columns, a RangeIndex."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame):
        return False
    try:
        import pyarrow  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    import numpy

    return (
        isinstance(value.index, pandas.RangeIndex)
        and value.index.name is None
        and value.index.start == 0
        and value.index.step == 1
        and not value.attrs
        and value.columns.is_unique
        and all(type(c) is str for c in value.columns)
        and all(isinstance(d, numpy.dtype) and d.kind in "biufM" for d in value.dtypes)
    )
