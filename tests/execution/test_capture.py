"""capture.py: each node gets what its own task printed or logged, never another's."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading

import pytest

import dagron_nb as dagron
from dagron_nb.execution.capture import OutputCapture, running_node


def _ping_pong(me: str, mine: threading.Event, theirs: threading.Event) -> None:
    """Print three lines, handing over to the other task after each one."""
    for i in range(3):
        assert mine.wait(10)
        mine.clear()
        print(f"{me} line {i}")
        sys.stderr.write(f"{me} err {i}\n")
        theirs.set()


def test_interleaved_thread_tasks_keep_their_own_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    go_a, go_b = threading.Event(), threading.Event()
    go_a.set()
    dag = dagron.DAG().add_nodes(["a", "b", "quiet"])
    capture = OutputCapture()
    result = dagron.DAGExecutor(dag, max_workers=3, callbacks=capture).execute(
        {
            "a": lambda: _ping_pong("a", go_a, go_b),
            "b": lambda: _ping_pong("b", go_b, go_a),
            "quiet": lambda: None,
        }
    )
    assert result.ok
    expected = {n: "".join(f"{n} line {i}\n{n} err {i}\n" for i in range(3)) for n in "ab"}
    assert dict(result.captured_output) == expected
    assert result.inspect("a").output == expected["a"]
    assert result.inspect("quiet").output == ""
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")  # nothing leaked to the real streams


def test_interleaved_async_tasks_keep_their_own_lines() -> None:
    async def main() -> dagron.ExecutionResult:
        events = {"a": asyncio.Event(), "b": asyncio.Event()}
        events["a"].set()

        async def talk(me: str, other: str) -> None:
            for i in range(3):
                await events[me].wait()
                events[me].clear()
                print(f"{me} says {i} as {running_node()}")
                events[other].set()

        dag = dagron.DAG().add_nodes(["a", "b", "sync"])
        executor = dagron.AsyncDAGExecutor(dag, callbacks=OutputCapture())
        return await executor.execute(
            {
                "a": lambda: talk("a", "b"),
                "b": lambda: talk("b", "a"),
                "sync": lambda: print("from a thread"),
            }
        )

    result = asyncio.run(main())
    assert result.ok, result.summary()
    assert result.captured_output == {
        "a": "a says 0 as a\na says 1 as a\na says 2 as a\n",
        "b": "b says 0 as b\nb says 1 as b\nb says 2 as b\n",
        "sync": "from a thread\n",
    }


async def _async_task() -> str:
    print("awaited")
    return "done"


def test_an_async_def_task_stays_async_when_wrapped() -> None:
    dag = dagron.DAG().add_nodes(["t"])
    executor = dagron.AsyncDAGExecutor(dag, callbacks=OutputCapture())
    result = asyncio.run(executor.execute({"t": _async_task}))
    assert result["t"].result == "done"
    assert result.captured_output == {"t": "awaited\n"}


def test_logging_from_a_task_goes_to_its_node() -> None:
    stream = io.StringIO()
    saved = sys.stderr
    sys.stderr = stream
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("dagron_nb.tests.capture")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        dag = dagron.DAG().add_nodes(["loud"])
        result = dagron.DAGExecutor(dag, callbacks=OutputCapture()).execute(
            {"loud": lambda: log.info("step %d", 1)}
        )
        log.info("outside any task")
    finally:
        log.removeHandler(handler)
        sys.stderr = saved
    assert result.captured_output == {"loud": "INFO step 1\n"}
    assert stream.getvalue() == "INFO outside any task\n"  # handler pointed back afterwards
    assert handler.stream is stream


def test_echo_passes_writes_through_and_streams_are_restored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sys.stdout
    dag = dagron.DAG().add_nodes(["t"])
    result = dagron.DAGExecutor(dag, callbacks=OutputCapture(echo=True)).execute(
        {"t": lambda: print("shown and kept")}
    )
    assert sys.stdout is before
    assert result.captured_output == {"t": "shown and kept\n"}
    assert capsys.readouterr().out == "shown and kept\n"


def test_a_run_without_capture_leaves_output_alone(capsys: pytest.CaptureFixture[str]) -> None:
    dag = dagron.DAG().add_nodes(["t"])
    result = dagron.DAGExecutor(dag).execute({"t": lambda: print("plain")})
    assert result.captured_output == {}
    assert result.inspect("t").output == ""
    assert capsys.readouterr().out == "plain\n"


def test_two_capturing_runs_at_once_keep_apart() -> None:
    both_running = threading.Barrier(2, timeout=10)

    def task(text: str) -> None:
        both_running.wait()
        print(text)
        both_running.wait()

    results: dict[str, dagron.ExecutionResult] = {}

    def run(name: str) -> None:
        dag = dagron.DAG().add_nodes(["t"])
        executor = dagron.DAGExecutor(dag, callbacks=OutputCapture())
        results[name] = executor.execute({"t": lambda: task(f"from run {name}")})

    before = sys.stdout
    threads = [threading.Thread(target=run, args=(n,)) for n in "12"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert {n: r.captured_output["t"] for n, r in results.items()} == {
        "1": "from run 1\n",
        "2": "from run 2\n",
    }
    assert sys.stdout is before


def test_an_async_def_task_on_threads_and_a_lambda_returning_a_coroutine() -> None:
    async def fetch() -> str:
        print("fetching")
        return "page"

    dag = dagron.DAG().add_nodes(["own_loop", "via_lambda"])
    result = dagron.DAGExecutor(dag, callbacks=OutputCapture()).execute(
        {"own_loop": _async_task, "via_lambda": lambda: fetch()}
    )
    assert result["own_loop"].result == "done"
    assert result["via_lambda"].result == "page"
    assert result.captured_output == {"own_loop": "awaited\n", "via_lambda": "fetching\n"}
