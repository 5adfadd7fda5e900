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
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from dagron_nb.core.errors import ConfigurationError, DuplicateNodeError
from dagron_nb.core.graph import DAG, DAGBuilder
from dagron_nb.core.results import ExecutionResult
from dagron_nb.execution.aio import AsyncDAGExecutor, is_async_callable
from dagron_nb.execution.cache import CACHE_ATTRIBUTE, ResultCache
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
    node's own deadline in any executor; ``cache=False`` keeps the result
    cache away from it (side effects, randomness, the clock).
    """

    def __init__(
        self,
        func: Callable[..., R],
        *,
        name: str | None = None,
        timeout: float | None = None,
        cache: bool = True,
    ) -> None:
        if not callable(func):
            raise ConfigurationError(f"@task needs a function, got {func!r}.")
        # first, so that wrapping a Task copies nothing over the settings below
        functools.update_wrapper(self, func)  # keeps __doc__, __wrapped__ -> signature
        self.func = func
        # name="" stays "", so the Pipeline refuses it instead of silently renaming
        self.name = name if name is not None else stable_name(func)
        self.timeout = timeout
        if not isinstance(cache, bool):
            raise ConfigurationError(f"@task(cache=...) takes True or False, got {cache!r}.")
        #: read by the result cache (``cache.CACHE_ATTRIBUTE``); a function marked
        #: with ``no_cache`` stays uncached when wrapped
        self.dagron_cache = cache and getattr(func, CACHE_ATTRIBUTE, True) is not False
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
    *, name: str | None = None, timeout: float | None = None, cache: bool = True
) -> Callable[[Callable[..., R]], Task[R]]: ...
def task(
    func: Callable[..., R] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = None,
    cache: bool = True,
) -> Task[R] | Callable[[Callable[..., R]], Task[R]]:
    """Mark a function as a pipeline task: ``@task`` or ``@task(name=, timeout=, cache=)``.

    >>> @task
    ... def load():
    ...     return [1, 2]
    >>> load(), load.name
    ([1, 2], 'load')
    """
    if func is not None:
        return Task(func, name=name, timeout=timeout, cache=cache)

    def wrap(f: Callable[..., R]) -> Task[R]:
        return Task(f, name=name, timeout=timeout, cache=cache)

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
        # what each task needs, worked out once (not per run)
        self._shapes = [_Shape(t, self.tasks) for t in self.tasks.values()]

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    def _bind(self, inputs: Mapping[str, Any] | None) -> dict[str, Callable[[], Any]]:
        given = {**self.inputs, **inputs} if inputs else self.inputs
        if given:
            self._check_inputs_taken(given)
        values: dict[str, Any] = {}
        bound: dict[str, Callable[[], Any]] = {}
        missing: list[str] = []
        for shape in self._shapes:
            fixed: dict[str, Any] = {}
            for param, required in shape.others:
                if param in given:
                    fixed[param] = given[param]
                elif required:
                    missing.append(f"{shape.name}({param})")
            bound[shape.name] = shape.maker(shape, fixed, values)
        if missing:
            raise ConfigurationError(
                "cannot resolve parameter(s) " + ", ".join(missing) + ": each parameter "
                "must name a task of the pipeline, come from inputs={...}, or have a default. "
                f"Tasks: {', '.join(self.tasks)}."
            )
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
        cache: ResultCache | None = None,
        outputs: Collection[str] | None = None,
        refresh_cache: bool = False,
    ) -> ExecutionResult:
        """Run the pipeline on threads; ``result[name].result`` is each return value.

        An ``async def`` task runs to completion on its worker thread; to run
        async tasks side by side on one event loop, ``await execute_async()``.
        With a ``cache`` (a ``ResultCache``), a task whose code and inputs are
        unchanged since a cached run is a CACHE_HIT and does not run. With
        ``outputs=[names]`` only those return values are kept: every other one
        is released as soon as the tasks that take it are done.
        ``refresh_cache=True`` runs every task and stores the new results.
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
            cache=cache,
        )
        return executor.execute(
            tasks,
            timeout,
            cancel_event,
            node_timeouts=node_timeouts,
            outputs=outputs,
            refresh_cache=refresh_cache,
        )

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
        cache: ResultCache | None = None,
        outputs: Collection[str] | None = None,
        refresh_cache: bool = False,
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
            cache=cache,
        )
        return await executor.execute(
            tasks,
            timeout,
            cancel_event,
            node_timeouts=node_timeouts,
            outputs=outputs,
            refresh_cache=refresh_cache,
        )

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
        outputs: Iterable[str] | None = None,
        as_futures: bool = False,
        cache: ResultCache | None = None,
        refresh_cache: bool | Collection[str] = False,
    ) -> ExecutionResult:
        """Run the pipeline on a dask.distributed ``client`` (None: a LocalCluster).

        Upstream values pass between tasks on the cluster, worker to worker.
        Only the values of ``outputs`` (None: all) come back to this process;
        the others are released on the cluster once no step needs them.
        ``as_futures=True`` leaves the outputs there too, as futures.
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
            cache=cache,
        )
        tasks = self._bind(inputs)
        return executor.execute(
            tasks,
            timeout,
            cancel_event,
            node_timeouts=node_timeouts,
            outputs=outputs,
            as_futures=as_futures,
            refresh_cache=refresh_cache,
        )

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, tasks={self.task_names})"


def _positional(t: Task[Any], tasks: Mapping[str, Any]) -> bool:
    """Whether every parameter of ``t`` is an upstream task, passable by position."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return bool(t.parameters) and all(p.name in tasks and p.kind in kinds for p in t.parameters)


