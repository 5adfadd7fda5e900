"""pandas tables of plans and runs: "what took the time, and why?".

``ExecutionResult.to_dataframe()`` is the per-node table of one run. This
module adds the tables that need more than one column list: ``plan_frame``
(a DAG and its cost hints, before running), ``slack_frame`` and
``critical_path_frame`` (a finished run's measured critical path and slack,
computed by ``dagron_nb.core.analysis``, whose docstring states the rules),
and ``compare_runs`` / ``summarize_runs`` (several runs side by side, for
"did my change help?"). Every per-node table is indexed by node name (index
name ``"node"``), so they join with each other. Pictures of the same data are
in ``dagron_nb.notebook.timeline``; for every event of a run, use
``enable_tracing=True`` and ``result.trace.save_chrome_trace("run.json")``,
then open the file in https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagron_nb.core.analysis import plan_analysis, run_analysis
from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.results import ExecutionResult, NodeStatus

if TYPE_CHECKING:
    import pandas as pd

    from dagron_nb.core.graph import DAG

#: The statuses a returned result can hold (never PENDING or RUNNING).
_FINAL = [s for s in NodeStatus if s.is_terminal]


def _pandas(purpose: str) -> Any:
    return optional_import("pandas", purpose=purpose)


def _text(pandas: Any) -> Any:
    """The dtype of text columns: pandas 3's ``str``; object before (where dtype
    ``"str"`` would turn None into the text ``"None"``)."""
    return "str" if int(pandas.__version__.split(".")[0]) >= 3 else object


def plan_frame(dag: DAG, costs: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The execution plan as a table, one row per node in plan order.

    Rows go level by level, most urgent first within a level (the order of
    ``dag.execution_plan(costs)``). Columns: ``level``, ``cost`` (1.0 where no
    hint is given), ``bottom_level`` (the longest cost-weighted path from the
    node to a sink: the scheduler's priority), ``earliest_start`` /
    ``earliest_finish`` and ``latest_start`` / ``latest_finish`` with unlimited
    workers, ``slack`` (how far the node may slip without stretching the
    makespan), ``on_critical_path`` (the chain ``dag.critical_path(costs)``
    returns), ``n_predecessors`` and ``n_successors``.

    >>> from dagron_nb import DAG
    >>> dag = DAG.builder().add_edge("load", "fit").add_edge("load", "plot").build()
    >>> plan_frame(dag, {"fit": 5.0})[["level", "slack", "on_critical_path"]]
    ... # doctest: +NORMALIZE_WHITESPACE
          level  slack  on_critical_path
    node
    load      0    0.0              True
    fit       1    0.0              True
    plot      1    4.0             False
    """
    pandas = _pandas("plan_frame()")
    plan = plan_analysis(dag, costs)
    order = plan.order

    def pick(column: Sequence[Any]) -> list[Any]:
        return [column[i] for i in order]

    frame: pd.DataFrame = pandas.DataFrame(
        {
            "level": pandas.array(pick(plan.level), dtype="int64"),
            "cost": pandas.array(pick(plan.cost), dtype="float64"),
            "bottom_level": pandas.array(pick(plan.bottom_level), dtype="float64"),
            "earliest_start": pandas.array(pick(plan.earliest_start), dtype="float64"),
            "earliest_finish": pandas.array(pick(plan.earliest_finish), dtype="float64"),
            "latest_start": pandas.array(pick(plan.latest_start), dtype="float64"),
            "latest_finish": pandas.array(pick(plan.latest_finish), dtype="float64"),
            "slack": pandas.array(pick(plan.slack), dtype="float64"),
            "on_critical_path": pandas.array(pick(plan.on_critical_path), dtype="bool"),
            "n_predecessors": pandas.array(pick(plan.predecessors), dtype="int64"),
            "n_successors": pandas.array(pick(plan.successors), dtype="int64"),
        },
        index=pandas.Index(pick(plan.names), dtype=_text(pandas), name="node"),
    )
    return frame


