"""Compose only the part of a large document that can hold an image (issue 22, class 7).

A chart's values file is one document of thousands of settings and one image mapping; libyaml
makes a Python node of every scalar, so composing all of it costs more than the rest of a bump.
A root key written ``key:`` alone on its line, whose value (the indented lines below it) does not
mention the image, has that value blanked to spaces (one per character, line breaks kept: every
mark is the whole text's), and only the rest is composed. The answers stay the whole text's:

- the whole text passes libyaml's parser (``raw_parse``, in C, no Python objects); with no alias
  in it, its event count bounds the node budget, and a bound of each blanked value's depth
  (indentation columns, flow brackets) keeps within the depth budget (``_sealed``);
- in the composed text, every blanked key is a root key with an empty value: the tokens up to
  each blanked value are the whole text's, and a value whose lines all end outside quotes and flow
  collections hands the same state to the tokens after it, so the composed nodes are the whole
  text's nodes outside the blanked values;
- anything else (an alias, anchor, tag, compose variable or tab in a value, a key the kinds read
  such as ``global`` or ``kind``, a parse error or budget refusal) composes the whole text, so
  refusals and their messages are the ones a full composition gives.
``tests/unit/bump/test_regions.py`` checks on generated documents that both ways give one plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from yaml._yaml import CParser

from dify_action.bump.composer import may_share
from dify_action.yamlguard import Budget, check

PRUNE_AT = 16 * 1024  # bytes; below this, composing everything costs less than checking the bounds
# root keys whose value the kinds read by name whatever it holds (``get(doc, "kind")``, a global
# registry, Argo CD sources...): never blanked; tests/unit/bump/test_regions.py keeps it complete
CONTEXT_KEYS = frozenset({
    "apiVersion", "digest", "global", "helm", "image", "imageRegistry", "images", "kind", "kustomize",
    "metadata", "name", "newName", "newTag", "parameters", "registry", "repository", "services", "source", "sources",
    "spec", "tag", "template", "value", "values", "valuesFrom", "valuesObject", "version",
})

_TOP = re.compile(rb"\n(?=[^ \r\n#])")  # before a line with content at column 0
_KEY = re.compile(rb"([A-Za-z_][\w.-]*):[ ]*(?:#[^\n]*)?\r?\n")  # "key:" alone (a comment may follow)
# alias, anchor, tag (they tie nodes across the text or start tokens mid-line), compose variable,
# tab, and the line breaks beyond \r and \n (NEL, LS, PS), which blanking would remove
_UNSAFE = (b"*", b"&", b"!", b"$", b"\t", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
# indentation and compact indicators of a line that holds a token (spaces possessive: a long blank
# line costs no backtracking)
_PREFIX = re.compile(rb"\n( *+)((?:[-?:] +)*)(?=[^ \r\n])")
# a line that surely ends outside quotes and flow collections, and opens at most one of them:
# [- ]* [scalar: ] value [# comment], the value a one-line scalar, or a flow mapping or sequence of
# them; a quote only where a token starts, closed on the line, with no escapes
_WORD = rb"[\w./+-]+"
_SCALAR = rb"""(?:%s|"[^"\\\n]*"|'[^'\n]*')""" % _WORD
_FLOW = rb"(?:\{ *(?:%s *: +%s *(?:, *%s *: +%s *)*)?\}|\[ *(?:%s *(?:, *%s *)*)?\])" % ((_SCALAR,) * 6)
_CLOSED = rb" *(?:- +)*(?:%s *: +)?(?:%s|%s) *(?: #[^\n]*)?\r?" % (_SCALAR, _SCALAR, _FLOW)
# the other lines with a bracket or a quote: each one is proven with libyaml
_OPEN = re.compile(rb"\n(?!%s(?:\n|\Z))([^\n]*[\[{\"'][^\n]*)" % _CLOSED)
_KEEP_BREAKS = bytes(byte if byte in (0x0A, 0x0D) else 0x20 for byte in range(256))
_CONTINUATION = re.compile(rb"[\x80-\xbf]+")  # UTF-8 continuation bytes: one space per character


Spans = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Blanked:
    key: str
    line: int  # 0-based, of the key


