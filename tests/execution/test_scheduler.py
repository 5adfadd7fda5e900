"""The scheduler state machine on its own: no threads, no event loop, no clock."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest

from dagron_nb import DAG, InvalidTransitionError, NodeStatus
from dagron_nb.core.plan import cost_list, priority_ranks
from dagron_nb.execution.scheduler import NO_TASK, Scheduler, Transition

S = NodeStatus


class Harness:
    """A Scheduler with name-based helpers, so tests read like the DAG they use."""

    def __init__(
        self,
        dag: DAG,
        *,
        costs: Mapping[str, float] | None = None,
        taskless: tuple[str, ...] = (),
        fail_fast: bool = True,
        record: bool = True,
    ) -> None:
        index = dag.index()
        self.names = index.names
        self.pos = index.position
        self.sched = Scheduler(
            index,
            priority_ranks(index, cost_list(index, costs)),
            [name not in taskless for name in self.names],
            fail_fast=fail_fast,
            record=record,
        )

    def take(self) -> str | None:
        node = self.sched.take()
        return None if node < 0 else self.names[node]

    def take_all(self) -> list[str]:
        out = []
        while (name := self.take()) is not None:
            out.append(name)
        return out

    def finish(self, name: str, status: NodeStatus = S.COMPLETED) -> list[str]:
        ready = self.sched.finish(self.pos[name], status)
        self.sched.push(ready)
        return [self.names[i] for i in ready]

    def status(self, name: str) -> NodeStatus:
        return self.sched.status[self.pos[name]]

    def reason(self, name: str) -> str | None:
        return self.sched.reason[self.pos[name]]

    def statuses(self) -> dict[str, NodeStatus]:
        return dict(zip(self.names, self.sched.status))

    def events(self) -> list[tuple[str, NodeStatus]]:
        return [(self.names[e.node], e.status) for e in self.sched.drain_events()]


def chain(*names: str) -> DAG:
    return DAG.builder().add_edges(itertools.pairwise(names)).build()


def diamond() -> DAG:
    return DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]).build()


# -- readiness and the take / finish / push cycle ----------------------------------------
def test_a_diamond_runs_dependencies_first() -> None:
    h = Harness(diamond())
    assert h.sched.remaining == 4
    assert h.take_all() == ["a"]
    assert h.status("a") is S.RUNNING
    assert h.sched.running == 1
    assert h.take() is None  # nothing else is ready while a runs
    assert h.finish("a") == ["b", "c"]
    assert h.take_all() == ["b", "c"]
    assert h.finish("b") == []  # d still waits for c
    assert h.take() is None
    assert h.finish("c") == ["d"]
    assert h.take() == "d"
    h.finish("d")
    assert h.sched.remaining == 0
    assert h.sched.running == 0
    assert set(h.statuses().values()) == {S.COMPLETED}
    assert h.events() == []  # nothing happened on the scheduler's own initiative


def test_finished_nodes_are_not_ready_until_pushed() -> None:
    h = Harness(chain("a", "b"))
    assert h.take() == "a"
    ready = h.sched.finish(h.pos["a"], S.COMPLETED)
    assert ready == [h.pos["b"]]
    # the driver may tell its callbacks about a before it publishes b
    assert h.take() is None
    assert not h.sched.has_ready()
    h.sched.push(ready)
    assert h.sched.has_ready()
    assert h.take() == "b"


def test_cache_hit_satisfies_successors_without_running() -> None:
    h = Harness(chain("a", "b"))
    ready = h.sched.cache_hit(h.pos["a"])
    assert [h.names[i] for i in ready] == ["b"]
    assert h.status("a") is S.CACHE_HIT
    assert h.sched.running == 0
    assert h.sched.remaining == 1
    h.sched.push(ready)
    assert h.take() == "b"


def test_a_node_with_many_predecessors_waits_for_all() -> None:
    dag = DAG.builder().add_edges([(p, "join") for p in "pqrs"]).build()
    h = Harness(dag)
    assert h.take_all() == ["p", "q", "r", "s"]
    for p in "pqr":
        assert h.finish(p) == []
    assert h.finish("s") == ["join"]


# -- priority -------------------------------------------------------------------------
def test_priority_is_the_largest_bottom_level() -> None:
    # short (1 node) inserted before long (a chain of 3): the chain goes first
    dag = DAG().add_nodes(["short", "l1", "l2", "l3"]).add_edges([("l1", "l2"), ("l2", "l3")])
    h = Harness(dag)
    assert h.take_all() == ["l1", "short"]


def test_costs_change_the_priority() -> None:
    dag = DAG().add_nodes(["short", "l1", "l2"]).add_edge("l1", "l2")
    assert Harness(dag, costs={"short": 5.0}).take_all() == ["short", "l1"]
    assert Harness(dag, costs={"short": 2.0}).take_all() == ["short", "l1"]  # tie: insertion
    assert Harness(dag, costs={"short": 1.5}).take_all() == ["l1", "short"]


def test_ties_go_by_insertion_order() -> None:
    h = Harness(DAG().add_nodes(["c", "a", "b"]))
    assert h.take_all() == ["c", "a", "b"]


def test_peek_shows_the_next_node_without_taking_it() -> None:
    # best effort: a's failure skips a2 only; its stale heap entry is passed over
    h = Harness(DAG.builder().add_edges([("a", "a2"), ("b", "b2")]).build(), fail_fast=False)
    assert h.take() == "a"
    assert h.names[h.sched.peek()] == "b"
    assert h.status("b") is S.PENDING
    assert h.sched.running == 1
    assert h.take() == "b"
    h.finish("b")
    h.sched.push([h.pos["a2"]])  # a stale entry: a2 will be skipped below
    h.finish("a", S.FAILED)
    assert h.names[h.sched.peek()] == "b2"
    assert h.take_all() == ["b2"]
    assert h.sched.peek() == -1


def test_ready_nodes_published_later_still_go_by_priority() -> None:
    # a -> x (cheap) and a -> y -> z: after a, y (bottom level 2) beats x (1)
    dag = DAG.builder().add_edges([("a", "x"), ("a", "y"), ("y", "z")]).build()
    h = Harness(dag)
    h.take()
    h.finish("a")
    assert h.take_all() == ["y", "x"]


def test_one_at_a_time_follows_a_topological_order() -> None:
    dag = (
        DAG.builder()
        .add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("e", "c"), ("d", "f")])
        .build()
    )
    h = Harness(dag)
    order = []
    while (name := h.take()) is not None:
        order.append(name)
        h.finish(name)
    assert len(order) == dag.node_count()
    for u, v in dag.edges():
        assert order.index(u) < order.index(v)


# -- failures -------------------------------------------------------------------------
def test_fail_fast_skips_every_pending_node_and_hands_out_nothing() -> None:
    dag = DAG.builder().add_edges([("a", "a2"), ("b", "b2"), ("c", "c2")]).build()
    h = Harness(dag, fail_fast=True)
    assert h.take_all() == ["a", "b", "c"]
    h.finish("a", S.FAILED)
    assert h.sched.stopped
    assert h.status("a2") is S.SKIPPED
    assert h.reason("a2") == "upstream 'a' failed"
    # not descendants of a: skipped because of fail-fast, with that reason
    assert h.status("b2") is S.SKIPPED
    assert h.reason("b2") == "not started: 'a' failed and fail_fast is on"
    # running nodes keep running and keep their real status
    assert h.status("b") is S.RUNNING
    assert h.finish("b") == []  # b2 was skipped already: not ready
    h.sched.push([h.pos["b2"]])  # even a forced push hands out nothing more
    assert h.take() is None
    h.finish("c", S.FAILED)  # a second failure changes nothing else
    assert h.sched.remaining == 0
    assert h.statuses() == {
        "a": S.FAILED,
        "a2": S.SKIPPED,
        "b": S.COMPLETED,
        "b2": S.SKIPPED,
        "c": S.FAILED,
        "c2": S.SKIPPED,
    }
    assert h.events() == [
        ("a2", S.SKIPPED),
        ("b2", S.SKIPPED),
        ("c2", S.SKIPPED),
    ]


def test_best_effort_skips_exactly_the_descendants() -> None:
    dag = (
        DAG.builder()
        .add_edges(
            [
                ("root", "bad"),
                ("root", "good"),
                ("bad", "child"),
                ("child", "grandchild"),
                ("good", "join"),
                ("bad", "join"),
                ("good", "after_good"),
            ]
        )
        .build()
    )
    h = Harness(dag, fail_fast=False)
    h.take()
    h.finish("root")
    assert h.take_all() == ["bad", "good"]
    h.finish("bad", S.FAILED)
    assert not h.sched.stopped
    assert h.events() == [("join", S.SKIPPED), ("child", S.SKIPPED), ("grandchild", S.SKIPPED)]
    for name in ("child", "grandchild", "join"):
        assert h.reason(name) == "upstream 'bad' failed"
    assert h.finish("good") == ["after_good"]  # join is skipped, not ready
    assert h.take() == "after_good"
    h.finish("after_good")
    assert h.sched.remaining == 0
    assert {n for n, s in h.statuses().items() if s is S.SKIPPED} == {
        "child",
        "join",
        "grandchild",
    }


def test_timed_out_node_cascades_like_a_failure_with_its_own_reason() -> None:
    h = Harness(chain("a", "b", "c"), fail_fast=False)
    h.take()
    h.finish("a", S.TIMED_OUT)
    assert h.reason("b") == "upstream 'a' timed out"
    assert h.reason("c") == "upstream 'a' timed out"
    h2 = Harness(DAG().add_nodes(["a", "x"]), fail_fast=True)
    assert h2.take() == "a"
    h2.finish("a", S.TIMED_OUT)
    assert h2.reason("x") == "not started: 'a' timed out and fail_fast is on"


def test_best_effort_failure_keeps_independent_ready_nodes() -> None:
    h = Harness(DAG().add_nodes(["a", "b", "c"]), fail_fast=False)
    assert h.take() == "a"
    h.finish("a", S.FAILED)
    assert h.take_all() == ["b", "c"]


# -- taskless nodes -------------------------------------------------------------------
def test_taskless_nodes_are_skipped_and_do_not_hold_back_successors() -> None:
    dag = DAG.builder().add_edges([("group", "x"), ("group", "y"), ("x", "end")]).build()
    h = Harness(dag, taskless=("group",))
    assert h.status("group") is S.SKIPPED
    assert h.reason("group") == NO_TASK == "no task"
    assert h.events() == [("group", S.SKIPPED)]
    assert h.sched.remaining == 3
    assert h.take_all() == ["x", "y"]


def test_chains_of_taskless_nodes_resolve_at_once() -> None:
    dag = chain("a", "t1", "t2", "b", "t3")
    h = Harness(dag, taskless=("t1", "t2", "t3"))
    assert h.take() == "a"
    assert h.finish("a") == ["b"]  # t1 and t2 resolved on the way
    assert [h.status(n) for n in ("t1", "t2")] == [S.SKIPPED, S.SKIPPED]
    h.take()
    assert h.finish("b") == []  # t3 is a leaf: skipped, nothing to hand out
    assert h.status("t3") is S.SKIPPED
    assert h.sched.remaining == 0


def test_taskless_nodes_below_a_failure_are_skipped_as_upstream_failures() -> None:
    h = Harness(chain("a", "t", "b"), taskless=("t",), fail_fast=False)
    h.take()
    h.finish("a", S.FAILED)
    assert h.reason("t") == "upstream 'a' failed"
    assert h.reason("b") == "upstream 'a' failed"


def test_a_dag_of_only_taskless_nodes_is_done_at_once() -> None:
    h = Harness(chain("a", "b"), taskless=("a", "b"))
    assert h.sched.remaining == 0
    assert h.take() is None


# -- cancel and expire ----------------------------------------------------------------
def test_cancel_turns_pending_nodes_cancelled_and_lets_running_ones_finish() -> None:
    h = Harness(DAG().add_nodes(["a", "b", "c"]).add_edge("a", "c"))
    assert h.take() == "a"
    h.sched.cancel("cancelled: cancel_event was set")
    assert h.sched.stopped
    assert h.status("b") is S.CANCELLED
    assert h.reason("c") == "cancelled: cancel_event was set"
    assert h.take() is None
    assert h.status("a") is S.RUNNING
    assert h.finish("a") == []  # c is cancelled, not ready
    assert h.sched.remaining == 0
    assert h.events() == [("b", S.CANCELLED), ("c", S.CANCELLED)]


def test_cancel_twice_is_harmless() -> None:
    h = Harness(DAG().add_nodes(["a", "b"]))
    h.sched.cancel("first")
    h.sched.cancel("second")
    assert h.reason("a") == "first"


def test_expire_times_out_running_nodes_and_cancels_the_rest() -> None:
    h = Harness(DAG().add_nodes(["a", "b", "c"]).add_edge("a", "c"))
    assert h.take_all() == ["a", "b"]
    h.finish("b")
    timed_out = h.sched.expire("not started: the run's timeout of 1 s passed")
    assert [h.names[i] for i in timed_out] == ["a"]
    assert h.statuses() == {"a": S.TIMED_OUT, "b": S.COMPLETED, "c": S.CANCELLED}
    assert h.reason("c") == "not started: the run's timeout of 1 s passed"
    assert h.sched.remaining == 0
    assert h.sched.running == 0
    assert h.events() == [("a", S.TIMED_OUT), ("c", S.CANCELLED)]
    # the late task reports in: that is an illegal transition, so drivers must check first
    with pytest.raises(InvalidTransitionError, match=r"node 'a' cannot go from"):
        h.finish("a")


def test_abandon_a_running_node() -> None:
    h = Harness(chain("a", "b"), fail_fast=False)
    h.take()
    h.sched.abandon(h.pos["a"], S.TIMED_OUT, None)
    assert h.status("a") is S.TIMED_OUT
    assert h.status("b") is S.SKIPPED
    assert h.sched.running == 0
    assert h.events() == [("a", S.TIMED_OUT), ("b", S.SKIPPED)]
    h2 = Harness(DAG().add_nodes(["a", "b"]))
    h2.take_all()
    h2.sched.abandon(h2.pos["a"], S.CANCELLED, "interrupted twice")
    assert h2.reason("a") == "interrupted twice"
    assert h2.status("b") is S.RUNNING  # cancelling one node is not a failure


# -- illegal transitions --------------------------------------------------------------
def test_finishing_a_node_that_is_not_running_raises() -> None:
    h = Harness(chain("a", "b"))
    with pytest.raises(InvalidTransitionError, match=r"node 'a' cannot go from .*PENDING"):
        h.finish("a")
    h.take()
    h.finish("a")
    with pytest.raises(InvalidTransitionError, match=r"node 'a' cannot go from .*COMPLETED"):
        h.finish("a")


@pytest.mark.parametrize("status", [S.PENDING, S.RUNNING, S.SKIPPED])
def test_running_node_cannot_finish_with_a_non_exit_status(status: NodeStatus) -> None:
    h = Harness(chain("a", "b"))
    h.take()
    with pytest.raises(InvalidTransitionError, match=r"node 'a' cannot go from .*RUNNING"):
        h.finish("a", status)
    assert h.status("a") is S.RUNNING  # the refused change did not happen


def test_cache_hit_of_a_running_node_raises() -> None:
    h = Harness(chain("a", "b"))
    h.take()
    with pytest.raises(InvalidTransitionError, match=r"node 'a' cannot go from .*RUNNING"):
        h.sched.cache_hit(h.pos["a"])


def test_abandon_of_a_finished_node_raises() -> None:
    h = Harness(chain("a", "b"))
    h.take()
    h.finish("a")
    with pytest.raises(InvalidTransitionError):
        h.sched.abandon(h.pos["a"], S.TIMED_OUT, None)


# -- recording ------------------------------------------------------------------------
def test_without_record_no_events_are_kept() -> None:
    h = Harness(chain("a", "b"), fail_fast=False, record=False, taskless=())
    h.take()
    h.finish("a", S.FAILED)
    assert h.status("b") is S.SKIPPED
    assert h.sched.drain_events() == []


def test_drain_events_empties_the_list() -> None:
    h = Harness(chain("t", "a"), taskless=("t",))
    assert h.sched.drain_events() == [Transition(h.pos["t"], S.SKIPPED)]
    assert h.sched.drain_events() == []


def test_empty_dag() -> None:
    h = Harness(DAG())
    assert h.sched.remaining == 0
    assert h.take() is None
