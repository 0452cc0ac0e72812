"""Fault matrix over the emulator and its git server: each fault recovers or fails clearly, and
nothing is left half-done (no branch without its PR from this run, no PR without its commit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator import Fault, GitFault, GitHubEmulator, primary_rate_limit, secondary_rate_limit
from emulator.objects import error
from emulator.scenario import Sleeps, request

from dify_action.delivery import deliver
from dify_action.errors import ForgeError, GitError

pytestmark = pytest.mark.integration
BRANCH = "dify-action/staging/dify-api"
PULLS = "/repos/{owner}/{repo}/pulls"
HEAD_INVALID = error(
    "Validation Failed",
    "pulls/pulls#create-a-pull-request",
    422,
    [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
)


def _posts(em: GitHubEmulator) -> int:
    return sum(1 for r in em.records if (r.method, r.template) == ("POST", PULLS))


def _assert_clean(em: GitHubEmulator) -> None:
    assert em.repo.sha(BRANCH) is None, "orphan branch left behind"
    assert not em.open_pulls()


def _assert_delivered(em: GitHubEmulator, commit: str | None) -> None:
    opened = em.open_pulls()
    assert len(opened) == 1 and em.repo.sha(BRANCH) == commit


@pytest.mark.parametrize(
    ("method", "template", "fault", "waits"),
    [
        ("POST", PULLS, Fault(502, error("Server Error", "rest", 502)), [1.0]),
        (
            "POST",
            PULLS,
            Fault(503, error("Service Unavailable", "rest", 503), after_apply=True),
            [1.0],
        ),  # created, answer lost
        ("POST", PULLS, secondary_rate_limit(7), [7.0]),
        ("GET", PULLS, Fault(429, error("Too many requests", "rest", 429), {"Retry-After": "3"}), [3.0]),
        ("POST", PULLS, Fault(422, HEAD_INVALID, times=2), [1.0, 2.0]),  # fresh ref not visible yet
        ("POST", PULLS, Fault(200, None, delay=0.3), []),  # latency only
    ],
    ids=["5xx", "5xx-after-create", "secondary-rate-limit", "429", "fresh-ref-422", "latency"],
)
def test_recoverable_api_faults(
    emulator: GitHubEmulator,
    clone_dirs: Callable[[], Path],
    method: str,
    template: str,
    fault: Fault,
    waits: list[float],
) -> None:
    sleeps = Sleeps()
    emulator.inject(method, template, fault)
    result = deliver(request(emulator, clone_dirs(), sleep=sleeps))
    assert result.operation == "created"
    assert sleeps.waits == waits
    _assert_delivered(emulator, result.commit)
    assert result.api_calls == len(emulator.records)


def test_primary_rate_limit_waits_until_reset(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    sleeps = Sleeps()
    emulator.inject("GET", PULLS, primary_rate_limit(int(time.time()) + 20))
    result = deliver(request(emulator, clone_dirs(), sleep=sleeps))
    assert result.operation == "created"
    assert len(sleeps.waits) == 1 and 15 <= sleeps.waits[0] <= 22


def test_rate_limit_beyond_max_wait_fails_clearly(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.inject("GET", PULLS, primary_rate_limit(int(time.time()) + 7200))
    with pytest.raises(ForgeError, match="rate limit") as caught:
        deliver(request(emulator, clone_dirs()))
    assert "resets in" in str(caught.value)
    _assert_clean(emulator)


def test_persistent_5xx_gives_up_bounded_and_cleans_up(
    emulator: GitHubEmulator, clone_dirs: Callable[[], Path]
) -> None:
    emulator.inject("POST", PULLS, Fault(500, error("Server Error", "rest", 500), times=50))
    with pytest.raises(ForgeError, match="500"):
        deliver(request(emulator, clone_dirs()))
    assert _posts(emulator) == 5  # bounded
    _assert_clean(emulator)


def test_other_422_is_not_retried(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    body = error(
        "Validation Failed",
        "pulls/pulls#create-a-pull-request",
        422,
        [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
    )
    emulator.inject("POST", PULLS, Fault(422, body))
    with pytest.raises(ForgeError, match="base invalid"):
        deliver(request(emulator, clone_dirs(), sleep=Sleeps()))
    assert _posts(emulator) == 1
    _assert_clean(emulator)


def test_pull_request_already_exists_from_a_parallel_job(
    emulator: GitHubEmulator, clone_dirs: Callable[[], Path]
) -> None:
    first = deliver(request(emulator, clone_dirs()))
    # the list misses it (eventual consistency): create answers 422 "already exists", we update
    emulator.inject("GET", PULLS, Fault(200, [], times=1, after_apply=True))
    second = deliver(request(emulator, clone_dirs(), tag="1.13.3-acme.43"))
    assert second.operation == "updated" and second.pr_number == first.pr_number
    assert any(r.status == 422 and "already exists" in str(r.body) for r in emulator.records)
    assert emulator.pulls[first.pr_number or 0].title.endswith("acme.43")
    assert len(emulator.open_pulls()) == 1


def test_missing_pull_request_permission(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.read_only = True  # git push allowed, API writes refused (a GITHUB_TOKEN of another repo)
    with pytest.raises(ForgeError) as caught:
        deliver(request(emulator, clone_dirs()))
    text = str(caught.value)
    assert "pull-requests: write" in text and "GITHUB_TOKEN cannot write to another repository" in text
    assert emulator.token not in text
    _assert_clean(emulator)


def test_missing_contents_permission(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.git.read_only = True
    with pytest.raises(GitError) as caught:
        deliver(request(emulator, clone_dirs()))
    text = str(caught.value)
    assert "contents: write" in text and emulator.token not in text
    assert not emulator.records  # no API call, no PR without its commit
    _assert_clean(emulator)


def test_git_server_error_on_push(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.git.faults.append(GitFault("receive-pack", 500, times=5))
    with pytest.raises(GitError, match="push failed"):
        deliver(request(emulator, clone_dirs()))
    assert not emulator.records
    _assert_clean(emulator)


def test_wrong_token_is_refused_without_echoing_it(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    wrong = "ghs_wrong" + emulator.token[-8:]
    req = request(emulator, clone_dirs(), token=wrong)
    with pytest.raises(GitError) as caught:
        deliver(req)
    assert wrong not in str(caught.value) and "token" in str(caught.value)
    assert not emulator.records
