"""What each task printed: ``print`` and ``logging`` captured per node.

Tasks of one run execute side by side (threads, asyncio tasks), so a global
redirect of ``sys.stdout`` would mix their lines. Instead a context variable
names the node whose task is running (set by the wrapper ``OutputCapture``
puts around each task; a thread or an asyncio task has its own value), and
while any capturing run is going ``sys.stdout`` / ``sys.stderr`` are proxies
that send a write to the buffer of the node running in the writer's context,
or, outside any task, to the real stream. ``logging`` handlers that write to
the real stdout / stderr are pointed at the proxies for that time, so a task's
log records land in its node's buffer too (formatted by the user's handler).

A run captures when an ``OutputCapture`` is among its callbacks (``Run`` asks
it to wrap the tasks; ``on_run_start`` / ``on_run_end`` install and remove the
proxies); the result then has ``captured_output``. ``echo=True`` also passes
each write through to the real stream (``%%dagron --show-output``). Threads a
task starts itself are not followed, unless they copy the context (as
``asyncio.to_thread`` does). The proxies are installed once for all runs in
progress and removed when the last one ends.

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("a", "b").build()
>>> executor = dagron.DAGExecutor(dag, callbacks=OutputCapture())
>>> result = executor.execute({"a": lambda: print("hello from a"), "b": lambda: None})
>>> result.captured_output
{'a': 'hello from a\\n'}
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class _Sink:
    """One node's buffer; ``chunks.append`` is atomic, so writers need no lock."""

    __slots__ = ("chunks", "echo", "name")

    def __init__(self, name: str, echo: bool) -> None:
        self.name = name
        self.echo = echo
        self.chunks: list[str] = []


_current: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar(
    "dagron_nb_running_node", default=None
)


def running_node() -> str | None:
    """The node whose task runs in this context (in a capturing run), else None."""
    sink = _current.get()
    return None if sink is None else sink.name


class OutputCapture:
    """A callbacks object that records what each task writes to stdout, stderr and logs.

    Pass it in ``callbacks=`` (alone or in a list); ``text(name)`` works during
    the run too (the live inspector reads it), and the result's
    ``captured_output`` holds every node that wrote something.
    """

    def __init__(self, *, echo: bool = False) -> None:
        self.echo = echo
        self._sinks: dict[str, _Sink] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` running with ``name`` as this context's node (sync or async alike)."""
        from dagron_nb.execution.aio import is_async_callable  # aio imports run imports us

        fn = without_capture(fn)  # a task from an earlier capturing run: capture anew
        sink = _Sink(name, self.echo)
        self._sinks[name] = sink
        return _AsyncInNode(fn, sink) if is_async_callable(fn) else _InNode(fn, sink)

    def text(self, name: str) -> str:
        """What ``name``'s task wrote so far ("" if nothing)."""
        sink = self._sinks.get(name)
        return "" if sink is None else "".join(sink.chunks)

    def texts(self) -> dict[str, str]:
        """``{name: text}`` of the nodes that wrote something."""
        return {name: "".join(s.chunks) for name, s in self._sinks.items() if s.chunks}

    # -- as a callbacks object ---------------------------------------------------
    def on_run_start(self, dag: object) -> None:
        _install()

    def on_run_end(self, result: object) -> None:
        _uninstall()


def without_capture(task: Callable[..., Any]) -> Callable[..., Any]:
    """``task`` without the wrappers ``OutputCapture.wrap`` put around it (a
    result's ``tasks`` are wrapped when its run captured output); any other
    wrapper, such as a user's own decorator, stays."""
    while isinstance(task, _InNode):
        task = task.__wrapped__
    return task


class _InNode:
    """A task run with its node's sink as the context's: a small object, not a
    closure plus ``functools.update_wrapper`` (a run wraps every task, and that
    cost 0.3 ms a task). Other attributes (``func``, ``fixed``, ... that Dask
    and ``inspection.task_source`` read) are the wrapped task's."""

    __slots__ = ("__wrapped__", "sink")

    is_async = False

    def __init__(self, fn: Callable[..., Any], sink: _Sink) -> None:
        self.__wrapped__ = fn
        self.sink = sink

    def __call__(self) -> Any:
        token = _current.set(self.sink)
        try:
            value = self.__wrapped__()
        finally:
            _current.reset(token)
        if inspect.iscoroutine(value):  # ``lambda: fetch(url)``: the work is still to come
            return _in_node(self.sink, value)
        return value

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__wrapped__, attr)


class _AsyncInNode(_InNode):
    """The same for an ``async def`` task (``is_async`` tells the executors)."""

    __slots__ = ()

    is_async = True

    async def __call__(self) -> Any:  # type: ignore[override]
        return await _in_node(self.sink, self.__wrapped__())


async def _in_node(sink: _Sink, coroutine: Coroutine[Any, Any, Any]) -> Any:
    token = _current.set(sink)
    try:
        return await coroutine
    finally:
        _current.reset(token)


class _NodeStream:
    """Stands in for ``sys.stdout`` / ``sys.stderr``: writes go to the running node."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def write(self, text: str) -> int:
        sink = _current.get()
        if sink is None:
            return int(self.original.write(text) or 0)
        sink.chunks.append(text)
        if sink.echo:
            self.original.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, attr: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self.original, attr)


_lock = threading.Lock()
_runs = 0  # capturing runs in progress
_handlers: list[tuple[logging.StreamHandler[Any], Any]] = []


def _install() -> None:
    global _runs
    with _lock:
        _runs += 1
        if _runs > 1:
            return
        proxies: dict[int, _NodeStream] = {}
        for attr in ("stdout", "stderr"):
            stream = getattr(sys, attr)
            if stream is None or isinstance(stream, _NodeStream):
                continue
            proxy = _NodeStream(stream)
            proxies[id(stream)] = proxy
            setattr(sys, attr, proxy)
        for handler in _stream_handlers():
            proxy_for = proxies.get(id(handler.stream))
            if proxy_for is not None:
                _handlers.append((handler, handler.stream))
                handler.setStream(proxy_for)


def _uninstall() -> None:
    global _runs
    with _lock:
        _runs = max(0, _runs - 1)
        if _runs:
            return
        for attr in ("stdout", "stderr"):
            stream = getattr(sys, attr)
            # only our own proxy: a stream swapped in since then stays
            if isinstance(stream, _NodeStream):
                setattr(sys, attr, stream.original)
        for handler, original in _handlers:
            if isinstance(handler.stream, _NodeStream):
                handler.setStream(original)
        _handlers.clear()


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers: list[Any] = [logging.getLogger()]
    loggers += list(logging.Logger.manager.loggerDict.values())
    found: dict[int, logging.StreamHandler[Any]] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                found[id(handler)] = handler
    return list(found.values())
