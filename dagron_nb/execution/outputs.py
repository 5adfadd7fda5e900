"""What a run keeps: with ``outputs=[...]`` only the named values survive.

Every other node's value is released as soon as the last of its consumers has
finished (completed or come from the cache): the run's ``values`` entry is
cleared and a Pipeline's task drops its copy (``dagron_release``), so a chain of
tasks that each return 50 MB holds about two of them at a time, not all of
them. A released node keeps its status and timings; its ``size_bytes``
(measured when released) says what it held. Values whose consumers never ran
(skipped, cancelled) are released when the run ends. The result cache, if any,
keeps its own reference: releasing here never evicts a cached entry.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.execution.cache_store import measure


def output_positions(outputs: Iterable[str], position: Mapping[str, int]) -> list[int]:
    """The positions of the nodes ``outputs`` names; a bare string or a name not
    in the DAG is refused (every executor's ``outputs=`` goes through here)."""
    if isinstance(outputs, str):
        raise ConfigurationError(
            f"outputs must be a list of node names, got the string {outputs!r}; "
            f"write outputs=[{outputs!r}]."
        )
    names = list(outputs)
    unknown = [name for name in names if name not in position]
    if unknown:
        raise ConfigurationError(
            f"outputs names node(s) not in the DAG: {', '.join(map(repr, unknown))}. "
            f"Its nodes are: {', '.join(map(repr, list(position)[:20]))}."
        )
    return [position[name] for name in names]


class OutputKeeper:
    """Releases values nobody needs any more; used by a ``Run`` (lock held)."""

    def __init__(
        self,
        outputs: Collection[str],
        position: dict[str, int],
        pred: Sequence[Sequence[int]],
        succ: Sequence[Sequence[int]],
        values: list[Any],
        tasks: Sequence[Callable[..., Any] | None],
    ) -> None:
        n = len(values)
        self.keep = [False] * n
        for node in output_positions(outputs, position):
            self.keep[node] = True
        self.pred = pred
        self.left = [len(s) for s in succ]  # consumers not finished yet
        self.values = values
        self.tasks = tasks
        self.sizes: list[int | None] = [None] * n

    def done(self, node: int) -> None:
        """``node`` completed or hit the cache: its inputs may be released."""
        left = self.left
        keep = self.keep
        for p in self.pred[node]:
            left[p] -= 1
            if not left[p] and not keep[p]:
                self.release(p)
        if not left[node] and not keep[node]:  # a sink nobody asked for
            self.release(node)

    def release(self, node: int) -> None:
        value = self.values[node]
        if value is None and self.sizes[node] is not None:
            return  # released already
        self.sizes[node] = measure(value)
        self.values[node] = None
        drop = getattr(self.tasks[node], "dagron_release", None)
        if drop is not None:
            drop()

    def finish(self, succeeded: Sequence[bool]) -> None:
        """The run ended: release what was waiting for consumers that never ran."""
        for node, ok in enumerate(succeeded):
            if ok and not self.keep[node] and self.sizes[node] is None:
                self.release(node)
