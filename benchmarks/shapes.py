"""The graph shapes every benchmark runs on, built the same way for every candidate.

A ``Shape`` is a plain integer graph (node ``i`` is named ``"n{i}"``; edges point
from a lower to a higher number) that can become a dagron_nb ``DAG``, the
successor lists and predecessor counts the reference schedulers take, or a dask
task graph. Random shapes use a fixed seed, so every run of every benchmark
sees the same graph.

>>> shape = chain(3)
>>> shape.edges, shape.leaves()
([(0, 1), (1, 2)], [2])
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagron_nb import DAG, DAGBuilder

SEED = 20240611


@dataclass(frozen=True)
class Shape:
    """A named DAG over the integers ``0 .. n-1`` with edges ``(source, target)``."""

    label: str
    n: int
    edges: list[tuple[int, int]]
    names: list[str] = field(init=False, repr=False)
    succ: list[list[int]] = field(init=False, repr=False)
    pred: list[list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        succ: list[list[int]] = [[] for _ in range(self.n)]
        pred: list[list[int]] = [[] for _ in range(self.n)]
        for s, t in self.edges:
            succ[s].append(t)
            pred[t].append(s)
        object.__setattr__(self, "names", [f"n{i}" for i in range(self.n)])
        object.__setattr__(self, "succ", succ)
        object.__setattr__(self, "pred", pred)

    def leaves(self) -> list[int]:
        return [i for i in range(self.n) if not self.succ[i]]

    def dag(self) -> DAG:
        """The shape as a dagron_nb DAG; nodes are inserted in number order."""
        names = self.names
        builder = DAGBuilder().add_nodes(names)
        builder.add_edges((names[s], names[t]) for s, t in self.edges)
        return builder.build()

    def dask_graph(self, fn: Callable[..., Any]) -> dict[str, tuple[Any, ...]]:
        """A dask graph where node ``i`` computes ``fn(i, *predecessor values)``."""
        names = self.names
        return {names[i]: (fn, i, *(names[p] for p in self.pred[i])) for i in range(self.n)}


def returning(i: int) -> Callable[[], int]:
    """A no-op task for node ``i``: it only returns ``i``, so results can be checked."""
    return lambda: i


def independent(n: int) -> Shape:
    return Shape(f"independent {n}", n, [])


def chain(n: int) -> Shape:
    return Shape(f"chain {n}", n, [(i, i + 1) for i in range(n - 1)])


def fan_out(n: int) -> Shape:
    """One root with ``n - 1`` children."""
    return Shape(f"one root, {n - 1} children", n, [(0, i) for i in range(1, n)])


def random_layered(n: int, *, width: int, fan_in: int = 3, seed: int = SEED) -> Shape:
    """Layers of ``width`` nodes; every node past the first layer depends on
    ``fan_in`` distinct nodes of the layer before, drawn at random."""
    rng = random.Random(seed)
    edges = []
    for i in range(width, n):
        layer_start = (i // width - 1) * width
        for p in sorted(rng.sample(range(layer_start, layer_start + width), fan_in)):
            edges.append((p, i))
    return Shape(f"random layered {n} ({fan_in} edges/node)", n, edges)


def grid(rows: int, cols: int) -> Shape:
    """``rows`` layers of ``cols`` nodes; node (r, c) depends on (r-1, c-1),
    (r-1, c) and (r-1, c+1) where those exist (a three-point stencil)."""
    edges = []
    for r in range(1, rows):
        for c in range(cols):
            for pc in (c - 1, c, c + 1):
                if 0 <= pc < cols:
                    edges.append(((r - 1) * cols + pc, r * cols + c))
    edges.sort(key=lambda e: (e[1], e[0]))
    return Shape(f"layered grid {rows}x{cols}", rows * cols, edges)


def overhead_shapes(n: int = 10_000) -> list[Shape]:
    """The four shapes of the overhead benchmark (``n`` must be a square)."""
    side = round(n**0.5)
    return [
        independent(n),
        chain(n),
        random_layered(n, width=side),
        grid(side, side),
    ]


def is_topological(shape: Shape, order: list[int]) -> bool:
    """True if ``order`` lists every node once and each after all its predecessors."""
    if sorted(order) != list(range(shape.n)):
        return False
    position = [0] * shape.n
    for k, node in enumerate(order):
        position[node] = k
    return all(position[s] < position[t] for s, t in shape.edges)
