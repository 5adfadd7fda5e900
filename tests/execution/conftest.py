"""One fixture, both executors: semantic tests run on threads and on asyncio alike.

``runner.execute(dag, tasks, ...)`` takes the union of both executors' options
and returns the ``ExecutionResult``; for asyncio it drives a fresh event loop
and closes it without waiting for threads still stuck in abandoned tasks (as
``execute`` itself promises not to wait for them). Tasks are plain functions:
the asyncio executor runs them in its thread pool, so the same blocking,
event-driven tasks test both.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

import dagron_nb as dagron

T = TypeVar("T")

#: how long a test waits for something that should happen at once (a hang guard)
PATIENCE = 5.0


def run_in_fresh_loop(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.close()  # shuts the default executor down without waiting for it


@dataclass(frozen=True)
class Runner:
    kind: str  # "thread" or "async"

    @property
    def worker_prefix(self) -> str:
        return "dagron-worker-" if self.kind == "thread" else "async-"

    def execute(
        self,
        dag: dagron.DAG,
        tasks: Mapping[str, Callable[[], Any] | None],
        *,
        timeout: float | None = None,
        cancel_event: Any = None,
        node_timeouts: Mapping[str, float] | None = None,
        outputs: list[str] | None = None,
        **options: Any,
    ) -> dagron.ExecutionResult:
        if self.kind == "thread":
            return dagron.DAGExecutor(dag, **options).execute(
                tasks, timeout, cancel_event, node_timeouts=node_timeouts, outputs=outputs
            )
        executor = dagron.AsyncDAGExecutor(dag, **options)
        return run_in_fresh_loop(
            executor.execute(
                tasks, timeout, cancel_event, node_timeouts=node_timeouts, outputs=outputs
            )
        )


@pytest.fixture
def run_async() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Like ``asyncio.run``, but does not wait for threads stuck in abandoned tasks."""
    return run_in_fresh_loop


@pytest.fixture(params=["thread", "async"])
def runner(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


class Recorder:
    """A callbacks object that records every event, in order, from any thread.

    After ``close()`` (call it when ``execute`` has returned) any further event
    is also kept in ``late``: a returned run must stay silent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.threads: dict[tuple[str, str], str] = {}
        self.values: dict[str, Any] = {}
        self.errors: dict[str, BaseException] = {}
        self.late: list[tuple[str, str]] = []
        self.runs: list[str] = []
        self._closed = False

    def _add(self, kind: str, name: str) -> None:
        with self._lock:
            self.events.append((kind, name))
            self.threads[(kind, name)] = threading.current_thread().name
            if self._closed:
                self.late.append((kind, name))

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def on_node_start(self, name: str) -> None:
        self._add("start", name)

    def on_node_complete(self, name: str, result: Any) -> None:
        self.values[name] = result
        self._add("complete", name)

    def on_node_error(self, name: str, error: BaseException) -> None:
        self.errors[name] = error
        self._add("error", name)

    def on_node_skip(self, name: str) -> None:
        self._add("skip", name)

    def on_node_timeout(self, name: str, error: BaseException) -> None:
        self.errors[name] = error
        self._add("timeout", name)

    def on_node_cancel(self, name: str) -> None:
        self._add("cancel", name)

    def on_run_start(self, dag: dagron.DAG) -> None:
        self.runs.append("start")

    def on_run_end(self, result: dagron.ExecutionResult) -> None:
        self.runs.append("end")

    def kinds(self, name: str) -> list[str]:
        return [k for k, n in self.events if n == name]

    def index(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class Timeline:
    """Tasks call ``start``/``end`` around their work; the order is kept under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, str]] = []

    def task(self, name: str, body: Callable[[], Any] | None = None) -> Callable[[], Any]:
        def run() -> Any:
            with self._lock:
                self.events.append(("start", name))
            try:
                return body() if body is not None else name
            finally:
                with self._lock:
                    self.events.append(("end", name))

        return run

    def starts(self) -> list[str]:
        return [n for k, n in self.events if k == "start"]

    def max_overlap(self) -> int:
        running = peak = 0
        for kind, _ in self.events:
            running += 1 if kind == "start" else -1
            peak = max(peak, running)
        return peak


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that stuck tasks wait on; set at teardown so no thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Ctrl-C tests need Python's own SIGINT handler, and must leave it as they found it."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
