"""The one scheduler: a pure state machine that every executor drives.

It knows nothing of threads, event loops, clocks or callbacks; executors call
it while holding whatever lock they need and do the I/O themselves::

    sched = Scheduler(index, rank, has_task, fail_fast=True)
    while sched.remaining:
        node = sched.take()            # -> index of a ready node (now RUNNING), or -1
        ...run it...
        ready = sched.finish(node, NodeStatus.COMPLETED)
        sched.push(ready)              # publish newly ready nodes (the caller may
                                       # first tell its callbacks about `node`)

State, one entry per node (nodes are the integers of the DAG's ``GraphIndex``):
``status`` (a ``NodeStatus``), ``reason`` (why SKIPPED / CANCELLED), and the
number of predecessors not yet satisfied. Ready nodes wait in a heap keyed by
*rank*: rank 0 is the node with the largest bottom level (see ``core.plan``),
ties broken by insertion order, so ``take()`` always hands out the most urgent
ready node.

Invariants:

* every status change follows ``core.results.TRANSITIONS``; anything else
  raises ``InvalidTransitionError`` naming the node and both statuses;
* a node becomes ready only when every predecessor COMPLETED, hit the cache,
  or is a taskless node (taskless nodes are SKIPPED with reason "no task" the
  moment they become ready, and count as satisfied);
* FAILED or TIMED_OUT: with ``fail_fast`` every PENDING node becomes SKIPPED at
  once and nothing more is handed out; without it exactly the PENDING
  descendants of the failed node become SKIPPED;
* ``cancel()`` turns every PENDING node CANCELLED and hands out nothing more;
  ``expire()`` (a run deadline) does that and turns RUNNING nodes TIMED_OUT;
* ``remaining`` counts nodes without a terminal status; the run is over when it
  reaches 0, and then every node has exactly one terminal status.

Side-effect transitions (cascaded skips, cancellations, expiries) are appended
to ``events`` when ``record`` is set, so a driver can fire callbacks for them
after releasing its lock.
"""

from __future__ import annotations

import operator
from heapq import heappop, heappush
from itertools import compress
from typing import NamedTuple

from dagron_nb.core.errors import InvalidTransitionError
from dagron_nb.core.index import GraphIndex
from dagron_nb.core.results import NodeStatus, check_transition

PENDING = NodeStatus.PENDING
RUNNING = NodeStatus.RUNNING
COMPLETED = NodeStatus.COMPLETED
SKIPPED = NodeStatus.SKIPPED
CANCELLED = NodeStatus.CANCELLED
TIMED_OUT = NodeStatus.TIMED_OUT
FAILED = NodeStatus.FAILED
_RUNNING_EXITS = frozenset({COMPLETED, FAILED, TIMED_OUT, CANCELLED, NodeStatus.CACHE_HIT})

NO_TASK = "no task"


class Transition(NamedTuple):
    """A status change the scheduler made on its own (not the one reported to it)."""

    node: int
    status: NodeStatus


