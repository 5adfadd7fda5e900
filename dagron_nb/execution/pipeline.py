"""``@task`` and ``Pipeline``: a DAG inferred from parameter names, data passed on.

A parameter named like another task of the pipeline is an edge from that task,
and receives its return value. Any other parameter must come from ``inputs``
(given to the pipeline or to ``execute``) or have a default; otherwise
``execute`` refuses to start and names the parameter.

Plain functions are accepted as tasks too (the ``%%dagron`` magic relies on
it), where the original dagron's ``Pipeline`` insists on ``@task``; ``@task``
sets dagron's marker, ``fn._dagron_task``, for code that looks for it.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from dagron_nb.core.errors import ConfigurationError, DuplicateNodeError
from dagron_nb.core.graph import DAG, DAGBuilder
from dagron_nb.core.results import ExecutionResult
from dagron_nb.execution.aio import AsyncDAGExecutor, is_async_callable
from dagron_nb.execution.threads import DAGExecutor

R = TypeVar("R")

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass(frozen=True)
class TaskSpec:
    """What the original dagron's ``@task`` marker (``fn._dagron_task``) holds:
    the task's name, function, parameter names and whether it is async."""

    name: str
    fn: Callable[..., Any]
    dependencies: list[str]
    is_async: bool


class Task(Generic[R]):
    """A function marked as a pipeline step; calling it calls the function.

    ``name`` defaults to the function's name; ``timeout`` (seconds) is the
    node's own deadline in any executor.
    """

    def __init__(
        self, func: Callable[..., R], *, name: str | None = None, timeout: float | None = None
    ) -> None:
        if not callable(func):
            raise ConfigurationError(f"@task needs a function, got {func!r}.")
        # first, so that wrapping a Task copies nothing over the settings below
        functools.update_wrapper(self, func)  # keeps __doc__, __wrapped__ -> signature
        self.func = func
        # name="" stays "", so the Pipeline refuses it instead of silently renaming
        self.name = name if name is not None else stable_name(func)
        self.timeout = timeout
        self.is_async = is_async_callable(func)
        self.parameters = [
            p for p in inspect.signature(func).parameters.values() if p.kind not in _VARIADIC
        ]
        _check_callable_as_task(self.name, func, self.parameters)

    @property
    def dagron_timeout(self) -> float | None:
        """The node timeout executors read (``run.TIMEOUT_ATTRIBUTE``)."""
        return self.timeout

    @property
    def _dagron_task(self) -> TaskSpec:
        """The marker attribute code written for the original dagron checks
        (``getattr(fn, "_dagron_task", None)``) to tell a task from a plain function."""
        return TaskSpec(self.name, self.func, [p.name for p in self.parameters], self.is_async)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"


def stable_name(func: Callable[..., Any]) -> str:
    """A task name that is the same in every run: no memory address in it.

    A function's ``__name__``; for ``functools.partial`` the name of the
    function inside; for a callable object the name of its class.

    >>> stable_name(functools.partial(max, 1))
    'max'
    """
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__name__", None)
    if isinstance(name, str) and name:
        return name
    return type(func).__name__


def _check_callable_as_task(name: str, func: Callable[..., Any], params: list[Any]) -> None:
    """Refuse what would only fail (or silently misbehave) once the run is under way."""
    inner = func
    while isinstance(inner, functools.partial):
        inner = inner.func
    call = None if inspect.isroutine(inner) else type(inner).__call__
    if inspect.isasyncgenfunction(inner) or inspect.isasyncgenfunction(call):
        raise ConfigurationError(
            f"task {name!r} is an async generator function: running it would only make a "
            "generator object, never run its body. Make it an async def that returns "
            "a value (e.g. collect the items into a list and return it)."
        )
    positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    if positional:
        raise ConfigurationError(
            f"task {name!r} has positional-only parameter(s) {', '.join(positional)} "
            "(before a '/'): a pipeline passes upstream values and inputs by name. "
            "Remove the '/' from its signature, or wrap it in a function with named "
            "parameters."
        )


@overload
def task(func: Callable[..., R], /) -> Task[R]: ...
@overload
def task(
    *, name: str | None = None, timeout: float | None = None
) -> Callable[[Callable[..., R]], Task[R]]: ...
def task(
    func: Callable[..., R] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = None,
) -> Task[R] | Callable[[Callable[..., R]], Task[R]]:
    """Mark a function as a pipeline task: ``@task`` or ``@task(name=..., timeout=...)``.

    >>> @task
    ... def load():
    ...     return [1, 2]
    >>> load(), load.name
    ([1, 2], 'load')
    """
    if func is not None:
        return Task(func, name=name, timeout=timeout)

    def wrap(f: Callable[..., R]) -> Task[R]:
        return Task(f, name=name, timeout=timeout)

    return wrap


