"""The ``%%dagron`` cell magic and the ``%dagron plan|show`` line magic.

``%%dagron`` turns a notebook cell into a pipeline run: it executes the cell in
the notebook's namespace, reads the cell's syntax tree to learn which top-level
functions the cell defined (in definition order; names starting with ``_`` are
helpers, not tasks), and runs them as a ``Pipeline``: a parameter named like
another task is an edge, any other parameter without a default takes the value
of the notebook variable of that name. The live widget is shown above, a
compact summary below (one traceback for a failure, user frames only), and the
``ExecutionResult`` is stored in ``_dagron_result`` (or ``-o NAME``), also when
the run is interrupted. Cells with ``async def`` tasks, or ``--async``, run on
the asyncio executor; inside a notebook, whose event loop is already running,
``nest_asyncio`` lets the run use that very loop. ``%dagron plan X`` gives the
plan table of a DAG / Pipeline / result and ``%dagron show X [RESULT]`` its
static picture, coloured by the result's statuses. The steps that need no
IPython (the cell's functions, the inputs, the summary and its compact
traceback) are in ``cells.py``; this module parses options and talks to the shell.
"""

from __future__ import annotations

import ast
import asyncio
import keyword
import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from dagron_nb.core.errors import DagronError
from dagron_nb.core.extras import optional_import
from dagron_nb.core.graph import DAG
from dagron_nb.core.results import ExecutionResult, NodeStatus
from dagron_nb.execution.cache import ResultCache
from dagron_nb.execution.capture import OutputCapture
from dagron_nb.execution.pipeline import Pipeline
from dagron_nb.notebook.cells import (
    RunFailedError,
    cell_source,
    compact_traceback,
    report,
    resolve_inputs,
    run_failure,
    top_level_functions,
)
from dagron_nb.notebook.iterate import NotebookSession, cache_table, mark_borrowed, needed_for

