"""Composed YAML with positions: ``Parsed`` (a file's documents, character marks into its text),
``Hit`` (a scalar that holds an image), and the node helpers every kind of manifest uses.

A leaf of the bump engine: it knows YAML nodes, not manifest kinds. libyaml
(``yaml.CSafeLoader``) composes every file whose aliases cannot share a value; only those go
through the pure-Python composer that records anchors (``composer``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import yaml

from dify_action import refs
from dify_action.bump.composer import AliasBomb, compose_tracking, may_share
from dify_action.bump.model import Skipped
from dify_action.bump.regions import Spans, blank_spans, char_spans, compose_pruned
from dify_action.bump.tree import KUSTOMIZATION_NAMES, SourceFile
from dify_action.bump.variables import Variable
from dify_action.yamlguard import Budget, BudgetExceeded, check, nodes

_BOM = "\ufeff"
BUDGET = Budget()  # GitOps files: 100 levels, 200,000 nodes with aliases expanded (yamlguard)


@dataclass(frozen=True)
class Parsed:
    """A composed file. ``text`` excludes a leading BOM (kept in ``bom``); marks index ``text``."""

    source: SourceFile
    text: str
    docs: tuple[yaml.Node, ...]
    shared: dict[int, str] = field(default_factory=dict)  # id(node an alias points at) -> anchor
    bom: str = ""
    where: str = ""  # label prefix of an embedded document (Argo CD helm.values block)
    blanked: Spans = ()  # character spans of ``text`` blanked to spaces in the text composed
    start: int = 0  # the text composed starts here (all before it is blanked documents)


@dataclass(frozen=True)
class Hit:
    """A place that holds an image. ``kind``: image | helm | kustomize | helm-path | variable."""

    kind: str
    current: refs.ImageRef
    line: int
    where: str
    value: yaml.ScalarNode | None  # the scalar to rewrite (None: a key to insert into ``parent``)
    parent: yaml.MappingNode | None = None
    digest: yaml.ScalarNode | None = None
    shared_anchor: str | None = None
    helm_path: str | None = None
    prefix: str = ""  # text before the reference inside the scalar (``alias=`` of Argo CD lists)
    tag_key: str = "tag"  # the key an insert adds (``newTag`` for kustomize)
    variable: Variable | None = None


def load(source: SourceFile, keep: Callable[[bytes], bool] | None = None, prune: bool = False) -> Parsed | Skipped:
    """Decode and compose a file; return Skipped (with the reason) when it is not usable YAML.

    ``keep``: of a multi-document file, compose only the documents it accepts (their bytes); the
    others are blanked to spaces, one per character, so every mark still indexes the whole text
    and ``Parsed.text`` is the whole file. Anchors never cross documents, so nothing kept can
    depend on a blanked one; the budget and duplicate-key checks apply to every kept document.
    ``prune``: also blank the root values of a large kept document that ``keep`` refuses, with the
    answers of the whole document (``regions``)."""
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError:
        return Skipped(source.relpath, "not UTF-8 text")
    bom = _BOM if text.startswith(_BOM) else ""
    spans = _other_documents(source.data, keep) if keep is not None else ()
    only = blank_spans(source.data, spans) if spans else source.data
    blanked = tuple((max(start - len(bom), 0), end - len(bom)) for start, end in char_spans(source.data, spans))
    body = only[(3 if only.startswith(_BOM.encode()) else 1):] if bom else only  # a blanked BOM is one space
    start = 0 if bom else _first_kept(source.data, spans, len(body))
    window = body[start:]  # the documents before ``start`` are blanked whole: libyaml need not scan them
    if prune and keep is not None:
        pruned = compose_pruned(window, keep, BUDGET)
        if pruned is not None:
            docs, values = pruned
            _shift(docs, start, _breaks(body[:start]))
            values = tuple((a + start, b + start) for a, b in values)
            return Parsed(source, text[len(bom):], tuple(docs), {}, bom, blanked=tuple(sorted(blanked + values)),
                          start=start)
    if start:
        parsed = compose(source, text, composed=window.decode("utf-8"))
        if isinstance(parsed, Parsed):
            _shift(parsed.docs, start, _breaks(body[:start]))
            return dataclasses.replace(parsed, blanked=blanked, start=start)
    composed = body.decode("utf-8") if spans else None  # a refusal names the lines of the whole text
    parsed = compose(source, text[len(bom):], bom, composed=composed)
    return dataclasses.replace(parsed, blanked=blanked) if spans and isinstance(parsed, Parsed) else parsed


def _first_kept(data: bytes, spans: Spans, size: int) -> int:
    """Where the first kept document starts, when the blanked ones before it are much larger than
    what follows (a CRD bundle ending with the one Deployment that runs the image); else 0. The
    blanked text before it is ASCII, so the offset is the same in characters."""
    end = 0
    for start, stop in spans:
        if start - end > 3:  # more than a "---" kept between them: a kept document
            break
        end = stop
    prefix = data[:end]
    # blanking keeps an ASCII text's length: no need to blank 200 KB of CRDs only to measure them
    consumed = end if prefix.isascii() else len(blank_spans(prefix, tuple(span for span in spans if span[1] <= end)))
    return consumed if consumed > 8 * (size - consumed) else 0


def _breaks(blank: bytes) -> int:
    """The line breaks libyaml counts in blanked text (\\n, \\r\\n, a lone \\r)."""
    return blank.count(b"\n") + blank.count(b"\r") - blank.count(b"\r\n")


def _shift(docs: Sequence[yaml.Node], index: int, line: int) -> None:
    """Move the marks of nodes composed from a window of the text to the whole text's (the window
    starts a line: columns stay)."""
    for node in nodes(docs):
        for name in ("start_mark", "end_mark"):
            mark = getattr(node, name)
            setattr(node, name, yaml.error.Mark(mark.name, mark.index + index, mark.line + line, mark.column, None, 0))


# a document marker: "---" or "..." at a line start, then a space or the line's end; inside any
# scalar such a line is forbidden (YAML 1.2 c-forbidden), so splitting there is exact
# (after a "\n": a literal first character lets the regex engine skip ahead; a file's start is added)
_MARKER = re.compile(rb"\n(?:---|\.\.\.)(?=[ \t\r\n]|\Z)")


def _other_documents(data: bytes, keep: Callable[[bytes], bool]) -> Spans:
    """The byte spans of the documents ``keep`` refuses (none when every one is kept)."""
    bounds = sorted({0, *(match.start() + 1 for match in _MARKER.finditer(data)), len(data)})
    if len(bounds) <= 2:
        return ()
    spans: list[tuple[int, int]] = []
    kept = False
    for start, end in itertools.pairwise(bounds):
        if keep(data[start:end]):
            kept = True
            continue
        # a "---" stays (it starts the next document); a "..." only ends a document that stays
        head = 3 if data[start:start + 3] == b"---" or (data[start:start + 3] == b"..." and kept) else 0
        spans.append((start + head, end))
        kept = False
    return tuple(spans)


def compose(source: SourceFile, text: str, bom: str = "", where: str = "",
            composed: str | None = None) -> Parsed | Skipped:
    """``text`` composed (or ``composed``, the same text with some documents blanked)."""
    ctext = text if composed is None else composed
    try:
        if may_share(ctext):
            docs, shared = compose_tracking(ctext)
        else:  # libyaml: about 10x faster than the pure composer, same character marks
            try:
                check(ctext, BUDGET)  # depth and size on libyaml's event stream, before its composer recurses
                docs = [doc for doc in yaml.compose_all(ctext, Loader=yaml.CSafeLoader) if doc is not None]
                shared = {}
            except BudgetExceeded:
                raise
            except yaml.YAMLError:  # the few texts only the pure composer accepts: it has the last word
                if "{{" in ctext:  # a template: neither composer will take it
                    raise
                docs, shared = compose_tracking(ctext)
    except AliasBomb as error:
        return Skipped(source.relpath, str(error))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "{{" in text:
            return Skipped(source.relpath, f"not valid YAML{at}, a Helm/Go template ({{{{ ... }}}}): {problem}")
        return Skipped(source.relpath, f"not valid YAML{at}: {problem}")
    return Parsed(source, text, tuple(docs), shared, bom, where)


def text_of(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
        return str(node.value)
    return None


def get(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, value in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value  # type: ignore[no-any-return]
    return None


def label(doc: yaml.Node) -> str:
    kind = text_of(get(doc, "kind"))
    name = text_of(get(get(doc, "metadata"), "name"))
    return f"{kind}/{name} " if kind and name else (f"{kind} " if kind else "")


def is_image_key(key: str) -> bool:
    return key.endswith(("image", "Image"))


def join_registry(registry: str | None, repository: str) -> str:
    """``registry`` + ``repository`` as charts render them, unless the repository names its host."""
    registry = (registry or "").strip().rstrip("/")
    first = repository.split("/", 1)[0]
    if not registry or ("/" in repository and ("." in first or ":" in first or first == "localhost")):
        return repository
    return f"{registry}/{repository}"


def owner(parsed: Parsed, node: yaml.Node, shared: str | None) -> str | None:
    return parsed.shared.get(id(node), shared)


def is_kustomization(parsed: Parsed, doc: yaml.Node) -> bool:
    name = parsed.source.relpath.rsplit("/", 1)[-1]
    return name in KUSTOMIZATION_NAMES or text_of(get(doc, "kind")) in ("Kustomization", "Component")
