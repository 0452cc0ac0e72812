"""Tag policy: which tags an image gets, from the git context and declared rules.

Rules are strings in the spirit of docker/metadata-action, one per line, ``key=value`` pairs
separated by commas (https://github.com/docker/metadata-action#tags-input):

``type=sha[,format=short|long][,prefix=sha-]``
    the commit: ``sha-`` + 7 hex characters (``long``: all of them). Always produces a tag.
``type=semver,pattern=...``
    on tag refs that parse as semver (an optional leading ``v``). Patterns combine
    ``{{version}}``, ``{{major}}``, ``{{minor}}`` and ``{{patch}}``. A prerelease only gets
    patterns holding ``{{version}}`` (``2.0.0-rc.1`` never moves ``2.0``); a 0.x release gets
    no pattern made of ``{{major}}`` alone (``0`` would alias unrelated breaking releases).
    Build metadata is kept with ``+`` turned into ``-`` (``+`` is not allowed in a tag).
``type=branch``
    on branch refs: the name with every character outside ``[A-Za-z0-9_.-]`` turned into ``-``,
    leading ``.``/``-`` stripped, cut so that the whole tag fits in 128 characters.
``type=pr[,prefix=pr-]``
    ``pr-N`` on ``pull_request`` / ``pull_request_target`` events.
``type=raw,value=...``
    a literal tag with templates ``{{sha}}``, ``{{short_sha}}``, ``{{branch}}``,
    ``{{run_number}}``, ``{{dify_version}}``.
``type=dify[,suffix=...]``
    the Dify base version the image customizes (``suffix=-acme.{{run_number}}`` gives
    ``1.13.3-acme.42``). Skipped when the Dify version is unknown.
``type=latest``
    ``latest`` on builds of the default branch.

Every rule also takes ``enable=true|false``, ``prefix=`` and ``suffix=`` (templates allowed).
A rule whose template needs a value this context lacks (``{{branch}}`` on a tag build, an unknown
``{{run_number}}``) produces nothing, like ``type=dify`` without a Dify version.

"Builds of the default branch" means any non-PR event whose ref is ``refs/heads/<default>``
(push, but also workflow_dispatch and schedule: they build the same branch head).

The flavor (``prefix=``, ``suffix=``, ``latest=auto|true|false``) wraps every tag except
``latest``: flavor prefix + rule prefix + value + rule suffix + flavor suffix. ``latest=auto``
(the default) appends ``latest`` for a stable semver release tag; ``true`` also for builds of the
default branch; ``false`` adds none (an explicit ``type=latest`` rule still applies).

Tags come out in declaration order, de-duplicated; the first is the primary. With no rules,
:data:`DEFAULT_RULES` apply, ordered so that the primary is immutable (a version or a commit,
never a moving branch name)::

    type=semver,pattern={{version}}          # 1.2.3 on release tags
    type=sha                                 # sha-0123abc, always
    type=semver,pattern={{major}}.{{minor}}  # 1.2 on stable release tags
    type=branch                              # feature-x on branch builds
    type=pr                                  # pr-42 on pull requests
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import semver

from dify_action.errors import InputError
from dify_action.refs import TAG_RE

RULE_TYPES = ("sha", "semver", "branch", "pr", "raw", "dify", "latest")
_COMMON_KEYS = frozenset({"type", "enable", "prefix", "suffix"})
_TYPE_KEYS: Mapping[str, frozenset[str]] = {
    "sha": _COMMON_KEYS | {"format"},
    "semver": _COMMON_KEYS | {"pattern"},
    "branch": _COMMON_KEYS,
    "pr": _COMMON_KEYS,
    "raw": _COMMON_KEYS | {"value"},
    "dify": _COMMON_KEYS,
    "latest": _COMMON_KEYS,
}
_DEFAULT_PREFIX = {"sha": "sha-", "pr": "pr-"}
CONTEXT_FIELDS = ("sha", "short_sha", "branch", "run_number", "dify_version")
SEMVER_FIELDS = ("version", "major", "minor", "patch")
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
SHORT_SHA_LENGTH = 7
TAG_MAX = 128

_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_PR_REF_RE = re.compile(r"refs/pull/([0-9]+)/")
_NOT_TAG_CHAR_RE = re.compile(r"[^A-Za-z0-9_.-]")
_RULE_SYNTAX = "type=<type>[,key=value]... e.g. type=sha,format=short"

LatestMode = Literal["auto", "true", "false"]


@dataclass(frozen=True)
class GitContext:
    """What the tags are computed from (GITHUB_SHA, GITHUB_REF, GITHUB_EVENT_NAME...)."""

    sha: str
    ref: str
    event: str
    default_branch: str = "main"
    pr_number: int | None = None
    run_number: int | None = None
    dify_version: str | None = None

    def __post_init__(self) -> None:
        if not _SHA_RE.fullmatch(self.sha):
            raise InputError("sha", self.sha, "a full commit id: 40 (or 64) lowercase hex characters")

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None

    @property
    def is_pull_request(self) -> bool:
        return self.event in PR_EVENTS

    @property
    def on_default_branch(self) -> bool:
        return not self.is_pull_request and self.branch == self.default_branch

    @property
    def pull_request(self) -> int | None:
        if not self.is_pull_request:
            return None
        if self.pr_number is not None:
            return self.pr_number
        match = _PR_REF_RE.match(self.ref)
        return int(match.group(1)) if match else None

    @property
    def version(self) -> semver.Version | None:
        """The release version when the ref is a tag that parses as semver (``v`` allowed)."""
        tag = self.tag
        if tag is None:
            return None
        try:
            return semver.Version.parse(tag.removeprefix("v"))
        except ValueError:
            return None

    def values(self) -> dict[str, str | None]:
        """Template values; None when unknown in this context."""
        return {
            "sha": self.sha,
            "short_sha": self.sha[:SHORT_SHA_LENGTH],
            "branch": self.branch,
            "run_number": None if self.run_number is None else str(self.run_number),
            "dify_version": self.dify_version or None,
        }


@dataclass(frozen=True)
class TagRule:
    """One parsed rule; ``source`` is the text it came from (errors quote it)."""

    type: str
    source: str
    enable: bool = True
    prefix: str = ""
    suffix: str = ""
    format: Literal["short", "long"] = "short"
    pattern: str = "{{version}}"
    value: str = ""


@dataclass(frozen=True)
class Flavor:
    prefix: str = ""
    suffix: str = ""
    latest: LatestMode = "auto"


@dataclass(frozen=True)
class TagSet:
    tags: tuple[str, ...]

    @property
    def primary(self) -> str | None:
        """The first tag (the one to pin in GitOps), None when no rule applied."""
        return self.tags[0] if self.tags else None


def _lines(text_or_lines: str | Iterable[str]) -> list[str]:
    chunks = [text_or_lines] if isinstance(text_or_lines, str) else list(text_or_lines)
    lines = (line.strip() for chunk in chunks for line in chunk.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pairs(text: str, input_name: str, syntax: str = _RULE_SYNTAX) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise InputError(input_name, text, f"{item.strip()!r} is not key=value; expected {syntax}")
        if key in pairs:
            raise InputError(input_name, text, f"key {key!r} is given twice")
        pairs[key] = value
    return pairs


def _check_templates(text: str, allowed: Iterable[str], input_name: str, source: str) -> None:
    allowed = tuple(allowed)
    for name in _PLACEHOLDER_RE.findall(text):
        if name not in allowed:
            raise InputError(
                input_name, source, f"unknown template {{{{{name}}}}}; allowed: " + ", ".join(allowed)
            )
    rest = _PLACEHOLDER_RE.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise InputError(input_name, source, "unbalanced '{{' or '}}' in a template")


def parse_rule(text: str) -> TagRule:
    """Parse one rule string; InputError("tag-rule", ...) says exactly what is wrong."""
    name = "tag-rule"
    pairs = _pairs(text, name)
    kind = pairs.get("type")
    if kind is None:
        raise InputError(name, text, f"missing type=; expected {_RULE_SYNTAX}")
    if kind not in _TYPE_KEYS:
        raise InputError(name, text, f"unknown type {kind!r}; allowed: " + ", ".join(RULE_TYPES))
    unknown = sorted(set(pairs) - _TYPE_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(_TYPE_KEYS[kind]))
        raise InputError(name, text, f"unknown key {unknown[0]!r} for type={kind}; allowed: {allowed}")
    enable = pairs.get("enable", "true")
    if enable not in ("true", "false"):
        raise InputError(name, text, f"enable={enable!r}: allowed true, false")
    fmt = pairs.get("format", "short")
    if fmt not in ("short", "long"):
        raise InputError(name, text, f"format={fmt!r}: allowed short, long")
    pattern = pairs.get("pattern", "{{version}}")
    if kind == "semver":
        _check_templates(pattern, SEMVER_FIELDS, name, text)
        if not _PLACEHOLDER_RE.search(pattern):
            raise InputError(name, text, "pattern needs {{version}}, {{major}}, {{minor}} or {{patch}}")
    value = pairs.get("value", "")
    if kind == "raw" and not value:
        raise InputError(name, text, "type=raw needs value=<tag>")
    for field in ("prefix", "suffix", "value"):
        _check_templates(pairs.get(field, ""), CONTEXT_FIELDS, name, text)
    return TagRule(
        type=kind,
        source=text,
        enable=enable == "true",
        prefix=pairs.get("prefix", _DEFAULT_PREFIX.get(kind, "")),
        suffix=pairs.get("suffix", ""),
        format="long" if fmt == "long" else "short",
        pattern=pattern,
        value=value,
    )


def parse_rules(text_or_lines: str | Iterable[str]) -> tuple[TagRule, ...]:
    """Rules from newline-separated text or a list; blank lines and ``#`` comments ignored."""
    return tuple(parse_rule(line) for line in _lines(text_or_lines))


