"""The item shapes ``add_nodes`` / ``add_edges`` accept, read into plain tuples.

As in the original dagron: a node item is a name, ``(name, payload)`` or
``(name, payload, metadata)``; an edge item is ``(source, target)``,
``(source, target, weight)`` or ``(source, target, weight, label)``, where a
source or target may be a name or a ``NodeRef``. Anything else is refused with
a message that shows the item and the accepted shapes.

>>> node_item(("load", {"path": "x.csv"}))
('load', {'path': 'x.csv'}, None)
>>> edge_item(("a", "b", 2.0))
('a', 'b', 2.0, None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagron_nb.core.errors import ConfigurationError, InvalidNodeNameError
from dagron_nb.core.refs import NodeArg

NODE_SHAPES = "a name, (name, payload) or (name, payload, metadata)"
EDGE_SHAPES = "(source, target), (source, target, weight) or (source, target, weight, label)"


def node_item(item: object) -> tuple[str, Any, Mapping[str, Any] | None]:
    """``(name, payload, metadata)`` of one ``add_nodes`` item."""
    if isinstance(item, str):
        return item, None, None
    if isinstance(item, tuple) and len(item) in (2, 3):
        name, payload, *rest = item
        if not isinstance(name, str):
            raise InvalidNodeNameError(name)
        return name, payload, rest[0] if rest else None
    raise InvalidNodeNameError(item, f"add_nodes() items are {NODE_SHAPES}.")


def edge_item(item: object) -> tuple[NodeArg, NodeArg, float | None, str | None]:
    """``(source, target, weight, label)`` of one ``add_edges`` item; the
    endpoints are checked where they are used."""
    if isinstance(item, list):  # [source, target] reads as well as a tuple
        item = tuple(item)
    if isinstance(item, tuple) and len(item) in (2, 3, 4):
        source, target, *rest = item
        weight = rest[0] if rest else None
        label = rest[1] if len(rest) > 1 else None
        return source, target, weight, label
    raise ConfigurationError(f"add_edges() items are {EDGE_SHAPES}; got {item!r}.")


def check_metadata(name: str, metadata: object) -> Mapping[str, Any] | None:
    if metadata is None or isinstance(metadata, Mapping):
        return metadata
    raise ConfigurationError(
        f"metadata of node {name!r} must be a dict (or None), got {type(metadata).__name__}."
    )


def check_weight(source: str, target: str, weight: object) -> float | None:
    if weight is None:
        return None
    number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
    if number and math.isfinite(weight):  # type: ignore[arg-type]
        return float(weight)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"weight of edge {source!r} -> {target!r} must be a finite number (or None), "
        f"got {weight!r}."
    )


def check_label(source: str, target: str, label: object) -> str | None:
    if label is None or isinstance(label, str):
        return label
    raise ConfigurationError(
        f"label of edge {source!r} -> {target!r} must be a str (or None), got {label!r}."
    )
