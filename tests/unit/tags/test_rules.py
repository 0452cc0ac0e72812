"""The rule types and templates that came with metadata-action parity (issue 13), as tables and properties."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.errors import InputError
from dify_action.refs import TAG_RE
from dify_action.tags import DEFAULT_PRIORITY, GitContext, compute_tags, parse_flavor, parse_rule, parse_rules

SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"
SHORT = "sha-860c190"
NOW = datetime(2020, 1, 10, 0, 30, 0, tzinfo=UTC)
COMMITTED = datetime(2020, 1, 9, 23, 5, 6, tzinfo=timezone(timedelta(hours=1)))


def ctx(ref: str = "refs/heads/master", event: str = "push", **kwargs: Any) -> GitContext:
    kwargs.setdefault("default_branch", "master")
    return GitContext(sha=SHA, ref=ref, event=event, date=NOW, commit_date=COMMITTED, **kwargs)


def tags(rules: str, context: GitContext, flavor: str = "") -> tuple[str, ...]:
    return compute_tags(parse_rules(rules), context, parse_flavor(flavor)).tags


TAG = "refs/tags/"
CASES: list[tuple[str, str, GitContext, str, tuple[str, ...]]] = [
    # --- type=ref,event=tag|branch|pr and the type=tag shorthand
    ("ref tag, latest by auto", "type=ref,event=tag", ctx(TAG + "release1"), "", ("release1", "latest")),
    ("ref tag sanitized", "type=tag", ctx(TAG + "p1/v1.0.0"), "latest=false", ("p1-v1.0.0",)),
    ("ref tag off a branch", "type=ref,event=tag", ctx(), "", ()),
    ("ref branch", "type=ref,event=branch", ctx("refs/heads/my/feature#1245"), "", ("my-feature-1245",)),
    ("ref pr", "type=ref,event=pr", ctx("refs/pull/15/merge", "pull_request"), "", ("pr-15",)),
    ("ref pr target", "type=ref,event=pr\ntype=ref,event=branch", ctx("refs/heads/master", "pull_request_target",
                                                                       pr_number=15), "", ("pr-15",)),
    # --- type=match
    ("match whole", "type=match,pattern=\\d{8}", ctx(TAG + "20200110-RC2"), "latest=false", ("20200110",)),
    ("match group", "type=match,pattern=(.*)-RC,group=1", ctx(TAG + "20200110-RC2"), "latest=false", ("20200110",)),
    ("match quoted, latest", 'type=match,"pattern=^v(\\d.\\d.\\d)$",group=1', ctx(TAG + "v1.1.1"), "",
     ("1.1.1", "latest")),
    ("match two groups", 'type=match,"pattern=v(.*)-beta.(.*)",group=1\ntype=match,"pattern=v(.*)-beta.(.*)",group=2',
     ctx(TAG + "v2.0.8-beta.67"), "", ("2.0.8", "67", "latest")),
    ("match no match", 'type=match,"pattern=\\d.\\d"', ctx(TAG + "sometag"), "", ()),
    ("match literal with flags", 'type=match,"pattern=/^V(\\d.\\d.\\d)$/i",group=1', ctx(TAG + "v1.1.1"), "",
     ("1.1.1", "latest")),
    ("match missing group", "type=match,pattern=p1/v(\\d.\\d),group=3\ntype=sha", ctx(TAG + "p1/v1.0.0"), "", (SHORT,)),
    ("match value on a branch", "type=match,pattern=v(.*),group=1,value=v1.2.3\ntype=edge", ctx(), "",
     ("1.2.3", "edge", "latest")),
    ("match own empty suffix", "type=match,pattern=p1/v(\\d.\\d.\\d),group=1\n"
     "type=match,pattern=p1/v(\\d.\\d),group=1,suffix=\ntype=sha", ctx(TAG + "p1/v1.0.0"), "suffix=-dev",
     ("1.0.0-dev", "1.0", SHORT + "-dev", "latest")),
    # --- type=edge
    ("edge on default", "type=edge", ctx(), "", ("edge",)),
    ("edge on other branch", "type=edge", ctx("refs/heads/dev"), "", ()),
    ("edge named branch", "type=edge,branch=dev\ntype=sha", ctx("refs/heads/dev"), "", ("edge", SHORT)),
    ("edge unknown default", "type=edge", ctx(default_branch=None), "", ()),
    ("edge never on a pr", "type=edge", ctx("refs/heads/master", "pull_request_target", pr_number=1), "", ()),
    # --- type=schedule
    ("schedule nightly", "type=schedule", ctx(event="schedule"), "", ("nightly",)),
    ("schedule off schedule", "type=schedule", ctx(), "", ()),
    ("schedule dates", "type=schedule,pattern={{date 'YYYYMMDD'}}\n"
     "type=schedule,pattern=source-date-{{commit_date 'YYYY-MM-DD'}}", ctx(event="schedule"), "",
     ("20200110", "source-date-2020-01-09")),
    ("schedule tz", "type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", ctx(event="schedule"), "",
     ("20200110-093000",)),
    ("schedule flavor", "type=schedule", ctx(event="schedule"), "prefix=glo-\nsuffix=-bal", ("glo-nightly-bal",)),
    ("schedule priority",
     "type=schedule\ntype=sha,priority=2000\ntype=raw,value=defbranch,enable={{is_default_branch}}",
     ctx(event="schedule"), "", (SHORT, "nightly", "defbranch")),
    # --- type=semver with value=, match=, {{raw}} and the pre-release fallback
    ("semver value on a branch", "type=semver,pattern={{version}},value=v1.2.3\ntype=edge", ctx(), "",
     ("1.2.3", "edge", "latest")),
    ("semver match", 'type=semver,pattern={{version}},"match=v(\\d.\\d.\\d)$"', ctx(TAG + "p1/v1.0.0"), "",
     ("1.0.0", "latest")),
    ("semver value and match", 'type=semver,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"', ctx(), "",
     ("1.2.3", "latest")),
    ("semver raw prerelease", "type=semver,pattern={{raw}}", ctx(TAG + "v2.0.8-beta.67"), "", ("v2.0.8-beta.67",)),
    ("semver prerelease falls back", "type=semver,pattern=v{{major}}.{{minor}}\ntype=semver,pattern={{major}}",
     ctx(TAG + "v2.0.8-beta.67"), "", ("2.0.8-beta.67",)),
    ("semver not semver", "type=semver,pattern={{version}}", ctx(TAG + "release1"), "", ()),
    # --- type=pep440
    ("pep440 final", "type=pep440,pattern={{version}}\ntype=pep440,pattern={{major}}.{{minor}}.{{patch}}\n"
     "type=pep440,pattern={{major}}.{{minor}}\ntype=pep440,pattern={{major}}", ctx(TAG + "v1.1.1"), "",
     ("1.1.1", "1.1", "1", "latest")),
    ("pep440 raw", "type=pep440,pattern={{raw}}\ntype=pep440,pattern={{major}}.{{minor}}", ctx(TAG + "v1.1.1"), "",
     ("v1.1.1", "1.1", "latest")),
    ("pep440 two parts", "type=pep440,pattern={{version}}\ntype=pep440,pattern={{major}}.{{minor}}",
     ctx(TAG + "1.2"), "", ("1.2", "latest")),
    ("pep440 beta", "type=pep440,pattern={{major}}.{{minor}}\ntype=pep440,pattern={{major}}",
     ctx(TAG + "1.1beta2"), "", ("1.1b2",)),
    ("pep440 dev", "type=pep440,pattern={{major}}.{{minor}}", ctx(TAG + "1.0dev4"), "", ("1.0.dev4",)),
    ("pep440 post", "type=pep440,pattern={{version}}", ctx(TAG + "1.2post1"), "", ("1.2.post1",)),
    ("pep440 rc raw", "type=pep440,pattern={{raw}}\ntype=pep440,pattern={{major}}.{{minor}}",
     ctx(TAG + "v1.2.3rc2"), "", ("v1.2.3rc2", "1.2.3rc2")),
    ("pep440 not pep440", "type=ref,event=tag\ntype=pep440,pattern={{version}}", ctx(TAG + "sometag"),
     "latest=false", ("sometag",)),
    # --- templates
    ("tag and sha templates", "type=raw,{{tag}}-{{sha}}-foo", ctx(TAG + "v1.1.1"), "", ("v1.1.1-860c190-foo",)),
    ("base_ref on a tag", "type=raw,value={{base_ref}}-foo", ctx(TAG + "v1.1.1", base_ref="master"), "",
     ("master-foo",)),
    ("base_ref unknown", "type=raw,value={{base_ref}}-foo", ctx(TAG + "v1.1.1"), "", ()),
    ("base_ref on a pr", "type=raw,value=mytag-{{base_ref}}\ntype=raw,mytag-defbranch,enable={{is_default_branch}}",
     ctx("refs/pull/15/merge", "pull_request", base_ref="master"), "", ("mytag-master",)),
    ("dates", "type=raw,value=mytag-{{date 'YYYYMMDD'}}\ntype=raw,value=mytag-cd-{{commit_date 'YYYYMMDD'}}\n"
     "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", ctx(), "",
     ("mytag-20200110", "mytag-cd-20200109", "mytag-20200110-093000")),
    ("commit date unknown", "type=raw,value=src-{{commit_date 'YYYY'}}", GitContext(SHA, "refs/heads/x", "push"),
     "", ()),
    ("is_default_branch", "type=raw,value=defbranch,enable={{is_default_branch}}\n"
     "type=raw,value=notdefbranch,enable={{ is_not_default_branch }}", ctx(), "", ("defbranch",)),
    ("is_not_default_branch", "type=raw,value=defbranch,enable={{is_default_branch}}\n"
     "type=raw,value=notdefbranch,enable={{is_not_default_branch}}", ctx("refs/heads/dev"), "", ("notdefbranch",)),
    ("branch template sanitized", "type=raw,value=b-{{branch}}", ctx("refs/heads/a/b c"), "", ("b-a-b-c",)),
    # --- raw shorthand
    ("raw shorthand", "type=raw,my\ncustom\ntype=raw,tags", ctx(), "", ("my", "custom", "tags")),
    # --- priority and latest
    ("priority orders", "type=raw,priority=2000,foo\ntype=semver,pattern={{version}}\ntype=match,\"pattern=\\d.\\d\"",
     ctx(TAG + "v2.0.8-beta.67"), "", ("foo", "2.0.8-beta.67", "2.0")),
    ("priority decides latest", "type=raw,priority=2000,foo\ntype=ref,event=tag\ntype=edge", ctx(TAG + "v1.1.1"),
     "", ("foo", "v1.1.1")),
    ("priority branch first", "type=ref,priority=2000,event=branch\ntype=edge", ctx(), "", ("master", "edge")),
    ("priority ties keep order", "type=raw,b,priority=5\ntype=raw,a,priority=5\ntype=raw,c,priority=9", ctx(), "",
     ("c", "b", "a")),
    ("onlatest suffix", "type=semver,pattern={{version}}", ctx(TAG + "v1.1.1"), "suffix=-dev,onlatest=true",
     ("1.1.1-dev", "latest-dev")),
    ("onlatest both", "type=semver,pattern={{version}}", ctx(TAG + "v1.1.1"),
     "prefix=foo-,onlatest=true\nsuffix=-dev,onlatest=true", ("foo-1.1.1-dev", "foo-latest-dev")),
    ("onlatest false", "type=semver,pattern={{version}}", ctx(TAG + "v1.1.1"), "prefix=foo-,onlatest=false",
     ("foo-1.1.1", "latest")),
]


@pytest.mark.parametrize(("rules", "context", "flavor", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_types(rules: str, context: GitContext, flavor: str, expected: tuple[str, ...]) -> None:
    assert tags(rules, context, flavor) == expected


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("type=schedule,enable=true,pattern={{date 'YYYYMMDD' tz='Asia/Tokyo'}}",
         {"type": "schedule", "priority": 1000}),
        ("type=schedule", {"pattern": "nightly"}),
        ("type=semver,priority=1,enable=true,pattern={{version}},value=p1/v1.0.0,\"match=v(\\d.\\d.\\d)$\"",
         {"priority": 1, "priority_given": True, "value": "p1/v1.0.0", "match": "v(\\d.\\d.\\d)$"}),
        ("type=match,priority=700,enable=true,pattern=v(.*),group=1", {"group": 1, "priority": 700}),
        ("type=edge,enable=true,branch=master", {"type": "edge", "branch": "master", "priority": 700}),
        ("type=ref,event=tag", {"type": "tag", "priority": 600, "prefix": None}),
        ("type=ref,event=pr", {"type": "pr", "prefix": "pr-"}),
        ("acustomtag", {"type": "raw", "value": "acustomtag", "priority": 200}),
        ("TYPE=sha, FORMAT=long", {"type": "sha", "format": "long"}),
        ("type=raw,x,enable={{is_default_branch}}", {"enable": True, "enable_if": "is_default_branch"}),
    ],
)
def test_parse_new_rules(text: str, fields: dict[str, Any]) -> None:
    rule = parse_rule(text)
    assert {key: getattr(rule, key) for key in fields} == fields


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type=ref", "type=ref needs event="),
        ("type=ref,event=foo", "type=ref needs event="),
        ("type=match", "type=match needs pattern="),
        ("type=match,pattern=v(.*),group=foo", "group='foo'"),
        ("type=match,pattern=v(", "not a valid regular expression"),
        ("type=match,pattern=/v/q", "unknown regex flag 'q'"),
        ("type=semver", "type=semver needs pattern="),
        ("type=pep440", "type=pep440 needs pattern="),
        ("type=semver,pattern={{version}},group=1", "unknown key 'group'"),
        ("type=raw,value={{date YYYYMMDD}}", "quote the date format"),
        ("type=raw,value={{date}}", "needs a quoted format"),
        ("type=raw,value={{date 'YYYY' tz='Mars/Olympus'}}", "unknown time zone 'Mars/Olympus'"),
        ("type=raw,value={{date 'YYYY' utc='x'}}", "takes a quoted format and tz="),
        ("type=raw,value={{branch 'x'}}", "takes no arguments"),
        ("type=raw,value=x,enable={{branch}}", "enable='{{branch}}'"),
        ("type=raw,value=x,priority=high", "priority='high'"),
        ('type=raw,"value=x', "unbalanced quotes"),
    ],
)
def test_new_rule_errors(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_rule(text)
    assert info.value.exit_code == 2 and info.value.name == "tag-rule" and info.value.value == text
    assert message in str(info.value)


@pytest.mark.parametrize("text", ["prefix=a,onlatest=maybe", "onlatest=true", "latest=true,onlatest=true"])
def test_flavor_onlatest_errors(text: str) -> None:
    with pytest.raises(InputError, match="onlatest"):
        parse_flavor(text)


def test_default_priorities_are_metadata_actions() -> None:
    assert {k: DEFAULT_PRIORITY[k] for k in ("schedule", "semver", "pep440", "match", "edge", "branch", "raw", "sha")} \
        == {"schedule": 1000, "semver": 900, "pep440": 900, "match": 800, "edge": 700, "branch": 600, "raw": 200,
            "sha": 100}


# --- properties ---------------------------------------------------------------------------------

ALL_TYPES = """\
type=sha
type=sha,format=long,prefix={{branch}}-
type=semver,pattern={{version}}
type=semver,pattern={{raw}}
type=semver,pattern={{major}}.{{minor}}
type=pep440,pattern={{raw}}
type=pep440,pattern={{major}}
type=match,pattern=[a-z]+(.*),group=1
type=ref,event=tag
type=ref,event=branch
type=ref,event=pr
type=edge
type=schedule,pattern={{date 'YYYY-MM-DD HH:mm'}}-{{branch}}
type=raw,value={{branch}}-{{tag}}-{{sha}}
type=raw,value=x{{base_ref}}
type=latest
"""
names = st.text(min_size=1, max_size=160)


@given(names, st.sampled_from(["refs/heads/", "refs/tags/"]), st.sampled_from(["push", "schedule", "pull_request"]),
       names, st.sampled_from(["", "prefix=p-,suffix=-s,latest=true", "suffix=-x,onlatest=true"]))
def test_every_produced_tag_is_a_valid_oci_tag(name: str, kind: str, event: str, base: str, flavor: str) -> None:
    context = GitContext(SHA, kind + name, event, default_branch=name, pr_number=7, base_ref=base, date=NOW)
    produced = tags(ALL_TYPES, context, flavor)
    assert len(produced) == len(set(produced))
    for tag in produced:
        assert tag.isascii() and TAG_RE.fullmatch(tag), tag


affix = st.text(alphabet=string.ascii_letters + string.digits + "_.-", max_size=10).map(lambda s: "a" + s)


@given(affix, affix, affix, affix)
def test_a_rules_own_affix_replaces_the_flavors(own_prefix: str, own_suffix: str, glo_prefix: str,
                                                glo_suffix: str) -> None:
    flavor = parse_flavor([f"prefix={glo_prefix}", f"suffix={glo_suffix}"])
    for rule, expected in ((f"type=sha,prefix={own_prefix}", f"{own_prefix}860c190{glo_suffix}"),
                           (f"type=raw,v,suffix={own_suffix}", f"{glo_prefix}v{own_suffix}"),
                           ("type=pr", f"pr-15{glo_suffix}"),
                           (f"type=pr,prefix={own_prefix},suffix={own_suffix}", f"{own_prefix}15{own_suffix}")):
        context = ctx("refs/pull/15/merge", "pull_request")
        assert compute_tags(parse_rules(rule), context, flavor).tags == (expected[:128],)


@given(st.lists(st.tuples(st.integers(-5, 5), st.booleans()), min_size=1, max_size=8))
def test_priorities_sort_stably(spec: list[tuple[int, bool]]) -> None:
    lines = [f"type=raw,value=t{i}" + (f",priority={p}" if given_ else "") for i, (p, given_) in enumerate(spec)]
    produced = tags("\n".join(lines), ctx(), "latest=false")
    rules = parse_rules(lines)
    if any(given_ for _, given_ in spec):
        expected = [f"t{i}" for i, _ in sorted(enumerate(rules), key=lambda item: -item[1].priority)]
    else:
        expected = [f"t{i}" for i in range(len(spec))]
    assert list(produced) == expected


versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30),
                     st.sampled_from(["", "-rc.1", "-beta.67", "-alpha"]), st.sampled_from(["", "+b.5"]))


@given(versions, st.booleans())
def test_semver_aliases_never_move_on_prereleases(version: tuple[int, int, int, str, str], v: bool) -> None:
    major, minor, patch, pre, build = version
    text = f"{'v' if v else ''}{major}.{minor}.{patch}{pre}{build}"
    produced = tags("type=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}", ctx(TAG + text))
    if pre:
        assert produced == (f"{major}.{minor}.{patch}{pre}",)
    else:
        assert produced == ((f"{major}.{minor}", *((str(major),) if major else ()), "latest"))
