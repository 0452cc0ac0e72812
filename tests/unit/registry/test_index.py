"""Platform lists and OCI platform objects (registry/index.py), as properties over generated input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.errors import InputError
from dify_action.registry.index import (
    artifact_tags,
    parse_platforms,
    platform_name,
    platform_object,
    same_platform,
)

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
PLATFORM = st.builds(lambda o, a, v: f"{o}/{a}" + (f"/{v}" if v else ""), WORD, WORD, st.none() | WORD)


@given(st.lists(PLATFORM, min_size=1, max_size=5, unique=True))
def test_a_list_of_platforms_parses_back_in_order(platforms: list[str]) -> None:
    assert parse_platforms(",".join(platforms)) == tuple(platforms)
    assert parse_platforms(" ,\n".join(platforms) + ",") == tuple(platforms)


@given(PLATFORM)
def test_name_and_object_round_trip(platform: str) -> None:
    assert platform_name(platform_object(platform)) == platform


@given(st.text(max_size=30))
def test_anything_else_is_an_input_error_that_names_the_input(text: str) -> None:
    try:
        parsed = parse_platforms(text)
    except InputError as error:
        assert error.name == "platforms" and error.exit_code == 2
        return
    assert all(p.count("/") in (1, 2) and p == p.lower() for p in parsed)


@pytest.mark.parametrize("text", ["linux/amd64,linux/amd64", "Linux/AMD64", "linux", "linux/amd64/v8/x", ""])
def test_refused(text: str) -> None:
    with pytest.raises(InputError):
        parse_platforms(text)


def test_arm64_is_arm64_v8_and_nothing_else() -> None:
    assert same_platform("linux/arm64", "linux/arm64/v8") and same_platform("linux/arm64/v8", "linux/arm64")
    assert not same_platform("linux/arm64", "linux/amd64") and not same_platform("linux/arm/v7", "linux/arm/v6")


def test_artifact_tags_of_a_digest() -> None:
    digest = "sha256:" + "a" * 64
    assert artifact_tags(digest) == tuple(f"sha256-{'a' * 64}{s}" for s in (
        ".gates", ".cyclonedx.sbom", ".spdx.sbom", ".provenance"))
