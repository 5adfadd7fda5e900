"""The results of a run.

``NodeStatus`` (from ``core.status``, re-exported here) says where each node
ended. ``ExecutionResult`` stores a run column-wise (one list per field, indexed
like the DAG's nodes) because a 100,000-node run should not pay for 100,000
objects unless somebody asks for them; ``node_results`` builds the
``NodeResult`` snapshots on first access.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagron_nb.core.analysis import run_analysis
from dagron_nb.core.extras import optional_import
from dagron_nb.core.plan import levels
from dagron_nb.core.refs import NodeRef, node_name
from dagron_nb.core.status import TRANSITIONS as TRANSITIONS
from dagron_nb.core.status import NodeStatus as NodeStatus
from dagron_nb.core.status import check_transition as check_transition

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import ExceptionGroup  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    import pandas as pd

    from dagron_nb.core.graph import DAG
    from dagron_nb.core.inspection import NodeInspection
    from dagron_nb.core.tracing import ExecutionTrace


#: ``summary()`` mentions the setup time from this many seconds on
SHOWN_SETUP = 0.1


@dataclass(frozen=True, slots=True)
class NodeResult:
    """What happened to one node.

    ``started_at`` / ``finished_at`` are seconds since the run started (``None``
    for a node that never started); ``reason`` says why a node was SKIPPED or
    CANCELLED, e.g. ``"upstream 'b' failed"``.
    """

    name: str
    status: NodeStatus
    result: Any = None
    error: BaseException | None = None
    duration_seconds: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    worker: str | None = None
    reason: str | None = None
    #: bytes the value held, measured when ``outputs=`` released it (then
    #: ``result`` is None); None for values the result keeps
    size_bytes: int | None = None


class ExecutionResult:
    """The outcome of one run: counts, timings and a ``NodeResult`` per node.

    ``total_duration_seconds`` runs from the start of the run (``on_run_start``)
    to the end of its last node; it does not include the setup before it.
    ``setup_seconds`` is that setup, from the call of ``execute`` to the start
    of the run: checking the input, the DAG's snapshot and index, the priority
    plan, the scheduler's state (and for a ``DaskExecutor`` without a client,
    starting its local cluster). The whole call took about the sum of the two;
    the setup is ~0.2 ms for a small DAG and ~1.3 s for a 1,000,000-node
    chain. ``summary()`` shows it from 0.1 s on.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> result = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> result.succeeded, result["b"].result, "a" in result
    (2, 2, True)
    """

    def __init__(
        self,
        dag: DAG,
        names: list[str],
        statuses: list[NodeStatus],
        *,
        values: list[Any],
        errors: list[BaseException | None],
        started: list[float | None],
        finished: list[float | None],
        workers: list[str | None],
        reasons: list[str | None],
        total_duration_seconds: float,
        setup_seconds: float = 0.0,
        trace: ExecutionTrace | None = None,
        sizes: list[int | None] | None = None,
        tasks: list[Callable[..., Any] | None] | None = None,
        captured_output: Mapping[str, str] | None = None,
    ) -> None:
        self.dag = dag
        self.names = names
        self.statuses = statuses
        self.values = values
        self.errors = errors
        self.started = started
        self.finished = finished
        self.workers = workers
        self.reasons = reasons
        self.total_duration_seconds = total_duration_seconds
        #: seconds spent building the run before it started (not in the total)
        self.setup_seconds = setup_seconds
        self.trace = trace
        self.sizes: list[int | None] = sizes if sizes is not None else [None] * len(names)
        #: why a node could not use the result cache (unfingerprintable input,
        #: ``cache=False``, ...), one line per node; empty without a cache
        self.cache_notes: dict[str, str] = {}
        #: for each CACHE_HIT node, how long computing its value took back then
        self.cache_saved_seconds: dict[str, float] = {}
        #: the callables that ran (for ``inspect``'s source), None if not kept
        self.tasks = tasks
        #: what each node printed or logged, when the run captured output
        #: (``capture.OutputCapture``); nodes that printed nothing are absent
        self.captured_output: Mapping[str, str] = captured_output or {}
        self._node_results: dict[str, NodeResult] | None = None
        # eight C-level passes (list.count) beat a Python loop over every node
        counts = {status: statuses.count(status) for status in NodeStatus}
        self.counts: Mapping[NodeStatus, int] = counts

    # -- counts -----------------------------------------------------------------
    @property
    def succeeded(self) -> int:
        """Nodes that COMPLETED (cache hits are counted in ``cache_hits``)."""
        return self.counts[NodeStatus.COMPLETED]

    @property
    def failed(self) -> int:
        return self.counts[NodeStatus.FAILED]

    @property
    def skipped(self) -> int:
        return self.counts[NodeStatus.SKIPPED]

    @property
    def timed_out(self) -> int:
        return self.counts[NodeStatus.TIMED_OUT]

    @property
    def cancelled(self) -> int:
        return self.counts[NodeStatus.CANCELLED]

    @property
    def cache_hits(self) -> int:
        """Nodes whose value came from the result cache without running."""
        return self.counts[NodeStatus.CACHE_HIT]

    @property
    def saved_seconds(self) -> float:
        """What the cache hits saved: the sum of their original run times."""
        return sum(self.cache_saved_seconds.values())

    @property
    def ok(self) -> bool:
        """True when every node COMPLETED, hit the cache, or was a taskless node."""
        bad = self.failed + self.timed_out + self.cancelled
        return bad == 0 and all(
            s is not NodeStatus.SKIPPED or r == "no task"
            for s, r in zip(self.statuses, self.reasons)
        )

    # -- per node ---------------------------------------------------------------
    @property
    def node_results(self) -> dict[str, NodeResult]:
        """``{name: NodeResult}`` in the DAG's node order."""
        if self._node_results is None:
            self._node_results = {
                name: NodeResult(
                    name=name,
                    status=status,
                    result=value,
                    error=error,
                    duration_seconds=(end - start)
                    if start is not None and end is not None
                    else 0.0,
                    started_at=start,
                    finished_at=end,
                    worker=worker,
                    reason=reason,
                    size_bytes=size,
                )
                for name, status, value, error, start, end, worker, reason, size in zip(
                    self.names,
                    self.statuses,
                    self.values,
                    self.errors,
                    self.started,
                    self.finished,
                    self.workers,
                    self.reasons,
                    self.sizes,
                )
            }
        return self._node_results

    def __getitem__(self, name: str | NodeRef) -> NodeResult:
        name = node_name(name) if isinstance(name, NodeRef) else name
        try:
            return self.node_results[name]
        except KeyError:
            raise KeyError(
                f"no node {name!r} in this result; its nodes are {_preview(self.names)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        if isinstance(name, NodeRef):
            name = name.name
        return name in self.node_results

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def inspect(self, name: str) -> NodeInspection:
        """Everything about one node: times, error, value preview, output, source.

        See ``dagron_nb.core.inspection``; the live widget's inspector shows
        the same data.

        >>> import dagron_nb as dagron
        >>> dag = dagron.DAG.builder().add_node("a").build()
        >>> dagron.DAGExecutor(dag).execute({"a": lambda: "hi"}).inspect("a").value.text
        "'hi'"
        """
        from dagron_nb.core.inspection import inspect_node

        if name not in self.node_results:
            self[name]  # raises the KeyError that lists the nodes
        return inspect_node(self, name)

    def outputs(self) -> dict[str, Any]:
        """``{name: return value}`` of the nodes that COMPLETED or hit the cache."""
        return {n: v for n, s, v in zip(self.names, self.statuses, self.values) if s.is_success}

    def raise_for_failures(self) -> None:
        """Raise an ``ExceptionGroup`` of every FAILED / TIMED_OUT node's error.

        Does nothing when no node failed; scripts and CI call it to turn a
        failed run into an exception.
        """
        errors = [
            e for s, e in zip(self.statuses, self.errors) if e is not None and not s.is_success
        ]
        if errors:
            names = [
                n
                for n, s, e in zip(self.names, self.statuses, self.errors)
                if e is not None and not s.is_success
            ]
            raise ExceptionGroup(
                f"{len(errors)} node(s) failed: {_preview(names)}",
                [e if isinstance(e, Exception) else RuntimeError(repr(e)) for e in errors],
            )

    def summary(self) -> str:
        """One line: counts by status and the wall-clock time (plus the setup
        time when it reached 0.1 s: ``"... in 2.500s (+0.800s setup): ..."``)."""
        parts = [f"{self.counts[s]} {s.value}" for s in NodeStatus if self.counts[s]]
        setup = f" (+{self.setup_seconds:.3f}s setup)" if self.setup_seconds >= SHOWN_SETUP else ""
        return f"{len(self.names)} nodes in {self.total_duration_seconds:.3f}s{setup}: " + (
            ", ".join(parts) or "nothing to run"
        )

    def __repr__(self) -> str:
        return f"<ExecutionResult {self.summary()}>"

    # -- analysis (dagron_nb.core.analysis; pictures in dagron_nb.notebook) -----
    def to_dataframe(self) -> pd.DataFrame:
        """One row per node, indexed by node name in DAG order (needs pandas).

        Columns: ``status`` (a Categorical whose categories are the badge
        values, ``"pending"`` ... ``"cache-hit"``, in ``NodeStatus`` order),
        ``started_at`` / ``finished_at`` (seconds since the run started),
        ``duration_s``, ``worker``, ``level`` (as in ``execution_plan``),
        ``error_type``, ``error`` (the message) and ``reason`` (why SKIPPED or
        CANCELLED). A node that never started has NaN times and duration.
        Return values are not included; see ``outputs()``.

        >>> import dagron_nb as dagron
        >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
        >>> df = dagron.DAGExecutor(dag).execute({"a": lambda: 1}).to_dataframe()
        >>> df["status"].tolist(), df["level"].tolist(), df.at["b", "reason"]
        (['completed', 'skipped'], [0, 1], 'no task')
        """
        pandas = optional_import("pandas", purpose="ExecutionResult.to_dataframe()")
        # Column-wise from the stored lists: about ten times faster than going
        # through one NodeResult per node (0.05 s for 100,000 nodes).
        code = {status: i for i, status in enumerate(NodeStatus)}
        # pandas 3 has a string dtype (missing = NaN); pandas 2 would turn None
        # into the text "None" under dtype "str", so it keeps object columns.
        text = "str" if int(pandas.__version__.split(".")[0]) >= 3 else object
        started = pandas.array(self.started, dtype="float64")  # None -> NaN
        finished = pandas.array(self.finished, dtype="float64")
        error_type = [None if e is None else type(e).__name__ for e in self.errors]
        error = [None if e is None else str(e) for e in self.errors]
        columns = {
            "status": pandas.Categorical.from_codes(
                [code[s] for s in self.statuses], categories=[s.value for s in NodeStatus]
            ),
            "started_at": started,
            "finished_at": finished,
            "duration_s": finished - started,
            "worker": pandas.array(self.workers, dtype=text),
            "level": pandas.array(levels(self.dag.index()), dtype="int64"),
            "error_type": pandas.array(error_type, dtype=text),
            "error": pandas.array(error, dtype=text),
            "reason": pandas.array(self.reasons, dtype=text),
        }
        frame: pd.DataFrame = pandas.DataFrame(
            columns, index=pandas.Index(self.names, dtype=text, name="node")
        )
        return frame

    def critical_path(self) -> list[str]:
        """The chain of nodes that set this run's end, from its measured times.

        Starts at the node that finished last and walks back through the
        predecessor that finished last; ``dagron_nb.core.analysis`` has the
        exact rule and each node's slack. (``dag.critical_path(costs)`` is the
        estimate before a run.)

        >>> import dagron_nb as dagron
        >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
        >>> dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2}).critical_path()
        ['a', 'b']
        """
        return run_analysis(self).critical_path


def _preview(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"[{shown}{more}]"
