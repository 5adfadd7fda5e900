"""render.py: DOT text, real Graphviz SVG, painting, escaping, HTML pieces."""

from __future__ import annotations

import html.parser
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.core.errors import ConfigurationError
from dagron_nb.notebook import render
from dagron_nb.notebook.render import (
    STATUS_COLORS,
    GraphvizNotFoundError,
    dot_quote,
    graphviz_available,
    paint_svg,
    render_svg,
    result_svg,
    to_dot,
)

SVG = "{http://www.w3.org/2000/svg}"
NodesOf = Callable[[str], dict[str, Any]]


def diamond() -> dagron.DAG:
    return (
        dagron.DAG.builder()
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .build()
    )


def test_every_status_has_its_own_colour() -> None:
    assert set(STATUS_COLORS) == set(NodeStatus)
    assert len(set(STATUS_COLORS.values())) == len(NodeStatus)
    assert all(c.startswith("#") and len(c) == 7 for c in STATUS_COLORS.values())


def test_to_dot_uses_index_ids_status_fills_and_classes() -> None:
    text = to_dot(diamond(), {"b": NodeStatus.FAILED, "c": "running"}, title="my run")
    assert 'n0 [id="n0", label="a"' in text
    assert f'fillcolor="{STATUS_COLORS[NodeStatus.FAILED]}"' in text
    assert 'class="dagron-node dagron-status-running"' in text
    assert 'class="dagron-node dagron-status-pending"' in text  # a and d: not given
    assert "n0 -> n1" in text
    assert "n2 -> n3" in text
    assert 'label="my run"' in text


def test_to_dot_refuses_unknown_nodes_and_edges() -> None:
    with pytest.raises(ConfigurationError, match=r"statuses name node\(s\) not in the DAG: 'x'"):
        to_dot(diamond(), {"x": NodeStatus.FAILED})
    with pytest.raises(ConfigurationError, match=r"not in the DAG: 'a' -> 'd'"):
        to_dot(diamond(), highlight_edges=[("a", "d")])


def test_big_graphs_get_cheap_layout_settings() -> None:
    small = dagron.DAG.builder().add_nodes([f"n{i}" for i in range(10)]).build()
    big = dagron.DAG.builder().add_nodes([f"n{i}" for i in range(render.FAST_LAYOUT_FROM + 1)])
    assert "splines" not in to_dot(small)
    assert 'splines="line"' in to_dot(big.build())


def test_dot_quote_escapes_so_nothing_breaks_out(nasty_names: list[str]) -> None:
    for name in nasty_names:
        quoted = dot_quote(name)
        assert quoted.startswith('"')
        assert quoted.endswith('"')
        inner = quoted[1:-1]
        # a quote inside follows an odd run of backslashes, so the string cannot end early
        for i, ch in enumerate(inner):
            if ch == '"':
                run = len(inner[:i]) - len(inner[:i].rstrip("\\"))
                assert run % 2 == 1, name
        assert "\n" not in inner


def test_nasty_names_render_exactly_in_real_svg(
    dot: None, nasty_dag: dagron.DAG, nasty_names: list[str], svg_nodes: NodesOf
) -> None:
    evil = nasty_names[3]
    tips = {evil: 'Error: <b>bold</b> & "quoted" \\ end\nsecond line'}
    svg = render_svg(
        nasty_dag, {evil: NodeStatus.FAILED}, title='Title <i>&amp;</i> "q"', tooltips=tips
    )
    root = ET.fromstring(svg)  # well-formed XML, whatever the names
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert not tags & {"script", "image", "foreignObject", "iframe"}
    nodes = svg_nodes(svg)
    for name in nasty_names:
        shown = render.visible_text(name)
        assert shown in nodes, f"no node group for {name!r}"
        assert nodes[shown].label == shown  # the label shows the name, character for character
        if name != evil:
            assert nodes[shown].tooltip == shown
    failed = nodes[evil]
    assert failed.status == "failed"
    assert "dagron-status-failed" in failed.classes
    assert failed.fill == STATUS_COLORS[NodeStatus.FAILED]
    assert failed.tooltip == tips[evil]
    assert 'Title <i>&amp;</i> "q"' in [t.text for t in root.iter(f"{SVG}text")]
    # the control character is shown as text, not copied into the XML
    assert "ctl\\x01char" in nodes
    ids = {render.visible_text(name): f"n{i}" for i, name in enumerate(nasty_names)}
    assert {name: node.element_id for name, node in nodes.items()} == ids


