from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.errors import EXIT_BAD_INPUT, InputError
from dify_action.refs import TAG_RE
from dify_action.tags import (
    DEFAULT_RULES,
    Flavor,
    GitContext,
    TagSet,
    compute_tags,
    parse_flavor,
    parse_rule,
    parse_rules,
    sanitize_branch,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
SHORT = "sha-0123456"


def ctx(ref: str = "refs/heads/main", event: str = "push", **kwargs: Any) -> GitContext:
    return GitContext(sha=SHA, ref=ref, event=event, **kwargs)


def tags(rules: str | None, context: GitContext, flavor: str = "") -> tuple[str, ...]:
    parsed = parse_rules(rules) if rules is not None else None
    return compute_tags(parsed, context, parse_flavor(flavor)).tags


# (id, rules (None = defaults), context, flavor, expected tags)
CASES: list[tuple[str, str | None, GitContext, str, tuple[str, ...]]] = [
    # --- the default rules
    ("default push main", None, ctx(), "", (SHORT, "main")),
    ("default push feature", None, ctx("refs/heads/feature/Foo_bar"), "", (SHORT, "feature-Foo_bar")),
    ("default tag v1.2.3", None, ctx("refs/tags/v1.2.3"), "", ("1.2.3", SHORT, "1.2", "latest")),
    ("default tag 0.3.1", None, ctx("refs/tags/0.3.1"), "", ("0.3.1", SHORT, "0.3", "latest")),
    ("default prerelease", None, ctx("refs/tags/v2.0.0-rc.1"), "", ("2.0.0-rc.1", SHORT)),
    ("default tag not semver", None, ctx("refs/tags/release-x"), "", (SHORT,)),
    ("default tag partial semver", None, ctx("refs/tags/v1.2"), "", (SHORT,)),
    ("default pr 42", None, ctx("refs/pull/42/merge", "pull_request", pr_number=42), "", (SHORT, "pr-42")),
    ("default pr number from ref", None, ctx("refs/pull/7/merge", "pull_request"), "", (SHORT, "pr-7")),
    (
        "default pr_target",
        None,
        ctx("refs/heads/main", "pull_request_target", pr_number=9),
        "",
        (SHORT, "pr-9"),
    ),
    ("default dispatch", None, ctx("refs/heads/dev", "workflow_dispatch"), "", (SHORT, "dev")),
    ("default schedule", None, ctx(event="schedule"), "", (SHORT, "main")),
    ("empty rules = defaults", "# nothing\n\n", ctx(), "", (SHORT, "main")),
    # --- sha
    ("sha short", "type=sha", ctx(), "", (SHORT,)),
    ("sha long", "type=sha,format=long", ctx(), "", (f"sha-{SHA}",)),
    ("sha no prefix", "type=sha,prefix=", ctx(), "", ("0123456",)),
    ("sha custom prefix", "type=sha,prefix=git-,suffix=-x", ctx(), "", ("git-0123456-x",)),
    # --- semver patterns
    (
        "semver all patterns",
        "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\n"
        "type=semver,pattern={{major}}\ntype=semver,pattern={{major}}.{{minor}}.{{patch}}",
        ctx("refs/tags/v1.2.3"),
        "latest=false",
        ("1.2.3", "1.2", "1"),
    ),
    (
        "semver 0.x has no major alias",
        "type=semver,pattern={{major}}\ntype=semver,pattern={{major}}.{{minor}}",
        ctx("refs/tags/0.3.1"),
        "latest=false",
        ("0.3",),
    ),
    (
        "semver prerelease only full version",
        "type=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}\n"
        "type=semver,pattern={{version}}",
        ctx("refs/tags/v2.0.0-rc.1"),
        "",
        ("2.0.0-rc.1",),
    ),
    ("semver build metadata dropped", "type=semver,pattern={{version}}", ctx("refs/tags/1.2.3+b.5"), "latest=false",
     ("1.2.3",)),
    ("semver raw keeps it", "type=semver,pattern={{raw}}", ctx("refs/tags/v1.2.3+b.5"), "latest=false",
     ("v1.2.3-b.5",)),
    (
        "semver prefix",
        "type=semver,pattern={{major}}.{{minor}},prefix=v",
        ctx("refs/tags/v3.4.5"),
        "",
        ("v3.4", "latest"),
    ),
    ("semver on branch", "type=semver,pattern={{version}}", ctx(), "", ()),
    (
        "semver spaces in braces",
        "type=semver,pattern={{ major }}",
        ctx("refs/tags/v5.0.1"),
        "latest=false",
        ("5",),
    ),
    # --- branch
    ("branch on tag ref", "type=branch", ctx("refs/tags/v1.0.0"), "latest=false", ()),
    ("branch on pr", "type=branch", ctx("refs/pull/1/merge", "pull_request"), "", ()),
    ("branch leading dots", "type=branch", ctx("refs/heads/..-x/y"), "", ("x-y",)),
    ("branch only bad chars", "type=branch", ctx("refs/heads/ééé"), "", ()),
    ("branch long", "type=branch", ctx("refs/heads/" + "b" * 200), "", ("b" * 128,)),
    (
        "branch long with affixes fits 128",
        "type=branch,prefix=br-",
        ctx("refs/heads/" + "b" * 200),
        "suffix=-z",
        ("br-" + "b" * 123 + "-z",),
    ),
    # --- pr
    ("pr on push", "type=pr", ctx(), "", ()),
    (
        "pr custom prefix",
        "type=pr,prefix=review-",
        ctx("refs/pull/42/merge", "pull_request"),
        "",
        ("review-42",),
    ),
    # --- raw
    ("raw literal", "type=raw,value=stable", ctx(), "", ("stable",)),
    (
        "raw templates",
        "type=raw,value={{branch}}-{{run_number}}-{{short_sha}}",
        ctx(run_number=42),
        "",
        ("main-42-0123456",),
    ),
    ("raw sha is short", "type=raw,value=build-{{sha}}", ctx(), "", ("build-0123456",)),
    ("raw long sha", "type=raw,value=build-{{long_sha}}", ctx(), "", (f"build-{SHA}",)),
    ("raw needs branch on tag", "type=raw,value={{branch}}", ctx("refs/tags/v1.0.0"), "latest=false", ()),
    ("raw needs run number", "type=raw,value=ci-{{run_number}}", ctx(), "", ()),
    ("raw dify", "type=raw,value=dify-{{dify_version}}", ctx(dify_version="1.13.3"), "", ("dify-1.13.3",)),
    # --- dify
    (
        "dify with suffix",
        "type=dify,suffix=-acme.{{run_number}}",
        ctx(dify_version="1.13.3", run_number=42),
        "",
        ("1.13.3-acme.42",),
    ),
    ("dify plain", "type=dify", ctx(dify_version="1.16.0-rc1"), "", ("1.16.0-rc1",)),
    ("dify unknown version", "type=dify,suffix=-acme", ctx(), "", ()),
    ("dify empty version", "type=dify", ctx(dify_version=""), "", ()),
    (
        "dify suffix needs run number",
        "type=dify,suffix=-acme.{{run_number}}",
        ctx(dify_version="1.13.3"),
        "",
        (),
    ),
    # --- explicit latest
    ("latest on default branch", "type=latest", ctx(), "", ("latest",)),
    ("latest on other branch", "type=latest", ctx("refs/heads/dev"), "", ()),
    ("latest on pr", "type=latest", ctx("refs/heads/main", "pull_request", pr_number=3), "", ()),
    (
        "latest on master default",
        "type=latest",
        ctx("refs/heads/master", default_branch="master"),
        "",
        ("latest",),
    ),
    ("latest explicit with flavor false", "type=latest", ctx(), "latest=false", ("latest",)),
    ("latest disabled, nothing produced", "type=latest,enable=false", ctx(), "latest=true", ()),
    ("latest flavor onlatest", "type=latest", ctx(), "prefix=a-,onlatest=true", ("a-latest",)),
    ("latest own prefix", "type=latest,prefix=x-", ctx(), "prefix=a-,onlatest=true", ("x-latest",)),
    # --- flavor latest
    ("auto: sha decides on a release", "type=sha", ctx("refs/tags/v1.2.3"), "latest=auto", (SHORT,)),
    ("auto: semver outranks sha", "type=sha\ntype=semver,pattern={{version}}", ctx("refs/tags/v1.2.3"), "",
     (SHORT, "1.2.3", "latest")),
    ("auto branch", "type=sha", ctx(), "latest=auto", (SHORT,)),
    ("auto prerelease", "type=sha", ctx("refs/tags/v1.2.3-beta.1"), "", (SHORT,)),
    ("auto non-semver tag", "type=sha", ctx("refs/tags/release-x"), "", (SHORT,)),
    ("true default branch", "type=sha", ctx(), "latest=true", (SHORT, "latest")),
    ("true other branch", "type=sha", ctx("refs/heads/dev"), "latest=true", (SHORT, "latest")),
    ("true without tags", "type=branch", ctx("refs/tags/v1"), "latest=true", ()),
    ("true stable release", "type=sha", ctx("refs/tags/v1.2.3"), "latest=true", (SHORT, "latest")),
    ("true pr", "type=sha", ctx("refs/heads/main", "pull_request", pr_number=1), "latest=true", (SHORT, "latest")),
    ("false release", "type=sha", ctx("refs/tags/v1.2.3"), "latest=false", (SHORT,)),
    # --- flavor prefix/suffix (never on latest)
    (
        "flavor prefix",
        None,
        ctx("refs/tags/v1.2.3"),
        "prefix=acme-",
        ("acme-1.2.3", "sha-0123456", "acme-1.2", "latest"),
    ),
    ("flavor suffix", "type=sha\ntype=branch", ctx(), "suffix=-slim", ("sha-0123456-slim", "main-slim")),
    (
        "flavor both, commas",
        "type=pr",
        ctx("refs/pull/5/merge", "pull_request"),
        "prefix=x-,suffix=-y",
        ("pr-5-y",),
    ),
    ("flavor template", "type=sha", ctx(run_number=3), "suffix=-r{{run_number}}", ("sha-0123456-r3",)),
    ("flavor not on explicit latest", "type=latest", ctx(), "prefix=acme-\nsuffix=-x", ("latest",)),
    # --- order, enable, dedupe
    ("declared order", "type=branch\ntype=sha", ctx(), "", ("main", SHORT)),
    ("enable false", "type=sha,enable=false\ntype=branch", ctx(), "", ("main",)),
    ("dedupe identical rules", "type=sha\ntype=sha\ntype=raw,value=sha-0123456", ctx(), "", (SHORT,)),
    ("dedupe raw latest", "type=raw,value=latest\ntype=sha", ctx(), "latest=true", ("latest", SHORT)),
    ("dedupe branch equal to raw", "type=raw,value=main\ntype=branch", ctx(), "", ("main",)),
    ("comments and blanks", "# tags\n\n  type=sha  \n# type=branch\n", ctx(), "", (SHORT,)),
]


@pytest.mark.parametrize(
    ("rules", "context", "flavor", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_compute_tags(rules: str | None, context: GitContext, flavor: str, expected: tuple[str, ...]) -> None:
    result = tags(rules, context, flavor)
    assert result == expected
    assert all(TAG_RE.fullmatch(tag) for tag in result)


def test_primary_is_first_tag() -> None:
    result = compute_tags(None, ctx("refs/tags/v1.2.3"))
    assert result.primary == "1.2.3"
    assert compute_tags(None, ctx()).primary == SHORT
    assert TagSet(()).primary is None


def test_rules_as_list_and_defaults() -> None:
    assert parse_rules(["type=sha", "", "# c", "type=branch\ntype=pr"]) == parse_rules(
        "type=sha\ntype=branch\ntype=pr"
    )
    assert compute_tags([], ctx()) == compute_tags(DEFAULT_RULES, ctx())
    assert [rule.type for rule in DEFAULT_RULES] == ["semver", "sha", "semver", "branch", "pr"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Flavor()),
        ("latest=true", Flavor(latest="true")),
        ("prefix=a-\nsuffix=-b\nlatest=false", Flavor("a-", "-b", "false")),
        (["prefix=a-,latest=auto", "# c"], Flavor(prefix="a-")),
    ],
)
def test_parse_flavor(text: str | list[str], expected: Flavor) -> None:
    assert parse_flavor(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latest=sometimes", "auto, true, false"),
        ("colour=red", "unknown key 'colour'"),
        ("prefix=a\nprefix=b", "given twice"),
        ("prefix", "not key=value"),
        ("prefix={{nope}}", "unknown template {{nope}}"),
    ],
)
def test_parse_flavor_errors(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_flavor(text)
    assert info.value.name == "flavor"
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("type=nope", "unknown type 'nope'; allowed: schedule, semver, pep440, match, edge, ref, branch, tag, pr"),
        ("type=sha,format=medium", "format='medium': allowed short, long"),
        ("type=sha,pattern={{version}}", "unknown key 'pattern' for type=sha"),
        ("type=branch,event=push", "unknown key 'event' for type=branch"),
        ("type=sha,enable=yes", "enable='yes': allowed true, false"),
        ("format=short", "unknown key 'format' for type=raw"),
        ("type=sha,type=branch", "key 'type' is given twice"),
        ("type=sha,", "an empty field"),
        ("type=sha,sha", "'sha' is not key=value"),
        ("a,b", "'b' is not key=value"),
        ("type=raw", "type=raw needs value="),
        ("type=raw,value={{tags}}", "unknown template {{tags}}"),
        ("type=raw,value={{sha", "unbalanced"),
        ("type=semver,pattern={{short_sha}}", "unknown template {{short_sha}}"),
        ("type=semver,pattern=v1", "pattern needs"),
        ("type=dify,suffix=-{{major}}", "unknown template {{major}}"),
    ],
)
def test_invalid_rules(rule: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_rules(f"type=sha\n{rule}")
    error = info.value
    assert error.exit_code == EXIT_BAD_INPUT == 2
    assert error.name == "tag-rule"
    assert error.value == rule
    assert message in str(error)


@pytest.mark.parametrize(
    ("rules", "context", "flavor"),
    [
        ("type=raw,value=my tag", ctx(), ""),
        ("type=raw,value=-dash", ctx(), ""),
        ("type=raw,value=" + "x" * 129, ctx(), ""),
        ("type=raw,value=ünï", ctx(), ""),
        ("type=sha,prefix=.", ctx(), ""),
        ("type=dify", ctx(dify_version="1.13.3+local"), ""),
        ("type=branch", ctx(), "prefix=" + "p" * 128),
        ("type=sha,prefix=-", ctx(), ""),
        ("type=branch", ctx(), "prefix=-"),
    ],
)
def test_invalid_generated_tag_names_the_rule(rules: str, context: GitContext, flavor: str) -> None:
    with pytest.raises(InputError) as info:
        tags(rules, context, flavor)
    assert info.value.exit_code == 2
    assert info.value.name == "tag-rule"
    assert info.value.value == rules
    assert "not a valid tag" in str(info.value)


def test_flavor_template_unknown_value() -> None:
    with pytest.raises(InputError) as info:
        tags("type=sha", ctx(), "suffix=-{{run_number}}")
    assert info.value.name == "flavor"


@pytest.mark.parametrize("sha", ["abc", SHA.upper(), SHA[:39], SHA + "0"])
def test_context_rejects_bad_sha(sha: str) -> None:
    with pytest.raises(InputError) as info:
        GitContext(sha=sha, ref="refs/heads/main", event="push")
    assert info.value.name == "sha"


def test_sha256_repository() -> None:
    sha = "ab" * 32
    context = GitContext(sha=sha, ref="refs/heads/main", event="push")
    assert tags("type=sha\ntype=sha,format=long,prefix=", context) == ("sha-abababa", sha)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("feature/Foo_bar", "feature-Foo_bar"),
        ("-x", "x"),
        (".hidden", "hidden"),
        ("a b+c@d", "a-b-c-d"),
        ("release/1.2", "release-1.2"),
        ("...", ""),
        ("x" * 200, "x" * 128),
    ],
)
def test_sanitize_branch(name: str, expected: str) -> None:
    assert sanitize_branch(name) == expected


def test_parse_rule_keeps_source_and_defaults() -> None:
    rule = parse_rule(" type = pr ")
    assert (rule.type, rule.prefix, rule.source) == ("pr", "pr-", " type = pr ")
    assert parse_rule("type=sha").prefix == "sha-"
    assert parse_rule("type=branch").prefix is None


@given(st.text(min_size=1, max_size=300))
def test_every_tag_valid_for_any_branch(branch: str) -> None:
    context = ctx("refs/heads/" + branch, default_branch=branch)
    for flavor in ("", "prefix=acme-,suffix=-x,latest=true"):
        result = tags(
            "type=sha\ntype=branch\ntype=branch,prefix=b-\ntype=latest\ntype=raw,value=r", context, flavor
        )
        assert result
        for tag in result:
            assert tag.isascii()
            assert TAG_RE.fullmatch(tag), tag
        assert len(result) == len(set(result))
