"""Template parsing, moment.js date formats and the version parsers behind type=semver/pep440."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from dify_action.tags.templates import format_moment, parse_template, tag_safe
from dify_action.tags.versions import parse_pep440, parse_semver

MOMENT = datetime(2020, 1, 9, 15, 4, 5, 678000, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("YYYYMMDD", "20200109"),
        ("YYYY-MM-DD-HHmmss", "2020-01-09-150405"),
        ("YY M D H m s", "20 1 9 15 4 5"),
        ("hh:mm A a", "03:04 PM pm"),
        ("DDDD DDD Do Q", "009 9 9th 1"),
        ("dddd ddd d E", "Thursday Thu 4 4"),
        ("GGGG-[W]WW", "2020-W02"),
        ("SSS SS S", "678 67 6"),
        ("Z ZZ", "-05:30 -0530"),
        ("[YYYY] [is] YYYY", "YYYY is 2020"),
        ("MMMM MMM", "January Jan"),
        ("kk k", "15 15"),
    ],
)
def test_moment_formats(fmt: str, expected: str) -> None:
    assert format_moment(MOMENT, fmt) == expected


def test_unix_timestamps() -> None:
    moment = datetime(2020, 1, 10, tzinfo=UTC)
    assert format_moment(moment, "X x") == "1578614400 1578614400000"


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_moment_agrees_with_strftime(moment: datetime) -> None:
    assert format_moment(moment, "YYYY-MM-DDTHH:mm:ss") == moment.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("{{ branch }}-x", {"branch": "feature/a b"}, "feature-a-b-x"),
        ("{{tag}}", {"tag": None}, None),
        ("plain", {}, "plain"),
        ("{{date 'YYYY' tz=\"Asia/Tokyo\"}}", {}, "2020"),
    ],
)
def test_render(text: str, values: dict[str, str | None], expected: str | None) -> None:
    allowed = frozenset({"branch", "tag", "date"})
    template = parse_template(text, allowed, "tag-rule", text)
    assert template.render(values, {"date": MOMENT}) == expected


@given(st.text())
def test_tag_safe_leaves_only_tag_characters(text: str) -> None:
    safe = tag_safe(text)
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in safe)
    assert tag_safe(safe) == safe


@pytest.mark.parametrize(
    ("text", "version", "final"),
    [("v1.2.3", "1.2.3", True), ("1.2.3-rc.1+b5", "1.2.3-rc.1", False), ("v2.0.8-beta.67", "2.0.8-beta.67", False)],
)
def test_semver(text: str, version: str, final: bool) -> None:
    parsed = parse_semver(text)
    assert parsed is not None and (parsed.fields["version"], parsed.final) == (version, final)


@pytest.mark.parametrize("text", ["1.2", "V1.2.3", "01.2.3", "release1", "vv1.2.3", "1.2.3.4"])
def test_not_semver(text: str) -> None:
    assert parse_semver(text) is None


pep440_like = st.from_regex(
    r"v?([1-9]!)?(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){0,3}"
    r"([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]{0,2})?"
    r"(-[0-9]{1,2}|[-_.]?(post|rev|r)[-_.]?[0-9]{0,2})?([-_.]?dev[-_.]?[0-9]{0,2})?(\+[a-z0-9]{1,4}([-_.][a-z0-9]{1,3})?)?",
    fullmatch=True,
)


@given(pep440_like | st.text(max_size=12))
def test_pep440_agrees_with_packaging(text: str) -> None:
    """Our PEP 440 parser against the reference implementation (pypa/packaging) on generated versions."""
    parsed = parse_pep440(text)
    try:
        reference = Version(text)
    except InvalidVersion:
        assert parsed is None, text
        return
    assert parsed is not None, text
    assert parsed.fields["version"] == str(reference)
    assert parsed.final == (not (reference.is_prerelease or reference.is_postrelease))
    assert int(parsed.fields["major"]) == reference.major and int(parsed.fields["minor"]) == reference.minor
