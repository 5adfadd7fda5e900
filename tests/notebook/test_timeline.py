"""Timeline (Gantt) and critical-path pictures, checked for what they show."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from dagron_nb import DAG, AsyncDAGExecutor, DAGExecutor, ExecutionResult, NodeStatus
from dagron_nb.notebook.render import STATUS_COLORS, graphviz_available
from dagron_nb.notebook.timeline import (
    CRITICAL_COLOR,
    NO_WORKER,
    SvgPicture,
    critical_path_picture,
    timeline,
)

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(
    not graphviz_available(), reason="Graphviz's dot is not installed: no DAG picture to check"
)


def synthetic_result(
    dag: DAG,
    runs: Mapping[str, tuple[float, float, str | None, NodeStatus]],
    *,
    total: float | None = None,
) -> ExecutionResult:
    """``runs`` maps node -> (start, finish, worker, status); the other nodes are
    taskless (SKIPPED, "no task")."""
    snap = dag.snapshot()
    names = snap.index().names
    ran = [runs.get(n) for n in names]
    return ExecutionResult(
        snap,
        list(names),
        [r[3] if r else NodeStatus.SKIPPED for r in ran],
        values=[None] * len(names),
        errors=[None] * len(names),
        started=[r[0] if r else None for r in ran],
        finished=[r[1] if r else None for r in ran],
        workers=[r[2] if r else None for r in ran],
        reasons=[None if r else "no task" for r in ran],
        total_duration_seconds=total if total is not None else max(r[1] for r in runs.values()),
    )


def lanes_of(fig: Figure) -> dict[str, PolyCollection]:
    """The bar collection of each lane, by the lane's tick label."""
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    out = {}
    for collection in ax.collections:
        gid = collection.get_gid() or ""
        if gid.startswith("lane-"):
            out[labels[int(gid.removeprefix("lane-"))]] = collection
    return out


def bar_spans(collection: PolyCollection) -> list[tuple[float, float]]:
    spans = []
    for path in collection.get_paths():
        xs = path.vertices[:, 0]
        spans.append((float(xs.min()), float(xs.max())))
    return spans


def mixed_result() -> ExecutionResult:
    # a (w2) -> b failed (w10), c timed out (w2), d cancelled while running (w10);
    # e is taskless and never ran. c finished last, after a: the critical path.
    dag = DAG.builder().add_edges([("a", "b"), ("a", "c"), ("e", "c"), ("a", "d")]).build()
    return synthetic_result(
        dag,
        {
            "a": (0.0, 1.0, "w2", NodeStatus.COMPLETED),
            "b": (1.0, 2.0, "w10", NodeStatus.FAILED),
            "c": (1.2, 4.0, "w2", NodeStatus.TIMED_OUT),
            "d": (2.0, 3.0, "w10", NodeStatus.CANCELLED),
        },
        total=4.1,
    )


def test_timeline_lanes_bars_and_colours() -> None:
    result = mixed_result()
    fig = timeline(result)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    # one lane per worker, in natural order (w2 before w10), first on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w2", "w10"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    lanes = lanes_of(fig)
    assert set(lanes) == {"w2", "w10"}
    assert bar_spans(lanes["w2"]) == [(0.0, 1.0), (1.2, 4.0)]
    assert bar_spans(lanes["w10"]) == [(1.0, 2.0), (2.0, 3.0)]
    # bars take the widget's colours
    assert [tuple(c) for c in lanes["w2"].get_facecolors()] == [
        to_rgba(STATUS_COLORS[NodeStatus.COMPLETED]),
        to_rgba(STATUS_COLORS[NodeStatus.TIMED_OUT]),
    ]
    assert [tuple(c) for c in lanes["w10"].get_facecolors()] == [
        to_rgba(STATUS_COLORS[NodeStatus.FAILED]),
        to_rgba(STATUS_COLORS[NodeStatus.CANCELLED]),
    ]
    # total bars: the four nodes that ran; the taskless node has none
    assert sum(len(c.get_paths()) for c in lanes.values()) == 4
    assert ax.get_xlabel() == "seconds since the run started"
    assert ax.get_xlim()[1] >= 4.1
    assert ax.get_title() == result.summary()
    # names written into the bars of a small run
    assert sorted(t.get_text() for t in ax.texts) == ["a", "b", "c", "d"]


