"""Where the time goes: slack and critical paths of a plan and of a finished run.

Two questions, answered with plain lists (no pandas; ``dagron_nb.notebook.frames``
turns them into DataFrames and ``dagron_nb.notebook.timeline`` into pictures):

*Plan* (``plan_analysis``): with the cost hints and unlimited workers, when can
each node start at the earliest, how late may it start without stretching the
makespan (the largest cost-weighted path), and how much slack is that.

*Run* (``run_analysis``): from the measured ``started_at`` / ``finished_at`` of a
finished ``ExecutionResult``, which chain of nodes set the run's end, and how
much later each node could have finished without moving the end. A node
"ran" when it has both times (COMPLETED, FAILED, TIMED_OUT and abandoned
nodes); a node that never ran (a taskless node, say) passes its predecessors'
finish times on to its successors, because that is how the scheduler treats a
taskless node. The rules, precisely:

- the run's *end* is the latest ``finished_at`` of a node that ran;
- a node's *ready time* is the latest finish among its predecessors that ran
  (looking through nodes that never ran), or 0.0, the run's start, if none;
  ``waited`` is ``started_at - ready``: time spent waiting for a free worker;
- the *critical path* starts at the node that finished last and walks back,
  at each step to the predecessor that finished last (the one that made the
  node ready), until a node without such a predecessor; ties go to the node
  first in the DAG's order. ``critical_edges`` are the DAG edges of that walk,
  including edges through nodes that never ran;
- *slack* is the backward pass of the classical critical path method on the
  measured durations: ``latest_finish`` of a node is the run's end or, if
  earlier, the latest start of any successor that ran (a successor's latest
  start being its latest finish minus its duration), and ``slack =
  latest_finish - finished_at``. It follows the DAG's edges only, not the
  workers: a node that could only have gone later by taking a worker from
  another node still shows that slack.

For the full event stream of a run, ``enable_tracing=True`` on an executor
and ``result.trace.save_chrome_trace(path)`` give a file for chrome://tracing
or https://ui.perfetto.dev.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dagron_nb.core.plan import (
    bottom_levels,
    cost_list,
    critical_path,
    earliest_finish,
    levels,
)

if TYPE_CHECKING:
    from dagron_nb.core.graph import DAG
    from dagron_nb.core.index import GraphIndex

#: Differences smaller than this fraction of the makespan are float noise, not slack.
_TOLERANCE = 1e-9


def _clean(value: float, scale: float) -> float:
    return 0.0 if abs(value) <= _TOLERANCE * max(1.0, scale) else value


@dataclass(frozen=True, slots=True)
class PlanAnalysis:
    """Plan quantities per node, as columns in the DAG's node order.

    ``order`` lists node positions as ``execution_plan`` shows them: by level,
    then most urgent first. ``on_critical_path`` marks the nodes of
    ``dag.critical_path(costs)``, one chain; a node off that chain with zero
    slack lies on another path just as long.

    >>> from dagron_nb import DAG
    >>> dag = DAG.builder().add_edge("a", "b").add_edge("a", "c").build()
    >>> plan = plan_analysis(dag, {"b": 3.0})
    >>> plan.makespan, plan.slack, plan.critical_path
    (4.0, [0.0, 0.0, 2.0], ['a', 'b'])
    """

    names: list[str]
    level: list[int]
    cost: list[float]
    bottom_level: list[float]
    earliest_start: list[float]
    earliest_finish: list[float]
    latest_start: list[float]
    latest_finish: list[float]
    slack: list[float]
    on_critical_path: list[bool]
    predecessors: list[int]
    successors: list[int]
    order: list[int]
    makespan: float
    critical_path: list[str]


def plan_analysis(dag: DAG, costs: Mapping[str, float] | None = None) -> PlanAnalysis:
    """Earliest / latest start and slack of every node with unlimited workers.

    Costs default to 1.0 per node, as everywhere in dagron_nb; bad costs raise
    the same ``ConfigurationError`` as ``execution_plan``.

    >>> from dagron_nb import DAG
    >>> plan_analysis(DAG.builder().add_edge("a", "b").build()).latest_start
    [0.0, 1.0]
    """
    index = dag.index()
    cost = cost_list(index, costs)
    bottom = bottom_levels(index, cost)
    finish, _ = earliest_finish(index, cost)
    makespan = max(finish, default=0.0)
    start = [f - c for f, c in zip(finish, cost)]
    latest_start = [makespan - b for b in bottom]
    chain = critical_path(index, costs)
    on_chain = set(chain)
    level = levels(index)
    return PlanAnalysis(
        names=list(index.names),
        level=level,
        cost=cost,
        bottom_level=bottom,
        earliest_start=start,
        earliest_finish=finish,
        latest_start=latest_start,
        latest_finish=[s + c for s, c in zip(latest_start, cost)],
        slack=[_clean(ls - es, makespan) for ls, es in zip(latest_start, start)],
        on_critical_path=[name in on_chain for name in index.names],
        predecessors=[len(p) for p in index.pred],
        successors=[len(s) for s in index.succ],
        # execution_plan's order: by level, then the scheduler's priority (largest
        # bottom level first, ties by insertion order)
        order=sorted(range(len(cost)), key=lambda i: (level[i], -bottom[i], i)),
        makespan=makespan,
        critical_path=chain,
    )


class MeasuredRun(Protocol):
    """What ``run_analysis`` reads of a finished run; an ``ExecutionResult`` is one.

    (A protocol rather than an import keeps this module below ``results``,
    whose ``ExecutionResult.critical_path()`` calls down into it.)
    """

    @property
    def dag(self) -> DAG: ...
    @property
    def started(self) -> Sequence[float | None]: ...
    @property
    def finished(self) -> Sequence[float | None]: ...


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """Measured critical path and slack of a run, as columns in the DAG's node order.

    Entries of nodes that never ran are ``None``. See the module docstring for
    the exact rules.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> result = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> run_analysis(result).critical_path
    ['a', 'b']
    """

    names: list[str]
    ran: list[bool]
    end: float
    ready_at: list[float | None]
    waited: list[float | None]
    latest_finish: list[float | None]
    slack: list[float | None]
    on_critical_path: list[bool]
    critical_path: list[str]
    critical_edges: list[tuple[str, str]]


def run_analysis(result: MeasuredRun) -> RunAnalysis:
    """The chain of nodes that set a run's end, and every node's slack.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").add_edge("a", "c").build()
    >>> result = dagron.DAGExecutor(dag).execute({n: (lambda: None) for n in "abc"})
    >>> analysis = run_analysis(result)
    >>> len(analysis.critical_path), analysis.critical_path[0]
    (2, 'a')
    """
    index = result.dag.index()
    names = index.names
    n = len(names)
    started, finished = result.started, result.finished
    if len(started) != n or len(finished) != n:
        raise ValueError(
            f"this result has {len(started)} start and {len(finished)} finish times "
            f"for a DAG of {n} nodes; build ExecutionResult with one entry per node "
            "of result.dag, in its order."
        )
    # (start, finish) of the nodes that ran, None for the others
    times = [(s, f) if s is not None and f is not None else None for s, f in zip(started, finished)]
    end = max((t[1] for t in times if t is not None), default=0.0)
    arrive, via = _arrivals(index, times)
    latest, slack = _latest_finishes(index, times, end)
    waited: list[float | None] = [None] * n
    ready_at: list[float | None] = [None] * n
    for node, t in enumerate(times):
        if t is not None:
            ready = arrive[node]
            ready = 0.0 if ready is None else ready
            ready_at[node] = ready
            waited[node] = _clean(t[0] - ready, end)
    ran = [t is not None for t in times]
    chain, edges = _critical_chain(names, times, via, ran)
    on_chain = [False] * n
    for node in chain:
        on_chain[node] = True
    return RunAnalysis(
        names=list(names),
        ran=ran,
        end=end,
        ready_at=ready_at,
        waited=waited,
        latest_finish=latest,
        slack=slack,
        on_critical_path=on_chain,
        critical_path=[names[i] for i in chain],
        critical_edges=edges,
    )


_Times = list[tuple[float, float] | None]


def _arrivals(index: GraphIndex, times: _Times) -> tuple[list[float | None], list[int]]:
    """Forward pass: when each node's inputs arrived, and from which predecessor
    (-1: none). For a node that never ran, its arrival is what it hands on."""
    n = len(times)
    arrive: list[float | None] = [None] * n
    via = [-1] * n
    for node in index.topo:
        best: float | None = None
        for p in index.pred[node]:
            tp = times[p]
            at = tp[1] if tp is not None else arrive[p]
            if at is not None and (best is None or at > best):
                best, via[node] = at, p
        arrive[node] = best
    return arrive, via


def _latest_finishes(
    index: GraphIndex, times: _Times, end: float
) -> tuple[list[float | None], list[float | None]]:
    """Backward pass: the latest finish that keeps the end where it is, and the
    slack. For a node that never ran, ``due`` is the tightest latest start behind it."""
    n = len(times)
    due: list[float] = [math.inf] * n
    latest: list[float | None] = [None] * n
    slack: list[float | None] = [None] * n
    for node in reversed(index.topo):
        bound = min((due[s] for s in index.succ[node]), default=math.inf)
        t = times[node]
        if t is None:
            due[node] = bound
            continue
        lf = min(end, bound)
        latest[node] = lf
        due[node] = lf - (t[1] - t[0])
        slack[node] = _clean(lf - t[1], end)
    return latest, slack


def _critical_chain(
    names: Sequence[str], times: _Times, via: list[int], ran: list[bool]
) -> tuple[list[int], list[tuple[str, str]]]:
    """Walk back from the node that finished last (the first in DAG order among
    equal finishes) along ``via``: the nodes that ran on the way, and the edges."""
    chain: list[int] = []
    edges: list[tuple[str, str]] = []
    finishes = [(t[1], -i) for i, t in enumerate(times) if t is not None]
    if finishes:
        last = -max(finishes)[1]
        chain.append(last)
        node = last
        while via[node] != -1:
            prev = via[node]
            edges.append((names[prev], names[node]))
            if ran[prev]:
                chain.append(prev)
            node = prev
        chain.reverse()
        edges.reverse()
    return chain, edges