class _Shape:
    """What a pipeline knows of one task before any run: worked out once."""

    __slots__ = (
        "cache",
        "deps",
        "first",
        "func",
        "maker",
        "name",
        "others",
        "positional",
        "second",
        "timeout",
    )

    def __init__(self, t: Task[Any], tasks: Mapping[str, Any]) -> None:
        self.name = t.name
        self.func = t.func
        self.timeout = t.timeout
        self.cache = t.dagron_cache
        self.maker: type[BoundTask] = BoundTask
        #: upstream task names, in parameter order
        self.deps = [p.name for p in t.parameters if p.name in tasks]
        #: the other parameters, each with whether it needs a value (no default)
        self.others = [(p.name, p.default is p.empty) for p in t.parameters if p.name not in tasks]
        #: every parameter is an upstream value, in order: call positionally with
        #: this many arguments (0: by keyword); one or two get a path of their own
        self.positional = len(self.deps) if _positional(t, tasks) else 0
        self.first = self.deps[0] if self.deps else ""
        self.second = self.deps[1] if len(self.deps) > 1 else ""
        # the class whose __call__ fits this task: no branching per call
        if t.is_async:
            self.maker = AsyncBoundTask
        elif self.positional == 1:
            self.maker = _OneUpstream
        elif self.positional == 2:
            self.maker = _TwoUpstream
        elif not self.deps:
            self.maker = _NoUpstream


class BoundTask:
    """A task with its inputs bound: the no-argument callable an executor runs.

    Calling it calls the user's function with its fixed inputs and its upstream
    values (read from the run's shared ``values``) and stores the return value
    there before returning, so it is in place when the scheduler lets a
    successor start. The attributes are what executors and the cache read:
    ``func``, ``deps`` and ``fixed`` (the cache's key; the Dask executor makes
    the same call on a worker with futures for the upstream values),
    ``dagron_timeout`` and ``dagron_cache``. ``dagron_deliver`` puts a cache
    hit's value where successors find it; ``dagron_release`` drops a value
    nobody needs any more (``outputs=``). Made once per task and run, so it
    holds only the run's part; the rest is the pipeline's ``_Shape``.
    """

    __slots__ = ("fixed", "shape", "values")

    def __init__(self, shape: _Shape, fixed: dict[str, Any], values: dict[str, Any]) -> None:
        self.shape = shape
        self.fixed = fixed
        self.values = values

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def func(self) -> Callable[..., Any]:
        return self.shape.func

    @property
    def deps(self) -> list[str]:
        return self.shape.deps

    @property
    def dagron_timeout(self) -> float | None:
        return self.shape.timeout

    @property
    def dagron_cache(self) -> bool:
        return self.shape.cache

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the call: upstream values and fixed inputs."""
        deps = self.shape.deps
        kwargs = dict(zip(deps, map(self.values.__getitem__, deps)))
        kwargs.update(self.fixed)
        return kwargs

    def __call__(self) -> Any:
        # the per-task hot path: no call but the user's when there is nothing to pass,
        # no keyword dict when the upstream values are the parameters in order
        shape = self.shape
        values = self.values
        n = shape.positional
        if n == 1:
            value = shape.func(values[shape.first])
        elif n == 2:
            value = shape.func(values[shape.first], values[shape.second])
        elif n:
            value = shape.func(*[values[d] for d in shape.deps])
        elif shape.deps:
            value = shape.func(**self.kwargs())
        elif self.fixed:
            value = shape.func(**self.fixed)
        else:
            value = shape.func()
        values[shape.name] = value
        return value

    def dagron_deliver(self, value: Any) -> None:
        self.values[self.shape.name] = value

    def dagron_release(self) -> None:
        self.values.pop(self.shape.name, None)

    def __repr__(self) -> str:
        return f"<bound task {self.shape.name!r}>"


class _NoUpstream(BoundTask):
    __slots__ = ()

    def __call__(self) -> Any:
        shape = self.shape
        value = shape.func(**self.fixed) if self.fixed else shape.func()
        self.values[shape.name] = value
        return value


class _OneUpstream(BoundTask):
    __slots__ = ()

    def __call__(self) -> Any:
        shape = self.shape
        values = self.values
        value = values[shape.name] = shape.func(values[shape.first])
        return value


class _TwoUpstream(BoundTask):
    __slots__ = ()

    def __call__(self) -> Any:
        shape = self.shape
        values = self.values
        value = values[shape.name] = shape.func(values[shape.first], values[shape.second])
        return value


class AsyncBoundTask(BoundTask):
    """``BoundTask`` of an ``async def`` task: calling it gives a coroutine."""

    __slots__ = ()

    async def __call__(self) -> Any:  # type: ignore[override]
        value = await self.shape.func(**self.kwargs())
        self.values[self.shape.name] = value
        return value
