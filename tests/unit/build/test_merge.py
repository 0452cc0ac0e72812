"""The merge's checks (build/merge.py) happen before any registry is touched: a missing platform, a
platform given twice, jobs that disagree on the tags, or a malformed result stop it first."""

from __future__ import annotations

from typing import Any

import pytest

from dify_action.build.merge import PlatformResult, merge, parse_results
from dify_action.errors import GateFailed, InputError
from dify_action.registry import RegistryClient

IMAGE = "reg.example/acme/dify-api"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def untouched(host: str) -> RegistryClient:
    raise AssertionError(f"the registry {host} was contacted before the checks passed")


def result(platform: str, digest: str, tags: tuple[str, ...] = ("1.0",)) -> PlatformResult:
    return PlatformResult("api", IMAGE, tags, platform, digest, f"{platform}.json")


def document(platform: str, digest: str) -> dict[str, Any]:
    return {"command": "build", "components": [{"component": "api", "image": IMAGE, "tag_names": ["1.0"],
                                                "digest": digest, "platforms": [{"platform": platform,
                                                                                 "digest": digest, "size": 1}]}]}


def test_results_parse_from_the_build_documents() -> None:
    parsed = parse_results([("a.json", document("linux/amd64", D1)), ("b.json", document("linux/arm64", D2))])
    assert parsed == (PlatformResult("api", IMAGE, ("1.0",), "linux/amd64", D1, "a.json"),
                      PlatformResult("api", IMAGE, ("1.0",), "linux/arm64", D2, "b.json"))


@pytest.mark.parametrize("doc", [{}, {"components": []}, {"components": [{"image": IMAGE}]}, [],
                                 document("linux/amd64", "sha256:short")])
def test_a_malformed_result_names_its_file(doc: Any) -> None:
    with pytest.raises(InputError, match=r"a\.json"):
        parse_results([("a.json", doc)])


def test_a_missing_platform_fails_the_set_and_names_it() -> None:
    with pytest.raises(GateFailed, match=r"no result for linux/arm64: its build job failed"):
        merge([result("linux/amd64", D1)], "linux/amd64,linux/arm64", untouched)


def test_a_platform_twice_is_refused() -> None:
    with pytest.raises(InputError, match="linux/amd64 given twice"):
        merge([result("linux/amd64", D1), result("linux/amd64", D2)], None, untouched)


def test_jobs_that_disagree_on_tags_are_refused_unless_tags_are_given() -> None:
    with pytest.raises(InputError, match="the same tags from every platform job"):
        merge([result("linux/amd64", D1), result("linux/arm64", D2, ("2.0",))], None, untouched)


def test_a_platform_not_asked_for_is_refused() -> None:
    with pytest.raises(InputError, match="only the platforms asked for"):
        merge([result("linux/amd64", D1), result("linux/s390x", D2)], "linux/amd64", untouched)


def test_no_result_at_all_names_every_missing_platform() -> None:
    with pytest.raises(GateFailed, match=r"no platform results: linux/amd64, linux/arm64 missing"):
        merge([], "linux/amd64,linux/arm64", untouched)