class Pipeline:
    """Tasks whose parameter names say what they depend on.

    >>> @task
    ... def a(): return 1
    >>> @task
    ... def b(a): return a + 1
    >>> Pipeline([a, b]).execute().node_results["b"].result
    2
    """

    def __init__(
        self,
        tasks: Iterable[Callable[..., Any]],
        name: str | None = None,
        *,
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name or "pipeline"
        self.inputs = dict(inputs or {})
        self.tasks: dict[str, Task[Any]] = {}
        for fn in tasks:
            t = fn if isinstance(fn, Task) else Task(fn)
            if t.name in self.tasks:
                raise DuplicateNodeError(
                    t.name,
                    "two tasks of the pipeline have this name; rename one with "
                    "@task(name=...), or pass each function once.",
                )
            self.tasks[t.name] = t
        builder = DAGBuilder()
        for t in self.tasks.values():
            builder.add_node(t.name)
        for t in self.tasks.values():
            for p in t.parameters:
                if p.name in self.tasks:
                    builder.add_edge(p.name, t.name)
        self.dag: DAG = builder.build()

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    def _bind(self, inputs: Mapping[str, Any] | None) -> dict[str, Callable[[], Any]]:
        given = {**self.inputs, **(inputs or {})}
        self._check_inputs_taken(given)
        missing = [
            f"{t.name}({p.name})"
            for t in self.tasks.values()
            for p in t.parameters
            if p.name not in self.tasks and p.name not in given and p.default is p.empty
        ]
        if missing:
            raise ConfigurationError(
                "cannot resolve parameter(s) " + ", ".join(missing) + ": each parameter "
                "must name a task of the pipeline, come from inputs={...}, or have a default. "
                f"Tasks: {', '.join(self.tasks)}."
            )
        values: dict[str, Any] = {}
        bound: dict[str, Callable[[], Any]] = {}
        for t in self.tasks.values():
            deps = [p.name for p in t.parameters if p.name in self.tasks]
            fixed = {
                p.name: given[p.name]
                for p in t.parameters
                if p.name not in self.tasks and p.name in given
            }
            bound[t.name] = _bind_one(t, deps, fixed, values)
        return bound

    def input_names(self) -> list[str]:
        """The parameters that must or may come from ``inputs`` (not from a task)."""
        names: dict[str, None] = {}
        for t in self.tasks.values():
            for p in t.parameters:
                if p.name not in self.tasks:
                    names[p.name] = None
        return list(names)

    def _check_inputs_taken(self, given: Mapping[str, Any]) -> None:
        """An input no task takes is a typo until proven otherwise: refuse it."""
        wanted = self.input_names()
        unused = [name for name in given if name not in wanted]
        if not unused:
            return
        hints = []
        for name in unused:
            close = difflib.get_close_matches(str(name), wanted, n=1)
            hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        listed = ", ".join(repr(n) for n in wanted) if wanted else "none"
        raise ConfigurationError(
            f"input(s) {', '.join(hints)} taken by no task of the pipeline; its inputs are: "
            f"{listed}. Fix the name, or leave the input out."
        )

    def execute(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_workers: int | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        costs: Mapping[str, float] | None = None,
        enable_tracing: bool = False,
        hooks: object = None,
        node_timeouts: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Run the pipeline on threads; ``result[name].result`` is each return value.

        An ``async def`` task runs to completion on its worker thread; to run
        async tasks side by side on one event loop, ``await execute_async()``.
        """
        tasks = self._bind(inputs)
        executor = DAGExecutor(
            self.dag,
            max_workers=max_workers,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            hooks=hooks,
        )
        return executor.execute(tasks, timeout, cancel_event, node_timeouts=node_timeouts)

    async def execute_async(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_workers: int | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        timeout: float | None = None,
        cancel_event: Any = None,
        costs: Mapping[str, float] | None = None,
        enable_tracing: bool = False,
        hooks: object = None,
        node_timeouts: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Run the pipeline on the event loop (async tasks awaited, others in threads)."""
        tasks = self._bind(inputs)
        executor = AsyncDAGExecutor(
            self.dag,
            max_workers=max_workers,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            hooks=hooks,
        )
        return await executor.execute(tasks, timeout, cancel_event, node_timeouts=node_timeouts)

    def execute_dask(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        client: Any = None,
        max_workers: int | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        costs: Mapping[str, float] | None = None,
        enable_tracing: bool = False,
        hooks: object = None,
        node_timeouts: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Run the pipeline on a dask.distributed ``client`` (None: a LocalCluster).

        Upstream values pass between tasks on the cluster, as futures.
        """
        from dagron_nb.execution.dask import DaskExecutor  # dask is an optional extra

        executor = DaskExecutor(
            self.dag,
            client=client,
            max_workers=max_workers,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            hooks=hooks,
        )
        tasks = self._bind(inputs)
        return executor.execute(tasks, timeout, cancel_event, node_timeouts=node_timeouts)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, tasks={self.task_names})"


def _bind_one(
    t: Task[Any],
    deps: list[str],
    fixed: dict[str, Any],
    values: dict[str, Any],
) -> Callable[[], Any]:
    """A no-argument callable that calls ``t`` with its upstream values and inputs.

    The return value is stored before the callable returns, so it is there when
    the scheduler lets a successor start. ``.func``, ``.deps`` and ``.fixed`` on
    the callable let the Dask executor make the same call on a worker, with the
    upstream values passed as futures instead of through ``values``.
    """
    name = t.name
    func = t.func
    if t.is_async:

        async def run_async() -> Any:
            kwargs = {**fixed, **{d: values[d] for d in deps}}
            value = await func(**kwargs)
            values[name] = value
            return value

        run_async.dagron_timeout = t.timeout  # type: ignore[attr-defined]
        run_async.func, run_async.deps, run_async.fixed = func, deps, fixed  # type: ignore[attr-defined]
        return run_async

    def run() -> Any:
        kwargs = {**fixed, **{d: values[d] for d in deps}}
        value = func(**kwargs)
        values[name] = value
        return value

    run.dagron_timeout = t.timeout  # type: ignore[attr-defined]
    run.func, run.deps, run.fixed = func, deps, fixed  # type: ignore[attr-defined]
    return run
