"""sign-commits (issue 19) against the emulator: commits made through the Git Data API are verified,
in both push modes, idempotent and race-safe; a branch that requires signatures refuses a plain push
with GH013's explanation, and nothing moves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from emulator.bare import git
from emulator.gitdata import protect, verified
from emulator.scenario import STAGING, again, api_file, request

from dify_action.delivery import Identity, deliver
from dify_action.errors import ForgeError, GitError

pytestmark = pytest.mark.integration
BRANCH = "dify-action/staging/dify-api"


def _author(em: GitHubEmulator, sha: str) -> str:
    return git(em.repo.path, "show", "-s", "--format=%an <%ae>|%cn", sha)


def test_branch_mode_commit_is_verified_and_rerun_makes_none(emulator: GitHubEmulator,
                                                              clone_dirs: Callable[[], Path]) -> None:
    person = Identity("Ops Bot", "ops@example.invalid")
    req = request(emulator, clone_dirs(), sign_commits=True, author=person)
    result = deliver(req)
    assert result.operation == "created" and result.commits_verified is True
    assert emulator.repo.sha(BRANCH) == result.commit and verified(emulator, result.commit or "")
    assert _author(emulator, result.commit or "").endswith("|dify-action[bot]")  # GitHub authors it
    message = git(emulator.repo.path, "show", "-s", "--format=%B", result.commit or "")
    assert message.startswith("deploy(staging): dify-api 1.13.3-acme.42")
    assert message.rstrip().endswith("Co-authored-by: Ops Bot <ops@example.invalid>")
    assert "dify-api:1.13.3-acme.42" in api_file(emulator, BRANCH)
    assert result.as_dict()["commits_verified"] is True
    commits = git(emulator.repo.path, "rev-list", "--count", "--all")
    rerun = deliver(again(req, clone_dirs()))
    assert (rerun.operation, rerun.commit, rerun.commits_verified) == ("unchanged", result.commit, True)
    assert git(emulator.repo.path, "rev-list", "--count", "--all") == commits  # no new commit


def test_protected_base_refuses_a_plain_push_with_gh013(emulator: GitHubEmulator,
                                                         clone_dirs: Callable[[], Path]) -> None:
    protect(emulator, "main")
    before = emulator.repo.sha("main")
    with pytest.raises(GitError) as caught:
        deliver(request(emulator, clone_dirs(), push_mode="direct"))
    assert "GH013" in str(caught.value) and "verified signatures" in str(caught.value)
    assert "sign-commits: true" in (caught.value.hint or "")
    assert emulator.repo.sha("main") == before and emulator.repo.branches() == ["main"]  # nothing moved

    result = deliver(request(emulator, clone_dirs(), push_mode="direct", sign_commits=True))
    assert (result.operation, result.commits_verified) == ("pushed", True)
    assert emulator.repo.sha("main") == result.commit and verified(emulator, result.commit or "")
    assert git(emulator.repo.path, "rev-parse", f"{result.commit}^") == before  # a fast forward


def test_base_moves_between_tree_and_ref_update(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    """Someone pushes to the base after our tree and commit exist: the update is refused as not a
    fast forward, the bump is planned again on the new tip, and both changes are on the base."""
    def someone_else() -> None:
        emulator.repo.commit_files("main", {f"{STAGING}/notes.txt": "hello\n"}, "someone else")

    emulator.before[("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")] = [someone_else]
    result = deliver(request(emulator, clone_dirs(), push_mode="direct", sign_commits=True))
    assert (result.operation, result.attempts, result.commits_verified) == ("pushed", 2, True)
    assert emulator.repo.read("main", f"{STAGING}/notes.txt") == b"hello\n"
    assert "dify-api:1.13.3-acme.42" in api_file(emulator, "main")
    assert git(emulator.repo.path, "log", "-1", "--format=%s", f"{result.commit}^") == "someone else"


def test_unsigned_token_is_reported_not_hidden(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.signs = False  # GitHub does not sign API commits for a personal access token
    result = deliver(request(emulator, clone_dirs(), sign_commits=True))
    assert result.operation == "created" and result.commits_verified is False
    assert any("is not verified" in note for note in result.notes)


def test_token_without_contents_write(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.read_only = True
    with pytest.raises(ForgeError) as caught:
        deliver(request(emulator, clone_dirs(), sign_commits=True))
    assert "contents: write" in (caught.value.hint or "")
    assert emulator.repo.branches() == ["main"]


def test_fresh_objects_and_secondary_limits_are_retried(emulator: GitHubEmulator,
                                                        clone_dirs: Callable[[], Path]) -> None:
    """A commit whose new tree another replica does not see yet (422), a secondary rate limit on a
    blob: both waited out under the one retry policy, one commit made."""
    from emulator import Fault, secondary_rate_limit
    from emulator.scenario import Sleeps

    emulator.inject("POST", "/repos/{owner}/{repo}/git/blobs", secondary_rate_limit(retry_after=3))
    emulator.inject("POST", "/repos/{owner}/{repo}/git/commits",
                    Fault(422, {"message": "Tree SHA does not exist",
                                "documentation_url": "https://docs.github.com/rest/git/commits#create-a-commit"}))
    sleeps = Sleeps()
    result = deliver(request(emulator, clone_dirs(), sign_commits=True, sleep=sleeps))
    assert (result.operation, result.commits_verified) == ("created", True)
    assert 3.0 in sleeps.waits  # Retry-After honoured
    commits = [r for r in emulator.records if r.template.endswith("/git/commits") and r.method == "POST"]
    assert [r.status for r in commits] == [422, 201]


def test_app_not_installed_is_named(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    """An installation token whose App is not installed on the GitOps repository gets 404s from the
    Git Data API: retried as a fresh object first, then named, and no branch is made."""
    from emulator import Fault

    emulator.inject("POST", "/repos/{owner}/{repo}/git/blobs",
                    Fault(404, {"message": "Not Found",
                                "documentation_url": "https://docs.github.com/rest/git/blobs#create-a-blob"},
                          times=20))
    with pytest.raises(ForgeError) as caught:
        deliver(request(emulator, clone_dirs(), sign_commits=True))
    assert "not installed" in (caught.value.hint or "") and "404" in str(caught.value)
    assert emulator.repo.branches() == ["main"]


def test_api_calls_of_a_signed_pull_request(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    """What sign-commits costs: one blob per changed file, a tree, a commit, the ref, the read-back of
    the verification, on top of the pull request's calls (printed, for the report)."""
    plain = deliver(request(emulator, clone_dirs(), group="plain"))
    signed = deliver(request(emulator, clone_dirs(), sign_commits=True))
    files = len({c.file for c in signed.changes})
    assert signed.api_calls == plain.api_calls + files + 4
    print(f"api calls per PR: plain {plain.api_calls}, sign-commits {signed.api_calls} ({files} file(s))")


def test_unsigned_api_commit_on_a_protected_base_is_explained(emulator: GitHubEmulator,
                                                               clone_dirs: Callable[[], Path]) -> None:
    """sign-commits with a token GitHub does not sign for: the ruleset refuses the ref update, the
    error says why (the token), and the base does not move."""
    emulator.signs = False
    protect(emulator, "main")
    before = emulator.repo.sha("main")
    with pytest.raises(ForgeError) as caught:
        deliver(request(emulator, clone_dirs(), push_mode="direct", sign_commits=True))
    assert "GH013" in str(caught.value) and "App installation token" in (caught.value.hint or "")
    assert emulator.repo.sha("main") == before
