"""From rules, flavor and git context to the list of tags (see the package doc for the policy)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from dify_action.errors import InputError
from dify_action.tags.context import SHORT_SHA_LENGTH, GitContext
from dify_action.tags.rules import DEFAULT_RULES, GLOBAL_TEMPLATES, VERSION_TEMPLATES, Flavor, TagRule
from dify_action.tags.templates import Template, parse_template, tag_safe
from dify_action.tags.versions import ParsedVersion, parse_pep440, parse_semver

TAG_MAX = 128
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_RULE = "a tag is 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"


@dataclass(frozen=True)
class TagSet:
    tags: tuple[str, ...]

    @property
    def primary(self) -> str | None:
        """The first tag (the one to pin in GitOps), None when no rule applied."""
        return self.tags[0] if self.tags else None


@dataclass(frozen=True)
class _Value:
    text: str
    from_git: bool  # made from the ref/commit/dates: sanitized and cut to fit, never an error
    latest: bool  # what latest=auto says when this rule decides


def sanitize_branch(name: str, max_length: int = TAG_MAX) -> str:
    """A branch name made tag-safe: ``feature/Foo_bar`` -> ``feature-Foo_bar``; may be empty."""
    return tag_safe(name).lstrip(".-")[:max_length]


class _Renderer:
    def __init__(self, context: GitContext, now: datetime) -> None:
        self.values = context.values()
        self.dates = {"date": now, "commit_date": context.commit_date}

    def render(self, text: str, source: str, allowed: frozenset[str] = GLOBAL_TEMPLATES) -> tuple[str, bool] | None:
        template = parse_template(text, allowed, "tag-rule", source)
        rendered = template.render(self.values, self.dates)
        return None if rendered is None else (rendered, bool(template.names))


def _version_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    if rule.value:
        rendered = renderer.render(rule.value, rule.source)
        if rendered is None:
            return None
        raw = rendered[0]
    elif ctx.tag is not None:
        raw = ctx.tag
    else:
        return None
    if rule.regex is not None:
        found = rule.regex.search(raw)
        if found is not None:
            raw = found.group(1 if rule.regex.groups else 0) or ""
    raw = raw.replace("/", "-")
    parsed: ParsedVersion | None = parse_semver(raw) if rule.type == "semver" else parse_pep440(raw)
    if parsed is None:
        return None
    pattern = parse_template(rule.pattern, VERSION_TEMPLATES, "tag-rule", rule.source)
    if not parsed.final:
        # a pre-release never moves an alias: only the full version (or {{raw}} alone)
        text = parsed.fields["raw"] if pattern.is_only("raw") else parsed.fields["version"]
        return _Value(tag_safe(text), True, False)
    if rule.type == "semver" and parsed.major == 0 and pattern.names == {"major"}:
        return None  # ours: `0` would alias unrelated breaking 0.x releases (semver.org item 4)
    return _Value(_fill(pattern, parsed), True, True)


def _fill(pattern: Template, parsed: ParsedVersion) -> str:
    rendered = pattern.render(parsed.fields, {})
    return tag_safe(rendered or "")


def _match_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    if rule.value:
        rendered = renderer.render(rule.value, rule.source)
        if rendered is None:
            return None
        raw = rendered[0]
    elif ctx.tag is not None:
        raw = ctx.tag
    else:
        return None
    assert rule.regex is not None
    found = rule.regex.search(raw)
    if found is None or found.group(rule.group) is None:
        return None
    return _Value(tag_safe(found.group(rule.group)), True, True)


def _rule_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    kind = rule.type
    if kind == "sha":
        return _Value(ctx.sha if rule.format == "long" else ctx.sha[:SHORT_SHA_LENGTH], False, False)
    if kind in ("semver", "pep440"):
        return _version_value(rule, ctx, renderer)
    if kind == "match":
        return _match_value(rule, ctx, renderer)
    if kind == "branch":
        return None if ctx.branch is None else _Value(tag_safe(ctx.branch), True, False)
    if kind == "tag":
        return None if ctx.tag is None else _Value(tag_safe(ctx.tag), True, True)
    if kind == "pr":
        return None if ctx.pull_request is None else _Value(str(ctx.pull_request), False, False)
    if kind == "edge":
        wanted = rule.branch or ctx.default_branch
        return _Value("edge", False, False) if ctx.branch is not None and ctx.branch == wanted else None
    if kind in ("schedule", "raw"):
        if kind == "schedule" and ctx.event != "schedule":
            return None
        rendered = renderer.render(rule.pattern if kind == "schedule" else rule.value, rule.source)
        return None if rendered is None else _Value(rendered[0], rendered[1], False)
    if kind == "dify":
        return _Value(ctx.dify_version, False, False) if ctx.dify_version else None
    return _Value("latest", False, False) if ctx.on_default_branch else None  # type=latest


def _enabled(rule: TagRule, ctx: GitContext) -> bool:
    if rule.enable_if is None:
        return rule.enable
    return ctx.values()[rule.enable_if] == "true"


def _assemble(rule: TagRule, prefix: str, value: _Value, suffix: str) -> str:
    text = value.text
    if value.from_git:
        if not prefix:
            text = text.lstrip(".-")
        if not text:
            return ""  # nothing of the name is tag-safe: no tag
        room = TAG_MAX - len(prefix) - len(suffix)
        if room < 1:
            raise InputError("tag-rule", rule.source,
                             f"not a valid tag: prefix and suffix leave no room for the name in {TAG_MAX} characters")
        text = text[:room]
    tag = prefix + text + suffix
    if not tag.isascii() or not _TAG_RE.fullmatch(tag):
        raise InputError("tag-rule", rule.source, f"it produced {tag!r}, not a valid tag: {_TAG_RULE}")
    return tag


def compute_tags(
    rules: Iterable[TagRule] | None, context: GitContext, flavor: Flavor | None = None
) -> TagSet:
    """The tags for ``context``, each a valid tag, de-duplicated; see the package doc."""
    flavor = flavor or Flavor()
    rules = tuple(rules or ()) or DEFAULT_RULES
    renderer = _Renderer(context, context.date or datetime.now(UTC))
    affixes = (renderer.render(flavor.prefix, f"prefix={flavor.prefix}"),
               renderer.render(flavor.suffix, f"suffix={flavor.suffix}"))
    if affixes[0] is None or affixes[1] is None:
        raise InputError("flavor", f"prefix={flavor.prefix},suffix={flavor.suffix}",
                         "a template needs a value unknown in this build (e.g. {{branch}} on a tag build)")
    flavor_prefix, flavor_suffix = affixes[0][0], affixes[1][0]
    latest_tag = (flavor_prefix if flavor.prefix_latest else "") + "latest" + (
        flavor_suffix if flavor.suffix_latest else "")
    if any(rule.priority_given for rule in rules):
        rules = tuple(sorted(rules, key=lambda rule: -rule.priority))  # stable: ties keep their order
    tags: list[str] = []
    decider: tuple[int, bool] | None = None  # (priority, latest) of the rule that decides latest=auto
    for rule in rules:
        if not _enabled(rule, context):
            continue
        value = _rule_value(rule, context, renderer)
        if value is None:
            continue
        if rule.type == "latest":
            prefix, suffix = rule.prefix, rule.suffix
            tag = (latest_tag if prefix is None and suffix is None
                   else _assemble(rule, prefix or "", value, suffix or ""))
            tags.append(tag)
            continue
        prefix = _affix(rule.prefix, flavor_prefix, renderer, rule)
        suffix = _affix(rule.suffix, flavor_suffix, renderer, rule)
        if prefix is None or suffix is None:
            continue
        tag = _assemble(rule, prefix, value, suffix)
        if not tag:
            continue
        tags.append(tag)
        if decider is None or rule.priority > decider[0]:
            decider = (rule.priority, value.latest)
    if decider is not None and (flavor.latest == "true" or (flavor.latest == "auto" and decider[1])):
        tags.append(_assemble_latest(latest_tag))
    return TagSet(tuple(dict.fromkeys(tags)))


def _affix(own: str | None, flavor_affix: str, renderer: _Renderer, rule: TagRule) -> str | None:
    if own is None:
        return flavor_affix
    rendered = renderer.render(own, rule.source)
    return None if rendered is None else rendered[0]


def _assemble_latest(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise InputError("flavor", tag, f"the latest tag it makes is not a valid tag: {_TAG_RULE}")
    return tag
