"""What runs on a Dask worker for a ``DaskExecutor`` run.

Every node of a run is one Dask task calling ``run_node(spec, *upstream)``,
where ``upstream`` are the values of the node's predecessors (Dask passes them
worker to worker). The wrapper never raises, so Dask's own error propagation
never turns a failure into a chain of errors: a task that raises returns a
``Failed`` marker, and a task whose input is a marker returns ``SKIP`` without
running, as do the tasks a run's *gate* no longer admits.

The gate (one per run and worker process) is how a driver stops a run exactly:
``close_gate`` (sent by ``client.run``) shuts it, answers with the nodes running
in that process, and queues a ``flush`` event behind every event the process
sent before. Once the driver has seen every worker's flush it knows precisely
which nodes started; no task of the run starts afterwards. A failing task with
fail-fast on closes its own process's gate at once.

Events go to the driver through the scheduler (``log_event`` on the worker's
batched stream, ``subscribe_topic`` on the client), in the order the worker
sent them: ``("start", token, node, worker, wall)`` when announced, then
``("end", token, node, outcome, wall, seconds, worker, text)``.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# outcomes carried by "end" events
OK = "ok"
FAILED = "failed"
LATE = "late"  # finished after its node timeout: the value is dropped

_MAX_TEXT = 2000  # longest error text sent in an event
_KEPT_GATES = 512  # gates remembered per process (oldest forgotten first)


class Failed:
    """The value of a node whose task raised: the exception (with its traceback)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<dagron_nb failed node: {type(self.error).__name__}: {self.error}>"


class Skipped:
    """The value of a node that did not run (an upstream failed, or the run stopped)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<dagron_nb skipped node>"

    def __reduce__(self) -> str:
        return "SKIP"  # one instance per process, also after pickling


SKIP = Skipped()


@dataclass(slots=True)
class NodeSpec:
    """How to run one node: ``func(**fixed, **{names[i]: upstream[i]})``.

    ``upstream`` holds the values of *all* the node's predecessors, the named
    ones first; the others only order the run.
    """

    token: str
    topic: str
    node: int
    name: str
    func: Callable[..., Any]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    announce: bool = False  # send a "start" event (someone watches starts)
    timeout: float | None = None  # the node's own timeout, measured here
    fail_fast: bool = True


class _Gate:
    __slots__ = ("closed", "lock", "running")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed = False
        self.running: dict[int, float] = {}  # node -> wall-clock start


_GATES: OrderedDict[str, _Gate] = OrderedDict()
_GATES_LOCK = threading.Lock()
#: cancel events of runs driven from this process: a worker living in the
#: driver's own process (an in-process cluster) checks them before each start
LOCAL_CANCEL: dict[str, Any] = {}


def _gate(token: str) -> _Gate:
    with _GATES_LOCK:
        gate = _GATES.get(token)
        if gate is None:
            gate = _GATES[token] = _Gate()
            while len(_GATES) > _KEPT_GATES:
                _GATES.popitem(last=False)
        return gate


def _worker() -> Any:
    from distributed import get_worker  # only ever called on a worker

    return get_worker()


def cached(value: Any) -> Any:
    """The task of a node answered by the result cache: its value, as is."""
    return value


def structural(*upstream: Any) -> Any:
    """The task of a node without a task: passes a skip on, otherwise nothing."""
    for value in upstream:
        if value.__class__ is Failed or value is SKIP:
            return SKIP
    return None


def unsendable(name: str) -> None:
    """Stands in for a task that could not be pickled; the driver keeps the real error."""
    raise RuntimeError(f"the task of node {name!r} could not be sent to the Dask cluster")


def run_node(spec: NodeSpec, *upstream: Any) -> Any:
    """Run one node on a worker; see the module docstring for the protocol."""
    for value in upstream:
        if value.__class__ is Failed or value is SKIP:
            return SKIP
    worker = _worker()
    address = str(worker.address)
    gate = _gate(spec.token)
    cancel = LOCAL_CANCEL.get(spec.token)
    with gate.lock:
        if gate.closed or (cancel is not None and cancel.is_set()):
            return SKIP
        wall = time.time()
        gate.running[spec.node] = wall
        if spec.announce:  # under the lock: a closing gate's flush comes after it
            worker.log_event(spec.topic, ("start", spec.token, spec.node, address, wall))
    began = time.perf_counter()
    outcome, text = OK, ""
    try:
        kwargs = dict(spec.fixed)
        kwargs.update(zip(spec.names, upstream))
        value = spec.func(**kwargs)
        if inspect.isawaitable(value):  # a coroutine function: this thread has no loop
            value = asyncio.run(_awaited(value))
        sendable(spec.name, value)
    except BaseException as exc:  # the task's failure is its result
        value = Failed(portable(exc))
        outcome, text = FAILED, f"{type(exc).__name__}: {exc}"[:_MAX_TEXT]
    seconds = time.perf_counter() - began
    if spec.timeout is not None and seconds >= spec.timeout:
        value, outcome = SKIP, LATE  # the driver timed it out: nothing may use it
    with gate.lock:
        gate.running.pop(spec.node, None)
        if outcome is FAILED and spec.fail_fast:
            gate.closed = True
        msg = ("end", spec.token, spec.node, outcome, wall, seconds, address, text)
        worker.log_event(spec.topic, msg)
    return value


_PLAIN = frozenset({type(None), bool, int, float, str, bytes})


def sendable(name: str, value: Any) -> None:
    """Raise a clear error now if ``value`` could never leave this worker.

    Dask pickles a value to pass it to another worker or to the notebook; a
    value that cannot be pickled would fail there, far from its node. Large
    buffers (NumPy, pandas) are pickled out of band here, so not copied.
    """
    if type(value) in _PLAIN:
        return
    buffers: list[Any] = []
    try:
        pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception:
        try:
            import cloudpickle

            cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception as exc:
            from dagron_nb.core.errors import ClusterError

            raise ClusterError(
                f"node {name!r} returned a value that cannot be pickled, so it cannot leave "
                f"its Dask worker ({type(exc).__name__}: {exc}). Return plain data (numbers, "
                "strings, lists, dicts, arrays, data frames); keep connections, locks, "
                "files and generators inside the task."
            ) from None


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def portable(exc: BaseException) -> BaseException:
    """``exc`` made to pickle with its traceback, or a stand-in that says why not."""
    try:
        from tblib import pickling_support  # a dependency of distributed

        pickling_support.install(exc)
    except Exception:  # pragma: no cover - tblib is part of distributed
        pass
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        try:
            import cloudpickle

            cloudpickle.loads(cloudpickle.dumps(exc))
        except Exception as why:
            stand_in = RuntimeError(
                f"{type(exc).__name__}: {exc} (the original exception could not be "
                f"sent from the Dask worker: {why})"
            )
            return stand_in
    return exc


def close_gate(token: str, topic: str, dask_worker: Any = None) -> list[tuple[int, float]]:
    """Shut the run's gate in this worker's process; return what runs there now.

    Runs on the worker's event loop (``client.run``). The flush event is
    queued behind any event a task thread queued before the gate closed.
    """
    gate = _gate(token)
    with gate.lock:
        gate.closed = True
        running = sorted(gate.running.items())
    if dask_worker is not None:
        address = str(dask_worker.address)
        dask_worker.loop.add_callback(dask_worker.log_event, topic, ("flush", token, address))
    return running


def still_running(token: str, node: int) -> bool:
    """Is ``node`` of run ``token`` still executing in this worker's process?"""
    with _GATES_LOCK:
        gate = _GATES.get(token)
    return gate is not None and node in gate.running
