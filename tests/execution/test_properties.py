"""Invariants on random DAGs with random failures, for the scheduler and both executors.

For every run: exactly one terminal status and one NodeResult per node, counts
that add up, no node starting before all its predecessors completed (checked
on the order the tasks themselves record), the skip sets of DESIGN §3, and one
callback of the right kind per node, in dependency order.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagron_nb import DAG, AsyncDAGExecutor, DAGExecutor, ExecutionResult, NodeStatus
from dagron_nb.core.plan import cost_list, priority_ranks
from dagron_nb.execution.scheduler import Scheduler

S = NodeStatus
#: a run that is not over by then is a hang; it shows up as TIMED_OUT / CANCELLED nodes
HANG_GUARD = 10.0


@dataclass(frozen=True)
class Case:
    dag: DAG
    failing: frozenset[str]
    fail_fast: bool
    max_workers: int | None
    coroutines: bool  # async executor only: coroutine tasks instead of thread-pool ones
    seed: int


@st.composite
def cases(draw: st.DrawFn, max_nodes: int = 200) -> Case:
    n = draw(st.integers(1, max_nodes))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0, 1, 2, 3]))
    failure_rate = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    rng = random.Random(seed)
    # nodes are inserted in a shuffled order; edges only go from lower to higher
    # rank, so the graph is acyclic whatever the insertion order
    names = [f"n{i}" for i in range(n)]
    dag = DAG().add_nodes(rng.sample(names, n))
    for v in range(1, n):
        for u in rng.sample(range(v), min(v, rng.randint(0, density))):
            dag.add_edge(names[u], names[v])
    failing = frozenset(name for name in names if rng.random() < failure_rate)
    return Case(
        dag=dag,
        failing=failing,
        fail_fast=draw(st.booleans()),
        max_workers=draw(st.sampled_from([1, 2, 4, None])),
        coroutines=draw(st.booleans()),
        seed=seed,
    )


class Witness:
    """Tasks and callbacks of one run: records starts, ends and callback events."""

    def __init__(self, case: Case, kind: str) -> None:
        self.case = case
        self.coroutines = case.coroutines and kind == "async"
        self.lock = threading.Lock()
        self.order: list[tuple[str, str]] = []  # recorded by the tasks themselves
        self.events: list[tuple[str, str]] = []  # recorded by the callbacks

    def _note(self, log: list[tuple[str, str]], kind: str, name: str) -> None:
        with self.lock:
            log.append((kind, name))

    def task(self, name: str) -> Any:
        fails = name in self.case.failing

        def run() -> str:
            self._note(self.order, "start", name)
            self._note(self.order, "end", name)
            if fails:
                raise RuntimeError(f"{name} failed on purpose")
            return name

        async def run_async() -> str:
            return run()

        return run_async if self.coroutines else run

    # the callbacks protocol
    def on_node_start(self, name: str) -> None:
        self._note(self.events, "start", name)

    def on_node_complete(self, name: str, result: Any) -> None:
        assert result == name
        self._note(self.events, "complete", name)

    def on_node_error(self, name: str, error: BaseException) -> None:
        assert str(error) == f"{name} failed on purpose"
        self._note(self.events, "error", name)

    def on_node_skip(self, name: str) -> None:
        self._note(self.events, "skip", name)


def execute(kind: str, case: Case, witness: Witness) -> ExecutionResult:
    tasks = {name: witness.task(name) for name in case.dag.nodes()}
    if kind == "thread":
        executor = DAGExecutor(
            case.dag, max_workers=case.max_workers, fail_fast=case.fail_fast, callbacks=witness
        )
        return executor.execute(tasks, timeout=HANG_GUARD)

    async def main() -> ExecutionResult:
        executor = AsyncDAGExecutor(
            case.dag, max_workers=case.max_workers, fail_fast=case.fail_fast, callbacks=witness
        )
        return await executor.execute(tasks, timeout=HANG_GUARD)

    return asyncio.run(main())


def check_run(case: Case, result: ExecutionResult, witness: Witness) -> None:
    dag = case.dag
    nodes = dag.nodes()
    status = {name: nr.status for name, nr in result.node_results.items()}

    # one terminal status and one NodeResult per node; counts add up
    assert result.names == nodes
    assert list(status) == nodes
    assert all(s.is_terminal for s in status.values())
    assert sum(result.counts.values()) == dag.node_count() == len(result)
    assert result.counts[S.PENDING] == result.counts[S.RUNNING] == 0
    assert result.timed_out == result.cancelled == result.cache_hits == 0

    # the tasks' own record: a node starts only after its predecessors completed
    position = {event: i for i, event in enumerate(witness.order)}
    started = {name for kind, name in witness.order if kind == "start"}
    assert len(witness.order) == 2 * len(started)  # each task ran at most once
    for v in started:
        for u in dag.predecessors(v):
            assert status[u] is S.COMPLETED
            assert position[("end", u)] < position[("start", v)]

    # statuses follow from what ran and what was meant to fail
    for name in nodes:
        if name in started:
            expected = S.FAILED if name in case.failing else S.COMPLETED
            assert status[name] is expected, name
            nr = result[name]
            assert nr.started_at is not None
            assert nr.finished_at is not None
            assert nr.worker is not None
        else:
            assert status[name] is S.SKIPPED, name
            assert result[name].started_at is None

    failed = {n for n, s in status.items() if s is S.FAILED}
    skipped = {n for n, s in status.items() if s is S.SKIPPED}
    below_failures = set().union(*(dag.descendants(f) for f in failed))
    if case.fail_fast:
        # nothing new after the first failure: the never-started nodes are SKIPPED
        assert skipped == set(nodes) - started
        assert below_failures <= skipped
        for name in skipped:
            reason = result[name].reason or ""
            culprit = reason.split("'")[1]
            assert culprit in failed
            if reason.startswith("upstream"):
                assert name in dag.descendants(culprit)
            else:
                assert reason == f"not started: {culprit!r} failed and fail_fast is on"
    else:
        # independent branches go on: exactly the descendants of failures are SKIPPED
        assert skipped == below_failures
        assert failed == case.failing - below_failures
        for name in skipped:
            culprit = (result[name].reason or "").removeprefix("upstream ").split("'")[1]
            assert culprit in failed
            assert name in dag.descendants(culprit)

    # callbacks: one of the right kind per node (plus the start of those that ran)
    kinds: dict[str, list[str]] = {name: [] for name in nodes}
    for kind, name in witness.events:
        kinds[name].append(kind)
    for name in nodes:
        if status[name] is S.COMPLETED:
            assert kinds[name] == ["start", "complete"]
        elif status[name] is S.FAILED:
            assert kinds[name] == ["start", "error"]
        else:
            assert kinds[name] == ["skip"]
    index = {event: i for i, event in enumerate(witness.events)}
    for u, v in dag.edges():
        if ("start", v) in index:
            assert index[("complete", u)] < index[("start", v)]


@pytest.mark.parametrize("kind", ["thread", "async"])
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_random_runs_keep_every_invariant(kind: str, case: Case) -> None:
    witness = Witness(case, kind)
    result = execute(kind, case, witness)
    check_run(case, result, witness)


# -- the scheduler alone, under random completion orders ------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_nodes=60), order_seed=st.integers(0, 2**32 - 1))
def test_scheduler_under_random_interleavings(case: Case, order_seed: int) -> None:
    dag = case.dag
    index = dag.index()
    names = index.names
    sched = Scheduler(
        index,
        priority_ranks(index, cost_list(index, None)),
        [True] * len(names),
        fail_fast=case.fail_fast,
        record=True,
    )
    rng = random.Random(order_seed)
    limit = case.max_workers or len(names)
    running: list[int] = []
    done: set[int] = set()
    steps = 0
    while sched.remaining:
        steps += 1
        assert steps <= 4 * len(names) + 4, "the scheduler stopped making progress"
        while len(running) < limit:
            node = sched.take()
            if node < 0:
                break
            # handed out only when every predecessor completed
            assert all(p in done for p in index.pred[node])
            assert sched.status[node] is S.RUNNING
            running.append(node)
        assert running, "nothing running and nothing ready, yet nodes remain"
        node = running.pop(rng.randrange(len(running)))
        failed = names[node] in case.failing
        ready = sched.finish(node, S.FAILED if failed else S.COMPLETED)
        if not failed:
            done.add(node)
        sched.push(ready)
        assert sched.running == len(running)
    assert running == []
    assert all(s.is_terminal for s in sched.status)
    skipped = {names[i] for i, s in enumerate(sched.status) if s is S.SKIPPED}
    failed_nodes = {names[i] for i, s in enumerate(sched.status) if s is S.FAILED}
    below = set().union(*(dag.descendants(f) for f in failed_nodes))
    if case.fail_fast:
        assert below <= skipped
        assert len(failed_nodes) <= limit  # only nodes already running can fail after the first
    else:
        assert skipped == below
    # every side-effect transition was recorded exactly once
    events = [names[e.node] for e in sched.drain_events()]
    assert sorted(events) == sorted(skipped)
