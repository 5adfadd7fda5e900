"""Every code example of the spec "Executing Tasks", run unchanged, with its outcome checked.

The examples are copied verbatim (the spec's text lost its indentation; it is
restored here) and run after one substitution: ``import dagron`` becomes
``import dagron_nb as dagron`` and ``from dagron import`` becomes ``from
dagron_nb import``. An example that uses names defined by an earlier one
(``dag``, ``tasks``, ``executor``) runs in the namespace the earlier example
left behind, as a reader following the guide would.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import os
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus

S = NodeStatus


def as_dagron_nb(code: str) -> str:
    code = re.sub(r"^import dagron$", "import dagron_nb as dagron", code, flags=re.M)
    return re.sub(r"^from dagron import ", "from dagron_nb import ", code, flags=re.M)


def run(code: str, ns: dict[str, Any]) -> dict[str, Any]:
    exec(compile(as_dagron_nb(code), "<spec example>", "exec"), ns)
    return ns


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# -- the examples, in the order of the guide --------------------------------------------
DIAMOND = """\
import dagron
dag = (
    dagron.DAG.builder()
    .add_edge("a", "b")
    .add_edge("a", "c")
    .add_edge("b", "d")
    .add_edge("c", "d")
    .build()
)
tasks = {
    "a": lambda: "data",
    "b": lambda: "processed_b",
    "c": lambda: "processed_c",
    "d": lambda: "merged",
}
result = dagron.DAGExecutor(dag).execute(tasks)
"""

CONSTRUCTOR = """\
dagron.DAGExecutor(
    dag, # The DAG to execute
    max_workers=None, # Thread pool size (default: CPU count)
    costs=None, # Dict[str, float] — cost hints for scheduling
    callbacks=None, # ExecutionCallbacks instance
    fail_fast=True, # Stop on first failure?
    enable_tracing=False, # Record execution trace?
    hooks=None, # Plugin hooks
)
"""

EXECUTE = """\
result = executor.execute(
    tasks, # Dict[str, Callable]
    timeout=None, # Overall timeout in seconds
    cancel_event=None, # threading.Event to signal cancellation
)
"""

RESULT = """\
result = dagron.DAGExecutor(dag).execute(tasks)
# Aggregate counts
print(result.succeeded) # int
print(result.failed) # int
print(result.skipped) # int
print(result.timed_out) # int
print(result.cancelled) # int
# Wall-clock duration
print(result.total_duration_seconds) # float
# Per-node details
for name, nr in result.node_results.items():
    print(name, nr.status, nr.result, nr.error, nr.duration_seconds)
"""

NODE_STATUS = """\
from dagron import NodeStatus
if result.node_results["d"].status == NodeStatus.COMPLETED:
    print("All good!")
"""

FAIL_FAST = """\
import time
def slow_a():
    time.sleep(1)
    return "ok"
def failing_b():
    raise RuntimeError("boom")
def depends_on_b():
    return "never reached"
dag = dagron.DAG.builder() \\
    .add_edge("a", "c") \\
    .add_edge("b", "c") \\
    .build()
result = dagron.DAGExecutor(dag, fail_fast=True).execute({
    "a": slow_a,
    "b": failing_b,
    "c": depends_on_b,
})
print(result.node_results["b"].status) # FAILED
print(result.node_results["c"].status) # SKIPPED
"""

BEST_EFFORT = """\
dag = (
    dagron.DAG.builder()
    .add_edge("root", "branch_a")
    .add_edge("root", "branch_b")
    .add_edge("branch_a", "join")
    .add_edge("branch_b", "join")
    .build()
)
def ok():
    return "ok"
def fail():
    raise RuntimeError("oops")
result = dagron.DAGExecutor(dag, fail_fast=False).execute({
    "root": ok,
    "branch_a": fail,
    "branch_b": ok,
    "join": ok, # skipped because branch_a failed
})
print(result.node_results["branch_b"].status) # COMPLETED (still ran!)
print(result.node_results["join"].status) # SKIPPED
"""

GLOBAL_TIMEOUT = """\
result = dagron.DAGExecutor(dag).execute(tasks, timeout=30.0)
# Any node still running after 30 seconds is marked TIMED_OUT
for name, nr in result.node_results.items():
    if nr.status == dagron.NodeStatus.TIMED_OUT:
        print(f"{name} timed out!")
