"""The error hierarchy and its messages; the optional-import helper."""

from __future__ import annotations

import sys

import pytest

from dagron_nb import (
    ConfigurationError,
    CycleError,
    DagronError,
    DuplicateNodeError,
    GraphError,
    InvalidNodeNameError,
    InvalidTransitionError,
    NodeNotFoundError,
    NodeStatus,
    NodeTimeoutError,
)
from dagron_nb.core.extras import EXTRA_FOR, optional_import


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (CycleError(["a", "b", "a"]), (GraphError, ValueError)),
        (DuplicateNodeError("a"), (GraphError, ValueError)),
        (InvalidNodeNameError(3), (GraphError, ValueError, TypeError)),
        (NodeNotFoundError("a"), (KeyError,)),
        (ConfigurationError("x"), (ValueError, TypeError)),
        (NodeTimeoutError("a", 1.5), (TimeoutError,)),
        (
            InvalidTransitionError("a", NodeStatus.COMPLETED, NodeStatus.RUNNING),
            (RuntimeError,),
        ),
    ],
)
def test_every_error_is_a_dagron_error_and_the_fitting_builtin(
    error: Exception, bases: tuple[type[Exception], ...]
) -> None:
    assert isinstance(error, DagronError)
    for base in bases:
        assert isinstance(error, base)


def test_cycle_error_message_and_custom_hint() -> None:
    error = CycleError(["a", "b", "a"])
    assert str(error) == (
        "the graph has a cycle: 'a' -> 'b' -> 'a'\n"
        "remove one of these edges so that the graph is acyclic."
    )
    assert str(CycleError(["x", "x"], "no self loops.")).endswith("\nno self loops.")


def test_cycle_error_shortens_long_cycles_but_keeps_them() -> None:
    twenty = [f"n{i}" for i in range(19)] + ["n0"]
    assert str(CycleError(twenty)).startswith(
        "the graph has a cycle: " + " -> ".join(map(repr, twenty)) + "\n"
    )
    long = [f"n{i}" for i in range(30)] + ["n0"]
    error = CycleError(long)
    assert error.cycle == long
    assert str(error).splitlines()[0] == (
        "the graph has a cycle: 'n0' -> 'n1' -> 'n2' -> 'n3' -> 'n4' -> 'n5' -> 'n6' -> "
        "'n7' -> 'n8' -> 'n9' -> ... (20 more) -> 'n0'"
    )


def test_node_not_found_str_is_the_message_not_a_repr() -> None:
    error = NodeNotFoundError("zz", "in edge 'a' -> 'zz'")
    assert str(error) == (
        "node 'zz' is not in the DAG (in edge 'a' -> 'zz'). "
        "Add it with add_node() first, or check the spelling."
    )


def test_node_timeout_error_message() -> None:
    assert str(NodeTimeoutError("a", 0.25)) == (
        "node 'a' was still running after its node timeout of 0.25 s"
    )
    assert str(NodeTimeoutError("a", 30, whole_run=True)) == (
        "node 'a' was still running after the run's timeout of 30 s"
    )


def test_optional_import_returns_the_module() -> None:
    assert optional_import("json").__name__ == "json"
    assert optional_import("os.path", purpose="paths").__name__ == "posixpath"


def test_optional_import_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes Python refuse the import, as for a missing package
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"distributed is needed for clusters but is not") as d:
        optional_import("distributed", purpose="clusters")
    assert 'pip install "dagron_nb[dask]"' in str(d.value)
    with pytest.raises(ImportError, match=r'pip install "dagron_nb\[notebook\]"') as info:
        optional_import("surely_not_a_module_xyz")
    assert isinstance(info.value.__cause__, ImportError)


def test_extra_for_names_real_extras() -> None:
    assert set(EXTRA_FOR.values()) == {"notebook", "dask"}
    assert EXTRA_FOR["dask"] == "dask"
    assert EXTRA_FOR["pandas"] == "notebook"
