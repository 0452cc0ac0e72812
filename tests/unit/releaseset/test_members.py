"""Which references are set members and which versions their tags name: only upstream's tag grammar
names a version; a customized tag (1.14.0-acme.7), a sha or a branch names none (generated inputs)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dify_action import refs
from dify_action.releaseset.members import (
    PLUGIN_DAEMON,
    RELEASE_TAGGED,
    ROLES,
    SANDBOX,
    guess_role,
    numbers,
    official_role,
    same_version,
    tag_version,
)

num = st.integers(0, 30).map(str)
release = st.tuples(num, num, num).map(".".join)
pre = st.sampled_from(["", "-rc1", "-rc12", "-beta.1", "-alpha2", "-fix.1", "-fix2"])
suffix = st.from_regex(r"-[a-z]{2,8}(\.[0-9]{1,3})?", fullmatch=True).filter(
    lambda s: not any(s.startswith(f"-{p}") for p in ("rc", "beta", "alpha", "fix", "local")))
mirror = st.sampled_from(["", "docker.io/", "docker.m.daocloud.io/", "registry.internal:5000/mirror/"])


@given(st.sampled_from(RELEASE_TAGGED), release, pre, mirror)
def test_upstream_release_tags_name_their_version_behind_any_mirror(role: str, version: str, rest: str,
                                                                     host: str) -> None:
    ref = refs.parse(f"{host}langgenius/dify-{role}:{version}{rest}")
    assert official_role(ref) == role
    assert tag_version(role, ref.tag) == f"{version}{rest}"


@given(st.sampled_from(RELEASE_TAGGED), release, suffix)
def test_a_customized_tag_names_no_version(role: str, version: str, extra: str) -> None:
    assert tag_version(role, f"{version}{extra}") is None


@given(st.sampled_from(RELEASE_TAGGED), st.from_regex(r"[0-9a-f]{40}|main|latest|[0-9]{8}", fullmatch=True))
def test_shas_branches_and_dates_name_no_version(role: str, tag: str) -> None:
    assert tag_version(role, tag) is None


@given(release, st.sampled_from(["", "-linux-amd64", "-linux-arm64", "-serverless"]))
def test_plugin_daemon_tags_need_not_end_in_local(version: str, arch: str) -> None:
    tag = f"{version}-local{arch}"
    assert tag_version(PLUGIN_DAEMON, tag) == tag
    assert same_version(PLUGIN_DAEMON, tag, f"{version}-local")
    assert numbers(PLUGIN_DAEMON, tag) == tuple(int(p) for p in version.split("."))
    assert tag_version(PLUGIN_DAEMON, version) is None  # a daemon tag without -local is not upstream's


@given(release)
def test_sandbox_versions_are_plain_semver(version: str) -> None:
    assert tag_version(SANDBOX, version) == version
    assert tag_version(SANDBOX, version + "-local") is None


@given(st.sampled_from(ROLES), st.sampled_from(["acme/dify-", "ghcr.io/acme/platform-dify-", "reg/x/dify_"]))
def test_customized_repositories_say_their_role(role: str, prefix: str) -> None:
    assert guess_role(prefix + role) == role
    assert official_role(refs.parse(prefix + role)) is None


def test_names_that_only_look_alike_are_not_members() -> None:
    for name in ("acme/dify-apix", "acme/notdify-web", "langgenius/dify-enterprise", "library/nginx"):
        assert guess_role(name) is None and official_role(refs.parse(name)) is None


# text around the needles: their pieces, near misses and the bytes that join them
_PIECES = [b"dify", b"dify-", b"dify_", b"langgenius/", b"langgenius/dify", b"web", b"sandbox", b"agent-backend",
           b"plugin-daemon", b"api", b"acme/", b"ui", b"-", b"_", b"/", b" ", b"\n", b"x", b"DIFY", b"\xc3\xa9"]


@given(st.lists(st.sampled_from(ROLES), max_size=3), st.dictionaries(
    st.sampled_from(["reg/acme/ui", "acme/dify-api", "x/langgenius/dify", "reg/team/dify_web", "reg/a-b/c"]),
    st.sampled_from(ROLES), max_size=3), st.lists(st.sampled_from(_PIECES) | st.binary(max_size=4), max_size=14))
def test_other_matcher_is_any_needle_in(roles: list[str], customized: dict[str, str], parts: list[bytes]) -> None:
    """One scan for the needles gives exactly ``any(needle in data)``, for every set of roles and
    configured components (issue 22 class 7: eleven scans of each file were the set check's cost)."""
    from dify_action.releaseset.members import other_matcher, other_needles

    wanted = other_needles(set(roles), customized)
    data = b"".join(parts)
    assert other_matcher(wanted)(data) == any(needle in data for needle in wanted), (wanted, data)
    for needle in wanted:  # each needle alone, and inside other text
        assert other_matcher(wanted)(b"x" + needle + b"y")
