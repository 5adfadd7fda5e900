"""``core`` reads bottom-up: its modules import each other without a cycle.

Every import counts, also the ones inside functions and under
``TYPE_CHECKING``: a lazy import hides a cycle from the interpreter, not from
a reader. No module of the package imports the top-level ``dagron_nb``
package either (it re-exports everything, so that would be a cycle too).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dagron_nb"


def imported_modules(path: Path) -> set[str]:
    """Every ``dagron_nb...`` module ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from dagron_nb.core import plan`` imports the submodule plan
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "dagron_nb"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (PACKAGE / "core").glob("*.py")}
    return {name: imported_modules(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None; iterative depth-first search."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_core_modules_import_each_other_without_a_cycle() -> None:
    graph = core_graph()
    assert {"dagron_nb.core.graph", "dagron_nb.core.plan", "dagron_nb.core.results"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in core: " + " -> ".join(cycle or [])


def test_core_reads_bottom_up_in_this_order() -> None:
    # the layering the module docstrings describe, lowest first
    order = [
        "errors",
        "status",
        "refs",
        "items",
        "index",
        "plan",
        "graph",
        "analysis",
        "inspection",
        "results",
    ]
    graph = core_graph()
    for i, low in enumerate(order):
        for high in order[i + 1 :]:
            assert f"dagron_nb.core.{high}" not in graph[f"dagron_nb.core.{low}"], (low, high)


def test_no_module_imports_the_top_level_package() -> None:
    offenders = [
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent != PACKAGE
        if "dagron_nb" in imported_modules(path)
    ]
    assert offenders == []


def test_core_imports_nothing_from_execution_or_notebook() -> None:
    for name, path in {module_name(p): p for p in (PACKAGE / "core").glob("*.py")}.items():
        above = {m for m in imported_modules(path) if not m.startswith("dagron_nb.core")}
        assert above == set(), name
