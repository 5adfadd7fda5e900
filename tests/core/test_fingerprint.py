"""Fingerprints change whenever the content changes, and only code we own is followed."""

from __future__ import annotations

import dataclasses
import functools
import math
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagron_nb.core.fingerprint import (
    Unfingerprintable,
    code_fingerprint,
    combine,
    is_library_module,
    value_fingerprint,
)

fp = value_fingerprint

# -- values -------------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.binary(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.frozensets(st.integers(), max_size=4),
    ),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    """Equality that also tells 1 from True from 1.0, and list from tuple."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))  # type: ignore[arg-type]
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index,call-overload]
    return a == b


@settings(max_examples=150, deadline=None)
@given(values, values)
def test_different_values_have_different_fingerprints(a: object, b: object) -> None:
    assert (fp(a) == fp(b)) == _same(a, b)


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(), max_size=8))
def test_equal_sets_agree_whatever_their_order(s: set[int]) -> None:
    assert fp(set(s)) == fp(set(s))


def test_cycles_do_not_recurse_forever() -> None:
    a: list[object] = [1]
    a.append(a)
    b: list[object] = [2]
    b.append(b)
    assert fp(a) != fp(b)


def test_deep_nesting_falls_back_to_pickle() -> None:
    deep: list[object] = []
    for _ in range(300):
        deep = [deep]
    assert fp(deep) == fp(deep)
    assert fp(deep) != fp([deep])
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(Unfingerprintable, match="cannot be pickled"):
        fp(deep)  # too deep even for pickle: a reason, not a crash


def test_numpy_arrays_by_data_dtype_and_shape() -> None:
    a = np.arange(12, dtype=np.int64)
    assert fp(a) == fp(a.copy())
    assert fp(a) != fp(a.astype(np.int32))
    assert fp(a) != fp(a.reshape(3, 4))
    assert fp(a.reshape(3, 4).T) == fp(np.ascontiguousarray(a.reshape(3, 4).T))
    b = a.copy()
    b[5] = -1
    assert fp(a) != fp(b)
    assert fp(np.array([1, "x"], dtype=object)) != fp(np.array([1, "y"], dtype=object))


def test_dataframes_by_data_index_labels_and_dtypes() -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, None, 2.0]})
    base = fp(df)
    assert fp(df.copy()) == base
    edited = df.copy()
    edited.loc[1, "b"] = "Y"
    assert fp(edited) != base
    assert fp(df.rename(columns={"a": "A"})) != base
    assert fp(df.set_index(pd.Index([3, 2, 1]))) != base
    assert fp(df.astype({"a": "float64"})) != base
    assert fp(df.astype({"b": "category"})) != base
    assert fp(df["a"]) != fp(df["a"].rename("z"))
    assert fp(df.index) == fp(pd.RangeIndex(3))
    lists = pd.DataFrame({"l": [[1], [2]]})
    assert fp(lists) != fp(pd.DataFrame({"l": [[1], [3]]}))


def test_in_place_mutation_changes_the_fingerprint() -> None:
    df = pd.DataFrame({"x": np.arange(1000.0)})
    before = fp(df)
    df["x"] *= 2
    assert fp(df) != before
    after_double = fp(df)
    df.iloc[0, 0] = -5.0
    assert fp(df) not in (before, after_double)


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


def test_dataclasses_structurally() -> None:
    assert fp(Point(1, [2])) == fp(Point(1, [2]))
    assert fp(Point(1, [2])) != fp(Point(1, [3]))


class Model:
    def __init__(self, version: int) -> None:
        self.version = version
        self.big = object()  # cannot be pickled, but the key says what matters

    def __dagron_cache_key__(self) -> str:
        return f"model-v{self.version}"


def test_objects_may_supply_their_own_key() -> None:
    assert fp(Model(1)) == fp(Model(1))
    assert fp(Model(1)) != fp(Model(2))


class Plain:
    def __init__(self, v: int) -> None:
        self.v = v


def test_other_objects_by_pickle() -> None:
    assert fp(Plain(1)) == fp(Plain(1))
    assert fp(Plain(1)) != fp(Plain(2))


def test_unpicklable_values_say_what_and_why() -> None:
    with pytest.raises(Unfingerprintable, match=r"lock.*cannot be pickled.*__dagron_cache_key__"):
        fp({"k": threading.Lock()})


# -- code ---------------------------------------------------------------------------
def _compile(src: str, namespace: dict[str, object] | None = None) -> dict[str, object]:
    ns: dict[str, object] = {"__name__": "__main__"} if namespace is None else namespace
    exec(src, ns)
    return ns


def test_code_changes_change_the_fingerprint() -> None:
    a = _compile("def f(x):\n    return x + 1\n")["f"]
    b = _compile("def f(x):\n    return x + 2\n")["f"]
    same = _compile("\n\n\ndef f(x):\n    return x + 1\n")["f"]  # moved down: same code
    assert code_fingerprint(a) != code_fingerprint(b)  # type: ignore[arg-type]
    assert code_fingerprint(a) == code_fingerprint(same)  # type: ignore[arg-type]


def test_defaults_helpers_globals_and_closures_count() -> None:
    ns = _compile("K = 2\ndef helper(x):\n    return x * K\ndef f(y=1):\n    return helper(y)\n")
    f = ns["f"]
    before = code_fingerprint(f)  # type: ignore[arg-type]
    ns["K"] = 3
    assert code_fingerprint(f) != before  # type: ignore[arg-type]
    ns["K"] = 2
    assert code_fingerprint(f) == before  # type: ignore[arg-type]
    _compile("def helper(x):\n    return x * K + 0\n", ns)
    assert code_fingerprint(f) != before  # type: ignore[arg-type]
    f.__defaults__ = (5,)  # type: ignore[attr-defined]
    assert code_fingerprint(f) != before  # type: ignore[arg-type]

    def make(n: int):  # type: ignore[no-untyped-def]
        return lambda: n

    assert code_fingerprint(make(1)) != code_fingerprint(make(2))
    assert code_fingerprint(make(1)) == code_fingerprint(make(1))


def test_recursion_and_classes_of_the_notebook() -> None:
    ns = _compile(
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return x * self.k\n"
        "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n"
        "def use():\n    return Scaler(2).apply(fact(3))\n"
    )
    before = code_fingerprint(ns["use"])  # type: ignore[arg-type]
    _compile(
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return x * self.k + 1\n",
        ns,
    )
    assert code_fingerprint(ns["use"]) != before  # type: ignore[arg-type]


def test_library_code_counts_by_name_only() -> None:
    assert is_library_module("pandas.core.frame")
    assert is_library_module("json")
    assert is_library_module("builtins")
    assert not is_library_module("__main__")
    assert not is_library_module(__name__)  # this project's own tests
    assert code_fingerprint(np.sum) == code_fingerprint(np.sum)
    assert code_fingerprint(len) != code_fingerprint(max)


def test_partials_and_methods() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    assert code_fingerprint(functools.partial(add, 1)) != code_fingerprint(
        functools.partial(add, 2)
    )
    assert code_fingerprint(Scale(2).apply) != code_fingerprint(Scale(3).apply)


class Scale:
    def __init__(self, k: int) -> None:
        self.k = k

    def apply(self, x: int) -> int:
        return x * self.k


def test_a_function_inside_a_pickled_object_counts_by_its_code() -> None:
    ns = _compile("def f(x):\n    return x\n")
    holder = Plain(0)
    holder.fn = ns["f"]  # type: ignore[attr-defined]
    before = fp(holder)
    _compile("def f(x):\n    return -x\n", ns)
    holder.fn = ns["f"]  # type: ignore[attr-defined]
    assert fp(holder) != before


def test_unfingerprintable_global_names_itself() -> None:
    ns = _compile("import threading\nLOCK = threading.Lock()\ndef f():\n    return LOCK\n")
    with pytest.raises(Unfingerprintable, match=r"global 'LOCK' read by function 'f'"):
        code_fingerprint(ns["f"])  # type: ignore[arg-type]


def test_combine_is_order_sensitive() -> None:
    assert combine("a", "b") != combine("b", "a")
    assert combine("ab", "") != combine("a", "b")