def test_svg_can_be_embedded_in_html_without_markup_leaking(
    dot: None, nasty_dag: dagron.DAG
) -> None:
    svg = render_svg(nasty_dag)

    class Tags(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: set[str] = set()

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.add(tag)

    parser = Tags()
    parser.feed(f"<div>{svg}</div>")
    assert "script" not in parser.tags
    assert "img" not in parser.tags


def test_long_names_are_cut_in_the_label_but_whole_in_the_tooltip(
    dot: None, svg_nodes: NodesOf
) -> None:
    name = "x" * 200
    node = svg_nodes(render_svg(dagron.DAG.builder().add_node(name).build()))[name]
    assert node.label.endswith("…")
    assert len(node.label) == render.LABEL_MAX
    assert node.tooltip == name


def test_all_eight_colours_reach_the_svg(dot: None, svg_nodes: NodesOf) -> None:
    dag = dagron.DAG.builder().add_nodes([s.value for s in NodeStatus]).build()
    nodes = svg_nodes(render_svg(dag, {s.value: s for s in NodeStatus}))
    for status in NodeStatus:
        assert nodes[status.value].fill == STATUS_COLORS[status]
        assert nodes[status.value].status == status.value


def test_paint_svg_recolours_without_a_new_layout(dot: None, svg_nodes: NodesOf) -> None:
    dag = diamond()
    svg = render_svg(dag)
    names = dag.nodes()
    statuses = [NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED]
    painted = paint_svg(svg, names, statuses, ["tip a", "tip b", "tip c", "tip d"])
    nodes = svg_nodes(painted)
    for name, status in zip(names, statuses):
        assert nodes[name].fill == STATUS_COLORS[status]
        assert nodes[name].status == status.value
    assert nodes["b"].tooltip == "tip b"
    # same geometry: only colours and texts changed
    geometry = [el.get("d") for el in ET.fromstring(svg).iter(f"{SVG}path")]
    assert geometry == [el.get("d") for el in ET.fromstring(painted).iter(f"{SVG}path")]
    edge_titles = {
        g.findtext(f"{SVG}title")
        for g in ET.fromstring(painted).iter(f"{SVG}g")
        if g.get("class") == "edge"
    }
    assert edge_titles == {"a → b", "a → c", "b → d", "c → d"}


def test_highlighted_edges_are_drawn_thick(dot: None) -> None:
    root = ET.fromstring(render_svg(diamond(), highlight_edges=[("a", "b"), ("b", "d")]))
    highlighted = {
        g.get("id") for g in root.iter(f"{SVG}g") if "dagron-highlight" in (g.get("class") or "")
    }
    assert highlighted == {"e0_1", "e1_3"}


def test_result_svg_colours_a_real_run(dot: None, svg_nodes: NodesOf) -> None:
    dag = (
        dagron.DAG.builder()
        .add_edge("ok", "bad")
        .add_edge("bad", "after_bad")
        .add_node("slow")
        .add_edge("slow", "after_slow")
        .build()
    )
    release = threading.Event()

    def bad() -> None:
        raise ValueError('broken <input> & "stuff"')

    result = dagron.DAGExecutor(dag, max_workers=4, fail_fast=False).execute(
        {
            "ok": lambda: 1,
            "bad": bad,
            "after_bad": lambda: 2,
            "slow": lambda: release.wait(10),
            "after_slow": lambda: 3,
        },
        node_timeouts={"slow": 0.2},
    )
    release.set()
    nodes = svg_nodes(result_svg(result))
    expected = {
        "ok": NodeStatus.COMPLETED,
        "bad": NodeStatus.FAILED,
        "after_bad": NodeStatus.SKIPPED,
        "slow": NodeStatus.TIMED_OUT,
        "after_slow": NodeStatus.SKIPPED,
    }
    for name, status in expected.items():
        assert nodes[name].status == status.value
        assert nodes[name].fill == STATUS_COLORS[status]
    tip = nodes["bad"].tooltip
    assert 'ValueError: broken <input> & "stuff"' in tip
    assert "status: failed" in tip
    assert "duration:" in tip
    assert "upstream 'bad' failed" in nodes["after_bad"].tooltip
    assert "timed out" in nodes["slow"].tooltip or "timeout" in nodes["slow"].tooltip


def test_without_dot_graphviz_available_is_false_and_render_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import graphviz

    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY", "dot-is-not-installed")
    assert graphviz_available() is False
    with pytest.raises(GraphvizNotFoundError, match=r"apt-get install graphviz.*conda install"):
        render_svg(diamond())


def test_html_pieces_escape_and_carry_every_colour() -> None:
    legend = render.legend_html({NodeStatus.FAILED: 2})
    for status, colour in STATUS_COLORS.items():
        assert colour in legend
        assert f'data-status="{status.value}"' in legend
    assert "failed 2" in legend
    names = ["<b>x</b>", "ok"]
    summary = render.summary_html(
        names, [NodeStatus.FAILED, NodeStatus.RUNNING], {0: "E: <script>"}
    )
    assert "<b>x</b>" not in summary
    assert "&lt;b&gt;x&lt;/b&gt;" in summary
    assert "&lt;script&gt;" in summary
    assert "<script>" not in summary
    assert "running (1)" in summary
    assert "failed (1)" in summary
    header = render.header_html(
        {NodeStatus.COMPLETED: 3, NodeStatus.RUNNING: 1}, 5, 1.5, title="<t>"
    )
    assert "3/5 done" in header
    assert "1 running" in header
    assert "&lt;t&gt;" in header


def test_format_seconds() -> None:
    assert render.format_seconds(None) == "—"
    assert render.format_seconds(0.0042) == "4.2 ms"
    assert render.format_seconds(2.5) == "2.50 s"
    assert render.format_seconds(75) == "1 min 15 s"


def test_edge_label_is_drawn_and_weight_is_the_tooltip() -> None:
    dag = (
        dagron.DAG.builder()
        .add_edge("a", "b", weight=2.5, label='rows & "cols"')
        .add_edge("b", "c")
        .build()
    )
    dot = to_dot(dag)
    assert 'n0 -> n1 [id="e0_1", label="rows &amp; \\"cols\\"", fontsize=9, ' in dot
    assert 'tooltip="a → b: weight 2.5"' in dot
    assert 'n1 -> n2 [id="e1_2"];' in dot  # no weight, no label: nothing added
    root = ET.fromstring(render_svg(dag))
    titles = {
        g.get("id"): g.findtext(f"{SVG}title")
        for g in root.iter(f"{SVG}g")
        if "edge" in g.get("class", "")
    }
    assert titles == {"e0_1": "a → b: weight 2.5", "e1_2": "b → c"}
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert 'rows & "cols"' in texts


def test_header_counts_the_legend_categories() -> None:
    counts = {
        NodeStatus.COMPLETED: 2,
        NodeStatus.CACHE_HIT: 1,
        NodeStatus.FAILED: 1,
        NodeStatus.TIMED_OUT: 1,
        NodeStatus.CANCELLED: 2,
        NodeStatus.SKIPPED: 1,
    }
    header = render.header_html(counts, 8, 1.5)
    assert "3/8 done" in header  # completed and from cache; not cancelled ones
    assert "1 failed" in header  # not the timed-out one
    assert "1 timed out" in header
    assert "2 cancelled" in header
    assert "1 skipped" in header
    assert "1 from cache" in header


def test_a_layout_over_its_time_limit_is_stopped_and_says_so(dot: None) -> None:
    builder = dagron.DAG.builder()
    for i in range(1, 600):
        builder.add_edge(f"n{(i - 1) // 2}", f"n{i}")
    with pytest.raises(render.LayoutTimeoutError, match="draw anyway"):
        render.layout_svg(builder.build(), timeout=0.001)
    small = dagron.DAG.builder().add_edge("a", "b").build()
    assert render.layout_svg(small, timeout=30).lstrip().startswith(("<?xml", "<svg", "<!--"))
