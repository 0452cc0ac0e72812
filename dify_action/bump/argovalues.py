"""YAML documents inside literal block strings: Argo CD ``helm.values: |``.

The block's lines, without the block's indentation, are composed as their own YAML text; an edit
found there is mapped back character for character, so the block keeps its indentation, its
comments and every other byte. Blocks we cannot map exactly (folded ``>``, an explicit
indentation indicator, tabs) are left alone.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import yaml

from dify_action.bump.layout import argo_sources
from dify_action.bump.model import Replacement
from dify_action.bump.yamlnodes import Parsed, compose, get, label
from dify_action.errors import EditRefused

_HEADER = re.compile(r"\|[+-]?[ \t]*(?:#[^\n]*)?\r?\n")


@dataclass(frozen=True)
class Embedded:
    """An inner document and the map from its character offsets to the outer text's."""

    parsed: Parsed
    inner_starts: tuple[int, ...]
    outer_starts: tuple[int, ...]
    first_line: int  # outer 0-based line of the inner text's first line

    def outer(self, index: int) -> int:
        line = bisect.bisect_right(self.inner_starts, index) - 1
        return self.outer_starts[line] + index - self.inner_starts[line]

    def map(self, item: Replacement) -> Replacement:
        """The replacement in outer coordinates; an insert (a new line) is refused."""
        if "\n" in item.text or "\r" in item.text:
            where = f"{self.parsed.source.relpath}:{self.first_line + item.line}"
            raise EditRefused(
                f"{where}: the image inside the helm.values block has no {item.text.split(':')[0].strip()} "
                "key; the bump does not add lines inside a block string",
                hint="add the key by hand (or move the values to helm.valuesObject), then re-run the bump",
                file=self.parsed.source.relpath, line=self.first_line + item.line,
            )
        return Replacement(self.outer(item.start), self.outer(item.end), item.text, item.old, item.new,
                           self.first_line + item.line, item.note)


def embedded(parsed: Parsed) -> list[Embedded]:
    """The ``helm.values`` literal blocks of Argo CD Applications and ApplicationSets in ``parsed``."""
    found: list[Embedded] = []
    for doc in parsed.docs:
        for prefix, source in argo_sources(doc):
            node = get(get(source, "helm"), "values")
            if isinstance(node, yaml.ScalarNode) and node.style == "|":
                inner = _build(parsed, node, f"{parsed.where}{label(doc)}{prefix}.helm.values| ")
                if inner is not None:
                    found.append(inner)
    return found


def _build(parsed: Parsed, node: yaml.ScalarNode, where: str) -> Embedded | None:
    text = parsed.text
    header = _HEADER.match(text, node.start_mark.index)
    if header is None:
        return None
    start, end = header.end(), node.end_mark.index
    body = text[start:end]
    lines = body.split("\n")
    indent = next((len(line) - len(line.lstrip(" ")) for line in lines if line.strip()), None)
    if indent is None or "\t" in body:
        return None
    inner_lines: list[str] = []
    inner_starts: list[int] = []
    outer_starts: list[int] = []
    offset, position = 0, start
    for line in lines:
        bare = line[:-1] if line.endswith("\r") else line
        if bare.strip() and not bare.startswith(" " * indent):
            return None
        piece = bare[indent:]
        inner_starts.append(offset)
        outer_starts.append(position + min(indent, len(bare)))
        inner_lines.append(piece)
        offset += len(piece) + 1
        position += len(line) + 1
    inner_text = "\n".join(inner_lines)
    if inner_text.rstrip() != str(node.value).rstrip():
        return None
    inner = compose(parsed.source, inner_text, where=where)
    if not isinstance(inner, Parsed):
        return None
    return Embedded(inner, tuple(inner_starts), tuple(outer_starts), text.count("\n", 0, start))
