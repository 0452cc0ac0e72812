"""Pure parts of rollback: the Dify version verdict, choosing the last bump, reading trailers."""

from __future__ import annotations

import pytest

from dify_action.dify.versions import label_verdict as verdict
from dify_action.dify.versions import version_key
from dify_action.errors import InputError
from dify_action.rollback.guard import Candidate, GuardCheck, choose_last, rolled_back
from dify_action.rollback.run import RollbackRequest


@pytest.mark.parametrize(("current", "restored", "expected"), [
    ("1.14.0", "1.13.3", "downgrade"),
    ("1.13.3", "1.14.0", "upgrade"),
    ("1.13.3", "1.13.3", "ok"),
    ("v1.13.3", "1.13.3", "ok"),
    ("1.14.0", "1.14.0-rc1", "downgrade"),
    ("1.16.0-rc1", "1.16.0", "upgrade"),
    ("1.10.1-fix.1", "1.10.1", "ok"),
    ("1.10.1", "1.9.9", "downgrade"),
    ("1.13", "1.13.0", "ok"),
    (None, None, "ok"),
    ("1.13.3", None, "unknown"),
    (None, "1.13.3", "unknown"),
    ("main", "1.13.3", "unknown"),
])
def test_verdict(current: str | None, restored: str | None, expected: str) -> None:
    assert verdict(current, restored) == expected
    assert GuardCheck("api", current, restored, expected).blocks == (expected in ("downgrade", "unknown"))


def test_version_key_orders_prereleases_before_releases_before_fixes() -> None:
    order = ["1.9.0", "1.13.3", "1.14.0-rc1", "1.14.0", "1.14.0-fix.1", "1.16.1"]
    keys = [version_key(v) for v in order]
    assert all(k is not None for k in keys)
    assert sorted(order, key=lambda v: version_key(v) or ((), 0, "")) == order
    assert version_key("latest") is None


def test_choose_last_skips_rollbacks_and_what_they_undid() -> None:
    history = [Candidate("#5", "#4"), Candidate("#4"), Candidate("#3"), Candidate("#2", "#1"), Candidate("#1")]
    assert choose_last(history) == Candidate("#3")
    assert choose_last([Candidate("#9"), *history]) == Candidate("#9")
    assert choose_last([Candidate("#2", "#1"), Candidate("#1")]) is None
    assert choose_last([]) is None


def test_rolled_back_reads_our_trailer_then_git_revert_sentence() -> None:
    sha = "a" * 40
    assert rolled_back(f"rollback(prod): revert #3\n\nDify-Action-Rollback-Of: {sha}\n") == sha
    assert rolled_back(f'Revert "deploy(prod): api 1"\n\nThis reverts commit {sha}.\n') == sha
    assert rolled_back("deploy(prod): api 1.14.0\n\n- a.yaml:3 x -> y\n") is None


@pytest.mark.parametrize(("fields", "name"), [
    ({}, "pull-request-number"),
    ({"pr": 3}, "pull-request-number"),  # a pull request needs the github provider
    ({"pr": 3, "commit": "abcdef1", "provider": "github"}, "commit"),
    ({"commit": "xyz"}, "commit"),
    ({"environment": "prod"}, "path"),  # the git provider finds bumps through the paths
    ({"environment": "bad name"}, "environment"),
    ({"environment": "prod", "paths": ("p",), "push_mode": "sideways"}, "push-mode"),
])
def test_request_validation_names_the_input(fields: dict[str, object], name: str) -> None:
    with pytest.raises(InputError) as caught:
        RollbackRequest(repo_url="file:///nowhere", **fields).validate()  # type: ignore[arg-type]
    assert caught.value.name == name