#: where ``%%dagron`` stores the ExecutionResult unless ``-o NAME`` says otherwise
DEFAULT_RESULT_VAR = "_dagron_result"


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the rich display; ``%load_ext dagron_nb`` calls this."""
    from dagron_nb.notebook import display

    ipython.register_magics(DagronMagics)
    display.register(ipython)
    cleanup = ipython.input_transformers_cleanup
    if syntax_errors_as_python not in cleanup:
        cleanup.append(syntax_errors_as_python)


def syntax_errors_as_python(lines: list[str]) -> list[str]:
    """An input transformer: a ``%%dagron`` cell whose body is not valid Python
    is handed to Python without the magic's line, so the error shown is
    Python's own ``SyntaxError`` at the cell's line, not a traceback through
    the magic. (Any other cell passes unchanged.) A valid body's syntax tree
    is kept for the magic, which runs next, so the cell is parsed once.
    """
    if not lines or not lines[0].startswith("%%dagron"):
        return lines
    from IPython import get_ipython

    body = "".join(lines[1:])
    try:
        _PARSED.clear()
        _PARSED[body] = parse_cell(get_ipython(), body)
    except SyntaxError:
        return ["\n", *lines[1:]]  # a blank line for the magic's: same line numbers
    return lines


#: the body last parsed by ``syntax_errors_as_python`` -> (source, tree)
_PARSED: dict[str, tuple[str, ast.Module]] = {}


def parse_cell(shell: Any, cell: str) -> tuple[str, ast.Module]:
    """The source to run for a ``%%dagron`` body and its syntax tree, with the
    cell's own line numbers; raises ``SyntaxError`` (at the cell's line).

    Plain Python is parsed as it is: IPython's transforms leave valid Python
    unchanged, and tokenizing a big cell for them costs more than the run of
    a thousand no-op tasks. Only a body that is not Python (``!ls``, ``%time``,
    ``x?``) goes through ``shell.transform_cell`` first.
    """
    source = cell_source(cell, cell)
    try:
        return source, shell.compile.ast_parse(source)
    except SyntaxError:
        source = cell_source(cell, shell.transform_cell(cell))
        return source, shell.compile.ast_parse(source)


@magics_class
class DagronMagics(Magics):
    """The ``%%dagron`` and ``%dagron`` magics.

    >>> from IPython.testing.globalipapp import get_ipython
    >>> shell = get_ipython()
    >>> shell.run_line_magic("load_ext", "dagron_nb")
    >>> cell = "def a(): return 1\\ndef b(a): return a + 1"
    >>> shell.run_cell_magic("dagron", "--no-live -o r", cell)  # doctest: +ELLIPSIS
    2 nodes in ...s: 2 completed -> r
    >>> shell.user_ns["r"]["b"].result
    2
    """

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        #: this kernel's result cache and the tasks its %%dagron cells defined
        self.session = NotebookSession()

    @magic_arguments(name="%dagron")
    @argument("-w", "--workers", type=int, metavar="N", help="run at most N tasks at once")
    @argument("-t", "--timeout", type=float, metavar="S", help="stop the whole run after S s")
    @argument(
        "--best-effort",
        action="store_true",
        help="after a failure keep running the independent branches (fail_fast=False)",
    )
    @argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="use the asyncio executor (automatic when the cell defines async def tasks)",
    )
    @argument("--plan", action="store_true", help="show the graph and plan table, do not run")
    @argument("--no-live", action="store_true", help="no live widget, only the summary")
    @argument(
        "-o",
        "--output",
        default=DEFAULT_RESULT_VAR,
        metavar="NAME",
        help=f"variable that receives the ExecutionResult (default {DEFAULT_RESULT_VAR})",
    )
    @argument("-n", "--name", metavar="TITLE", help="name of the pipeline, shown as title")
    @argument(
        "--callbacks",
        metavar="VAR",
        help="a notebook variable holding more callbacks objects (or a list) for the run",
    )
    @argument(
        "--no-raise",
        action="store_true",
        help="a failed run does not raise, so Run All goes on past this cell",
    )
    @argument(
        "--dask",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster: the scheduler at ADDRESS, or without one a "
        "LocalCluster of worker processes kept for this kernel",
    )
    @argument(
        "--show-output",
        action="store_true",
        help="show what the tasks print as they print it (it is kept per node anyway)",
    )
    @argument(
        "--force", action="store_true", help="run every task, ignoring (and refreshing) the cache"
    )
    @argument("--no-cache", action="store_true", help="run every task; do not use the cache")
    @argument(
        "--only",
        metavar="NODE[,NODE]",
        help="run only these tasks and what they need (from the cache where it can)",
    )
    @argument("--to", metavar="NODE", help="run NODE and what it needs: 'run up to here'")
    @cell_magic("dagron")  # type: ignore[arg-type]  # IPython types it for functions
    def dagron_cell(self, line: str, cell: str) -> None:
        """Run the functions this cell defines as a pipeline, in parallel.

        Each top-level ``def`` / ``async def`` of the cell is a task (names
        starting with ``_`` are helpers). A parameter named like another task
        receives its return value; any other parameter without a default is
        taken from the notebook variable of the same name, or, if it names
        a task of an earlier ``%%dagron`` cell, receives that task's value.
        Results are cached per kernel: an unchanged task is not run again.
        """
        args = _parse(self.dagron_cell, line, shell_words=True)
        if args.workers is not None and args.workers < 1:
            raise UsageError(f"-w/--workers must be at least 1, got {args.workers}.")
        if args.timeout is not None and not args.timeout > 0:
            raise UsageError(f"-t/--timeout must be a number of seconds > 0, got {args.timeout}.")
        if not args.output.isidentifier() or keyword.iskeyword(args.output):
            raise UsageError(f"-o needs a Python variable name, got {args.output!r}.")
        extra = self._value(args.callbacks, "--callbacks") if args.callbacks else None

        ns = self.ip.user_ns
        names = self._run_source(cell)
        tasks = [ns[n] for n in names if not n.startswith("_") and callable(ns.get(n))]
        if not tasks:
            raise UsageError(
                "this cell defines no top-level functions, so %%dagron has nothing to run. "
                "Write each step as a function (def or async def); parameters named like "
                "other functions of the cell receive their results."
            )
        self.session.remember(tasks, cell=self._cell_label())
        tasks, borrowed = self.session.tasks_for(tasks, ns)
        pipeline = _select(_pipeline(tasks, args.name), args)
        mark_borrowed(pipeline.dag, borrowed)
        inputs, missing = resolve_inputs(pipeline, ns)
        if args.plan:
            self._show_plan(pipeline, inputs, missing)
            return
        if missing:
            raise UsageError(
                "cannot resolve parameter(s) " + ", ".join(missing) + ": each parameter must "
                "name a function of this cell, a variable defined in the notebook, or have a "
                "default. Define the variable in an earlier cell, or add the function."
            )
        result = self._run_pipeline(pipeline, inputs, args, extra)
        ns[args.output] = result
        _finish(result, args.output, raise_failure=not args.no_raise)

    @magic_arguments(name="dagron")
    @argument("command", choices=["plan", "show", "cache"], help="what to do with TARGET")
    @argument(
        "target",
        nargs="?",
        help="a DAG, Pipeline or ExecutionResult (name or expression); cache: 'clear' or 'dir'",
    )
    @argument(
        "result",
        nargs="?",
        help="show: an ExecutionResult whose statuses colour the DAG's picture; cache dir: PATH",
    )
    @argument("-c", "--costs", metavar="VAR", help="plan: a dict of node name -> cost")
    @line_magic("dagron")  # type: ignore[arg-type]  # IPython types it for functions
    def dagron_line(self, line: str) -> object:
        """Plan table or static picture of a DAG, Pipeline or ExecutionResult.

        ``%dagron plan X [-c COSTS]`` returns the plan table (level, node, cost,
        bottom level, ...); ``%dagron show X [RESULT]`` returns the picture,
        coloured by RESULT's statuses (or by X's, if X is a result).
        ``%dagron cache`` shows what this kernel's cache holds (node, size,
        age, hits); ``%dagron cache clear`` empties it; ``%dagron cache dir
        PATH`` keeps results on disk too, so they survive a kernel restart.
        """
        args = _parse(self.dagron_line, line)
        if args.command == "cache":
            return self._cache_command(args)
        if args.target is None:
            raise UsageError(f"%dagron {args.command} needs a DAG, Pipeline or ExecutionResult.")
        target = self._value(args.target, "target")
        if not isinstance(target, (DAG, Pipeline, ExecutionResult)):
            raise UsageError(
                f"{args.target} is a {type(target).__name__}, not a DAG, Pipeline or "
                f"ExecutionResult. {self._known()}"
            )
        dag = target if isinstance(target, DAG) else target.dag
        if args.command == "plan":
            if args.result is not None:
                raise UsageError(f"plan takes one target, got also {args.result!r}.")
            costs = self._value(args.costs, "--costs") if args.costs else None
            try:
                return plan_table(dag, costs)
            except DagronError as exc:
                raise UsageError(str(exc)) from None
        if args.costs is not None:
            raise UsageError("-c/--costs belongs to plan; show draws the DAG as it is.")
        result = target if isinstance(target, ExecutionResult) else None
        if args.result is not None:
            result = self._value(args.result, "result")
            if not isinstance(result, ExecutionResult):
                raise UsageError(
                    f"{args.result} is a {type(result).__name__}, not an ExecutionResult. "
                    f"{self._known()}"
                )
        if result is None:
            return Picture(dag)
        from dagron_nb.notebook.render import result_tooltips

        return Picture(dag, _statuses(dag, result), tooltips=result_tooltips(result))

    def _cache_command(self, args: Any) -> object:
        """``%dagron cache`` (the table), ``cache clear``, ``cache dir PATH``."""
        usage = (
            "usage: %dagron cache (show what is cached), %dagron cache clear (empty it), "
            "%dagron cache dir PATH (also keep results on disk, across kernel restarts)."
        )
        if args.costs is not None or args.target not in (None, "clear", "dir"):
            raise UsageError(usage)
        if (args.target == "dir") != (args.result is not None):
            raise UsageError(usage)
        cache = self.session.cache
        if args.target == "dir":
            self.session.cache = ResultCache(cache_dir=args.result)
            print(f"%%dagron now caches in memory and in {args.result}")
            return None
        if args.target == "clear":
            count = len(cache)
            cache.clear()
            print(f"cleared {count} cached result(s)")
            return None
        return cache_table(cache)

    # -- helpers -----------------------------------------------------------------
    @property
    def ip(self) -> Any:
        """The shell: always set once the magics are registered (IPython types it Optional)."""
        return self.shell

    def _run_pipeline(
        self, pipeline: Pipeline, inputs: dict[str, Any], args: Any, extra: object
    ) -> ExecutionResult:
        """Run with the live view (unless ``--no-live``); the result, also when interrupted."""
        keeper = _ResultKeeper()
        listeners: list[object] = [keeper, OutputCapture(echo=args.show_output)]
        cancel_event = None
        if not args.no_live:
            from dagron_nb.notebook.live import LiveDAG

            live = LiveDAG(pipeline.dag, title=pipeline.name)
            live.show()
            listeners.append(live)
            cancel_event = live.cancel_event  # the widget's Cancel button
            # "Re-run failed" in the widget: its result lands in the same variable
            live.rerun_callbacks.append(_ResultStore(self.ip.user_ns, args.output))
        if extra is not None:
            listeners.append(extra)
        options: dict[str, Any] = {
            "max_workers": args.workers,
            "callbacks": listeners,
            "fail_fast": not args.best_effort,
            "timeout": args.timeout,
            "cache": None if args.no_cache else self.session.cache,
            "refresh_cache": args.force,
            "cancel_event": cancel_event,
        }
        if not args.no_live:
            live.rerun_cache = options["cache"]  # "Re-run failed" fills the same cache
        use_async = args.use_async or any(t.is_async for t in pipeline.tasks.values())
        try:
            if args.dask is not None:
                self._run_on_dask(pipeline, inputs, args.dask, options, listeners)
            elif use_async:
                _run_coroutine(lambda: pipeline.execute_async(inputs, **options))
            else:
                pipeline.execute(inputs, **options)
        except DagronError as exc:  # bad input (e.g. a task's timeout), found before the run
            raise UsageError(str(exc)) from None
        except KeyboardInterrupt:
            # The executor has cancelled what had not started and waited for
            # the running tasks; keep what it got, then let the interrupt stop
            # the notebook's queue of cells as an interrupt should.
            if keeper.result is None:
                raise
            self.ip.user_ns[args.output] = keeper.result
            _report(keeper.result, args.output)
            raise _interrupt(
                f"the run was interrupted; the partial result is in {args.output}"
            ) from None
        assert keeper.result is not None  # on_run_end fires before execute returns
        return keeper.result

    def _run_on_dask(
        self,
        pipeline: Pipeline,
        inputs: dict[str, Any],
        address: str,
        options: dict[str, Any],
        listeners: list[object],
    ) -> None:
        """``--dask``: the kernel's cluster (started on first use), the dashboard
        linked from the widget."""
        from dagron_nb.execution.dask_cluster import dashboard_link
        from dagron_nb.notebook.dask_session import dask_client

        client = dask_client(address)
        link = dashboard_link(client) or ""
        for listener in listeners:
            if hasattr(listener, "dashboard_link"):  # the live widget's header links it
                setattr(listener, "dashboard_link", link)  # noqa: B010 - listeners are objects
        pipeline.execute_dask(inputs, client=client, **options)

    def _cell_label(self) -> str:
        running = getattr(self.ip.displayhook, "exec_result", None)
        number = getattr(running, "execution_count", None) or self.ip.execution_count
        return f"In [{number}]"

    def _run_source(self, cell: str) -> list[str]:
        """Execute ``cell`` in the user namespace; the top-level functions it defines."""
        shell = self.ip
        parsed = _PARSED.pop(cell, None)
        source, tree = parsed if parsed is not None else parse_cell(shell, cell)
        # The source is cached under the running cell's number so that the
        # tasks' tracebacks show this cell's lines, labelled "Cell In[n]"
        # (``cell_source`` keeps the line numbers the cell's own).
        running = getattr(shell.displayhook, "exec_result", None)
        number = getattr(running, "execution_count", None)
        if number is None:  # called outside run_cell, e.g. run_cell_magic()
            number = shell.execution_count
        filename = shell.compile.cache(source, number, raw_code=cell)
        defined = top_level_functions(tree)
        code = shell.compile(tree, filename, "exec")
        exec(code, shell.user_global_ns, shell.user_ns)
        return defined

    def _value(self, text: str, what: str) -> Any:
        """The value of a variable name or expression typed in the magic's line."""
        ns = self.ip.user_ns
        if text.isidentifier():
            if text not in ns:
                raise UsageError(f"no variable named {text!r} in the notebook. {self._known()}")
            return ns[text]
        try:
            return self.ip.ev(text)
        except Exception as exc:
            raise UsageError(
                f"could not evaluate the {what} {text!r}: {type(exc).__name__}: {exc}"
            ) from None

    def _known(self) -> str:
        found = [
            name
            for name, value in self.ip.user_ns.items()
            if isinstance(value, (DAG, Pipeline, ExecutionResult)) and not name.startswith("__")
        ]
        if not found:
            return "The notebook has no DAG, Pipeline or ExecutionResult variables yet."
        return "DAGs, pipelines and results in the notebook: " + ", ".join(found) + "."

    def _show_plan(self, pipeline: Pipeline, inputs: dict[str, Any], missing: list[str]) -> None:
        from IPython.display import display

        display(Picture(pipeline.dag))
        display(plan_table(pipeline.dag, None))
        dag = pipeline.dag
        line = f"plan only: {dag.node_count()} tasks, {dag.edge_count()} edges"
        if inputs:
            line += "; inputs from the notebook: " + ", ".join(inputs)
        print(line)
        if missing:
            print("not resolved yet (define these before running): " + ", ".join(missing))