class Scheduler:
    """Readiness, priority, fail-fast, skip and cancel cascades for one run."""

    def __init__(
        self,
        index: GraphIndex,
        rank: list[int],
        has_task: list[bool],
        *,
        fail_fast: bool = True,
        record: bool = False,
    ) -> None:
        n = len(index.names)
        self.names = index.names
        self.status: list[NodeStatus] = [PENDING] * n
        self.reason: list[str | None] = [None] * n
        self.fail_fast = fail_fast
        self.record = record
        self.events: list[Transition] = []
        self.remaining = n
        self.running = 0
        self.stopped = False
        #: why the run was cancelled (the first cancel's reason), None if it was not
        self.cancel_reason: str | None = None
        self._succ = index.succ
        self._waiting = list(map(len, index.pred))
        self._has_task = has_task
        self._all_tasks = all(has_task)  # then no node is ever skipped as taskless
        self._rank = rank
        self._at_rank = [0] * n
        # nodes as the index's own int objects: no new int per node (memory at 1M nodes)
        for node, r in zip(index.position.values(), rank):
            self._at_rank[r] = node
        self._heap: list[int] = []
        roots = list(compress(index.position.values(), map(operator.not_, self._waiting)))
        self.push(self._resolve_taskless(roots))

    # -- handing out work ------------------------------------------------------------
    def take(self) -> int:
        """The most urgent ready node, now RUNNING; -1 if none is ready."""
        heap = self._heap
        status = self.status
        while heap:
            node = self._at_rank[heappop(heap)]
            if status[node] is PENDING:  # a stale entry was swept by a cascade
                status[node] = RUNNING
                self.running += 1
                return node
        return -1

    def peek(self) -> int:
        """The node ``take()`` would hand out next (left PENDING); -1 if none."""
        heap = self._heap
        while heap:
            node = self._at_rank[heap[0]]
            if self.status[node] is PENDING:
                return node
            heappop(heap)  # a stale entry was swept by a cascade
        return -1

    def has_ready(self) -> bool:
        return bool(self._heap) and not self.stopped

    def is_ready(self, node: int) -> bool:
        """Is ``node`` PENDING with every predecessor satisfied (and the run going)?"""
        return self.status[node] is PENDING and not self._waiting[node] and not self.stopped

    def start(self, node: int) -> None:
        """A ready node started without ``take()``: a driver whose cluster picks
        the order itself (Dask) reports each start. Its heap entry goes stale."""
        if not self.is_ready(node):
            raise InvalidTransitionError(self.names[node], self.status[node], RUNNING)
        self.status[node] = RUNNING
        self.running += 1

    def push(self, nodes: list[int]) -> None:
        """Publish nodes that ``finish`` reported ready."""
        if self.stopped:
            return
        heap = self._heap
        rank = self._rank
        for node in nodes:
            heappush(heap, rank[node])

    # -- reports from the driver -------------------------------------------------
    def finish(self, node: int, status: NodeStatus) -> list[int]:
        """Record that a RUNNING node ended with ``status``; returns nodes now ready."""
        old = self.status[node]
        if old is not RUNNING or status not in _RUNNING_EXITS:
            raise InvalidTransitionError(self.names[node], old, status)
        self.status[node] = status
        self.running -= 1
        self.remaining -= 1
        if status is COMPLETED or status is NodeStatus.CACHE_HIT:
            return self._satisfy(node)
        if status is FAILED or status is TIMED_OUT:
            self._after_failure(node, status)
        return []

    def cache_hit(self, node: int) -> list[int]:
        """A PENDING ready node whose result came from a cache, without running."""
        check_transition(self.names[node], self.status[node], NodeStatus.CACHE_HIT)
        self.status[node] = NodeStatus.CACHE_HIT
        self.remaining -= 1
        return self._satisfy(node)

    def _satisfy(self, node: int) -> list[int]:
        ready = []
        waiting = self._waiting
        for t in self._succ[node]:
            waiting[t] -= 1
            if not waiting[t] and self.status[t] is PENDING:
                ready.append(t)
        return self._resolve_taskless(ready) if ready and not self._all_tasks else ready

    def _resolve_taskless(self, ready: list[int]) -> list[int]:
        """Skip taskless nodes as they become ready; their successors may follow."""
        has_task = self._has_task
        if all(has_task[i] for i in ready):
            return ready
        out: list[int] = []
        stack = list(reversed(ready))
        while stack:
            node = stack.pop()
            if has_task[node]:
                out.append(node)
                continue
            self._set(node, SKIPPED, NO_TASK)
            for t in self._succ[node]:
                self._waiting[t] -= 1
                if not self._waiting[t] and self.status[t] is PENDING:
                    stack.append(t)
        return out

    def _after_failure(self, node: int, status: NodeStatus) -> None:
        name = self.names[node]
        verb = "timed out" if status is TIMED_OUT else "failed"
        upstream = f"upstream {name!r} {verb}"
        seen = {node}
        stack = list(self._succ[node])
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if self.status[t] is PENDING:
                self._set(t, SKIPPED, upstream)
            stack.extend(self._succ[t])
        if self.fail_fast:
            self._sweep(SKIPPED, f"not started: {name!r} {verb} and fail_fast is on")

    def cancel(self, reason: str) -> None:
        """Stop handing out work; every PENDING node becomes CANCELLED."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self._sweep(CANCELLED, reason)

    def expire(self, reason: str) -> list[int]:
        """The run's deadline passed: RUNNING -> TIMED_OUT, PENDING -> CANCELLED.

        Returns the nodes that timed out, so the driver can record their errors.
        """
        timed_out = [i for i, s in enumerate(self.status) if s is RUNNING]
        for node in timed_out:
            self._set(node, TIMED_OUT, None)
            self.running -= 1
        self._sweep(CANCELLED, reason)
        return timed_out

    def abandon(self, node: int, status: NodeStatus, reason: str | None) -> None:
        """Give up on one RUNNING node (its own timeout, or a second interrupt)."""
        self._set(node, status, reason)
        self.running -= 1
        if status is TIMED_OUT:
            self._after_failure(node, status)

    def _sweep(self, status: NodeStatus, reason: str) -> None:
        self.stopped = True
        self._heap.clear()
        for node, s in enumerate(self.status):
            if s is PENDING:
                self._set(node, status, reason)

    def _set(self, node: int, status: NodeStatus, reason: str | None) -> None:
        check_transition(self.names[node], self.status[node], status)
        self.status[node] = status
        self.reason[node] = reason
        if status is not RUNNING:
            self.remaining -= 1
        if self.record:
            self.events.append(Transition(node, status))

    def drain_events(self) -> list[Transition]:
        events, self.events = self.events, []
        return events
