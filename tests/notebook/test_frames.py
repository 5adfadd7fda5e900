"""pandas tables: ExecutionResult.to_dataframe(), plans, slack, critical path, comparisons."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from collections.abc import Mapping

import pandas as pd
import pytest

from dagron_nb import (
    DAG,
    AsyncDAGExecutor,
    ConfigurationError,
    DAGExecutor,
    ExecutionResult,
    NodeStatus,
)
from dagron_nb.core.plan import levels
from dagron_nb.notebook.frames import (
    compare_runs,
    critical_path_frame,
    plan_frame,
    slack_frame,
    summarize_runs,
)

COLUMNS = [
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "worker",
    "level",
    "error_type",
    "error",
    "reason",
]
BADGES = [s.value for s in NodeStatus]
# pandas 3's string dtype; pandas 2 keeps text in object columns
TEXT = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


def synthetic_result(
    dag: DAG,
    times: Mapping[str, tuple[float, float]],
    *,
    statuses: Mapping[str, NodeStatus] | None = None,
    total: float | None = None,
) -> ExecutionResult:
    """Nodes in ``times`` ran (start, finish) on worker "w0"; the others are
    taskless (SKIPPED, "no task"). ``statuses`` overrides a node's status."""
    snap = dag.snapshot()
    names = snap.index().names
    status = {n: NodeStatus.COMPLETED if n in times else NodeStatus.SKIPPED for n in names}
    status.update(statuses or {})
    return ExecutionResult(
        snap,
        list(names),
        [status[n] for n in names],
        values=[None] * len(names),
        errors=[None] * len(names),
        started=[times[n][0] if n in times else None for n in names],
        finished=[times[n][1] if n in times else None for n in names],
        workers=["w0" if n in times else None for n in names],
        reasons=[None if n in times else "no task" for n in names],
        total_duration_seconds=total
        if total is not None
        else max((f for _, f in times.values()), default=0.0),
    )


def diamond() -> DAG:
    return DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]).build()


# -- to_dataframe: every status, both executors --------------------------------------


def every_status_dag() -> DAG:
    # ok -> ok_child; bad -> bad_child; group (no task); stuck -> stuck_child
    return (
        DAG.builder()
        .add_edges([("ok", "ok_child"), ("bad", "bad_child"), ("stuck", "stuck_child")])
        .add_node("group")
        .build()
    )


def boom() -> None:
    raise ValueError("bad row: 'x' & <y>")


def check_every_status_frame(result: ExecutionResult, worker_prefix: str) -> None:
    df = result.to_dataframe()
    assert list(df.columns) == COLUMNS
    assert list(df.index) == result.dag.nodes()
    assert df.index.name == "node"
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert list(df["status"].cat.categories) == BADGES
    for column in ("started_at", "finished_at", "duration_s"):
        assert df[column].dtype == "float64"
    assert df["level"].dtype == "int64"
    for column in ("worker", "error_type", "error", "reason"):
        assert df[column].dtype == TEXT
    assert df["level"].tolist() == levels(result.dag.index())

    expected = {
        "ok": "completed",
        "ok_child": "completed",
        "bad": "failed",
        "bad_child": "skipped",
        "group": "skipped",
        "stuck": "timed-out",
        "stuck_child": "cancelled",
    }
    assert df["status"].astype(str).to_dict() == expected

    ran = ["ok", "ok_child", "bad", "stuck"]
    never = ["bad_child", "group", "stuck_child"]
    # nodes that never started have NaN times and duration, not zeros
    assert df.loc[never, ["started_at", "finished_at", "duration_s"]].isna().all().all()
    assert df.loc[never, "worker"].isna().all()
    assert df.loc[ran, ["started_at", "finished_at", "duration_s"]].notna().all().all()
    assert (df.loc[ran, "duration_s"] >= 0).all()
    assert df.loc[ran, "worker"].str.startswith(worker_prefix).all()
    for name in ran:
        node = result[name]
        assert df.at[name, "started_at"] == node.started_at
        assert df.at[name, "finished_at"] == node.finished_at
        assert df.at[name, "duration_s"] == pytest.approx(node.duration_seconds)
        assert df.at[name, "worker"] == node.worker

    assert df.at["bad", "error_type"] == "ValueError"
    assert df.at["bad", "error"] == "bad row: 'x' & <y>"
    assert df.at["stuck", "error_type"] == "NodeTimeoutError"
    assert "still running after the run's timeout" in df.at["stuck", "error"]
    assert df.loc[["ok", "ok_child", "bad_child", "group"], "error"].isna().all()
    assert df.at["bad_child", "reason"] == "upstream 'bad' failed"
    assert df.at["group", "reason"] == "no task"
    assert "timeout" in df.at["stuck_child", "reason"]
    assert df.loc[ran, "reason"].isna().all()
    # the status counts agree with the result's own counts
    counts = df["status"].value_counts()
    assert {s.value: int(counts[s.value]) for s in NodeStatus} == {
        s.value: result.counts[s] for s in NodeStatus
    }