"""

CANCELLATION = """\
import threading
cancel = threading.Event()
# In another thread (e.g., signal handler):
# cancel.set()
result = dagron.DAGExecutor(dag).execute(tasks, cancel_event=cancel)
"""

SIGNAL = """\
import signal
cancel = threading.Event()
signal.signal(signal.SIGINT, lambda *_: cancel.set())
result = dagron.DAGExecutor(dag).execute(tasks, cancel_event=cancel)
print(result.cancelled) # number of cancelled nodes
"""

CALLBACKS = """\
class MyCallbacks:
    def on_node_start(self, name):
        print(f"[START] {name}")
    def on_node_complete(self, name, result):
        print(f"[DONE] {name} -> {result}")
    def on_node_error(self, name, error):
        print(f"[FAIL] {name}: {error}")
    def on_node_skip(self, name):
        print(f"[SKIP] {name}")
result = dagron.DAGExecutor(dag, callbacks=MyCallbacks()).execute(tasks)
"""

PROGRESS = """\
from dagron import DAGExecutor
class ProgressTracker:
    def __init__(self, total):
        self.total = total
        self.done = 0
    def on_node_complete(self, name, result):
        self.done += 1
        pct = (self.done / self.total) * 100
        print(f"Progress: {self.done}/{self.total} ({pct:.0f}%)")
    def on_node_error(self, name, error):
        self.done += 1
    def on_node_skip(self, name):
        self.done += 1
tracker = ProgressTracker(dag.node_count())
result = DAGExecutor(dag, callbacks=tracker).execute(tasks)
"""

COSTS = """\
costs = {
    "train_model": 100.0,
    "evaluate": 10.0,
    "preprocess": 5.0,
}
result = dagron.DAGExecutor(dag, costs=costs).execute(tasks)
"""

ASYNC = """\
import asyncio
import dagron
dag = (
    dagron.DAG.builder()
    .add_edge("fetch_users", "enrich")
    .add_edge("fetch_orders", "enrich")
    .add_edge("enrich", "store")
    .build()
)
async def fetch_users():
    await asyncio.sleep(0.5) # simulate HTTP call
    return [{"id": 1, "name": "Alice"}]
async def fetch_orders():
    await asyncio.sleep(0.3)
    return [{"id": 1, "item": "Widget"}]
async def enrich():
    return {"users": 1, "orders": 1}
async def store():
    return "stored"
async def main():
    executor = dagron.AsyncDAGExecutor(dag)
    result = await executor.execute({
        "fetch_users": fetch_users,
        "fetch_orders": fetch_orders,
        "enrich": enrich,
        "store": store,
    })
    print(result.succeeded) # 4
asyncio.run(main())
"""

PIPELINE = '''\
from dagron import Pipeline, task
@task
def download():
    return {"raw": [1, 2, 3]}
@task
def normalize(download):
    """Depends on 'download' because of the parameter name."""
    return [x * 10 for x in download["raw"]]
@task
def summarize(normalize):
    return {"count": len(normalize), "total": sum(normalize)}
pipeline = Pipeline(tasks=[download, normalize, summarize], name="etl")
result = pipeline.execute()
print(result.node_results["summarize"].result)
# {'count': 3, 'total': 60}
'''

INFERENCE = '''\
@task
def a():
    return 1
@task
def b():
    return 2
@task
def c(a, b):
    """Depends on both a and b."""
    return a + b
pipeline = Pipeline(tasks=[a, b, c])
# Internally builds: a -> c, b -> c
'''

ASYNC_PIPELINE = """\
result = await pipeline.execute_async()
"""

MAX_WORKERS = """\
# Use exactly 2 threads
result = dagron.DAGExecutor(dag, max_workers=2).execute(tasks)
# Use all available cores (default)
result = dagron.DAGExecutor(dag).execute(tasks)
"""

PLAN = """\
plan = dag.execution_plan()
for step in plan:
    print(step)