def test_timeline_marks_the_critical_path_and_has_a_legend() -> None:
    result = mixed_result()
    assert result.critical_path() == ["a", "c"]
    fig = timeline(result)
    lanes = lanes_of(fig)
    # critical bars (a and c, both on w2) get the thick dark outline
    assert [tuple(c) for c in lanes["w2"].get_edgecolors()] == [to_rgba(CRITICAL_COLOR)] * 2
    assert list(lanes["w2"].get_linewidths()) == [2.2, 2.2]
    assert to_rgba(CRITICAL_COLOR) not in [tuple(c) for c in lanes["w10"].get_edgecolors()]
    links = [c for c in fig.axes[0].collections if c.get_gid() == "critical"]
    assert len(links) == 1
    assert isinstance(links[0], LineCollection)
    # one link a -> c, from a's finish to c's start on lane 0
    assert [seg.tolist() for seg in links[0].get_segments()] == [[[1.0, 0.0], [1.2, 0.0]]]
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "completed",
        "failed",
        "timed-out",
        "cancelled",
        "critical path",
    ]
    swatches = legend.get_patches()
    assert tuple(swatches[1].get_facecolor()) == to_rgba(STATUS_COLORS[NodeStatus.FAILED])


def test_timeline_options() -> None:
    result = mixed_result()
    plain = timeline(result, critical_path=False, labels=False, title="run 1")
    ax = plain.axes[0]
    assert ax.get_title() == "run 1"
    assert len(ax.texts) == 0
    assert not [c for c in ax.collections if c.get_gid() == "critical"]
    assert "critical path" not in [t.get_text() for t in ax.get_legend().get_texts()]
    # drawing into the caller's axes
    fig = Figure()
    mine = fig.add_subplot()
    assert timeline(result, ax=mine) is fig
    assert lanes_of(fig).keys() == {"w2", "w10"}


def test_timeline_of_a_run_where_nothing_ran() -> None:
    empty = DAGExecutor(DAG()).execute({})
    fig = timeline(empty)
    ax = fig.axes[0]
    assert lanes_of(fig) == {}
    assert [t.get_text() for t in ax.texts] == ["no node ran"]
    assert ax.get_legend() is None


def test_timeline_lane_for_a_node_without_worker() -> None:
    dag = DAG().add_nodes(["a"])
    result = synthetic_result(dag, {"a": (0.0, 1.0, None, NodeStatus.COMPLETED)})
    assert list(lanes_of(timeline(result))) == [NO_WORKER]


