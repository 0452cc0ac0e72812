"""Byte-preserving edits: replace only the characters of a changed scalar, in its own style.

Everything outside the replaced spans — comments, anchors, blank lines, key order, ``---``,
BOM, CRLF — is kept because it is never touched. When a value cannot be rewritten without
reformatting (block scalar, multi-line scalar, a value shared through an anchor), the edit is
refused loudly instead.
"""

from __future__ import annotations

import itertools
import re

import yaml
from yaml._yaml import CParser

from dify_action.bump.model import Replacement
from dify_action.bump.regions import blank_text
from dify_action.bump.yamlnodes import Hit, Parsed
from dify_action.errors import EditRefused, ManifestError

_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


def plan_replacements(parsed: Parsed, hit: Hit, tag: str, digest: str | None) -> list[Replacement]:
    """The edits that make ``hit`` deploy ``tag`` (and ``digest``); empty when already there."""
    if hit.shared_anchor is not None:
        raise EditRefused(
            f"{parsed.source.relpath}:{hit.line}: {hit.where} is shared through the YAML anchor "
            f"&{hit.shared_anchor}; rewriting it would silently change every alias of it",
            hint="replace the alias with a literal value in the GitOps repository, then re-run the bump",
            file=parsed.source.relpath,
            line=hit.line,
        )
    current = hit.current
    keep_digest = digest is None and current.tag == tag
    new_digest = digest if digest is not None else (current.digest if keep_digest else None)
    if hit.kind == "image":
        assert hit.value is not None
        new_value = hit.prefix + str(current.with_version(tag, new_digest))
        return _replace(parsed, hit.value, new_value, hit.line)
    if hit.kind in ("helm-path", "tag"):
        assert hit.value is not None
        return _replace(parsed, hit.value, f"{tag}@{digest}" if digest else tag, hit.line)
    edits: list[Replacement] = []
    tag_key = hit.tag_key
    tag_value = tag
    if hit.kind == "helm" and hit.digest is None and digest is not None:
        tag_value = f"{tag}@{digest}"  # charts without a digest key render repository:tag
    if hit.value is not None:
        edits += _replace(parsed, hit.value, tag_value, hit.line)
    else:
        edits.append(_insert(parsed, hit, tag_key, tag_value))
    if hit.digest is not None:
        old_digest = str(hit.digest.value)
        if digest is not None or (old_digest and not keep_digest):
            if digest is None and hit.kind == "kustomize":
                raise EditRefused(
                    f"{parsed.source.relpath}:{hit.digest.start_mark.line + 1}: the kustomize images "
                    f"entry pins digest {old_digest}, which would override the new tag {tag}",
                    hint="pass --digest with the new image's digest, or remove the digest line",
                    file=parsed.source.relpath,
                    line=hit.digest.start_mark.line + 1,
                )
            edits += _replace(parsed, hit.digest, digest or "", hit.digest.start_mark.line + 1)
    elif digest is not None and hit.kind == "kustomize":
        edits.append(_insert(parsed, hit, "digest", digest))
    return edits


def _replace(parsed: Parsed, node: yaml.ScalarNode, new_value: str, line: int) -> list[Replacement]:
    old_value = str(node.value)
    if old_value == new_value:
        return []
    text = parsed.text
    start, end = node.start_mark.index, node.end_mark.index
    start = _PROPERTIES.match(text, start, end).end()  # type: ignore[union-attr]
    span = text[start:end]
    where = f"{parsed.source.relpath}:{line}"
    if node.style in ("|", ">") or "\n" in span or "\r" in span:
        raise EditRefused(
            f"{where}: the value {old_value!r} spans several lines (block or folded scalar)",
            hint="write it as a one-line scalar in the GitOps repository, then re-run the bump",
            file=parsed.source.relpath,
            line=line,
        )
    rendered, note = render(new_value, node.style, span)
    if not node.style and span != old_value:  # plain: libyaml says '', the pure composer None
        raise ManifestError(f"{where}: could not find the bytes of {old_value!r}", file=parsed.source.relpath)
    return [Replacement(start, end, rendered, old_value, new_value, line, note)]


def render(value: str, style: str | None, original: str = "") -> tuple[str, str | None]:
    """The scalar's source text in the original style; plain values YAML would misread get quoted."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'", None
    if style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"', None
    if _misread(value):
        return f'"{value}"', f"quoted {value} so YAML reads it as a string, not a number"
    return value, None


def _misread(value: str) -> bool:
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag != _STR_TAG


def _insert(parsed: Parsed, hit: Hit, key: str, value: str) -> Replacement:
    """Add ``key: value`` as the last entry of the block mapping holding the image."""
    mapping = hit.parent
    where = f"{parsed.source.relpath}:{hit.line}"
    if mapping is None or mapping.flow_style or not mapping.value:
        raise EditRefused(f"{where}: cannot add {key} to {hit.where} (flow-style or empty mapping)",
                            hint=f"add a {key} key by hand, then re-run the bump", file=parsed.source.relpath)
    last_value = mapping.value[-1][1]
    if not isinstance(last_value, yaml.ScalarNode) or last_value.style in ("|", ">"):
        raise EditRefused(f"{where}: cannot add {key} after a nested block in {hit.where}",
                            hint=f"add a {key} key by hand, then re-run the bump", file=parsed.source.relpath)
    text = parsed.text
    column = mapping.value[0][0].start_mark.column
    newline = "\r\n" if "\r\n" in text else "\n"
    cut = text.find("\n", last_value.end_mark.index)
    rendered, note = render(value, None)
    line_text = " " * column + f"{key}: {rendered}"
    if cut == -1:
        return Replacement(len(text), len(text), newline + line_text, "", value, hit.line, note)
    return Replacement(cut + 1, cut + 1, line_text + newline, "", value, hit.line + 1, note)


def apply(parsed: Parsed, replacements: list[Replacement]) -> bytes:
    """Splice the replacements into the text; the result must still parse as YAML."""
    text = parsed.text
    ordered = sorted(replacements, key=lambda item: (item.start, item.end))  # the engine drops duplicates
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end or (after.start == before.start and before.end > before.start):
            raise EditRefused(
                f"{parsed.source.relpath}:{after.line}: two images target the same value",
                hint="bump one image at a time, or check --helm-path",
                file=parsed.source.relpath,
            )
    composed = blank_text(text, parsed.blanked) if parsed.blanked else None
    for item in reversed(ordered):
        text = text[: item.start] + item.text + text[item.end :]
        if composed is not None:
            composed = composed[: item.start] + item.text + composed[item.end :]
    # the text composed, edited (libyaml's parser in C, no event objects); the edit leaves blanked
    # parts as they were: documents that do not mention the image are not read (yamlnodes), root
    # values that do not were parsed whole where they were blanked (regions); nothing but blanked
    # documents comes before ``start``
    try:
        CParser((text if composed is None else composed)[parsed.start:]).raw_parse()
    except yaml.YAMLError as error:  # a bug of ours: refuse rather than write a broken file
        raise ManifestError(f"{parsed.source.relpath}: the edit would produce invalid YAML: {error}") from error
    return (parsed.bom + text).encode("utf-8")