def parse_flavor(text_or_lines: str | Iterable[str]) -> Flavor:
    """``prefix=``, ``suffix=``, ``latest=auto|true|false``, by lines or commas."""
    pairs: dict[str, str] = {}
    for line in _lines(text_or_lines):
        for key, value in _pairs(line, "flavor", "prefix=...,suffix=...,latest=auto|true|false").items():
            if key not in ("prefix", "suffix", "latest"):
                raise InputError("flavor", line, f"unknown key {key!r}; allowed: latest, prefix, suffix")
            if key in pairs:
                raise InputError("flavor", line, f"key {key!r} is given twice")
            pairs[key] = value
            _check_templates(value, CONTEXT_FIELDS, "flavor", line)
    latest = pairs.get("latest", "auto")
    if latest not in ("auto", "true", "false"):
        raise InputError("flavor", f"latest={latest}", "latest is one of auto, true, false")
    mode: LatestMode = "true" if latest == "true" else "false" if latest == "false" else "auto"
    return Flavor(prefix=pairs.get("prefix", ""), suffix=pairs.get("suffix", ""), latest=mode)


DEFAULT_RULES_TEXT = """\
type=semver,pattern={{version}}
type=sha
type=semver,pattern={{major}}.{{minor}}
type=branch
type=pr
"""
DEFAULT_RULES = parse_rules(DEFAULT_RULES_TEXT)


