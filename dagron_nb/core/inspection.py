"""Everything worth knowing about one node, as plain data: ``NodeInspection``.

``ExecutionResult.inspect(name)`` gives it after a run; the live widget's
inspector panel gets the same thing mid-run from the run's columns:

    inspect_node(columns, name) -> NodeInspection

where ``columns`` is an ``ExecutionResult`` or the ``RunView`` a watcher
receives (``on_run_watch``): anything with ``dag``, ``names``, ``statuses``,
``reasons``, ``errors``, ``started`` and ``finished`` lists indexed like
``dag.index().names``, and optionally ``values``, ``workers``, ``tasks``
(the callables, for the source), ``captured_output`` (a mapping or function:
node name -> what it printed so far) and ``trace``. Reading the columns of a
running run is safe from any thread: each element is read once.

``cancel_state(columns)`` says whether a run is being cancelled (a Cancel
button, a kernel interrupt, a cancel event) and which tasks it still waits
for: its ``message`` is "cancelling: waiting for 2 running tasks: a, b".

The inspection never holds the node's value itself, only a ``ValuePreview``:
a ``repr`` cut to ``PREVIEW_CHARS`` (containers summarised by ``reprlib``,
never printed whole), a DataFrame's shape, dtypes and first rows as strings,
an array's shape and dtype. Pandas and numpy are recognised by their shape
(``shape``, ``dtypes``, ``head``), not imported. ``to_dict()`` is the JSON
the widget ships to the browser; ``_repr_html_`` shows it in a saved notebook
(every text escaped).

>>> import dagron_nb as dagron
>>> dag = dagron.DAG.builder().add_edge("a", "b").build()
>>> result = dagron.DAGExecutor(dag).execute({"a": lambda: [1, 2, 3], "b": lambda: 1 / 0})
>>> a = result.inspect("a")
>>> a.status.value, a.value.text, a.attempts
('completed', '[1, 2, 3]', 1)
>>> b = result.inspect("b")
>>> b.error_type, b.error_message
('ZeroDivisionError', 'division by zero')
"""

from __future__ import annotations

import html
import inspect
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dagron_nb.core.status import NodeStatus
from dagron_nb.core.tracebacks import compact_traceback
from dagron_nb.core.tracing import ExecutionTrace, TraceEventType

if TYPE_CHECKING:
    from dagron_nb.core.graph import DAG

#: the longest value ``repr`` an inspection keeps (characters)
PREVIEW_CHARS = 2000
#: rows of a DataFrame's ``head()`` kept in the preview
PREVIEW_ROWS = 5
#: columns of a DataFrame kept in the preview (its dtypes: all of them up to this)
PREVIEW_COLUMNS = 20
#: longest text of one table cell
_CELL_CHARS = 80
#: the longest printed output or source an inspection keeps (characters)
TEXT_CHARS = 20_000


class RunColumns(Protocol):
    """What ``inspect_node`` reads: an ``ExecutionResult`` or a live ``RunView``."""

    @property
    def dag(self) -> DAG: ...
    @property
    def names(self) -> Sequence[str]: ...
    @property
    def statuses(self) -> Sequence[NodeStatus]: ...
    @property
    def reasons(self) -> Sequence[str | None]: ...
    @property
    def errors(self) -> Sequence[BaseException | None]: ...
    @property
    def started(self) -> Sequence[float | None]: ...
    @property
    def finished(self) -> Sequence[float | None]: ...