def test_to_dataframe_of_a_thread_run_with_every_final_status() -> None:
    release = threading.Event()
    tasks = {
        "ok": lambda: 1,
        "ok_child": lambda: 2,
        "bad": boom,
        "bad_child": lambda: 3,
        "stuck": lambda: release.wait(10),
        "stuck_child": lambda: 4,
    }
    try:
        result = DAGExecutor(every_status_dag(), fail_fast=False).execute(tasks, timeout=0.5)
    finally:
        release.set()
    check_every_status_frame(result, "dagron-worker-")


def test_to_dataframe_of_an_async_run_with_every_final_status() -> None:
    async def stuck() -> None:
        await asyncio.sleep(10)

    async def ok() -> int:
        return 1

    async def bad() -> None:
        boom()

    async def main() -> ExecutionResult:
        tasks = {
            "ok": ok,
            "ok_child": ok,
            "bad": bad,
            "bad_child": ok,
            "stuck": stuck,
            "stuck_child": ok,
        }
        executor = AsyncDAGExecutor(every_status_dag(), fail_fast=False)
        return await executor.execute(tasks, timeout=0.5)

    check_every_status_frame(asyncio.run(main()), "async-")


def test_to_dataframe_of_an_empty_dag() -> None:
    df = DAGExecutor(DAG()).execute({}).to_dataframe()
    assert df.empty
    assert list(df.columns) == COLUMNS
    assert list(df["status"].cat.categories) == BADGES
    assert df["started_at"].dtype == "float64"
    assert df["level"].dtype == "int64"


def test_to_dataframe_shows_statuses_a_run_never_returns() -> None:
    # PENDING, RUNNING and CACHE_HIT only come from hand-built results, but the
    # categories still cover them, so the table never rejects a status.
    dag = DAG().add_nodes(["p", "r", "h"])
    result = synthetic_result(
        dag,
        {"r": (0.0, 1.0), "h": (0.0, 0.0)},
        statuses={"p": NodeStatus.PENDING, "r": NodeStatus.RUNNING, "h": NodeStatus.CACHE_HIT},
    )
    df = result.to_dataframe()
    assert df["status"].astype(str).tolist() == ["pending", "running", "cache-hit"]
    assert df.at["h", "duration_s"] == 0.0
    assert math.isnan(df.at["p", "duration_s"])


def test_to_dataframe_says_which_extra_brings_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    result = synthetic_result(DAG().add_nodes(["a"]), {"a": (0.0, 1.0)})
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match=r'pip install "dagron_nb\[notebook\]"'):
        result.to_dataframe()