# ExecutionStep(level=0, nodes=['a'])
# ExecutionStep(level=1, nodes=['b', 'c'])
# ExecutionStep(level=2, nodes=['d'])
"""

ALL_TOGETHER = """\
import dagron
import threading
import time
# Build the DAG
dag = (
    dagron.DAG.builder()
    .add_nodes(["extract", "validate", "transform", "enrich", "load", "notify"])
    .add_edges([
        ("extract", "validate"),
        ("validate", "transform"),
        ("validate", "enrich"),
        ("transform", "load"),
        ("enrich", "load"),
        ("load", "notify"),
    ])
    .build()
)
# Define tasks
def extract():
    time.sleep(0.1)
    return {"rows": 1000}
def validate():
    return {"valid": True}
def transform():
    time.sleep(0.2)
    return {"transformed": 1000}
def enrich():
    time.sleep(0.15)
    return {"enriched": 1000}
def load():
    return {"loaded": 1000}
def notify():
    return "email sent"
tasks = {
    "extract": extract,
    "validate": validate,
    "transform": transform,
    "enrich": enrich,
    "load": load,
    "notify": notify,
}
# Callbacks
class Logger:
    def on_node_start(self, name):
        print(f" -> {name}")
    def on_node_complete(self, name, result):
        print(f" <- {name}: {result}")
    def on_node_error(self, name, error):
        print(f" !! {name}: {error}")
# Cancellation support
cancel = threading.Event()
# Execute with all options
result = dagron.DAGExecutor(
    dag,
    max_workers=4,
    callbacks=Logger(),
    fail_fast=True,
    enable_tracing=True,
    costs={"transform": 2.0, "enrich": 1.5},
).execute(tasks, timeout=60.0, cancel_event=cancel)
# Inspect results
print(f"\\nCompleted: {result.succeeded}/{dag.node_count()}")
print(f"Duration: {result.total_duration_seconds:.3f}s")
for name, nr in result.node_results.items():
    print(f" {name}: {nr.status.name} ({nr.duration_seconds:.3f}s)")
"""


@pytest.fixture
def ns() -> dict[str, Any]:
    return {"__name__": "spec_example"}


@pytest.fixture
def diamond(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The namespace after the guide's first example, which later examples build on."""
    run(DIAMOND, ns)
    capsys.readouterr()
    return ns


@pytest.fixture
def sigint_restored() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


# -- DAGExecutor --------------------------------------------------------------------------
def test_the_substitution_is_the_only_change() -> None:
    assert as_dagron_nb("import dagron\nx = 1\n") == "import dagron_nb as dagron\nx = 1\n"
    assert as_dagron_nb("from dagron import task\n") == "from dagron_nb import task\n"
    assert as_dagron_nb(EXECUTE) == EXECUTE


def test_diamond(ns: dict[str, Any]) -> None:
    result = run(DIAMOND, ns)["result"]
    assert result.succeeded == 4
    assert {n: nr.result for n, nr in result.node_results.items()} == {
        "a": "data",
        "b": "processed_b",
        "c": "processed_c",
        "d": "merged",
    }
    # "Nodes b and c run in parallel after a completes"
    assert result["b"].started_at >= result["a"].finished_at
    assert result["c"].started_at >= result["a"].finished_at


def test_constructor_parameters_and_execute(diamond: dict[str, Any]) -> None:
    tree = ast.parse(CONSTRUCTOR)
    assert isinstance(tree.body[0], ast.Expr)  # an expression: the reader's executor
    executor = eval(compile(as_dagron_nb(CONSTRUCTOR), "<spec example>", "eval"), diamond)
    assert isinstance(executor, dagron.DAGExecutor)
    diamond["executor"] = executor
    result = run(EXECUTE, diamond)["result"]
    assert result.succeeded == 4


