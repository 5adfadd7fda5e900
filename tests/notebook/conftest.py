"""Shared pieces of the notebook tests: nasty names, SVG inspection, a real IPython shell.

Helpers are handed out as fixtures (``tests/`` is not a package, and another
``conftest`` module exists), e.g. ``svg_nodes(svg)`` parses a real SVG and
returns what a viewer would see of each node.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import dagron_nb as dagron

SVG = "{http://www.w3.org/2000/svg}"

#: Names that break naive DOT, SVG or HTML: quotes, braces, backslashes, markup,
#: entities, newlines, non-ASCII, a control character and DOT escapes (\N, \G, \l).
NASTY_NAMES = [
    'say "hi"',
    "c{d}[e];f",
    "back\\slash\\",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "a&amp;b & c",
    "two\nlines",
    "données → ✓ 東京",
    "ctl\x01char",
    "esc\\N\\G\\l",
]


@dataclass(frozen=True)
class SvgNode:
    """One node of a painted SVG, as a viewer (or a browser test) sees it."""

    name: str  # data-node
    status: str  # data-status
    fill: str | None  # the shape's fill colour
    label: str  # the <text> lines joined by newlines
    tooltip: str  # the <title> text
    classes: str
    element_id: str


def parse_svg_nodes(svg: str) -> dict[str, SvgNode]:
    """``{name: SvgNode}`` of every node group; raises if the SVG is not XML."""
    root = ET.fromstring(svg)
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        classes = group.get("class") or ""
        if "node" not in classes.split():
            continue
        fill = None
        for element in group.iter():
            if element.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}ellipse"):
                fill = element.get("fill")
                break
        title = group.find(f"{SVG}title")
        node = SvgNode(
            name=group.get("data-node", ""),
            status=group.get("data-status", ""),
            fill=fill,
            label="\n".join(t.text or "" for t in group.iter(f"{SVG}text")),
            tooltip=title.text or "" if title is not None else "",
            classes=classes,
            element_id=group.get("id", ""),
        )
        nodes[node.name] = node
    return nodes


@pytest.fixture
def dot() -> None:
    """Skip (saying why) when Graphviz's dot is not installed."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed; install it with apt-get install graphviz")


@pytest.fixture
def nasty_names() -> list[str]:
    return list(NASTY_NAMES)


@pytest.fixture
def nasty_dag() -> dagron.DAG:
    """The nasty names: a chain of three of them plus loose nodes."""
    builder = dagron.DAG.builder()
    for name in NASTY_NAMES:
        builder.add_node(name)
    builder.add_edge(NASTY_NAMES[0], NASTY_NAMES[3]).add_edge(NASTY_NAMES[3], NASTY_NAMES[6])
    return builder.build()


@pytest.fixture
def svg_nodes() -> Callable[[str], dict[str, SvgNode]]:
    return parse_svg_nodes


def picture_svg(data: dict[str, Any]) -> str:
    """The one SVG of a final static picture's display data (inside its text/html)."""
    assert "image/svg+xml" not in data  # the picture is stored once
    (svg,) = re.findall(r"<svg\b.*?</svg>", data["text/html"], re.S)
    return str(svg)


@pytest.fixture
def picture_nodes() -> Callable[[dict[str, Any]], dict[str, SvgNode]]:
    """``{name: SvgNode}`` of the picture in a final static display's data."""
    return lambda data: parse_svg_nodes(picture_svg(data))


@pytest.fixture
def captured_shell() -> Iterator[Any]:
    """The real IPython test shell, formatting like a kernel, its displays recorded.

    ``display_pub.outputs`` lists every display and display update.
    """
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.testing import globalipapp

    # the shared test shell: other tests use it too, and IPython allows one per process
    ip = globalipapp.get_ipython()
    saved = ip.display_pub
    formatters = ip.display_formatter.formatters
    # a terminal shell formats text/plain only; a kernel formats every type
    enabled = {mime: f.enabled for mime, f in formatters.items()}
    ip.display_pub = CapturingDisplayPublisher()
    for formatter in formatters.values():
        formatter.enabled = True
    try:
        yield ip
    finally:
        ip.display_pub = saved
        for mime, flag in enabled.items():
            formatters[mime].enabled = flag