class _ResultStore:
    """A callbacks object that puts each result it sees in a notebook variable."""

    def __init__(self, namespace: dict[str, Any], name: str) -> None:
        self.namespace = namespace
        self.name = name

    def on_run_end(self, result: ExecutionResult) -> None:
        self.namespace[self.name] = result


class _ResultKeeper:
    """A callbacks object that keeps the run's result, also of an interrupted run."""

    def __init__(self) -> None:
        self.result: ExecutionResult | None = None

    def on_run_end(self, result: ExecutionResult) -> None:
        self.result = result


def _parse(magic: Callable[..., Any], line: str, *, shell_words: bool = False) -> Any:
    """Parse the magic's options; a mistake raises UsageError with the usage line.

    With ``shell_words`` the line is split like a shell's (``-n 'my run'`` is
    one word, its quotes gone); the line magic keeps IPython's own splitting,
    which leaves quotes inside expressions such as ``runs["a"]`` alone.
    """
    parser = magic.parser  # type: ignore[attr-defined]
    try:
        if shell_words:
            return parser.parse_args(shlex.split(line))
        return parse_argstring(magic, line)
    except (UsageError, ValueError) as exc:
        # IPython formats usage as reST ("::\n\n  %prog ..."); show it plainly.
        usage = "usage: %" + " ".join(parser.format_usage().split("%", 1)[1].split())
        raise UsageError(f"{exc}\n{usage}") from None


