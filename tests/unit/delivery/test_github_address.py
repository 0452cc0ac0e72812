"""delivery/github_address.py: the one way to name a GitHub repository for the API (delivery and
rollback both use it) and the check of the API root URL; both before any request."""

from __future__ import annotations

import pytest

from dify_action.delivery.github_address import check_api_url, github_repository
from dify_action.errors import InputError


@pytest.mark.parametrize(("url", "given", "expected"), [
    ("https://github.com/acme/gitops.git", None, "acme/gitops"),
    ("https://github.com/acme/gitops", None, "acme/gitops"),
    ("http://127.0.0.1:8080/git/acme/gitops.git/", None, "acme/gitops"),
    ("https://ghe.example.com/org/sub/repo.git", None, "sub/repo"),
    ("file:///srv/gitops.git", "acme/gitops", "acme/gitops"),  # given wins, whatever the URL
])
def test_repository_name_is_given_or_the_last_two_segments(url: str, given: str | None, expected: str) -> None:
    assert github_repository(url, given) == expected


@pytest.mark.parametrize("url", ["file:///srv/gitops.git", "/srv/gitops", "https://github.com/gitops.git",
                                 "ssh://git@github.com/acme/gitops.git"])
def test_an_underivable_name_asks_for_github_repo(url: str) -> None:
    with pytest.raises(InputError) as caught:
        github_repository(url)
    assert caught.value.name == "github-repo"
    assert repr(url) in caught.value.message


@pytest.mark.parametrize("url", ["ftp://api.github.com", "https://user:pw@api.github.com", "https://", "api.github.com",
                                 "https://api.github.com:99999", "https://api.github.com/\n"])
def test_a_bad_api_url_names_the_input(url: str) -> None:
    with pytest.raises(InputError) as caught:
        check_api_url(url)
    assert caught.value.name == "github-api-url"


def test_good_api_urls_pass() -> None:
    for url in ("https://api.github.com", "https://ghe.example.com/api/v3", "http://127.0.0.1:9000"):
        check_api_url(url)  # raises on a bad one
