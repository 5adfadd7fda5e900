"""``NodeRef``: a stable handle to one node of one DAG, as in the original dagron.

``DAG.add_node`` returns one. It carries the node's ``name`` and an ``epoch``
that tells this node apart from a later node of the same name: removing a node
and adding it again gives the new node the next epoch, so an old handle is
*stale* from then on and every DAG method refuses it (``StaleNodeRefError``)
instead of quietly acting on the wrong node. Handles compare and hash by
``(name, epoch)``; ``str(ref)`` is the name. Anything that takes a node name
also takes a ``NodeRef`` (``NodeArg``).

>>> ref = NodeRef("extract", 0)
>>> ref, str(ref), ref == NodeRef("extract", 0)
(NodeRef('extract', epoch=0), 'extract', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from dagron_nb.core.errors import InvalidNodeNameError


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A stable handle to a node; see the module docstring."""

    name: str
    epoch: int = 0

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"NodeRef({self.name!r}, epoch={self.epoch})"


#: a node given by name or by handle (the original dagron's ``NodeArg``)
NodeArg = Union[str, NodeRef]  # noqa: UP007 - a runtime alias, also for Python 3.10 users


def node_name(node: object) -> str:
    """The name a node argument stands for, without checking any DAG.

    >>> node_name("a"), node_name(NodeRef("b", 2))
    ('a', 'b')
    """
    if type(node) is str and node:  # the common case first, cheaply
        return node
    if isinstance(node, NodeRef):
        return node.name
    if isinstance(node, str) and node:
        return str(node)
    raise InvalidNodeNameError(node)
