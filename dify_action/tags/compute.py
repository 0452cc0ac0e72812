"""From rules, flavor and git context to the list of tags (see the package doc for the policy)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from dify_action.errors import InputError
from dify_action.tags.context import SHORT_SHA_LENGTH, GitContext
from dify_action.tags.rules import DEFAULT_RULES, GLOBAL_TEMPLATES, VERSION_TEMPLATES, Flavor, TagRule
from dify_action.tags.templates import parse_template, tag_safe
from dify_action.tags.versions import ParsedVersion, parse_pep440, parse_semver

TAG_MAX = 128
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_RULE = "a tag is 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"


@dataclass(frozen=True)
class TagSet:
    tags: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (rule, why it made no tag): a silent rule is a doubt

    @property
    def primary(self) -> str | None:
        """The first tag (the one to pin in GitOps), None when no rule applied."""
        return self.tags[0] if self.tags else None


@dataclass(frozen=True)
class _Piece:
    """Rendered text; ``from_git``: it holds values from the ref/commit/dates (sanitized, cut to fit,
    and stripped of a leading ``.``/``-`` unless the user wrote that character)."""

    text: str
    from_git: bool = False
    literal_head: str = ""  # the user's literal text the piece starts with


@dataclass(frozen=True)
class _Value(_Piece):
    latest: bool = False  # what latest=auto says when this rule decides


def sanitize_branch(name: str, max_length: int = TAG_MAX) -> str:
    """A branch name made tag-safe: ``feature/Foo_bar`` -> ``feature-Foo_bar``; may be empty."""
    return tag_safe(name).lstrip(".-")[:max_length]


class _Renderer:
    def __init__(self, context: GitContext, now: datetime) -> None:
        self.values = context.values()
        self.dates = {"date": now, "commit_date": context.commit_date}

    def render(self, text: str, source: str, input_name: str = "tag-rule") -> _Piece | None:
        template = parse_template(text, GLOBAL_TEMPLATES, input_name, source)
        rendered = template.render(self.values, self.dates)
        head = template.parts[0] if template.parts and isinstance(template.parts[0], str) else ""
        return None if rendered is None else _Piece(rendered, bool(template.names), head)


def _source_text(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> str | None:
    """What semver/pep440/match read: ``value=`` when given (on any ref), else the git tag."""
    if rule.value:
        rendered = renderer.render(rule.value, rule.source)
        return None if rendered is None else rendered.text
    return ctx.tag


def _version_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    raw = _source_text(rule, ctx, renderer)
    if raw is None:
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
        return _Value(tag_safe(text), True, latest=False)
    if rule.type == "semver" and parsed.major == 0 and pattern.names == {"major"}:
        return None  # ours: `0` would alias unrelated breaking 0.x releases (semver.org item 4)
    return _Value(tag_safe(pattern.render(parsed.fields, {}) or ""), True, latest=True)


def _match_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    raw = _source_text(rule, ctx, renderer)
    if raw is None:
        return None
    assert rule.regex is not None
    found = rule.regex.search(raw)
    if found is None or rule.group > rule.regex.groups or found.group(rule.group) is None:
        return None  # like metadata-action: no match, or no such group, gives no tag
    return _Value(tag_safe(found.group(rule.group)), True, latest=True)


def _rule_value(rule: TagRule, ctx: GitContext, renderer: _Renderer) -> _Value | None:
    kind = rule.type
    if kind == "sha":
        return _Value(ctx.sha if rule.format == "long" else ctx.sha[:SHORT_SHA_LENGTH], False, latest=False)
    if kind in ("semver", "pep440"):
        return _version_value(rule, ctx, renderer)
    if kind == "match":
        return _match_value(rule, ctx, renderer)
    if kind == "branch":
        return None if ctx.branch is None else _Value(tag_safe(ctx.branch), True, latest=False)
    if kind == "tag":
        return None if ctx.tag is None else _Value(tag_safe(ctx.tag), True, latest=True)
    if kind == "pr":
        return None if ctx.pull_request is None else _Value(str(ctx.pull_request), False, latest=False)
    if kind == "edge":
        wanted = rule.branch or ctx.default_branch
        return _Value("edge", False, latest=False) if ctx.branch is not None and ctx.branch == wanted else None
    if kind in ("schedule", "raw"):
        if kind == "schedule" and ctx.event != "schedule":
            return None
        rendered = renderer.render(rule.pattern if kind == "schedule" else rule.value, rule.source)
        return None if rendered is None else _Value(rendered.text, rendered.from_git, rendered.literal_head)
    if kind == "dify":
        return _Value(ctx.dify_version, False, latest=False) if ctx.dify_version else None
    return _Value("latest", False, latest=False) if ctx.on_default_branch else None  # type=latest


def _enabled(rule: TagRule, ctx: GitContext) -> bool:
    if rule.enable_if is None:
        return rule.enable
    return ctx.values()[rule.enable_if] == "true"


def _assemble(rule: TagRule, prefix: _Piece, value: _Value, suffix: _Piece) -> str:
    text = value.text
    if value.from_git:
        if not prefix.text:
            text = text.lstrip(".-")
        if not text:
            return ""  # nothing of the name is tag-safe (or the match is empty): no tag
        room = TAG_MAX - len(prefix.text) - len(suffix.text)
        if room < 1:
            raise InputError("tag-rule", rule.source,
                             f"not a valid tag: prefix and suffix leave no room for the name in {TAG_MAX} characters")
        text = text[:room]
    tag = prefix.text + text + suffix.text
    if prefix.from_git or value.from_git or suffix.from_git:
        head = prefix.literal_head if prefix.text else value.literal_head if value.text else suffix.literal_head
        if not head:
            tag = tag.lstrip(".-")
        tag = tag[:TAG_MAX]
        if not tag:
            return ""  # nothing of the name is tag-safe: no tag
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
    flavor_prefix = renderer.render(flavor.prefix, f"prefix={flavor.prefix}", "flavor")
    flavor_suffix = renderer.render(flavor.suffix, f"suffix={flavor.suffix}", "flavor")
    if flavor_prefix is None or flavor_suffix is None:
        raise InputError("flavor", f"prefix={flavor.prefix},suffix={flavor.suffix}",
                         "a template needs a value unknown in this build (e.g. {{branch}} on a tag build)")
    latest_tag = (flavor_prefix.text if flavor.prefix_latest else "") + "latest" + (
        flavor_suffix.text if flavor.suffix_latest else "")
    if any(rule.priority_given for rule in rules):
        rules = tuple(sorted(rules, key=lambda rule: -rule.priority))  # stable: ties keep their order
    tags: list[str] = []
    decider: tuple[int, bool] | None = None  # (priority, latest) of the rule that decides latest=auto
    skipped: list[tuple[str, str]] = []
    for rule in rules:
        if not _enabled(rule, context):
            skipped.append((rule.source, f"disabled (enable={rule.enable_if or rule.enable})"))
            continue
        value = _rule_value(rule, context, renderer)
        if value is None:
            skipped.append((rule.source, _why_none(rule, context)))
            continue
        if rule.type == "latest" and rule.prefix is None and rule.suffix is None:
            tags.append(latest_tag)
            continue
        none = _Piece("")
        prefix = _affix(rule.prefix, none if rule.type == "latest" else flavor_prefix, renderer, rule)
        suffix = _affix(rule.suffix, none if rule.type == "latest" else flavor_suffix, renderer, rule)
        if prefix is None or suffix is None:
            skipped.append((rule.source, "its prefix or suffix names a value this build does not have (e.g. "
                            "{{run_number}} outside Actions: give the run number)"))
            continue
        tag = _assemble(rule, prefix, value, suffix)
        if not tag:
            skipped.append((rule.source, "it renders to an empty tag"))
            continue
        tags.append(tag)
        if rule.type == "latest":
            continue
        if decider is None or rule.priority > decider[0]:
            decider = (rule.priority, value.latest)
    if decider is not None and (flavor.latest == "true" or (flavor.latest == "auto" and decider[1])):
        tags.append(_assemble_latest(latest_tag))
    return TagSet(tuple(dict.fromkeys(tags)), tuple(skipped))


_NEEDS = {"branch": "a branch ref (refs/heads/...)", "tag": "a git tag ref (refs/tags/...)",
          "pr": "a pull request event", "edge": "a push to the default branch", "schedule": "a schedule event",
          "dify": "the Dify base version (FROM langgenius/dify-...:VERSION in the Dockerfile, or its build arg)",
          "latest": "a push to the default branch", "semver": "a git tag that is a semantic version",
          "pep440": "a git tag that is a PEP 440 version", "match": "a git ref matching its pattern"}


def _why_none(rule: TagRule, ctx: GitContext) -> str:
    """Why ``rule`` has no value in ``ctx``: what it needs, and what this build is."""
    needs = _NEEDS.get(rule.type, "a value this build does not have")
    return f"it needs {needs}; this build is {ctx.event} on {ctx.ref}"


def _affix(own: str | None, flavor_affix: _Piece, renderer: _Renderer, rule: TagRule) -> _Piece | None:
    return flavor_affix if own is None else renderer.render(own, rule.source)


def _assemble_latest(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise InputError("flavor", tag, f"the latest tag it makes is not a valid tag: {_TAG_RULE}")
    return tag