def _render(text: str, values: Mapping[str, str | None]) -> str | None:
    """Fill templates; None when a needed value is unknown."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        missing = missing or value is None
        return value or ""

    rendered = _PLACEHOLDER_RE.sub(fill, text)
    return None if missing else rendered


def sanitize_branch(name: str, max_length: int = TAG_MAX) -> str:
    """A branch name made tag-safe: ``feature/Foo_bar`` -> ``feature-Foo_bar``; may be empty."""
    return _NOT_TAG_CHAR_RE.sub("-", name).lstrip(".-")[:max_length]


def _semver_value(pattern: str, version: semver.Version) -> str | None:
    used = set(_PLACEHOLDER_RE.findall(pattern))
    if version.prerelease and "version" not in used:
        return None
    if version.major == 0 and used == {"major"}:
        return None
    full = str(version).replace("+", "-")
    fields = {"version": full, "major": str(version.major), "minor": str(version.minor)}
    return _render(pattern, {**fields, "patch": str(version.patch)})


def _rule_value(rule: TagRule, ctx: GitContext, affix_length: int) -> str | None:
    if rule.type == "sha":
        return ctx.sha if rule.format == "long" else ctx.sha[:SHORT_SHA_LENGTH]
    if rule.type == "semver":
        version = ctx.version
        return None if version is None else _semver_value(rule.pattern, version)
    if rule.type == "branch":
        branch = ctx.branch
        if branch is None or ctx.is_pull_request:
            return None
        return sanitize_branch(branch, max(TAG_MAX - affix_length, 1)) or None
    if rule.type == "pr":
        number = ctx.pull_request
        return None if number is None else str(number)
    if rule.type == "raw":
        return _render(rule.value, ctx.values())
    if rule.type == "dify":
        return ctx.dify_version or None
    return "latest" if ctx.on_default_branch else None  # type=latest


def _valid(tag: str) -> bool:
    # TAG_RE's \w also matches non-ASCII letters; registries accept ASCII only.
    return tag.isascii() and TAG_RE.fullmatch(tag) is not None


def compute_tags(
    rules: Iterable[TagRule] | None, context: GitContext, flavor: Flavor | None = None
) -> TagSet:
    """The tags for ``context``: declared order, de-duplicated, each valid; see the module doc."""
    flavor = flavor or Flavor()
    rules = tuple(rules or ()) or DEFAULT_RULES
    values = context.values()
    global_prefix = _render(flavor.prefix, values)
    global_suffix = _render(flavor.suffix, values)
    if global_prefix is None or global_suffix is None:
        raise InputError(
            "flavor",
            f"prefix={flavor.prefix},suffix={flavor.suffix}",
            "a template needs a value unknown in this build (e.g. {{branch}} on a tag build)",
        )
    tags: list[str] = []
    for rule in rules:
        if not rule.enable:
            continue
        prefix, suffix = _render(rule.prefix, values), _render(rule.suffix, values)
        if prefix is None or suffix is None:
            continue
        if rule.type != "latest":
            prefix, suffix = global_prefix + prefix, suffix + global_suffix
        value = _rule_value(rule, context, len(prefix) + len(suffix))
        if value is None:
            continue
        tag = prefix + value + suffix
        if not _valid(tag):
            raise InputError(
                "tag-rule",
                rule.source,
                f"it produced {tag!r}, not a valid tag: 1-128 characters of [A-Za-z0-9_.-], "
                "not starting with '.' or '-'",
            )
        tags.append(tag)
    if _auto_latest(flavor.latest, context):
        tags.append("latest")
    return TagSet(tuple(dict.fromkeys(tags)))


def _auto_latest(mode: LatestMode, context: GitContext) -> bool:
    if mode == "false":
        return False
    version = context.version
    stable_release = version is not None and not version.prerelease
    return stable_release or (mode == "true" and context.on_default_branch)
