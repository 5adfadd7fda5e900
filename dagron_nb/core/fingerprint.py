"""Fingerprints: a short digest that changes whenever a value or a function changes.

The result cache keys a node by what could change its result, so these digests
must never stay equal when the thing they describe changed (a stale cache hit
is a wrong answer); being different for equal things only costs a re-run.

* ``value_fingerprint(v)`` hashes *content*: numpy arrays and pandas objects by
  their data buffers (dtype, shape and index included), builtins and dataclasses
  structurally, objects with ``__dagron_cache_key__()`` by what that returns,
  functions and classes by their code, anything else by its pickle (with
  notebook-defined functions and classes inside it replaced by their code's
  fingerprint, because pickle would only record their names).
* ``code_fingerprint(fn)`` hashes a function's bytecode, constants, names,
  defaults and closure values, and, recursively, the notebook / module-level
  helpers, classes and global values it reads. Functions and classes of
  installed libraries (the standard library, site-packages) count by their
  qualified name only: following them would hash half of pandas on every run.

What cannot be fingerprinted (an open file, a lock, a generator) raises
``Unfingerprintable`` with a one-line reason naming the culprit; the cache then
runs the node instead of guessing.

>>> value_fingerprint([1, 2.5, "x"]) == value_fingerprint([1, 2.5, "x"])
True
>>> value_fingerprint([1, 2]) == value_fingerprint((1, 2))
False
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import pickle
import site
import struct
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable
from typing import Any

#: the digest every fingerprint uses; sha256 runs at memory-copy-like speed on
#: CPUs with SHA extensions and releases the GIL on large buffers
_new_hash = hashlib.sha256

_MAX_DEPTH = 100  # deeper nesting is hashed through pickle instead of recursion


class Unfingerprintable(Exception):
    """A value or function whose content cannot be turned into a fingerprint."""


def value_fingerprint(value: object) -> str:
    """A hex digest of ``value``'s content; raises ``Unfingerprintable``.

    >>> value_fingerprint({"a": 1}) == value_fingerprint({"a": 2})
    False
    """
    hasher = _Hasher()
    hasher.value(value, "the value")
    return hasher.hexdigest()


def code_fingerprint(fn: Callable[..., Any]) -> str:
    """A hex digest of what ``fn`` computes: its code and everything it reads.

    >>> def f(x): return x + 1
    >>> def g(x): return x + 2
    >>> code_fingerprint(f) == code_fingerprint(g)
    False
    """
    hasher = _Hasher()
    hasher.callable(fn, _describe(fn))
    return hasher.hexdigest()


def combine(*parts: str) -> str:
    """One digest of several digests (or names), order-sensitive."""
    h = _new_hash()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


# -- what counts as "library" code ------------------------------------------------
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - virtualenvs without getsitepackages
        pass
    roots.add(sys.base_prefix)
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


_LIBRARY_ROOTS = _library_roots()
_library_module_cache: dict[str, bool] = {}


def is_library_module(module: str | None) -> bool:
    """True for modules of installed libraries and the standard library.

    Notebook code (``__main__``) and modules that live outside the
    interpreter's library folders (a project's own package) are not.
    """
    if not module or module == "__main__":
        return False
    top = module.split(".")[0]
    known = _library_module_cache.get(top)
    if known is not None:
        return known
    mod = sys.modules.get(top)
    path = getattr(mod, "__file__", None) if mod is not None else None
    # built-in modules (sys, builtins, _thread) have no file: library code
    result = path is None or os.path.realpath(path).startswith(_LIBRARY_ROOTS)
    _library_module_cache[top] = result
    return result


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"function {name!r}" if name else f"{type(obj).__name__} object"


# -- the code of a function, memoised per code object --------------------------------
_code_cache: weakref.WeakKeyDictionary[types.CodeType, tuple[bytes, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)


def _code_digest(code: types.CodeType) -> tuple[bytes, frozenset[str]]:
    """Digest of a code object (no file name or line numbers) and the global names
    it and its nested functions may read."""
    cached = _code_cache.get(code)
    if cached is not None:
        return cached
    h = _new_hash()
    names = set(code.co_names)
    for field in (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
    ):
        h.update(field.to_bytes(8, "little", signed=True))
    h.update(code.co_code)
    for group in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        h.update(repr(group).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            digest, inner = _code_digest(const)
            h.update(b"C" + digest)
            names |= inner
        else:
            h.update(b"K" + bytes.fromhex(value_fingerprint(const)))
    result = (h.digest(), frozenset(names))
    _code_cache[code] = result
    return result


class _Hasher:
    """Feeds one digest; tracks containers in progress (cycles) and functions seen."""

    def __init__(self) -> None:
        self.h = _new_hash()
        self.stack: list[int] = []  # ids of containers being hashed
        self.functions: dict[int, int] = {}  # id(fn) -> order seen (recursion)
        self._keep: list[object] = []  # objects whose ids are in use above

    def hexdigest(self) -> str:
        return self.h.hexdigest()

    def feed(self, tag: bytes, data: bytes = b"") -> None:
        if len(data) < 4096:  # one update: small pieces are the common case
            self.h.update(tag + len(data).to_bytes(8, "little") + data)
        else:
            self.h.update(tag + len(data).to_bytes(8, "little"))
            self.h.update(data)

    # -- values ------------------------------------------------------------------
    def value(self, v: object, where: str) -> None:
        t = type(v)
        if v is None or v is True or v is False or v is Ellipsis:
            self.feed(b"c", repr(v).encode())
        elif t is int:
            self.feed(b"i", str(v).encode())
        elif t is float:
            self.feed(b"f", struct.pack("<d", v) if not math.isnan(v) else b"nan")  # type: ignore[arg-type]
        elif t is str:
            self.feed(b"s", v.encode("utf-8", "surrogatepass"))  # type: ignore[attr-defined]
        elif t is bytes or t is bytearray:
            self.feed(b"b" if t is bytes else b"B", bytes(v))  # type: ignore[call-overload]
        elif t is complex:
            self.feed(b"j", repr(v).encode())
        elif len(self.stack) > _MAX_DEPTH:
            self.pickled(v, where)
        elif t in (list, tuple, dict, set, frozenset):
            self.container(v, where)
        else:
            self.other(v, where)

    def container(self, v: Any, where: str) -> None:
        if id(v) in self.stack:  # a cycle: name the back reference, not the value
            self.feed(b"@", str(self.stack.index(id(v))).encode())
            return
        self.stack.append(id(v))
        try:
            t = type(v)
            self.feed(b"(", t.__name__.encode() + str(len(v)).encode())
            if t is dict:
                # elements report the container's name: building a path string
                # per element would cost more than hashing it
                for k, item in v.items():
                    self.value(k, where)
                    self.value(item, where)
            elif t is set or t is frozenset:
                # equal sets may iterate in different orders: hash sorted digests
                for digest in sorted(_sub(item, where) for item in v):
                    self.feed(b"e", digest)
            else:
                for item in v:
                    self.value(item, where)
            self.feed(b")")
        finally:
            self.stack.pop()

    def other(self, v: object, where: str) -> None:
        key = getattr(type(v), "__dagron_cache_key__", None)
        if key is not None and not isinstance(v, type):
            self.feed(b"k", (_qualified(type(v)) + "\0" + str(key(v))).encode())
            return
        if isinstance(v, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
            self.callable(v, where)
        elif isinstance(v, type):
            self.klass(v, where)
        elif isinstance(v, types.ModuleType):
            self.feed(b"M", v.__name__.encode())
        elif _is_numpy_array(v):
            self.ndarray(v, where)
        elif _pandas_kind(v):
            from dagron_nb.core.fingerprint_pandas import feed_pandas

            feed_pandas(self, v, where)
        elif dataclasses.is_dataclass(v):
            self.feed(b"D", _qualified(type(v)).encode())
            self.klass(type(v), where)
            self.stack.append(id(v))
            try:
                for f in dataclasses.fields(v):
                    self.feed(b"F", f.name.encode())
                    self.value(getattr(v, f.name), f"{where}.{f.name}")
            finally:
                self.stack.pop()
        else:
            self.pickled(v, where)

    def ndarray(self, a: Any, where: str) -> None:
        import numpy

        self.feed(b"N", f"{a.dtype.str}{a.shape}".encode())
        if a.dtype.hasobject:
            self.stack.append(id(a))
            try:
                for item in a.ravel(order="C").tolist():
                    self.value(item, where)
            finally:
                self.stack.pop()
            return
        self.buffer(numpy.ascontiguousarray(a).view(numpy.uint8).reshape(-1))

    def buffer(self, data: Any) -> None:
        """A block of raw bytes (anything supporting the buffer protocol), no copy."""
        view = memoryview(data).cast("B")
        self.feed(b"R", len(view).to_bytes(8, "little"))
        self.h.update(view)

    def pickled(self, v: object, where: str) -> None:
        out = io.BytesIO()
        buffers: list[pickle.PickleBuffer] = []
        pickler = _CodeAwarePickler(out, self, buffers)
        try:
            pickler.dump(v)
        except Unfingerprintable:
            raise
        except Exception as exc:
            raise Unfingerprintable(
                f"{where} ({type(v).__name__}) cannot be fingerprinted: it cannot be pickled "
                f"({type(exc).__name__}: {exc}); give its class a __dagron_cache_key__() method"
            ) from None
        self.feed(b"P", out.getvalue())
        for buf in buffers:
            self.buffer(buf.raw())

    # -- code --------------------------------------------------------------------
    def callable(self, fn: Any, where: str) -> None:
        if isinstance(fn, types.MethodType):
            self.feed(b"m")
            self.value(fn.__self__, f"{where} (its object)")
            fn = fn.__func__
        inner = getattr(fn, "func", None)  # a dagron Task or functools.partial
        if not isinstance(fn, types.FunctionType) and callable(inner):
            self.feed(b"w", type(fn).__name__.encode())
            for attr in ("args", "keywords"):
                if hasattr(fn, attr):
                    self.value(getattr(fn, attr), f"{where}.{attr}")
            self.callable(inner, where)
            return
        if not isinstance(fn, types.FunctionType):
            if isinstance(fn, types.BuiltinFunctionType) or is_library_module(
                getattr(fn, "__module__", None)
            ):
                self.feed(b"L", _qualified(fn).encode())
                return
            # a callable object: its class's code and its state
            self.klass(type(fn), where)
            self.pickled(fn, where)
            return
        self.function(fn, where)

    def function(self, fn: types.FunctionType, where: str) -> None:
        if is_library_module(fn.__module__):
            self.feed(b"L", _qualified(fn).encode())
            return
        seen = self.functions.get(id(fn))
        if seen is not None:  # recursion (f calls itself, or f and g each other)
            self.feed(b"r", str(seen).encode())
            return
        self.functions[id(fn)] = len(self.functions)
        self._keep.append(fn)
        digest, names = _code_digest(fn.__code__)
        self.feed(b"X", digest)
        self.value(fn.__defaults__, f"the defaults of {where}")
        self.value(fn.__kwdefaults__, f"the defaults of {where}")
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            self.feed(b"v", name.encode())
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell (a name not assigned yet)
                self.feed(b"0")
                continue
            self.value(content, f"{name!r}, a variable {where} closes over")
        space = fn.__globals__
        for name in sorted(names):
            if name in space:
                self.feed(b"g", name.encode())
                self.value(space[name], f"the global {name!r} read by {where}")

    def klass(self, cls: type, where: str) -> None:
        self.feed(b"T", _qualified(cls).encode())
        if is_library_module(cls.__module__) or id(cls) in self.functions:
            return
        self.functions[id(cls)] = len(self.functions)
        self._keep.append(cls)
        for name, attr in sorted(vars(cls).items()):
            if name.startswith("__") and name not in ("__init__", "__call__", "__post_init__"):
                continue
            target = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if isinstance(target, property):
                target = target.fget
            if isinstance(target, types.FunctionType):
                self.feed(b"a", name.encode())
                self.function(target, f"{cls.__qualname__}.{name}")


class _CodeAwarePickler(pickle.Pickler):
    """Pickles for hashing only: notebook functions and classes are replaced by
    their code's fingerprint (plain pickle would store just their names, so an
    edited function inside an object would go unnoticed); big buffers go
    out-of-band so they are hashed without a copy."""

    def __init__(self, out: io.BytesIO, hasher: _Hasher, buffers: list[pickle.PickleBuffer]):
        super().__init__(out, protocol=5, buffer_callback=buffers.append)
        self.hasher = hasher

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and not is_library_module(
            getattr(obj, "__module__", None)
        ):
            sub = _Hasher()
            sub.functions = dict(self.hasher.functions)
            if isinstance(obj, type):
                sub.klass(obj, _describe(obj))
            else:
                sub.function(obj, _describe(obj))
            return (str, (f"code:{_qualified(obj)}:{sub.hexdigest()}",))
        return NotImplemented


def _sub(v: object, where: str) -> bytes:
    hasher = _Hasher()
    hasher.value(v, where)
    return hasher.h.digest()


def _qualified(obj: object) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return f"{module}.{name}"


def _is_numpy_array(v: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(v, numpy.ndarray)


def _pandas_kind(v: object) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(v, (pandas.DataFrame, pandas.Series, pandas.Index))
