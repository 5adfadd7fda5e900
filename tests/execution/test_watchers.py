"""Watchers: observers that poll a run's live columns instead of hearing every node."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.core.callbacks import CallbackFanout, RunView

PATIENCE = 10.0  # generous bound for hangs only


class Watcher:
    """Records the view it was given; also defines a per-node method it must not get."""

    def __init__(self) -> None:
        self.views: list[RunView] = []
        self.node_calls: list[str] = []
        self.ended: list[dagron.ExecutionResult] = []
        self.started_runs = 0

    def watch_run(self, view: RunView) -> None:
        self.views.append(view)

    def on_run_start(self, dag: dagron.DAG) -> None:
        self.started_runs += 1

    def on_node_start(self, name: str) -> None:
        self.node_calls.append(name)

    def on_run_end(self, result: dagron.ExecutionResult) -> None:
        self.ended.append(result)


def wait_until(predicate: Any, timeout: float = PATIENCE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)  # polling a live view is what a watcher does
    return False


def test_a_watcher_gets_the_view_once_and_no_per_node_calls() -> None:
    fanout = CallbackFanout(Watcher())
    assert fanout.watchers
    assert not fanout.node_events
    assert fanout.run_start
    assert fanout.run_end


def test_a_watcher_beside_a_listener_keeps_the_listener_informed() -> None:
    seen: list[str] = []
    listener = dagron.ExecutionCallbacks(on_complete=lambda name, value: seen.append(name))
    watcher = Watcher()
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    result = dagron.DAGExecutor(dag, callbacks=[watcher, listener]).execute(
        {"a": lambda: 1, "b": lambda: 2}
    )
    assert seen == ["a", "b"]
    assert watcher.node_calls == []
    assert len(watcher.views) == 1
    assert watcher.started_runs == 1
    assert watcher.ended == [result]
    assert watcher.views[0].statuses == result.statuses


def _gated_dag() -> tuple[dagron.DAG, threading.Event]:
    dag = dagron.DAG.builder().add_edge("gate", "after").add_node("boom").build()
    return dag, threading.Event()


def _check_live_view(watcher: Watcher, release: threading.Event) -> None:
    assert wait_until(lambda: bool(watcher.views)), "the watcher never got a view"
    view = watcher.views[0]
    gate = view.names.index("gate")
    boom = view.names.index("boom")
    after = view.names.index("after")
    # while the gate is held, the view shows it RUNNING and the failure already there
    assert wait_until(lambda: view.statuses[gate] is NodeStatus.RUNNING)
    assert wait_until(lambda: view.statuses[boom] is NodeStatus.FAILED)
    assert isinstance(view.errors[boom], ValueError)
    assert view.statuses[after] is NodeStatus.PENDING
    release.set()


def test_the_view_is_live_during_a_thread_run() -> None:
    dag, release = _gated_dag()
    watcher = Watcher()

    def boom() -> None:
        raise ValueError("bad row")

    tasks = {"gate": lambda: release.wait(PATIENCE), "after": lambda: 1, "boom": boom}
    checker = threading.Thread(target=_check_live_view, args=(watcher, release))
    checker.start()
    executor = dagron.DAGExecutor(dag, callbacks=watcher, fail_fast=False, max_workers=2)
    result = executor.execute(tasks)
    checker.join(PATIENCE)
    assert release.is_set(), "the checker did not see the live statuses"
    assert result["gate"].status is NodeStatus.COMPLETED
    assert result["after"].status is NodeStatus.COMPLETED
    assert watcher.views[0].statuses == result.statuses
    assert watcher.node_calls == []


def test_the_view_is_live_during_an_async_run() -> None:
    dag, release = _gated_dag()
    watcher = Watcher()

    async def gate() -> bool:
        while not release.is_set():
            await asyncio.sleep(0.005)
        return True

    async def boom() -> None:
        raise ValueError("bad row")

    async def after() -> int:
        return 1

    async def main() -> dagron.ExecutionResult:
        executor = dagron.AsyncDAGExecutor(dag, callbacks=watcher, fail_fast=False)
        return await executor.execute({"gate": gate, "after": after, "boom": boom})

    checker = threading.Thread(target=_check_live_view, args=(watcher, release))
    checker.start()
    result = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    checker.join(PATIENCE)
    assert release.is_set(), "the checker did not see the live statuses"
    assert result.succeeded == 2
    assert result.failed == 1
    assert watcher.node_calls == []


@pytest.mark.parametrize("fail_fast", [True, False])
def test_skips_and_reasons_show_in_the_view(fail_fast: bool) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_edge("b", "c").build()
    watcher = Watcher()

    def fail() -> None:
        raise RuntimeError("no")

    result = dagron.DAGExecutor(dag, callbacks=watcher, fail_fast=fail_fast).execute(
        {"a": fail, "b": int, "c": int}
    )
    view = watcher.views[0]
    assert view.statuses == [NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.SKIPPED]
    assert view.reasons == result.reasons
    assert view.reasons[1] == "upstream 'a' failed"