def _interrupt(message: str) -> KeyboardInterrupt:
    """A KeyboardInterrupt that IPython shows as one line.

    Its frames are the magic's and IPython's own, of no use to the user, and
    IPython's verbose formatter would spend about a second parsing those
    source files before the cell can return.
    """
    exc = KeyboardInterrupt(message)
    exc._render_traceback_ = lambda: [f"KeyboardInterrupt: {message}"]  # type: ignore[attr-defined]
    return exc


def _run_coroutine(make: Callable[[], Any]) -> Any:
    """Run ``make()``'s coroutine to the end, on the running loop if there is one.

    A notebook cell runs while the kernel's event loop is running, so the run
    cannot start its own loop: ``nest_asyncio`` makes the running loop
    re-entrant (only then, since it patches asyncio for the whole process).
    An interrupt cancels the run, which records CANCELLED nodes, and is re-raised.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # cancels the run on Ctrl-C, then re-raises it
    nest_asyncio = optional_import("nest_asyncio", purpose="%%dagron --async in a notebook")
    try:
        nest_asyncio.apply(loop)
    except ValueError as exc:  # e.g. uvloop, which nest_asyncio cannot patch
        raise UsageError(
            f"cannot run async tasks on this event loop ({exc}); in this cell, write "
            "`result = await Pipeline([...]).execute_async()` instead of %%dagron."
        ) from None
    future = asyncio.ensure_future(make(), loop=loop)
    try:
        return loop.run_until_complete(future)
    except KeyboardInterrupt:
        future.cancel()
        try:
            loop.run_until_complete(future)
        except asyncio.CancelledError:
            pass
        raise


def _statuses(dag: DAG, result: ExecutionResult) -> dict[str, NodeStatus]:
    statuses = {n: s for n, s in zip(result.names, result.statuses) if dag.has_node(n)}
    if not statuses and dag.node_count():
        raise UsageError(
            "the result has none of this DAG's nodes; pass the result of a run of this DAG."
        )
    return statuses


# -- what the magics display ------------------------------------------------------
class Picture:
    """The static picture of a DAG: SVG in a notebook, one line in a terminal.

    Without Graphviz, or above ``render.LAYOUT_LIMIT`` nodes, it shows a note
    saying why instead of a picture.

    >>> pic = Picture(DAG.builder().add_edge("a", "b").build())
    >>> repr(pic)
    '<DAG picture: 2 nodes, 1 edges>'
    """

    def __init__(
        self,
        dag: DAG,
        statuses: Mapping[str, NodeStatus] | None = None,
        *,
        tooltips: Mapping[str, str] | None = None,
    ) -> None:
        self.dag = dag
        self.statuses = statuses
        self.tooltips = tooltips

    def svg(self) -> str:
        """The SVG text; raises ``GraphvizNotFoundError`` without Graphviz."""
        from dagron_nb.notebook.render import render_svg

        return render_svg(self.dag, self.statuses, tooltips=self.tooltips)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        from dagron_nb.notebook import render

        text = repr(self)
        if self.dag.node_count() > render.LAYOUT_LIMIT:
            note = (
                f"{self.dag.node_count()} nodes is more than the {render.LAYOUT_LIMIT} that "
                "dagron_nb lays out; use `%dagron plan` or result.to_dataframe() instead."
            )
        else:
            try:
                return {"image/svg+xml": self.svg(), "text/plain": text}
            except render.GraphvizNotFoundError as exc:
                note = str(exc)
        return {"text/html": render.note_html(note), "text/plain": f"{text}\n{note}"}

    def __repr__(self) -> str:
        return f"<DAG picture: {self.dag.node_count()} nodes, {self.dag.edge_count()} edges>"


def plan_table(dag: DAG, costs: Mapping[str, float] | None) -> Any:
    """The plan of ``dag`` as a DataFrame (``frames.plan_frame``), one row per node."""
    from dagron_nb.notebook.frames import plan_frame

    return plan_frame(dag, costs)


def _pipeline(tasks: list[Any], name: str | None) -> Pipeline:
    try:
        return Pipeline(tasks, name or "%%dagron")
    except DagronError as exc:
        raise UsageError(str(exc)) from None


def _select(pipeline: Pipeline, args: Any) -> Pipeline:
    """The part of the pipeline ``--only`` / ``--to`` asks for (all of it without them)."""
    wanted = [n.strip() for n in (args.only or "").split(",") if n.strip()]
    if args.to:
        wanted.append(args.to.strip())
    if not wanted:
        return pipeline
    unknown = [n for n in wanted if n not in pipeline.tasks]
    if unknown:
        raise UsageError(
            f"--only/--to name(s) no task of this cell: {', '.join(map(repr, unknown))}. "
            f"Its tasks are: {', '.join(pipeline.task_names)}."
        )
    chosen = needed_for(pipeline, wanted)
    return Pipeline([pipeline.tasks[n] for n in chosen], pipeline.name)


def _report(result: ExecutionResult, var: str) -> None:
    """Print the compact summary (``cells.report``) under the cell."""
    text = report(result, var)
    print(text.out)
    if text.err:
        sys.stderr.write(text.err)


def _finish(result: ExecutionResult, var: str, *, raise_failure: bool) -> None:
    """The summary under the cell; then, for a run that did not succeed, the
    ``RunFailedError`` that stops Run All (its traceback is the failed task's)."""
    text = report(result, var)
    print(text.out)
    failure = run_failure(result, text, var) if raise_failure else None
    if failure is not None:
        sys.stdout.flush()  # the summary above the error, in a terminal too
        raise failure
    if text.err:
        sys.stderr.write(text.err)


__all__ = [
    "DEFAULT_RESULT_VAR",
    "DagronMagics",
    "Picture",
    "RunFailedError",
    "compact_traceback",
    "load_ipython_extension",
    "plan_table",
]
