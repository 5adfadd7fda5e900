"""The short GIL switch interval near deadlines (``execution/wakeup.py``).

A run with a deadline lowers the interval early enough that the thread watching
the deadline is not itself kept waiting for the GIL, and gives it back when the
run ends; runs without deadlines never touch it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator

import pytest

from dagron_nb import DAG, AsyncDAGExecutor, DAGExecutor
from dagron_nb.execution import wakeup
from dagron_nb.execution.wakeup import FAST, SwitchInterval

DEFAULT = 0.005


@pytest.fixture(autouse=True)
def default_interval() -> Iterator[None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT)
    yield
    sys.setswitchinterval(saved)


def seen_interval(wait: float) -> float:
    """The switch interval, once it is FAST or after ``wait`` seconds."""
    until = time.perf_counter() + wait
    while sys.getswitchinterval() != FAST and time.perf_counter() < until:
        time.sleep(0.005)
    return sys.getswitchinterval()


def test_holds_nest_and_the_last_release_restores_the_interval() -> None:
    first, second = SwitchInterval(), SwitchInterval()
    first.hold()
    second.hold()
    first.hold()  # a second hold by the same run counts once
    assert sys.getswitchinterval() == FAST
    first.release()
    assert sys.getswitchinterval() == FAST
    second.release()
    second.release()  # idempotent
    assert sys.getswitchinterval() == DEFAULT


def test_near_holds_only_within_lead() -> None:
    switch = SwitchInterval()
    now = time.perf_counter()
    switch.near(None, now)
    switch.near(now + wakeup.LEAD + 5.0, now)
    assert not switch.held
    switch.near(now + wakeup.LEAD / 2, now)
    assert switch.held
    switch.release()
    assert sys.getswitchinterval() == DEFAULT


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_a_run_whose_deadline_is_near_is_fast_from_its_start(kind: str) -> None:
    # timeout 0.9 s: with the old 0.1 s lead the interval dropped only after 0.8 s
    dag = DAG().add_nodes(["probe"])
    tasks = {"probe": lambda: seen_interval(0.4)}
    if kind == "threads":
        result = DAGExecutor(dag).execute(tasks, timeout=0.9)
    else:
        result = asyncio.run(AsyncDAGExecutor(dag).execute(tasks, timeout=0.9))
    assert result.node_results["probe"].result == FAST
    assert sys.getswitchinterval() == DEFAULT


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_runs_without_a_near_deadline_leave_the_interval_alone(kind: str) -> None:
    dag = DAG().add_nodes(["a", "b"])
    tasks = {"a": sys.getswitchinterval, "b": sys.getswitchinterval}
    for timeout in (None, 30.0):
        if kind == "threads":
            result = DAGExecutor(dag).execute(tasks, timeout=timeout)
        else:
            result = asyncio.run(AsyncDAGExecutor(dag).execute(tasks, timeout=timeout))
        assert {r.result for r in result.node_results.values()} == {DEFAULT}
        assert sys.getswitchinterval() == DEFAULT


class IntervalAtRunStart:
    """Callbacks that note the switch interval when the run starts, before any task."""

    def __init__(self) -> None:
        self.seen: float | None = None

    def on_run_start(self, dag: DAG) -> None:
        self.seen = sys.getswitchinterval()


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
@pytest.mark.parametrize(
    ("timeout", "node_timeouts", "expected"),
    [
        (0.5, None, FAST),  # the run's deadline is within the lead
        (None, {"a": 30.0, "b": 0.5}, FAST),  # b may start at once, its deadline is near
        (30.0, {"a": 30.0}, DEFAULT),
    ],
)
def test_the_interval_is_lowered_before_any_task_starts(
    kind: str, timeout: float | None, node_timeouts: dict[str, float] | None, expected: float
) -> None:
    # spinning tasks that start first would make the lowering itself wait for the GIL
    dag = DAG().add_nodes(["a", "b"])
    tasks = {"a": lambda: 1, "b": lambda: 2}
    probe = IntervalAtRunStart()
    if kind == "threads":
        DAGExecutor(dag, callbacks=probe).execute(tasks, timeout, node_timeouts=node_timeouts)
    else:
        executor = AsyncDAGExecutor(dag, callbacks=probe)
        asyncio.run(executor.execute(tasks, timeout, node_timeouts=node_timeouts))
    assert probe.seen == expected
    assert sys.getswitchinterval() == DEFAULT
