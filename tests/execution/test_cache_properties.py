"""Property: a cached run is never stale.

Random pipelines, then random sequences of edits as a notebook user makes them:
a function body, a default, a notebook-level helper, an input value, a
DataFrame mutated in place. After every edit the pipeline runs twice, with the
(long-lived) cache and without any, and both runs must agree on every value and
every status (CACHE_HIT counting as COMPLETED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import dagron_nb as dagron
from dagron_nb.core.results import NodeStatus

HELPERS = [
    "def _mix(xs, k, c, const):\n    return sum(xs) * c + k + const\n",
    "def _mix(xs, k, c, const):\n    return sum(xs) - c * k + const\n",
]


@dataclass
class Node:
    parents: list[int]
    uses_k: bool
    uses_df: bool
    const: int
    default: int


@dataclass
class World:
    nodes: list[Node]
    helper: int = 0
    k: int = 1
    df: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"x": [1.0, 2.0, 3.0]}))

    def source(self) -> str:
        parts = [HELPERS[self.helper]]
        for i, node in enumerate(self.nodes):
            params = [f"n{p}" for p in node.parents]
            if node.uses_k:
                params.append("k")
            if node.uses_df:
                params.append("df")
            params.append(f"c={node.default}")
            xs = [f"n{p}" for p in node.parents]
            if node.uses_df:
                xs.append('float(df["x"].sum())')
            k = "k" if node.uses_k else "0"
            body = f"    if {node.const} == 13:\n        raise ValueError('thirteen')\n"
            body += f"    return _mix([{', '.join(xs)}], {k}, c, {node.const})\n"
            parts.append(f"def n{i}({', '.join(params)}):\n{body}")
        return "\n".join(parts)

    def inputs(self) -> dict[str, Any]:
        """The notebook values some task takes (a Pipeline refuses the others)."""
        out: dict[str, Any] = {}
        if any(node.uses_k for node in self.nodes):
            out["k"] = self.k
        if any(node.uses_df for node in self.nodes):
            out["df"] = self.df
        return out

    def functions(self) -> list[Any]:
        ns: dict[str, Any] = {"__name__": "__main__"}
        exec(self.source(), ns)  # a fresh definition of everything, as a re-run cell makes
        return [ns[f"n{i}"] for i in range(len(self.nodes))]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(2, 6))
    nodes = [
        Node(
            parents=sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else [],
            uses_k=draw(st.booleans()),
            uses_df=draw(st.booleans()),
            const=draw(st.integers(0, 3)),
            default=draw(st.integers(1, 3)),
        )
        for i in range(n)
    ]
    return World(nodes)


def apply_edit(world: World, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["body", "default", "helper", "k", "df", "none"]))
    i = data.draw(st.integers(0, len(world.nodes) - 1))
    if kind == "body":
        world.nodes[i].const = data.draw(st.sampled_from([0, 1, 2, 13]))
    elif kind == "default":
        world.nodes[i].default = data.draw(st.integers(1, 3))
    elif kind == "helper":
        world.helper = 1 - world.helper
    elif kind == "k":
        world.k = data.draw(st.integers(0, 2))
    elif kind == "df":
        world.df.loc[data.draw(st.integers(0, 2)), "x"] += 1.0  # the same object, edited


def outcome(result: dagron.ExecutionResult) -> dict[str, tuple[str, Any]]:
    out = {}
    for name, r in result.node_results.items():
        status = NodeStatus.COMPLETED if r.status is NodeStatus.CACHE_HIT else r.status
        value = r.result if status is NodeStatus.COMPLETED else type(r.error).__name__
        out[name] = (status.value, value)
    return out


@settings(max_examples=30, deadline=None)
@given(worlds(), st.data())
def test_cached_runs_equal_uncached_runs_after_any_edits(world: World, data: st.DataObject) -> None:
    cache = dagron.ResultCache()
    hits = 0
    for _ in range(data.draw(st.integers(1, 5))):
        functions = world.functions()
        inputs = world.inputs()
        cached = dagron.Pipeline(functions).execute(inputs, cache=cache, fail_fast=False)
        fresh = dagron.Pipeline(world.functions()).execute(inputs, fail_fast=False)
        assert outcome(cached) == outcome(fresh), world.source()
        hits += cached.cache_hits
        apply_edit(world, data)
    # a run right after an unchanged one is all hits (what succeeded before)
    functions = world.functions()
    inputs = world.inputs()
    first = dagron.Pipeline(functions).execute(inputs, cache=cache, fail_fast=False)
    again = dagron.Pipeline(world.functions()).execute(inputs, cache=cache, fail_fast=False)
    assert again.cache_hits == first.counts[NodeStatus.COMPLETED] + first.cache_hits
    assert outcome(again) == outcome(first)
