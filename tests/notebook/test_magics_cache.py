"""``%%dagron`` iterates: per-kernel caching, cache options, tasks across cells.

Driven through IPython's real testing shell, the way a notebook user works:
define a cell, run it, edit one function, run it again.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from dagron_nb import ExecutionResult, NodeStatus
from dagron_nb.notebook.iterate import NotebookSession

HIT = NodeStatus.CACHE_HIT
DONE = NodeStatus.COMPLETED

FIVE = """
def load():
    return list(range(10))

def evens(load):
    return [x for x in load if x % 2 == 0]

def odds(load):
    return [x for x in load if x % 2]

def total(evens, odds):
    return sum(evens) + sum(odds) * SCALE

def report(total):
    return f"total={total}"
"""


@pytest.fixture
def shell() -> Iterator[Any]:
    """The test shell with the extension loaded and a fresh session (cache, registry)."""
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "dagron_nb")
    magics = ip.magics_manager.registry["DagronMagics"]
    magics.session = NotebookSession()
    before = set(ip.user_ns)
    yield ip
    magics.session = NotebookSession()
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


def run(shell: Any, cell: str, line: str = "") -> tuple[ExecutionResult, str]:
    with capture_output() as out:
        shell.run_cell_magic("dagron", f"--no-live --no-raise {line}", textwrap.dedent(cell))
    result = shell.user_ns["_dagron_result"]
    assert isinstance(result, ExecutionResult)
    return result, out.stdout


def statuses(result: ExecutionResult) -> dict[str, NodeStatus]:
    return dict(zip(result.names, result.statuses))


def test_edit_one_function_reruns_it_and_its_descendants(shell: Any) -> None:
    cell = FIVE.replace("SCALE", "1")
    first, _ = run(shell, cell)
    assert set(statuses(first).values()) == {DONE}
    unchanged, out = run(shell, cell)
    assert set(statuses(unchanged).values()) == {HIT}  # an unchanged re-run runs nothing
    assert "5 from cache, 0 ran, saved" in out
    edited_cell = cell.replace("if x % 2]", "if x % 2 == 1]")  # odds: new code, same value
    edited, _ = run(shell, edited_cell)
    assert statuses(edited) == {
        "load": HIT,
        "evens": HIT,
        "odds": DONE,
        "total": HIT,  # early cutoff: odds returned what it returned before
        "report": HIT,
    }
    changed, out = run(shell, cell.replace("* 1", "* 2"))
    assert statuses(changed) == {
        "load": HIT,
        "evens": HIT,
        "odds": HIT,
        "total": DONE,
        "report": DONE,
    }
    assert "3 from cache, 2 ran" in out
    with capture_output():
        shell.run_cell_magic("dagron", "--no-live --no-cache", textwrap.dedent(cell))
    assert changed["report"].result != shell.user_ns["_dagron_result"]["report"].result
    assert unchanged["report"].result == shell.user_ns["_dagron_result"]["report"].result


def test_a_notebook_variable_reruns_exactly_its_consumers(shell: Any) -> None:
    shell.user_ns["rate"] = 2
    cell = """
    def base():
        return 10
    def scaled(base, rate):
        return base * rate
    def other(base):
        return base + 1
    def both(scaled, other):
        return scaled + other
    """
    run(shell, cell)
    shell.user_ns["rate"] = 3
    again, _ = run(shell, cell)
    assert statuses(again) == {"base": HIT, "scaled": DONE, "other": HIT, "both": DONE}
    assert again["both"].result == 41


def test_force_runs_all_and_no_cache_uses_none(shell: Any) -> None:
    cell = "def a():\n    return 1\ndef b(a):\n    return a + 1\n"
    run(shell, cell)
    forced, _ = run(shell, cell, "--force")
    assert set(statuses(forced).values()) == {DONE}
    after, _ = run(shell, cell)
    assert set(statuses(after).values()) == {HIT}
    plain, _ = run(shell, cell, "--no-cache")
    assert set(statuses(plain).values()) == {DONE}


def test_after_a_failure_only_what_did_not_succeed_runs(shell: Any) -> None:
    shell.user_ns["broken"] = True
    cell = """
    def a():
        return 1
    def b(a, broken):
        if broken:
            raise ValueError("broken")
        return a + 1
    def c(b):
        return b * 10
    def d(a):
        return a - 1
    """
    failed, _ = run(shell, cell, "--best-effort")
    assert statuses(failed) == {
        "a": DONE,
        "b": NodeStatus.FAILED,
        "c": NodeStatus.SKIPPED,
        "d": DONE,
    }
    shell.user_ns["broken"] = False
    fixed, _ = run(shell, cell)
    assert statuses(fixed) == {"a": HIT, "b": DONE, "c": DONE, "d": HIT}


def test_to_and_only_run_just_what_the_node_needs(shell: Any) -> None:
    cell = FIVE.replace("SCALE", "1")
    part, _ = run(shell, cell, "--to evens")
    assert part.names == ["load", "evens"]
    assert statuses(part) == {"load": DONE, "evens": DONE}
    more, _ = run(shell, cell, "--only odds,evens")
    assert statuses(more) == {"load": HIT, "evens": HIT, "odds": DONE}
    with pytest.raises(UsageError, match=r"no task of this cell: 'nope'.*Its tasks are: load"):
        run(shell, cell, "--to nope")


def test_a_later_cell_gets_an_earlier_cells_task_value(shell: Any) -> None:
    run(shell, "def raw():\n    return [3, 1, 2]\n")
    later, _ = run(shell, "def ordered(raw):\n    return sorted(raw)\n")
    assert later["ordered"].result == [1, 2, 3]  # the value, never the function
    assert statuses(later) == {"ordered": DONE, "raw": HIT}
    assert later.dag.get_metadata("raw")["from"].startswith("another cell (In [")
    # the latest definition wins
    run(shell, "def raw():\n    return [9, 8]\n")
    again, _ = run(shell, "def ordered(raw):\n    return sorted(raw)\n")
    assert again["ordered"].result == [8, 9]
    # a name the notebook rebound is a plain input again
    shell.user_ns["raw"] = [5, 4]
    plain, _ = run(shell, "def ordered(raw):\n    return sorted(raw)\n")
    assert plain.names == ["ordered"]
    assert plain["ordered"].result == [4, 5]


def test_opting_out_in_a_cell(shell: Any) -> None:
    cell = """
    import random
    from dagron_nb import no_cache

    @no_cache
    def draw():
        return random.random()

    def keep(draw):
        return draw
    """
    first, _ = run(shell, cell)
    second, _ = run(shell, cell)
    assert second["draw"].status is DONE
    assert second["draw"].result != first["draw"].result
    assert second["keep"].result == second["draw"].result


def test_unfingerprintable_input_is_noted_in_the_summary(shell: Any) -> None:
    import threading

    shell.user_ns["lock"] = threading.Lock()
    cell = "def guarded(lock):\n    return 1\n"
    run(shell, cell)
    again, out = run(shell, cell)
    assert again["guarded"].status is DONE
    assert "note: 'guarded' always runs: input 'lock' of 'guarded'" in out


def test_cache_table_and_clear(shell: Any) -> None:
    run(shell, FIVE.replace("SCALE", "1"))
    run(shell, FIVE.replace("SCALE", "1"))
    table = shell.run_line_magic("dagron", "cache")
    assert list(table.columns[:4]) == ["node", "size", "age", "hits"]
    assert sorted(table["node"]) == ["evens", "load", "odds", "report", "total"]
    assert set(table["hits"]) == {1}
    with capture_output() as out:
        shell.run_line_magic("dagron", "cache clear")
    assert "cleared 5 cached result(s)" in out.stdout
    assert len(shell.run_line_magic("dagron", "cache")) == 0
    with pytest.raises(UsageError, match="dagron cache clear"):
        shell.run_line_magic("dagron", "cache purge")
    with pytest.raises(UsageError, match="cache dir PATH"):
        shell.run_line_magic("dagron", "cache dir")
    with pytest.raises(UsageError, match="needs a DAG, Pipeline or ExecutionResult"):
        shell.run_line_magic("dagron", "plan")
