"""Fingerprints of pandas objects by their data, column by column.

Loaded only when a pandas object is fingerprinted (``core`` imports no pandas).
Columns with a plain numpy dtype are hashed straight from their buffers (the
fast path, a few GB/s); other columns (strings, nullable and categorical
dtypes, objects) through ``pandas.util.hash_pandas_object``, whose 64-bit
per-element hashes are then hashed in turn. The index, the column labels,
dtypes and ``attrs`` are part of the fingerprint, so an in-place edit of any
cell, a renamed column or a re-ordered index all change it.
"""

from __future__ import annotations

from typing import Any, Protocol


class Hasher(Protocol):
    """What this module needs of ``fingerprint``'s hasher (no import back: one-way)."""

    def feed(self, tag: bytes, data: bytes = b"") -> None: ...
    def buffer(self, data: Any) -> None: ...
    def value(self, v: object, where: str) -> None: ...


_RAW_KINDS = frozenset("biufcmM")  # numpy dtype kinds whose bytes are the values


def feed_pandas(hasher: Hasher, obj: Any, where: str) -> None:
    """Feed a DataFrame, Series or Index into ``hasher``."""
    import pandas

    if isinstance(obj, pandas.DataFrame):
        hasher.feed(b"pdF", str(obj.shape).encode())
        _index(hasher, obj.columns, f"the column labels of {where}")
        _index(hasher, obj.index, f"the index of {where}")
        for i in range(obj.shape[1]):
            _array(hasher, obj.iloc[:, i], f"column {obj.columns[i]!r} of {where}")
    elif isinstance(obj, pandas.Series):
        hasher.feed(b"pdS")
        hasher.value(obj.name, f"the name of {where}")
        _index(hasher, obj.index, f"the index of {where}")
        _array(hasher, obj, where)
    else:
        _index(hasher, obj, where)
    if getattr(obj, "attrs", None):
        hasher.value(obj.attrs, f"the attrs of {where}")


def _index(hasher: Hasher, index: Any, where: str) -> None:
    import pandas

    hasher.feed(b"pdI", type(index).__name__.encode())
    hasher.value(list(index.names), f"the names of {where}")
    if isinstance(index, pandas.RangeIndex):
        hasher.feed(b"range", f"{index.start}:{index.stop}:{index.step}".encode())
        return
    if isinstance(index, pandas.MultiIndex):
        _hashed(hasher, index.to_frame(index=False), where)
        return
    _array(hasher, index, where)


def _array(hasher: Hasher, col: Any, where: str) -> None:
    """The values of a Series or Index (with their dtype)."""
    import numpy

    dtype = col.dtype
    hasher.feed(b"pdD", str(dtype).encode())
    if isinstance(dtype, numpy.dtype) and dtype.kind in _RAW_KINDS:
        values = col.to_numpy(copy=False)
        hasher.buffer(numpy.ascontiguousarray(values).view(numpy.uint8).reshape(-1))
        return
    _hashed(hasher, col, where)


def _hashed(hasher: Hasher, obj: Any, where: str) -> None:
    import pandas

    try:
        hashes = pandas.util.hash_pandas_object(obj, index=False)
    except TypeError:  # unhashable cells (lists, dicts): structurally, cell by cell
        hasher.value(obj.to_numpy(dtype=object).tolist(), where)
        return
    hasher.buffer(hashes.to_numpy())