@dataclass(frozen=True)
class ValuePreview:
    """A node's return value, described without holding it.

    ``kind`` is ``"dataframe"``, ``"series"``, ``"array"`` or ``"object"``;
    ``text`` is the cut ``repr`` (always set); ``shape`` / ``dtype`` for
    arrays and series, ``shape`` / ``columns`` / ``dtypes`` / ``rows`` (the
    first rows as strings, index first) for DataFrames; ``length`` for sized
    containers; ``truncated`` when ``text`` or ``rows`` were cut.
    """

    kind: str
    type_name: str
    text: str
    truncated: bool = False
    length: int | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    columns: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class NodeInspection:
    """One node of a run, for the inspector panel and for static output.

    Times are seconds since the run started (``duration`` is None until the
    node finished); ``attempts`` is how many times its task was started (0 or
    1: tasks are not retried); ``cache`` is ``"hit"`` / ``"miss"`` when a cache
    was consulted, else None; ``traceback`` is the compact one (the task's own
    frames, no executor frames); ``output`` what the task printed or logged
    when output was captured; ``source`` the task function's source, if found.
    """

    name: str
    status: NodeStatus
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    worker: str | None = None
    attempts: int = 0
    cache: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    value: ValuePreview | None = None
    output: str = ""
    source: str | None = None
    upstream: tuple[str, ...] = field(default=())
    downstream: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (status as its badge value, tuples as lists)."""
        data = asdict(self)
        data["status"] = self.status.value
        return data

    def _repr_html_(self) -> str:
        return inspection_html(self)

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.status.value}" + (f" ({self.reason})" if self.reason else "")]
        if self.duration is not None:
            lines.append(f"  duration: {self.duration:.3f}s on {self.worker or '?'}")
        if self.value is not None:
            lines.append(f"  value: {self.value.text}")
        if self.traceback:
            lines.append(self.traceback.rstrip("\n"))
        if self.output:
            lines.append("  output:\n" + self.output.rstrip("\n"))
        return "\n".join(lines)


@dataclass(frozen=True)
class CancelState:
    """A run being cancelled: why, and the tasks still running (not started ones
    are CANCELLED already; a second interrupt abandons the running ones)."""

    reason: str
    running: tuple[str, ...]

    @property
    def message(self) -> str:
        """E.g. "cancelling: waiting for 2 running tasks: a, b"."""
        if not self.running:
            return f"cancelled ({self.reason})"
        n = len(self.running)
        shown = ", ".join(self.running[:5]) + (f" and {n - 5} more" if n > 5 else "")
        return f"cancelling: waiting for {n} running task{'s' if n != 1 else ''}: {shown}"


def cancel_state(columns: RunColumns) -> CancelState | None:
    """The cancel in progress in a live run's columns (``RunView``), else None.

    >>> import dagron_nb as dagron
    >>> from dagron_nb.core.callbacks import RunView
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> view = RunView(dag, ["a", "b"], [NodeStatus.RUNNING, NodeStatus.CANCELLED],
    ...                [None, "interrupted"], [None, None], [0.0, None], [None, 0.1], 0.0,
    ...                cancel_reason=lambda: "interrupted")
    >>> cancel_state(view).message
    'cancelling: waiting for 1 running task: a'
    """
    reason_of = getattr(columns, "cancel_reason", None)
    reason = reason_of() if callable(reason_of) else None
    if reason is None:
        return None
    running = tuple(
        name
        for name, status in zip(columns.names, columns.statuses)
        if status is NodeStatus.RUNNING
    )
    return CancelState(reason, running)


def inspect_node(columns: RunColumns, name: str) -> NodeInspection:
    """The ``NodeInspection`` of ``name`` from a result's or a live run's columns."""
    index = columns.dag.index()
    i = index.position.get(name)
    if i is None:
        raise KeyError(f"no node {name!r} in this run; inspect one of its {len(index.names)} nodes")
    status = columns.statuses[i]
    started, finished = columns.started[i], columns.finished[i]
    error = columns.errors[i]
    values = getattr(columns, "values", None)
    workers = getattr(columns, "workers", None)
    tasks = getattr(columns, "tasks", None)
    output = getattr(columns, "captured_output", None)
    value = None
    if values is not None and status.is_success:
        value = preview_value(values[i])
    return NodeInspection(
        name=name,
        status=status,
        reason=columns.reasons[i],
        started_at=started,
        finished_at=finished,
        duration=None if started is None or finished is None else finished - started,
        worker=None if workers is None else workers[i],
        attempts=0 if started is None else 1,
        cache=_cache_state(columns, name, status),
        error_type=None if error is None else type(error).__name__,
        error_message=None if error is None else _cut(str(error), TEXT_CHARS),
        traceback=None if error is None else _cut(compact_traceback(error), TEXT_CHARS),
        value=value,
        output=_output_of(output, name),
        source=None if tasks is None else task_source(tasks[i]),
        upstream=tuple(index.names[p] for p in index.pred[i]),
        downstream=tuple(index.names[s] for s in index.succ[i]),
    )


def _output_of(output: object, name: str) -> str:
    if output is None:
        return ""
    if isinstance(output, Mapping):
        text = output.get(name, "")
    elif callable(output):
        text = output(name)
    else:
        return ""
    return _cut(str(text), TEXT_CHARS, keep_end=True)


def _cache_state(columns: RunColumns, name: str, status: NodeStatus) -> str | None:
    if status is NodeStatus.CACHE_HIT:
        return "hit"
    trace: ExecutionTrace | None = getattr(columns, "trace", None)
    if trace is not None and any(
        e.event_type is TraceEventType.NODE_CACHE_MISS and e.node_name == name for e in trace.events
    ):
        return "miss"
    return None


# -- the value ------------------------------------------------------------------
_REPR = reprlib.Repr()
_REPR.maxstring = PREVIEW_CHARS
_REPR.maxother = PREVIEW_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 50
_REPR.maxdict = 30
_REPR.maxlevel = 4


def preview_value(value: Any) -> ValuePreview:
    """Describe ``value`` in a bounded size, whatever its size.

    >>> preview_value(list(range(10**6))).text[-12:], preview_value(list(range(10**6))).length
    ('48, 49, ...]', 1000000)
    """
    type_name = _type_name(value)
    shape = _shape(value)
    try:
        if shape is not None and len(shape) == 2 and _has(value, "dtypes", "head", "columns"):
            return _frame_preview(value, type_name, shape)
        if shape is not None and _has(value, "dtype"):
            kind = "series" if _has(value, "head", "index") else "array"
            return _array_preview(value, kind, type_name, shape)
    except Exception:  # a strange object's shape/head raising must not break the panel
        pass
    text, truncated = _cut_flag(_safe_repr(value))
    return ValuePreview(
        kind="object",
        type_name=type_name,
        text=text,
        truncated=truncated,
        length=_length(value),
    )


def _array_preview(value: Any, kind: str, type_name: str, shape: tuple[int, ...]) -> ValuePreview:
    text, truncated = _cut_flag(_safe_repr(value))
    return ValuePreview(
        kind=kind,
        type_name=type_name,
        text=text,
        truncated=truncated,
        shape=shape,
        dtype=str(value.dtype),
        length=shape[0] if shape else None,
    )


def _frame_preview(frame: Any, type_name: str, shape: tuple[int, ...]) -> ValuePreview:
    columns = [_cell(c) for c in list(frame.columns)[:PREVIEW_COLUMNS]]
    dtypes = _dtypes(frame)[:PREVIEW_COLUMNS]
    head = frame.head(PREVIEW_ROWS)
    rows: list[tuple[str, ...]] = []
    split = head.iloc[:, :PREVIEW_COLUMNS].to_dict(orient="split")
    for label, data in zip(split["index"], split["data"]):
        rows.append((_cell(label), *(_cell(v) for v in data)))
    truncated = shape[0] > PREVIEW_ROWS or shape[1] > PREVIEW_COLUMNS
    summary = f"{type_name} with {shape[0]} rows x {shape[1]} columns"
    return ValuePreview(
        kind="dataframe",
        type_name=type_name,
        text=summary,
        truncated=truncated,
        length=shape[0],
        shape=shape,
        columns=tuple(columns),
        dtypes=tuple(dtypes),
        rows=tuple(rows),
    )


def _dtypes(frame: Any) -> list[str]:
    dtypes = frame.dtypes
    items = getattr(dtypes, "items", None)
    if items is not None:
        return [str(d) for _, d in list(items())[:PREVIEW_COLUMNS]]
    return [str(d) for d in list(dtypes)[:PREVIEW_COLUMNS]]


def _has(value: Any, *attrs: str) -> bool:
    return all(hasattr(value, a) for a in attrs)


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, type):
        return None
    try:
        shape = getattr(value, "shape", None)
    except Exception:
        return None
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return tuple(int(n) for n in shape)
    return None


def _length(value: Any) -> int | None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return None
    try:
        return len(value)
    except Exception:
        return None


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _safe_repr(value: Any) -> str:
    try:
        return _REPR.repr(value)
    except Exception as exc:
        return f"<{_type_name(value)}: repr failed with {type(exc).__name__}: {exc}>"


def _cell(value: Any) -> str:
    return _cut(value if isinstance(value, str) else _safe_repr(value), _CELL_CHARS)


def _cut_flag(text: str, limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[: limit - 3] + "...", True)


def _cut(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    if keep_end:  # printed output: the last lines matter most
        return f"... ({len(text) - limit} characters before)\n" + text[-limit:]
    return text[: limit - 3] + "..."


# -- the source -----------------------------------------------------------------
def task_source(task: Callable[..., Any] | None) -> str | None:
    """The source of the user's function behind ``task``, or None if not found.

    Looks through the wrappers dagron_nb and the standard library put around a
    function (``Pipeline``'s bound callables and ``Task`` have ``func``;
    ``functools.partial`` too; decorators set ``__wrapped__``). A notebook
    cell's source is found because IPython registers cells in ``linecache``.

    >>> def double(x):
    ...     return 2 * x
    >>> print(task_source(double), end="")
    def double(x):
        return 2 * x
    """
    fn: Any = task
    for _ in range(10):
        inner = getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)
        if inner is None or inner is fn or not callable(inner):
            break
        fn = inner
    if fn is None:
        return None
    try:
        return _cut(inspect.getsource(fn), TEXT_CHARS)
    except (OSError, TypeError):
        return None


# -- static HTML ------------------------------------------------------------------
def inspection_html(node: NodeInspection) -> str:
    """``node`` as a self-contained HTML block; every text is escaped."""
    rows = [("status", node.status.value + (f" ({node.reason})" if node.reason else ""))]
    if node.started_at is not None:
        rows.append(("started", f"{node.started_at:.3f} s"))
    if node.finished_at is not None:
        rows.append(("finished", f"{node.finished_at:.3f} s"))
    if node.duration is not None:
        rows.append(("duration", f"{node.duration:.3f} s"))
    for label, text in (("worker", node.worker), ("cache", node.cache)):
        if text:
            rows.append((label, text))
    rows.append(("attempts", str(node.attempts)))
    if node.upstream:
        rows.append(("upstream", ", ".join(node.upstream)))
    parts = [
        '<div class="dagron-inspection">',
        f"<strong>{_esc(node.name)}</strong>",
        "<table>",
        *(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows),
        "</table>",
    ]
    if node.traceback:
        parts += ["<div>error</div>", _pre(node.traceback)]
    if node.value is not None:
        parts += [f"<div>value: {_esc(node.value.type_name)}</div>", _value_html(node.value)]
    if node.output:
        parts += ["<div>output</div>", _pre(node.output)]
    if node.source:
        parts += ["<div>source</div>", _pre(node.source)]
    parts.append("</div>")
    return "\n".join(parts)


def _value_html(value: ValuePreview) -> str:
    if value.kind != "dataframe":
        extra = ""
        if value.shape is not None:
            extra = f"<div>shape {_esc(value.shape)}, dtype {_esc(value.dtype)}</div>"
        return extra + _pre(value.text)
    header = "".join(
        f"<th>{_esc(c)}<br><small>{_esc(d)}</small></th>"
        for c, d in zip(value.columns, value.dtypes)
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(cell)}</td>" for cell in row) + "</tr>" for row in value.rows
    )
    more = "<div>...</div>" if value.truncated else ""
    return f"<div>{_esc(value.text)}</div><table><tr><th></th>{header}</tr>{body}</table>{more}"


def _pre(text: str) -> str:
    return f'<pre style="white-space: pre-wrap">{_esc(text)}</pre>'


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)