def test_understanding_execution_result(
    diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run(RESULT, diamond)
    out = lines(capsys)
    assert out[:5] == ["4", "0", "0", "0", "0"]
    assert float(out[5]) > 0
    rows = [line.split(" ") for line in out[6:]]
    assert [row[:4] for row in rows] == [
        ["a", "NodeStatus.COMPLETED", "data", "None"],
        ["b", "NodeStatus.COMPLETED", "processed_b", "None"],
        ["c", "NodeStatus.COMPLETED", "processed_c", "None"],
        ["d", "NodeStatus.COMPLETED", "merged", "None"],
    ]
    assert all(float(row[4]) >= 0 for row in rows)


def test_node_status(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(NODE_STATUS, diamond)
    assert lines(capsys) == ["All good!"]
    assert [s.value for s in NodeStatus] == [
        "pending",
        "running",
        "completed",
        "failed",
        "skipped",
        "timed-out",
        "cancelled",
        "cache-hit",
    ]


# -- fail-fast and best-effort ------------------------------------------------------------
def test_fail_fast(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(FAIL_FAST, diamond)["result"]
    assert lines(capsys) == ["NodeStatus.FAILED", "NodeStatus.SKIPPED"]
    assert result["b"].status is S.FAILED
    assert str(result["b"].error) == "boom"
    assert result["c"].status is S.SKIPPED
    # the running node finishes and keeps its real status
    assert result["a"].status is S.COMPLETED


def test_best_effort(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(BEST_EFFORT, diamond)["result"]
    assert lines(capsys) == ["NodeStatus.COMPLETED", "NodeStatus.SKIPPED"]
    assert result["branch_a"].status is S.FAILED
    assert result["join"].reason == "upstream 'branch_a' failed"
    assert result.succeeded == 2


# -- timeouts and cancellation ------------------------------------------------------------
def test_global_timeout(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(GLOBAL_TIMEOUT, diamond)["result"]
    assert lines(capsys) == []  # nothing ran for 30 s
    assert result.succeeded == 4


def test_cancellation(diamond: dict[str, Any]) -> None:
    assert run(CANCELLATION, diamond)["result"].succeeded == 4  # nobody set it
    # "When the event is set, the executor finishes any currently-running tasks but
    # does not schedule new ones. Unstarted nodes are marked cancelled."
    diamond["tasks"] = {**diamond["tasks"], "a": lambda: diamond["cancel"].set()}
    result = run(CANCELLATION, diamond)["result"]
    assert result["a"].status is S.COMPLETED
    assert [result[n].status for n in "bcd"] == [S.CANCELLED] * 3
    assert result.cancelled == 3


@pytest.mark.usefixtures("sigint_restored")
def test_cancellation_from_a_signal_handler(
    diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run(CANCELLATION, diamond)  # the example before, which imports threading
    run(SIGNAL, diamond)
    assert lines(capsys) == ["0"]

    # now press Ctrl-C while a runs: the handler sets the event, the rest is cancelled
    def a() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        assert diamond["cancel"].wait(5)
        return "data"

    diamond["tasks"] = {**diamond["tasks"], "a": a}
    result = run(SIGNAL, diamond)["result"]
    assert lines(capsys) == ["3"]
    assert result["a"].status is S.COMPLETED
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # still set here


def test_the_sigint_handler_was_restored() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- callbacks ----------------------------------------------------------------------------
def test_callbacks(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(CALLBACKS, diamond)
    out = lines(capsys)
    assert sorted(out) == sorted(
        [
            "[START] a",
            "[DONE] a -> data",
            "[START] b",
            "[DONE] b -> processed_b",
            "[START] c",
            "[DONE] c -> processed_c",
            "[START] d",
            "[DONE] d -> merged",
        ]
    )
    assert out[:2] == ["[START] a", "[DONE] a -> data"]
    assert out[-2:] == ["[START] d", "[DONE] d -> merged"]
    for name in "bc":
        assert out.index(f"[START] {name}") < out.index(f"[DONE] {name} -> processed_{name}")


def test_callbacks_report_failures_and_skips(
    diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise ValueError("bad b")

    diamond["tasks"] = {**diamond["tasks"], "b": broken}
    run(CALLBACKS, diamond)
    out = lines(capsys)
    assert "[FAIL] b: bad b" in out
    assert "[SKIP] d" in out
    assert "[START] d" not in out


def test_progress_tracker(diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(PROGRESS, diamond)
    assert sorted(lines(capsys)) == [
        "Progress: 1/4 (25%)",
        "Progress: 2/4 (50%)",
        "Progress: 3/4 (75%)",
        "Progress: 4/4 (100%)",
    ]
    assert diamond["tracker"].done == 4


def test_cost_aware_scheduling(ns: dict[str, Any]) -> None:
    # the reader's DAG has the nodes the costs name
    run(
        "import dagron\n"
        "dag = dagron.DAG.builder().add_edge('preprocess', 'train_model')"
        ".add_edge('train_model', 'evaluate').add_node('report').build()\n"
        "tasks = {name: (lambda n=name: n) for name in dag.nodes()}\n",
        ns,
    )
    result = run(COSTS, ns)["result"]
    assert result.succeeded == 4
    dag, costs = ns["dag"], ns["costs"]
    assert dag.critical_path(costs) == ["preprocess", "train_model", "evaluate"]
    # and with one worker, the costly chain starts before the independent node
    one = dagron.DAGExecutor(dag, costs=costs, max_workers=1).execute(ns["tasks"])
    assert one["preprocess"].started_at < one["report"].started_at


# -- asyncio and Pipeline -----------------------------------------------------------------
def test_async_executor(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(ASYNC, ns)
    assert lines(capsys) == ["4"]


def test_pipeline(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(PIPELINE, ns)
    assert lines(capsys) == ["{'count': 3, 'total': 60}"]
    pipeline = ns["pipeline"]
    assert pipeline.name == "etl"
    assert pipeline.dag.edges() == [("download", "normalize"), ("normalize", "summarize")]


def test_dependency_inference_and_async_pipelines(ns: dict[str, Any]) -> None:
    run(PIPELINE, ns)
    run(INFERENCE, ns)
    pipeline = ns["pipeline"]
    assert pipeline.task_names == ["a", "b", "c"]
    assert pipeline.dag.edges() == [("a", "c"), ("b", "c")]
    code = compile(
        as_dagron_nb(ASYNC_PIPELINE), "<spec example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    asyncio.run(eval(code, ns))
    assert ns["result"]["c"].result == 3
    assert ns["result"].succeeded == 3


# -- parallelism and plans ----------------------------------------------------------------
def test_max_workers(diamond: dict[str, Any]) -> None:
    run(MAX_WORKERS, diamond)
    assert diamond["result"].succeeded == 4
    two = dagron.DAGExecutor(diamond["dag"], max_workers=2).execute(diamond["tasks"])
    assert len({nr.worker for nr in two.node_results.values()}) <= 2
    # "max_workers=1 gives you sequential execution in topological order"
    one = dagron.DAGExecutor(diamond["dag"], max_workers=1).execute(diamond["tasks"])
    order = sorted(one.names, key=lambda n: one[n].started_at)
    assert order in (["a", "b", "c", "d"], ["a", "c", "b", "d"])
    for earlier, later in itertools.pairwise(order):
        assert one[earlier].finished_at <= one[later].started_at


def test_execution_plan_preview(
    diamond: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run(PLAN, diamond)
    assert lines(capsys) == [
        "ExecutionStep(level=0, nodes=['a'])",
        "ExecutionStep(level=1, nodes=['b', 'c'])",
        "ExecutionStep(level=2, nodes=['d'])",
    ]


def test_putting_it_all_together(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(ALL_TOGETHER, ns)
    out = lines(capsys)
    result = ns["result"]
    assert result.succeeded == 6
    assert result.trace is not None
    assert out[:2] == [" -> extract", " <- extract: {'rows': 1000}"]
    for name, value in [
        ("validate", "{'valid': True}"),
        ("transform", "{'transformed': 1000}"),
        ("enrich", "{'enriched': 1000}"),
        ("load", "{'loaded': 1000}"),
        ("notify", "email sent"),
    ]:
        assert f" -> {name}" in out
        assert f" <- {name}: {value}" in out
    # transform (cost 2.0) is preferred over enrich (1.5) when both become ready
    assert out.index(" -> transform") < out.index(" -> enrich")
    assert out.index(" <- load: {'loaded': 1000}") < out.index(" -> notify")
    tail = out[out.index("") :]
    assert tail[1] == "Completed: 6/6"
    assert re.fullmatch(r"Duration: \d+\.\d{3}s", tail[2])
    assert float(tail[2][len("Duration: ") : -1]) >= 0.3  # extract, then transform
    rows = tail[3:]
    assert [row.split(":")[0] for row in rows] == [
        " extract",
        " validate",
        " transform",
        " enrich",
        " load",
        " notify",
    ]
    assert all(re.fullmatch(r" \w+: COMPLETED \(\d+\.\d{3}s\)", row) for row in rows)
    assert float(rows[2].split("(")[1][:-2]) >= 0.2  # transform slept 0.2 s


def test_spec_examples_left_no_worker_threads_behind() -> None:
    assert [t for t in threading.enumerate() if t.name.startswith("dagron-worker-")] == []
