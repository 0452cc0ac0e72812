"""Tag rules and the flavor: parsing and validation, in docker/metadata-action's syntax.

A rule is one line of comma-separated fields, CSV-quoted where a value holds a comma
(``type=match,"pattern=\\d{1,2}"``); ``key=value`` splits at the first ``=``, keys are
case-insensitive, values trimmed. A field without ``=`` is the value of a ``type=raw`` rule, and a
line without ``type=`` is one (``type=raw,foo`` and ``foo`` both give the tag ``foo``).
``type=ref,event=branch|tag|pr`` is read as our ``type=branch|tag|pr``.
Unlike metadata-action, an unknown key, a key given twice, an empty field or an unknown template
is an error here, not ignored: a typo must not silently change which tags a release gets.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from dify_action.errors import InputError
from dify_action.tags.templates import DATE_HELPERS, parse_template

RULE_TYPES = ("schedule", "semver", "pep440", "match", "edge", "ref", "branch", "tag", "pr", "raw", "sha",
              "dify", "latest")
# metadata-action's default priorities (higher first); dify/latest are ours.
DEFAULT_PRIORITY: Mapping[str, int] = {
    "schedule": 1000, "semver": 900, "pep440": 900, "match": 800, "edge": 700, "branch": 600, "tag": 600,
    "pr": 600, "raw": 200, "dify": 200, "sha": 100, "latest": 0,
}
_COMMON = frozenset({"type", "enable", "prefix", "suffix", "priority"})
_TYPE_KEYS: Mapping[str, frozenset[str]] = {
    "schedule": _COMMON | {"pattern"},
    "semver": _COMMON | {"pattern", "value", "match"},
    "pep440": _COMMON | {"pattern", "value", "match"},
    "match": _COMMON | {"pattern", "group", "value"},
    "edge": _COMMON | {"branch"},
    "ref": _COMMON | {"event"},
    "branch": _COMMON,
    "tag": _COMMON,
    "pr": _COMMON,
    "raw": _COMMON | {"value"},
    "sha": _COMMON | {"format"},
    "dify": _COMMON,
    "latest": _COMMON,
}
_DEFAULT_PREFIX = {"sha": "sha-", "pr": "pr-"}
GLOBAL_TEMPLATES = frozenset({"sha", "short_sha", "long_sha", "branch", "tag", "base_ref", "run_number",
                              "dify_version", "is_default_branch", "is_not_default_branch"}) | DATE_HELPERS
VERSION_TEMPLATES = frozenset({"raw", "version", "major", "minor", "patch"})
ENABLE_TEMPLATES = ("is_default_branch", "is_not_default_branch")
_ENABLE_RE = re.compile(r"\{\{\s*(is_default_branch|is_not_default_branch)\s*\}\}")
_REGEX_LITERAL_RE = re.compile(r"/(.+)/([a-z]*)", re.DOTALL)
_JS_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "g": 0, "u": 0, "y": 0}
_SYNTAX = "type=<type>[,key=value]... e.g. type=sha,format=short (or a bare tag: mytag)"

LatestMode = Literal["auto", "true", "false"]


@dataclass(frozen=True)
class TagRule:
    """One parsed rule; ``source`` is the text it came from (errors quote it).

    ``prefix``/``suffix`` are None when the rule sets none (the flavor's apply); a rule's own
    replace the flavor's. ``enable_if`` is ``is_default_branch`` or ``is_not_default_branch``
    when ``enable=`` is that template. ``priority_given`` tells an explicit ``priority=``.
    """

    type: str
    source: str
    enable: bool = True
    enable_if: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    format: Literal["short", "long"] = "short"
    pattern: str = ""
    value: str = ""
    match: str = ""
    group: int = 0
    branch: str = ""
    priority: int = 0
    priority_given: bool = False
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Flavor:
    """``prefix``/``suffix`` for tags whose rule sets none; ``*_latest``: also on ``latest``."""

    prefix: str = ""
    suffix: str = ""
    latest: LatestMode = "auto"
    prefix_latest: bool = False
    suffix_latest: bool = False


def _lines(text_or_lines: str | Iterable[str]) -> list[str]:
    chunks = [text_or_lines] if isinstance(text_or_lines, str) else list(text_or_lines)
    lines = (line.strip() for chunk in chunks for line in chunk.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _fields(text: str, input_name: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True, skipinitialspace=True))
    except csv.Error as error:
        raise InputError(input_name, text,
                         f"unbalanced quotes ({error}); double-quote a whole field: \"pattern=a,b\"") from None
    return rows[0] if rows else []


def _split(text: str, input_name: str) -> tuple[dict[str, str], list[str]]:
    pairs: dict[str, str] = {}
    bare: list[str] = []
    for item in _fields(text, input_name):
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            if not key:
                raise InputError(input_name, text, f"an empty field; expected {_SYNTAX}")
            bare.append(item.strip())
            continue
        if not key:
            raise InputError(input_name, text, f"{item.strip()!r} has no key; expected {_SYNTAX}")
        if key in pairs:
            raise InputError(input_name, text, f"key {key!r} is given twice")
        pairs[key] = value
    return pairs, bare


def compile_regex(pattern: str, input_name: str, source: str) -> re.Pattern[str]:
    """A JavaScript-style pattern (``\\d{8}``, or a literal ``/^v(\\d)$/i``) as a Python regex."""
    flags = 0
    literal = _REGEX_LITERAL_RE.fullmatch(pattern)
    if literal:
        pattern = literal.group(1)
        for flag in literal.group(2):
            if flag not in _JS_FLAGS:
                raise InputError(input_name, source, f"unknown regex flag {flag!r}; allowed: i, m, s, g, u, y")
            flags |= _JS_FLAGS[flag]
    pattern = re.sub(r"\(\?<(?![=!])", "(?P<", pattern)  # JS named groups
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        raise InputError(input_name, source, f"not a valid regular expression: {error}") from None


def parse_rule(text: str) -> TagRule:
    """Parse one rule string; InputError("tag-rule", ...) says exactly what is wrong."""
    name = "tag-rule"
    pairs, bare = _split(text, name)
    kind = pairs.get("type", "raw")
    if kind not in _TYPE_KEYS:
        raise InputError(name, text, f"unknown type {kind!r}; allowed: " + ", ".join(RULE_TYPES))
    if bare:
        if kind != "raw" or len(bare) > 1 or "value" in pairs:
            raise InputError(name, text, f"{bare[-1]!r} is not key=value; expected {_SYNTAX}")
        pairs["value"] = bare[0]
    unknown = sorted(set(pairs) - _TYPE_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(_TYPE_KEYS[kind]))
        raise InputError(name, text, f"unknown key {unknown[0]!r} for type={kind}; allowed: {allowed}")
    if kind == "ref":
        event = pairs.pop("event", None)
        if event not in ("branch", "tag", "pr"):
            raise InputError(name, text, f"type=ref needs event=branch, event=tag or event=pr (got {event!r})")
        kind = event
    enable, enable_if = _enable(pairs.get("enable", "true"), name, text)
    fmt = pairs.get("format", "short")
    if fmt not in ("short", "long"):
        raise InputError(name, text, f"format={fmt!r}: allowed short, long")
    priority = pairs.get("priority")
    if priority is not None and not re.fullmatch(r"-?[0-9]+", priority):
        raise InputError(name, text, f"priority={priority!r}: an integer (higher comes first)")
    pattern = pairs.get("pattern", "nightly" if kind == "schedule" else "")
    regex: re.Pattern[str] | None = None
    if kind in ("semver", "pep440", "match") and not pattern:
        raise InputError(name, text, f"type={kind} needs pattern=" + (
            "<regex>" if kind == "match" else " e.g. pattern={{version}} or pattern={{major}}.{{minor}}"))
    if kind in ("semver", "pep440") and not parse_template(pattern, VERSION_TEMPLATES, name, text).names:
        raise InputError(name, text, "pattern needs {{version}}, {{major}}, {{minor}}, {{patch}} or {{raw}}")
    if kind == "match":
        regex = compile_regex(pattern, name, text)
    if kind == "schedule":
        parse_template(pattern, GLOBAL_TEMPLATES, name, text)
    if pairs.get("match"):
        regex = compile_regex(pairs["match"], name, text)
    group = pairs.get("group", "0") or "0"
    if not group.isdigit():
        raise InputError(name, text, f"group={group!r}: a capture group number (0 = the whole match)")
    value = pairs.get("value", "")
    if kind == "raw" and not value:
        raise InputError(name, text, "type=raw needs value=<tag> (or the tag alone: type=raw,mytag)")
    for key in ("prefix", "suffix", "value"):
        parse_template(pairs.get(key, ""), GLOBAL_TEMPLATES, name, text)
    return TagRule(
        type=kind, source=text, enable=enable, enable_if=enable_if,
        prefix=pairs.get("prefix", _DEFAULT_PREFIX.get(kind)), suffix=pairs.get("suffix"),
        format="long" if fmt == "long" else "short", pattern=pattern, value=value,
        match=pairs.get("match", ""), group=int(group), branch=pairs.get("branch", ""),
        priority=int(priority) if priority is not None else DEFAULT_PRIORITY[kind],
        priority_given=priority is not None, regex=regex,
    )


def _enable(text: str, name: str, source: str) -> tuple[bool, str | None]:
    if text in ("true", "false"):
        return text == "true", None
    template = _ENABLE_RE.fullmatch(text)
    if template:
        return True, template.group(1)
    raise InputError(name, source, f"enable={text!r}: allowed true, false, {{{{is_default_branch}}}}, "
                     "{{is_not_default_branch}}")


def parse_rules(text_or_lines: str | Iterable[str]) -> tuple[TagRule, ...]:
    """Rules from newline-separated text or a list; blank lines and ``#`` comments ignored."""
    return tuple(parse_rule(line) for line in _lines(text_or_lines))


def parse_flavor(text_or_lines: str | Iterable[str]) -> Flavor:
    """``latest=auto|true|false``, ``prefix=...[,onlatest=true]``, ``suffix=...[,onlatest=true]``."""
    syntax = "latest=auto|true|false, prefix=...[,onlatest=true], suffix=...[,onlatest=true]"
    values: dict[str, str] = {}
    for line in _lines(text_or_lines):
        pairs, bare = _split(line, "flavor")
        if bare:
            raise InputError("flavor", line, f"{bare[0]!r} is not key=value; expected {syntax}")
        last_affix = None
        for key, value in pairs.items():
            if key not in ("prefix", "suffix", "latest", "onlatest"):
                raise InputError("flavor", line, f"unknown key {key!r}; allowed: latest, onlatest, prefix, suffix")
            if key == "onlatest":
                if value not in ("true", "false") or last_affix is None:
                    raise InputError("flavor", line, "onlatest=true|false follows prefix= or suffix= on its line")
                key = f"{last_affix}_latest"
            elif key in ("prefix", "suffix"):
                last_affix = key
                parse_template(value, GLOBAL_TEMPLATES, "flavor", line)
            if key in values:
                raise InputError("flavor", line, f"key {key!r} is given twice")
            values[key] = value
    latest = values.get("latest", "auto")
    if latest not in ("auto", "true", "false"):
        raise InputError("flavor", f"latest={latest}", "latest is one of auto, true, false")
    mode: LatestMode = "true" if latest == "true" else "false" if latest == "false" else "auto"
    return Flavor(prefix=values.get("prefix", ""), suffix=values.get("suffix", ""), latest=mode,
                  prefix_latest=values.get("prefix_latest") == "true",
                  suffix_latest=values.get("suffix_latest") == "true")


DEFAULT_RULES_TEXT = """\
type=semver,pattern={{version}}
type=sha
type=semver,pattern={{major}}.{{minor}}
type=branch
type=pr
"""
DEFAULT_RULES = parse_rules(DEFAULT_RULES_TEXT)
