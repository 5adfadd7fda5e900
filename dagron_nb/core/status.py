"""Node statuses: the eight of them and the only changes between them allowed.

``NodeStatus`` is the one place the statuses and their legal transitions live
(colours live once, in ``notebook/render.py``). It sits at the bottom of
``core``: results, inspection and the scheduler all read it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from dagron_nb.core.errors import InvalidTransitionError


class NodeStatus(enum.Enum):
    """Where a node is in its life; the value is the badge shown to users.

    >>> NodeStatus.TIMED_OUT.value
    'timed-out'
    """

    PENDING = "pending"  # not started yet (maybe ready, maybe waiting on others)
    RUNNING = "running"  # its task is executing now
    COMPLETED = "completed"  # the task returned
    FAILED = "failed"  # the task raised
    SKIPPED = "skipped"  # never ran: upstream failure, fail-fast stop, or no task
    TIMED_OUT = "timed-out"  # still running at its own or the run's deadline
    CANCELLED = "cancelled"  # never ran, or abandoned, because the run was cancelled
    CACHE_HIT = "cache-hit"  # result taken from a cache instead of running

    # Members are singletons compared by identity, so hash by identity too:
    # Enum's own __hash__ runs Python code, and statuses are dict keys and set
    # members on every hot path (counts, colour tables, transition checks).
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_success(self) -> bool:
        """COMPLETED and CACHE_HIT satisfy a successor's dependency."""
        return self is NodeStatus.COMPLETED or self is NodeStatus.CACHE_HIT


_TERMINAL = frozenset(
    {
        NodeStatus.COMPLETED,
        NodeStatus.FAILED,
        NodeStatus.SKIPPED,
        NodeStatus.TIMED_OUT,
        NodeStatus.CANCELLED,
        NodeStatus.CACHE_HIT,
    }
)

#: The only status changes the scheduler may make. Terminal statuses have none:
#: a late task finishing after its node timed out must not change the result.
TRANSITIONS: Mapping[NodeStatus, frozenset[NodeStatus]] = {
    NodeStatus.PENDING: frozenset(
        {NodeStatus.RUNNING, NodeStatus.SKIPPED, NodeStatus.CANCELLED, NodeStatus.CACHE_HIT}
    ),
    NodeStatus.RUNNING: frozenset(
        {NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.TIMED_OUT, NodeStatus.CANCELLED}
    ),
    **{status: frozenset() for status in _TERMINAL},
}


def check_transition(name: str, old: NodeStatus, new: NodeStatus) -> None:
    """Raise ``InvalidTransitionError`` unless ``old -> new`` is in ``TRANSITIONS``."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransitionError(name, old, new)
