"""The exceptions dagron_nb raises, in one hierarchy.

Every error a user can cause derives from :class:`DagronError`, so ``except
DagronError`` catches all of them; each also derives from the builtin that fits
(``ValueError``, ``KeyError``, ``TypeError``), so code that already catches those
keeps working::

    DagronError
    ├── GraphError (ValueError)       the structure of a DAG is wrong
    │   ├── CycleError                an edge set contains a cycle
    │   ├── DuplicateNodeError        a node name is added twice
    │   └── InvalidNodeNameError      a name is not a non-empty string
    ├── NodeNotFoundError (KeyError)  a name that is not in the DAG
    │   ├── StaleNodeRefError         a NodeRef whose node was removed and
    │   │                             added again (a different node now)
    │   └── EdgeNotFoundError         an edge that is not in the DAG
    ├── ConfigurationError (ValueError, TypeError)
    │                                 bad executor / pipeline input, found
    │                                 before any task runs
    ├── NodeTimeoutError (TimeoutError)
    │                                 stored as the error of a TIMED_OUT node
    ├── ClusterError (RuntimeError)   the Dask cluster failed a node: its worker
    │                                 died, or the scheduler was lost
    └── InvalidTransitionError (RuntimeError)
                                      a status change the state machine forbids;
                                      always a bug in dagron_nb, never user input

Messages say what happened, to which node, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence


class DagronError(Exception):
    """Base class of every error raised by dagron_nb."""


class GraphError(DagronError, ValueError):
    """The structure of a DAG is invalid."""


class CycleError(GraphError):
    """Edges form a cycle; ``cycle`` lists the nodes, first node repeated at the end.

    >>> str(CycleError(["a", "b", "a"])).splitlines()[0]
    "the graph has a cycle: 'a' -> 'b' -> 'a'"
    """

    #: longer cycles are shortened in the message (``cycle`` keeps every node), so
    #: a cycle through 100,000 nodes does not make a megabyte-long traceback
    SHOWN = 20

    def __init__(self, cycle: Sequence[str], hint: str = "") -> None:
        self.cycle = list(cycle)
        shown = [repr(n) for n in self.cycle[: self.SHOWN // 2]]
        if len(self.cycle) > self.SHOWN:
            shown.append(f"... ({len(self.cycle) - len(shown) - 1} more)")
            shown.append(repr(self.cycle[-1]))
        else:
            shown = [repr(n) for n in self.cycle]
        path = " -> ".join(shown)
        fix = hint or "remove one of these edges so that the graph is acyclic."
        super().__init__(f"the graph has a cycle: {path}\n{fix}")


class DuplicateNodeError(GraphError):
    """A node name was added twice."""

    def __init__(self, name: str, hint: str = "") -> None:
        self.name = name
        fix = hint or "Use a different name, or skip the second add_node()."
        super().__init__(f"node {name!r} already exists; node names must be unique. {fix}")


class InvalidNodeNameError(GraphError, TypeError):
    """A node name is not a non-empty string."""

    def __init__(self, name: object, hint: str = "") -> None:
        self.name = name
        fix = hint or "Convert it with str() or pick a name."
        super().__init__(
            f"node names must be non-empty strings, got {name!r} ({type(name).__name__}). {fix}"
        )


class NodeNotFoundError(DagronError, KeyError):
    """A name does not refer to a node of the DAG."""

    def __init__(self, name: str, context: str = "") -> None:
        self.name = name
        where = f" ({context})" if context else ""
        self.message = (
            f"node {name!r} is not in the DAG{where}. "
            "Add it with add_node() first, or check the spelling."
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class StaleNodeRefError(NodeNotFoundError):
    """A ``NodeRef`` names a node that was removed and added again since.

    >>> print(StaleNodeRefError("a", 0, 1))  # doctest: +ELLIPSIS
    NodeRef 'a' (epoch 0) is stale: node 'a' was removed and added again (now epoch 1). ...
    """

    def __init__(self, name: str, epoch: int, current: int) -> None:
        super().__init__(name)
        self.epoch = epoch
        self.current = current
        self.message = (
            f"NodeRef {name!r} (epoch {epoch}) is stale: node {name!r} was removed "
            f"and added again (now epoch {current}). Use dag.node_ref({name!r}) for "
            "a handle to the current node."
        )


class EdgeNotFoundError(NodeNotFoundError):
    """An edge ``source -> target`` is not in the DAG.

    >>> print(EdgeNotFoundError("a", "b"))
    no such edge: 'a' -> 'b' is not in the DAG; see .edges() for the edges.
    """

    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"{source} -> {target}")
        self.source = source
        self.target = target
        self.message = (
            f"no such edge: {source!r} -> {target!r} is not in the DAG; see .edges() for the edges."
        )


class ConfigurationError(DagronError, ValueError, TypeError):
    """Executor or pipeline input is invalid; raised before any task runs."""


LEFT_RUNNING = "its thread was left to finish in the background"


class NodeTimeoutError(DagronError, TimeoutError):
    """The error recorded on a node that exceeded its deadline."""

    def __init__(
        self, name: str, seconds: float, *, whole_run: bool = False, left_running: bool = False
    ) -> None:
        self.name = name
        self.seconds = seconds
        self.whole_run = whole_run
        #: the task's thread could not be stopped: it was left to finish on its own
        self.left_running = left_running
        what = "the run's timeout" if whole_run else "its node timeout"
        message = f"node {name!r} was still running after {what} of {seconds:g} s"
        if left_running:
            message += f"; {LEFT_RUNNING}"
        super().__init__(message)


class ClusterError(DagronError, RuntimeError):
    """Stored as the error of a node that the Dask cluster, not its task, failed."""


class InvalidTransitionError(DagronError, RuntimeError):
    """A node was moved between two statuses that the state machine forbids.

    This is always a bug in dagron_nb: please report it with the message.
    """

    def __init__(self, name: str, old: object, new: object) -> None:
        self.name = name
        super().__init__(
            f"node {name!r} cannot go from {old} to {new}; this is a bug in "
            "dagron_nb, please report it with this message."
        )