def test_importing_the_core_analysis_loads_no_pandas_or_matplotlib() -> None:
    import subprocess

    code = (
        "import sys, dagron_nb, dagron_nb.core.analysis;"
        "bad = [m for m in ('pandas', 'matplotlib', 'numpy') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# -- plan_frame ------------------------------------------------------------------------


def test_plan_frame_hand_computed_diamond() -> None:
    df = plan_frame(diamond(), {"a": 1.0, "b": 3.0, "c": 1.0, "d": 2.0})
    assert list(df.columns) == [
        "level",
        "cost",
        "bottom_level",
        "earliest_start",
        "earliest_finish",
        "latest_start",
        "latest_finish",
        "slack",
        "on_critical_path",
        "n_predecessors",
        "n_successors",
    ]
    assert df.index.name == "node"
    assert list(df.index) == ["a", "b", "c", "d"]
    assert df.to_dict("index")["c"] == {
        "level": 1,
        "cost": 1.0,
        "bottom_level": 3.0,
        "earliest_start": 1.0,
        "earliest_finish": 2.0,
        "latest_start": 3.0,
        "latest_finish": 4.0,
        "slack": 2.0,
        "on_critical_path": False,
        "n_predecessors": 1,
        "n_successors": 1,
    }
    assert df["slack"].tolist() == [0.0, 0.0, 2.0, 0.0]
    assert df.index[df["on_critical_path"]].tolist() == ["a", "b", "d"]
    assert df["on_critical_path"].dtype == "bool"
    assert df["n_predecessors"].tolist() == [0, 1, 1, 2]


def test_plan_frame_rows_follow_the_execution_plan() -> None:
    dag = DAG().add_nodes(["x", "y", "z", "w"]).add_edges([("x", "z"), ("y", "w")])
    costs = {"y": 4.0, "w": 2.0}
    df = plan_frame(dag, costs)
    assert list(df.index) == [n for step in dag.execution_plan(costs) for n in step.nodes]
    assert list(df.index) == ["y", "x", "w", "z"]
    assert df["level"].tolist() == [0, 0, 1, 1]


def test_plan_frame_of_an_empty_dag_and_bad_costs() -> None:
    df = plan_frame(DAG())
    assert df.empty
    assert "slack" in df.columns
    with pytest.raises(ConfigurationError, match=r"cost of node 'a' must be a finite number"):
        plan_frame(diamond(), {"a": float("nan")})


# -- slack_frame and critical_path_frame --------------------------------------------------


def uneven_synthetic() -> ExecutionResult:
    # a 0-1; b 1-5; c waited 0.5 for a worker, 1.5-2; d 5-6
    return synthetic_result(
        diamond(), {"a": (0.0, 1.0), "b": (1.0, 5.0), "c": (1.5, 2.0), "d": (5.0, 6.0)}
    )


def test_slack_frame_adds_measured_slack_to_the_result_table() -> None:
    df = slack_frame(uneven_synthetic())
    assert list(df.columns) == [
        *COLUMNS,
        "ready_at",
        "waited_s",
        "latest_finish_at",
        "slack_s",
        "on_critical_path",
    ]
    assert df["slack_s"].to_dict() == {"a": 0.0, "b": 0.0, "c": 3.0, "d": 0.0}
    assert df["waited_s"].to_dict() == {"a": 0.0, "b": 0.0, "c": 0.5, "d": 0.0}
    assert df["latest_finish_at"].tolist() == [1.0, 5.0, 5.0, 6.0]
    assert df["on_critical_path"].tolist() == [True, True, False, True]


def test_slack_frame_has_nan_for_nodes_that_never_ran() -> None:
    dag = DAG.builder().add_edge("a", "t").add_edge("t", "b").build()
    df = slack_frame(synthetic_result(dag, {"a": (0.0, 1.0), "b": (1.0, 2.0)}))
    assert df.loc["t", ["ready_at", "waited_s", "latest_finish_at", "slack_s"]].isna().all()
    assert not df.at["t", "on_critical_path"]
    assert df["slack_s"].loc[["a", "b"]].tolist() == [0.0, 0.0]


def test_critical_path_frame_hand_computed() -> None:
    # the chain waits 0.5 for a worker before b: waits and durations add up to the end
    dag = DAG.builder().add_edge("a", "b").add_edge("x", "b").build()
    result = synthetic_result(dag, {"a": (0.0, 1.0), "x": (0.0, 0.5), "b": (1.5, 4.0)})
    df = critical_path_frame(result)
    assert list(df.index) == ["a", "b"]
    assert list(df.columns) == [
        "status",
        "worker",
        "ready_at",
        "started_at",
        "finished_at",
        "duration_s",
        "waited_s",
        "share",
    ]
    assert df["waited_s"].tolist() == [0.0, 0.5]
    assert df["duration_s"].tolist() == [1.0, 2.5]
    assert df["share"].tolist() == [0.25, 0.625]
    assert (df["waited_s"] + df["duration_s"]).sum() == 4.0


def test_critical_path_frame_of_real_runs_adds_up_to_the_end() -> None:
    dag = diamond()
    thread = DAGExecutor(dag, max_workers=2).execute({n: (lambda: None) for n in "abcd"})

    async def main() -> ExecutionResult:
        return await AsyncDAGExecutor(dag).execute({n: (lambda: None) for n in "abcd"})

    for result in (thread, asyncio.run(main())):
        df = critical_path_frame(result)
        assert df.index[0] == "a"
        assert df.index[-1] == "d"
        assert (df["status"] == "completed").all()
        end = max(f for f in result.finished if f is not None)
        assert (df["waited_s"] + df["duration_s"]).sum() == pytest.approx(end)


def test_critical_path_frame_of_a_run_where_nothing_ran() -> None:
    df = critical_path_frame(synthetic_result(DAG().add_nodes(["a"]), {}))
    assert df.empty
    assert "share" in df.columns


# -- comparing runs --------------------------------------------------------------------


def test_compare_runs_side_by_side() -> None:
    before = synthetic_result(
        DAG().add_nodes(["a", "b"]).add_edge("a", "b"), {"a": (0.0, 1.0), "b": (1.0, 3.0)}
    )
    dag2 = DAG().add_nodes(["a", "b", "c"]).add_edge("a", "b")
    after = synthetic_result(
        dag2,
        {"a": (0.0, 2.0), "b": (2.0, 2.5), "c": (0.0, 1.0)},
    )
    table = compare_runs({"before": before, "after": after})
    assert list(table.columns) == [
        ("duration_s", "before"),
        ("duration_s", "after"),
        ("status", "before"),
        ("status", "after"),
        ("diff_s", "after"),
        ("speedup", "after"),
    ]
    assert table.columns.names == ["quantity", "run"]
    assert list(table.index) == ["a", "b", "c"]
    assert table["duration_s"].loc["b"].tolist() == [2.0, 0.5]
    assert table.at["a", ("diff_s", "after")] == 1.0
    assert table.at["a", ("speedup", "after")] == 0.5
    assert table.at["b", ("diff_s", "after")] == -1.5
    assert table.at["b", ("speedup", "after")] == 4.0
    # c is new: no baseline to compare with
    assert math.isnan(table.at["c", ("duration_s", "before")])
    assert pd.isna(table.at["c", ("status", "before")])
    assert math.isnan(table.at["c", ("speedup", "after")])


def test_compare_runs_compares_only_nodes_that_succeeded_in_both() -> None:
    dag = DAG().add_nodes(["a", "b"])
    before = synthetic_result(dag, {"a": (0.0, 1.0), "b": (0.0, 2.0)})
    after = synthetic_result(
        dag, {"a": (0.0, 0.5), "b": (0.0, 0.1)}, statuses={"b": NodeStatus.FAILED}
    )
    table = compare_runs([before, after])
    assert table["status"].columns.tolist() == ["run 0", "run 1"]
    assert table.at["a", ("speedup", "run 1")] == 2.0
    assert table.at["b", ("duration_s", "run 1")] == pytest.approx(0.1)
    assert math.isnan(table.at["b", ("speedup", "run 1")])
    assert math.isnan(table.at["b", ("diff_s", "run 1")])


def test_compare_runs_with_a_named_baseline_and_three_runs() -> None:
    dag = DAG().add_nodes(["a"])
    runs = {
        label: synthetic_result(dag, {"a": (0.0, seconds)})
        for label, seconds in (("v1", 4.0), ("v2", 2.0), ("v3", 1.0))
    }
    table = compare_runs(runs, baseline="v2")
    assert table["speedup"].columns.tolist() == ["v1", "v3"]
    assert table["speedup"].loc["a"].tolist() == [0.5, 2.0]
    assert list(table.index) == ["a"]


def test_compare_runs_refuses_bad_input() -> None:
    run = synthetic_result(DAG().add_nodes(["a"]), {"a": (0.0, 1.0)})
    with pytest.raises(ConfigurationError, match=r"baseline 'v9' is not one of the runs"):
        compare_runs({"v1": run}, baseline="v9")
    with pytest.raises(ConfigurationError, match=r"'oops' is not"):
        compare_runs({"v1": run, "oops": "not a result"})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match=r"no runs to compare"):
        compare_runs({})


