"""The pure-Python composer that records anchors, for the files where an alias can share a value.

Only those need it: libyaml composes every other file (``yamlnodes.compose``). A value reached
through an alias is "shared": rewriting it would change every alias, so the edit refuses it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from dify_action.yamlguard import Guarded

MAX_EXPANDED_NODES = 200_000
_ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")


class AliasBomb(Exception):
    """Aliases expand the file beyond MAX_EXPANDED_NODES."""


class _Loader(Guarded, yaml.SafeLoader):
    """The pure-Python composer, recording anchors and which nodes aliases point at; the depth and
    alias budget (yamlguard) is checked on each event before it is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliased: set[int] = set()
        self.anchors_by_node: dict[int, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.AliasEvent):
            self.aliased.add(id(node))
        elif getattr(event, "anchor", None):
            self.anchors_by_node[id(node)] = event.anchor
        return node


def may_share(text: str) -> bool:
    """True when some ``*alias`` names an ``&anchor`` of the text (only then can a value be shared)."""
    if "*" not in text or "&" not in text:
        return False
    return any(f"*{name}" in text for name in set(_ANCHOR.findall(text)))


def compose_tracking(text: str) -> tuple[list[yaml.Node], dict[int, str]]:
    loader = _Loader(text)
    try:
        docs: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(node)
    finally:
        loader.dispose()
    sizes: dict[int, int] = {}
    if any(_expanded_size(doc, sizes) > MAX_EXPANDED_NODES for doc in docs):
        raise AliasBomb(
            f"aliases expand it to over {MAX_EXPANDED_NODES} nodes (an alias bomb); refusing to read it"
        )
    return docs, {key: name for key, name in loader.anchors_by_node.items() if key in loader.aliased}


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]