def slack_frame(result: ExecutionResult) -> pd.DataFrame:
    """``result.to_dataframe()`` plus the measured slack of every node.

    Added columns (NaN for nodes that never ran): ``ready_at`` (when the
    node's last input arrived), ``waited_s`` (from ready to started: waiting
    for a free worker), ``latest_finish_at`` and ``slack_s`` (how much later
    the node could have finished without delaying the run's end, following
    the DAG's edges), and ``on_critical_path``.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> result = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> slack_frame(result)["on_critical_path"].tolist()
    [True, True]
    """
    pandas = _pandas("slack_frame()")
    analysis = run_analysis(result)
    frame = result.to_dataframe()
    frame["ready_at"] = pandas.array(analysis.ready_at, dtype="float64")
    frame["waited_s"] = pandas.array(analysis.waited, dtype="float64")
    frame["latest_finish_at"] = pandas.array(analysis.latest_finish, dtype="float64")
    frame["slack_s"] = pandas.array(analysis.slack, dtype="float64")
    frame["on_critical_path"] = pandas.array(analysis.on_critical_path, dtype="bool")
    return frame


def critical_path_frame(result: ExecutionResult) -> pd.DataFrame:
    """The nodes that set the run's end, first to last, one row each.

    Columns: ``status``, ``worker``, ``ready_at``, ``started_at``,
    ``finished_at``, ``duration_s``, ``waited_s`` and ``share`` (the node's
    duration as a fraction of the run's end). Along the chain every node is
    ready when the previous one finishes, so ``waited_s + duration_s`` sums to
    the run's end: the table says how much of the run was work on the chain
    and how much was waiting for a worker.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").add_edge("a", "c").build()
    >>> result = dagron.DAGExecutor(dag).execute({n: (lambda: None) for n in "abc"})
    >>> critical_path_frame(result).index[0]
    'a'
    """
    pandas = _pandas("critical_path_frame()")
    analysis = run_analysis(result)
    position = result.dag.index().position
    chain = [position[name] for name in analysis.critical_path]
    out: pd.DataFrame = result.to_dataframe().iloc[chain][
        ["status", "worker", "started_at", "finished_at", "duration_s"]
    ]
    out.insert(2, "ready_at", pandas.array([analysis.ready_at[i] for i in chain], dtype="float64"))
    out["waited_s"] = pandas.array([analysis.waited[i] for i in chain], dtype="float64")
    out["share"] = out["duration_s"] / analysis.end if analysis.end > 0 else float("nan")
    return out


def _labelled(
    runs: Mapping[str, ExecutionResult] | Sequence[ExecutionResult], baseline: str | None
) -> tuple[dict[str, ExecutionResult], str]:
    if isinstance(runs, Mapping):
        labelled = {str(label): run for label, run in runs.items()}
    else:
        labelled = {f"run {i}": run for i, run in enumerate(runs)}
    bad = [label for label, run in labelled.items() if not isinstance(run, ExecutionResult)]
    if bad:
        raise ConfigurationError(
            f"runs to compare must be ExecutionResults; {', '.join(map(repr, bad))} "
            "is not. Pass {label: result} from executor.execute(...)."
        )
    if not labelled:
        raise ConfigurationError(
            "no runs to compare; pass {label: result, ...} with at least one result."
        )
    base = next(iter(labelled)) if baseline is None else baseline
    if base not in labelled:
        raise ConfigurationError(
            f"baseline {base!r} is not one of the runs {list(labelled)}; "
            "pass one of those labels, or None for the first run."
        )
    return labelled, base


