"""rerun.py: "Re-run failed" runs what did not succeed; the rest gives its last values."""

from __future__ import annotations

import doctest
import functools
import textwrap
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus, Pipeline
from dagron_nb.execution.capture import OutputCapture
from dagron_nb.notebook import rerun
from dagron_nb.notebook.live import LiveDAG


def test_docstring_examples() -> None:
    outcome = doctest.testmod(rerun, optionflags=doctest.ELLIPSIS)
    assert outcome.attempted > 0
    assert outcome.failed == 0


def test_a_pipeline_reruns_only_what_failed_with_the_values_it_had() -> None:
    calls: list[str] = []
    flaky = {"broken": True}

    def load() -> list[int]:
        calls.append("load")
        return [1, 2, 3]

    def total(load: list[int]) -> int:
        calls.append("total")
        if flaky["broken"]:
            raise ValueError("not yet")
        print("summing", len(load))
        return sum(load)

    def report(total: int) -> str:
        calls.append("report")
        return f"total={total}"

    pipeline = Pipeline([load, total, report])
    live = LiveDAG(pipeline)
    first = pipeline.execute(callbacks=[live, OutputCapture()])
    assert first["report"].status is NodeStatus.SKIPPED
    assert live.can_rerun
    flaky["broken"] = False
    second = live.rerun_failed()
    assert second is not None
    assert second.ok
    assert second["report"].result == "total=6"
    assert calls == ["load", "total", "total", "report"]  # load did not run again
    assert second.captured_output == {"total": "summing 3\n"}  # captured anew
    assert not live.can_rerun
    assert live.rerun_failed() is None  # nothing left to re-run


def test_a_users_own_decorator_is_kept() -> None:
    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def inner() -> Any:
            seen.append("decorated")
            return fn()

        return inner

    seen: list[str] = []
    dag = dagron.DAG.builder().add_node("a").build()
    first = dagron.DAGExecutor(dag).execute({"a": logged(lambda: 1 / 0)})
    tasks = rerun.rerun_tasks(first)
    assert tasks["a"] is first.tasks[0]  # type: ignore[index]
    assert seen == ["decorated"]


def test_the_magic_stores_the_rerun_result(
    captured_shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagron_nb.notebook.live as live_module

    made: list[LiveDAG] = []

    class Kept(live_module.LiveDAG):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(live_module, "LiveDAG", Kept)
    shell = captured_shell
    shell.run_line_magic("load_ext", "dagron_nb")
    shell.user_ns["attempts"] = []
    cell = textwrap.dedent(
        """
        def first():
            return 20
        def second(first):
            attempts.append(1)
            if len(attempts) == 1:
                raise ValueError("flaky")
            return first + 1
        """
    )
    shell.run_cell_magic("dagron", "--no-raise -o flaky_result", cell)
    assert not shell.user_ns["flaky_result"].ok
    (live,) = made
    assert live.can_rerun
    again = live.rerun_failed()  # what the widget's button does
    assert again is not None
    assert shell.user_ns["flaky_result"] is again
    assert again["second"].result == 21
