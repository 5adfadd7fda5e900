"""The baselines dagron_nb is measured against: plain schedulers on a bare thread pool.

These are meant to be honest, not strawmen: each is what a careful engineer writes
in an afternoon with ``concurrent.futures``, correct for any DAG and free of
sleeps or polling.

* ``run_main_loop``: done-callbacks feed a queue; the calling thread takes each
  finished node off the queue, counts down its successors and submits those that
  became ready. Every node costs one Future and a round trip through the caller.
* ``run_worker_driven``: the worker thread that finishes a node counts down its
  successors under a lock and submits the ready ones itself, so the caller only
  waits for the end.
* ``run_level_by_level``: runs each level of ``dag.execution_plan()`` as a batch
  and waits for the whole batch before the next (the "barrier" scheduler that
  dependency-driven execution is meant to beat on makespan).

Graphs come as successor lists and predecessor lists over node numbers, tasks as a
list of callables taking no arguments; each function returns the list of values.

>>> run_main_loop([[1], []], [[], [0]], [lambda: "a", lambda: "b"], workers=2)
['a', 'b']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any

from dagron_nb import DAG

Tasks = list[Callable[[], Any]]


def run_main_loop(
    succ: list[list[int]], pred: list[list[int]], tasks: Tasks, *, workers: int
) -> list[Any]:
    """Main-loop reference: workers only run tasks; the caller does all the scheduling."""
    n = len(tasks)
    waiting = [len(p) for p in pred]
    values: list[Any] = [None] * n
    finished: SimpleQueue[tuple[int, Future[Any]]] = SimpleQueue()
    pool = ThreadPoolExecutor(workers)

    def submit(node: int) -> None:
        future = pool.submit(tasks[node])
        # The callback runs in the worker thread; it only hands the node back.
        future.add_done_callback(lambda f: finished.put((node, f)))

    try:
        for node in range(n):
            if not waiting[node]:
                submit(node)
        for _ in range(n):
            node, future = finished.get()
            values[node] = future.result()  # a task's exception ends the run here
            for t in succ[node]:
                waiting[t] -= 1
                if not waiting[t]:
                    submit(t)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return values


def run_worker_driven(
    succ: list[list[int]], pred: list[list[int]], tasks: Tasks, *, workers: int
) -> list[Any]:
    """Worker-driven reference: the finishing worker submits the ready successors."""
    n = len(tasks)
    waiting = [len(p) for p in pred]
    values: list[Any] = [None] * n
    lock = threading.Lock()  # guards `waiting` and `left`: two workers may share a successor
    left = [n]
    all_done = threading.Event()
    failures: list[BaseException] = []
    pool = ThreadPoolExecutor(workers)

    def run(node: int) -> None:
        try:
            values[node] = tasks[node]()
        except BaseException as exc:  # stop the run; the caller re-raises it
            failures.append(exc)
            all_done.set()
            return
        ready = []
        with lock:
            left[0] -= 1
            for t in succ[node]:
                waiting[t] -= 1
                if not waiting[t]:
                    ready.append(t)
            if not left[0]:
                all_done.set()
        if not failures:
            for t in ready:
                pool.submit(run, t)

    # Roots are listed before the first submit: once workers run, they lower `waiting`
    # themselves, and a scan racing them would submit a node twice.
    roots = [node for node in range(n) if not waiting[node]]
    for node in roots:
        pool.submit(run, node)
    all_done.wait()
    pool.shutdown(wait=True, cancel_futures=bool(failures))
    if failures:
        raise failures[0]
    return values


def run_level_by_level(
    dag: DAG, tasks: Mapping[str, Callable[[], Any]], *, workers: int
) -> dict[str, Any]:
    """Each level of ``dag.execution_plan()`` as one batch; wait for it, then the next."""
    values: dict[str, Any] = {}
    with ThreadPoolExecutor(workers) as pool:
        for step in dag.execution_plan():
            batch = [(name, pool.submit(tasks[name])) for name in step.nodes]
            for name, future in batch:
                values[name] = future.result()
    return values