def compare_runs(
    runs: Mapping[str, ExecutionResult] | Sequence[ExecutionResult],
    *,
    baseline: str | None = None,
) -> pd.DataFrame:
    """Several runs side by side, one row per node (union of their nodes).

    ``runs`` is ``{label: result}`` (or a list, labelled ``"run 0"``, ...);
    the baseline is the first run unless named. Columns are two-level,
    ``(quantity, run label)``: ``duration_s`` and ``status`` for every run,
    and for every run but the baseline ``diff_s`` (its duration minus the
    baseline's: negative is faster) and ``speedup`` (baseline duration over
    its duration: above 1 is faster). A node missing from a run, or that did
    not run in it, has NaN there; ``diff_s`` and ``speedup`` are NaN unless the
    node succeeded (COMPLETED or CACHE_HIT) in both runs. ``summarize_runs``
    compares whole runs.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> before = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> after = dagron.DAGExecutor(dag).execute({"a": lambda: 1})
    >>> table = compare_runs({"before": before, "after": after})
    >>> table["status"].astype(str).values.tolist()
    [['completed', 'completed'], ['completed', 'skipped']]
    >>> list(table["speedup"].columns)
    ['after']
    """
    pandas = _pandas("compare_runs()")
    labelled, base = _labelled(runs, baseline)
    frames = {label: run.to_dataframe() for label, run in labelled.items()}
    ordered = [base, *(label for label in labelled if label != base)]
    names = dict.fromkeys(name for label in ordered for name in labelled[label].names)
    index = pandas.Index(list(names), dtype=_text(pandas), name="node")
    duration = pandas.DataFrame(
        {label: frames[label]["duration_s"].reindex(index) for label in labelled}
    )
    status = pandas.DataFrame({label: frames[label]["status"].reindex(index) for label in labelled})
    others = [label for label in labelled if label != base]
    # A failed or timed-out node's duration says when it stopped, not how fast
    # it is: compare only nodes that succeeded in both runs.
    good = status.isin([s.value for s in NodeStatus if s.is_success])
    comparable = duration.where(good)[others].where(good[base], axis=0)
    parts = {
        "duration_s": duration,
        "status": status,
        "diff_s": comparable.sub(duration[base], axis=0),
        "speedup": comparable.rdiv(duration[base], axis=0),
    }
    table: pd.DataFrame = pandas.concat(parts, axis=1, names=["quantity", "run"])
    return table


def summarize_runs(
    runs: Mapping[str, ExecutionResult] | Sequence[ExecutionResult],
    *,
    baseline: str | None = None,
) -> pd.DataFrame:
    """Whole runs side by side, one row per run label.

    Columns: ``nodes``; ``wall_s`` (the run's wall-clock time) and
    ``speedup`` (baseline ``wall_s`` over this run's: above 1 is faster);
    ``busy_s`` (the sum of node durations) and ``parallelism`` (``busy_s``
    over the time to the last finish: the average number of busy workers);
    ``critical_path_s`` and ``critical_nodes`` (the work and length of the
    measured critical path); then one count column per final status.

    >>> import dagron_nb as dagron
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> run = dagron.DAGExecutor(dag).execute({"a": lambda: 1, "b": lambda: 2})
    >>> summarize_runs({"first": run, "again": run})[["nodes", "completed", "speedup"]]
    ... # doctest: +NORMALIZE_WHITESPACE
           nodes  completed  speedup
    run
    first      2          2      1.0
    again      2          2      1.0
    """
    pandas = _pandas("summarize_runs()")
    labelled, base = _labelled(runs, baseline)
    rows: dict[str, dict[str, Any]] = {}
    for label, run in labelled.items():
        analysis = run_analysis(run)
        durations = {
            name: f - s
            for name, s, f in zip(run.names, run.started, run.finished)
            if s is not None and f is not None
        }
        busy = sum(durations.values())
        row: dict[str, Any] = {
            "nodes": len(run.names),
            "wall_s": run.total_duration_seconds,
            "speedup": labelled[base].total_duration_seconds / run.total_duration_seconds
            if run.total_duration_seconds > 0
            else float("nan"),
            "busy_s": busy,
            "parallelism": busy / analysis.end if analysis.end > 0 else float("nan"),
            "critical_path_s": sum(durations[name] for name in analysis.critical_path),
            "critical_nodes": len(analysis.critical_path),
        }
        for status in _FINAL:
            row[status.value] = run.counts[status]
        rows[label] = row
    table: pd.DataFrame = pandas.DataFrame.from_dict(rows, orient="index")
    table.index = pandas.Index(list(rows), dtype=_text(pandas), name="run")
    return table