def test_timeline_of_a_thread_run_saved_as_png_and_svg(tmp_path: object) -> None:
    import pathlib

    out = pathlib.Path(str(tmp_path))
    dag = DAG.builder().add_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]).build()

    def boom() -> None:
        raise RuntimeError("no")

    result = DAGExecutor(dag, max_workers=2, fail_fast=False).execute(
        {"a": lambda: None, "b": lambda: None, "c": boom, "d": lambda: None}
    )
    fig = timeline(result)
    lanes = lanes_of(fig)
    assert all(name.startswith("dagron-worker-") for name in lanes)
    assert sum(len(c.get_paths()) for c in lanes.values()) == 3  # d was skipped
    fig.savefig(out / "run.png", dpi=60)
    fig.savefig(out / "run.svg")
    png = (out / "run.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    assert width == int(fig.get_figwidth() * 60)
    svg = (out / "run.svg").read_text()
    root = ET.fromstring(svg)
    groups = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {f"lane-{i}" for i in range(len(lanes))} <= groups
    assert "critical" in groups
    for status in (NodeStatus.COMPLETED, NodeStatus.FAILED):
        assert STATUS_COLORS[status] in svg


def test_timeline_of_an_async_run() -> None:
    dag = DAG.builder().add_edge("a", "b").add_edge("a", "c").build()

    async def main() -> ExecutionResult:
        return await AsyncDAGExecutor(dag).execute({n: (lambda: None) for n in "abc"})

    fig = timeline(asyncio.run(main()))
    lanes = lanes_of(fig)
    assert all(name.startswith("async-") for name in lanes)
    assert sum(len(c.get_paths()) for c in lanes.values()) == 3


def test_a_timeline_renders_inline_in_ipython(captured_shell: Any) -> None:
    # the shared IPython test shell, formatting every MIME type as a kernel does
    png = captured_shell.display_formatter.formatters["image/png"]
    saved = png.pop(Figure, None)  # as in a notebook where pyplot was never imported
    try:
        fig = timeline(mixed_result())
        data, _ = captured_shell.display_formatter.format(fig)
        assert "image/png" in data
        assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    finally:
        png.pop(Figure, None)
        if saved is not None:
            png.for_type(Figure, saved)


@needs_dot
def test_critical_path_picture_highlights_the_critical_edges() -> None:
    result = mixed_result()
    picture = critical_path_picture(result)
    assert isinstance(picture, SvgPicture)
    root = ET.fromstring(picture.svg)
    names = result.dag.index().names
    highlighted = set()
    for group in root.iter(f"{SVG}g"):
        if "dagron-highlight" in group.get("class", "").split():
            source, target = group.get("id", "").removeprefix("e").split("_")
            highlighted.add((names[int(source)], names[int(target)]))
    assert highlighted == {("a", "c")}
    statuses = {g.get("data-node"): g.get("data-status") for g in root.iter(f"{SVG}g")}
    assert statuses["c"] == "timed-out"
    assert statuses["e"] == "skipped"
    assert "critical path: a → c" in picture.svg
    assert picture._repr_svg_() == picture.svg


@needs_dot
def test_critical_path_picture_through_a_taskless_node(tmp_path: object) -> None:
    import pathlib

    # nodes a, t, b, x: edge ids e0_1 (a -> t), e1_2 (t -> b), e3_2 (x -> b)
    dag = DAG.builder().add_edge("a", "t").add_edge("t", "b").add_edge("x", "b").build()
    x_done = threading.Event()

    def a() -> None:
        x_done.wait(5)  # a finishes after x, so b waited for a (through t)
        time.sleep(0.05)

    result = DAGExecutor(dag, max_workers=2).execute({"a": a, "x": x_done.set, "b": lambda: None})
    assert result["t"].reason == "no task"
    assert result.critical_path() == ["a", "b"]
    picture = critical_path_picture(result, title="why so slow?")
    root = ET.fromstring(picture.svg)
    ids = {g.get("id") for g in root.iter(f"{SVG}g") if "dagron-highlight" in g.get("class", "")}
    assert ids == {"e0_1", "e1_2"}
    assert "why so slow?" in picture.svg
    path = pathlib.Path(str(tmp_path)) / "critical.svg"
    picture.save(path)
    assert path.read_text(encoding="utf-8") == picture.svg


def test_labels_never_overlap_at_50_nodes() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # 50 nodes on 4 workers: long and short names, long and very short bars
    dag = DAG().add_nodes([f"node_{i}_" + "x" * (i % 7) * 3 for i in range(50)])
    runs: dict[str, tuple[float, float, str | None, NodeStatus]] = {}
    ends = [0.0] * 4
    for i, name in enumerate(dag.nodes()):
        lane = i % 4
        length = 0.02 if i % 3 == 0 else 0.3 + (i % 5) * 0.2
        runs[name] = (ends[lane], ends[lane] + length, f"w{lane}", NodeStatus.COMPLETED)
        ends[lane] += length
    result = synthetic_result(dag, runs)
    fig = timeline(result, critical_path=False, labels=True)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]
    assert len(boxes) >= 25  # most names are written (some shortened), not all dropped
    for k, (text, box) in enumerate(boxes):
        for other_text, other in boxes[k + 1 :]:
            assert not box.overlaps(other), (text, other_text)
    # and each label lies within its own bar (the bar of its lane around its centre)
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    for text in ax.texts:
        x, row = text.get_position()
        ((start, stop),) = [
            (s, f) for s, f, w, _ in runs.values() if w == lanes[round(row)] and s < x < f
        ]
        box = text.get_window_extent(renderer)
        left, right = ax.transData.transform([(start, 0), (stop, 0)])[:, 0]
        assert left <= box.x0
        assert box.x1 <= right