def test_compare_runs_of_real_runs_from_both_executors() -> None:
    dag = diamond()
    tasks = {n: (lambda: None) for n in "abcd"}
    thread = DAGExecutor(dag).execute(tasks)

    async def main() -> ExecutionResult:
        return await AsyncDAGExecutor(dag).execute(tasks)

    table = compare_runs({"threads": thread, "asyncio": asyncio.run(main())})
    assert list(table.index) == ["a", "b", "c", "d"]
    assert (table["status"] == "completed").all().all()
    assert table["duration_s"].notna().all().all()
    assert table["speedup"]["asyncio"].notna().all()


def test_summarize_runs_hand_computed() -> None:
    dag = diamond()
    slow = synthetic_result(
        dag, {"a": (0.0, 1.0), "b": (1.0, 5.0), "c": (1.0, 2.0), "d": (5.0, 6.0)}, total=6.0
    )
    fast = synthetic_result(
        dag,
        {"a": (0.0, 1.0), "b": (1.0, 2.0), "c": (1.0, 2.0), "d": (2.0, 3.0)},
        statuses={"d": NodeStatus.FAILED},
        total=3.0,
    )
    table = summarize_runs({"slow": slow, "fast": fast})
    assert list(table.index) == ["slow", "fast"]
    assert table.index.name == "run"
    row = table.loc["slow"]
    assert row["nodes"] == 4
    assert row["wall_s"] == 6.0
    assert row["busy_s"] == 7.0
    assert row["parallelism"] == pytest.approx(7.0 / 6.0)
    assert row["critical_path_s"] == 6.0
    assert row["critical_nodes"] == 3
    assert row["speedup"] == 1.0
    assert table.at["fast", "speedup"] == 2.0
    assert table.at["fast", "completed"] == 3
    assert table.at["fast", "failed"] == 1
    assert [c for c in table.columns if c in BADGES] == [
        "completed",
        "failed",
        "skipped",
        "timed-out",
        "cancelled",
        "cache-hit",
    ]