def compose_pruned(data: bytes, keep: Callable[[bytes], bool], budget: Budget) -> tuple[list[yaml.Node], Spans] | None:
    """The documents of ``data`` (UTF-8 without BOM) with the values ``keep`` refuses blanked, and
    the character spans blanked; None when the whole text must be composed (small, nothing to
    blank, a doubt)."""
    if len(data) < PRUNE_AT:
        return None
    pruned = _prune(data, keep, budget.max_depth - 1)  # the root mapping holds each value: one level
    if pruned is None:
        return None
    spans, blanked = pruned
    text = data.decode("utf-8")
    if may_share(text):
        return None
    try:
        if CParser(data).raw_parse() > budget.max_nodes:  # no alias: every node is at least one event
            return None
        part = blank_spans(data, spans).decode("utf-8")
        check(part, budget)
        docs = [doc for doc in yaml.compose_all(part, Loader=yaml.CSafeLoader) if doc is not None]
    except yaml.YAMLError:
        return None
    roots = {key.start_mark.line: (key, value) for doc in docs
             if isinstance(doc, yaml.MappingNode) and not doc.flow_style for key, value in doc.value}
    for item in blanked:
        key, value = roots.get(item.line, (None, None))
        if not (isinstance(key, yaml.ScalarNode) and key.value == item.key and key.start_mark.column == 0
                and not key.style and isinstance(value, yaml.ScalarNode) and value.value == ""
                and not value.style):
            return None
    return docs, char_spans(data, spans)


def _blank(data: bytes) -> bytes:
    """One space per character of UTF-8 ``data``; line breaks (\\n, \\r) stay."""
    return (data if data.isascii() else _CONTINUATION.sub(b"", data)).translate(_KEEP_BREAKS)


def blank_spans(data: bytes, spans: Spans) -> bytes:
    """``data`` with the byte ``spans`` (in order, apart) blanked: every mark keeps its index and line."""
    parts, done = [], 0
    for start, end in spans:
        parts += [data[done:start], _blank(data[start:end])]
        done = end
    return b"".join([*parts, data[done:]])


def char_spans(data: bytes, spans: Spans) -> Spans:
    """Byte spans of UTF-8 ``data`` as character spans of its text."""
    if data.isascii():
        return tuple(spans)
    return tuple((len(data[:start].decode("utf-8")), len(data[:end].decode("utf-8"))) for start, end in spans)


def blank_text(text: str, spans: Spans) -> str:
    """``text`` with the character ``spans`` blanked as ``blank_spans`` blanks them."""
    parts, done = [], 0
    for start, end in spans:
        parts += [text[done:start], _blank(text[start:end].encode("utf-8")).decode("ascii")]
        done = end
    return "".join([*parts, text[done:]])


def _prune(data: bytes, keep: Callable[[bytes], bool], limit: int) -> tuple[Spans, list[Blanked]] | None:
    tops = [0] if data[:1] not in (b" ", b"\r", b"\n", b"#") else []
    tops += [match.end() for match in _TOP.finditer(data)]
    spans: list[tuple[int, int]] = []
    blanked: list[Blanked] = []
    for index, top in enumerate(tops):
        line_end = data.find(b"\n", top) + 1
        key = _KEY.fullmatch(data, top, line_end) if line_end else None
        end = tops[index + 1] if index + 1 < len(tops) else len(data)
        body = data[line_end:end]
        if key is None or not body.strip() or key.group(1).decode() in CONTEXT_KEYS:
            continue
        if keep(data[top:end]) or any(unsafe in body for unsafe in _UNSAFE) or not _sealed(body, limit):
            continue
        spans.append((line_end, end))
        blanked.append(Blanked(key.group(1).decode(), data.count(b"\n", 0, top)))
    return (tuple(spans), blanked) if blanked else None


def _sealed(body: bytes, limit: int) -> bool:
    """True when the value surely ends outside quotes and flow collections and nests at most
    ``limit`` levels (False: not sure).

    Each line must end so: lines of a simple shape (``_CLOSED``) surely do; every other line with
    a bracket or a quote is proven with libyaml, alone as a document after a ``---`` (a line left
    open would run into the next marker; the first line left open in the value started clean,
    so libyaml reads it alone as it reads it in place). Block collections nest at most two to a
    column (a mapping and the sequence under one of its keys), and one starts only where a line's
    indentation or compact indicators (``- ``, ``? ``) end: twice the distinct columns bounds them.
    Flow collections add at most every bracket of the value, or, as every line ends outside them,
    the brackets of one line (one for a simple line)."""
    lined = b"\n" + body
    columns: set[int] = set()
    for indent, indicators in set(_PREFIX.findall(lined)):
        columns.add(len(indent) + len(indicators))
        columns.update(len(indent) + index for index, char in enumerate(indicators) if char != 0x20)
    block = 2 * len(columns)
    others = _OPEN.findall(lined)
    if block + body.count(b"[") + body.count(b"{") > limit and \
            block + max([1, *(line.count(b"[") + line.count(b"{") for line in others)]) > limit:
        return False
    if others:
        try:
            CParser(b"".join(b"---\n" + line + b"\n" for line in others) + b"---\n").raw_parse()
        except yaml.YAMLError:
            return False
    return True
