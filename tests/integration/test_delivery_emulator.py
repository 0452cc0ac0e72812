"""The emulator itself: GitHub's real error bodies on refs and contents, and a validator that
really rejects what GitHub's OpenAPI description forbids (so the teardown check is not vacuous)."""

from __future__ import annotations

import base64

import pytest
from emulator import GitHubEmulator, OpenApiValidator
from github import Auth, Github, GithubException

pytestmark = pytest.mark.integration


def _client(em: GitHubEmulator) -> Github:
    return Github(
        auth=Auth.Token(em.token),
        base_url=em.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def test_git_refs_errors_like_github(emulator: GitHubEmulator) -> None:
    repo = _client(emulator).get_repo(emulator.full_name)
    main = repo.get_git_ref("heads/main")
    ref = repo.create_git_ref("refs/heads/feature", main.object.sha)
    assert emulator.repo.sha("feature") == main.object.sha
    with pytest.raises(GithubException) as caught:
        repo.create_git_ref("refs/heads/feature", main.object.sha)
    assert (caught.value.status, caught.value.data["message"]) == (422, "Reference already exists")
    newer = emulator.repo.commit_files("main", {"x.txt": "x\n"}, "newer")
    ref.edit(newer)
    with pytest.raises(GithubException) as caught:
        ref.edit(main.object.sha)  # backwards without force
    assert (caught.value.status, caught.value.data["message"]) == (422, "Update is not a fast forward")
    ref.edit(main.object.sha, force=True)
    assert emulator.repo.sha("feature") == main.object.sha
    ref.delete()
    assert emulator.repo.sha("feature") is None


def test_contents_stale_sha_is_409(emulator: GitHubEmulator) -> None:
    repo = _client(emulator).get_repo(emulator.full_name)
    path = "environments/staging/dify-web.yaml"
    old_sha = emulator.repo.blob_sha("main", path)
    assert old_sha is not None
    repo.update_file(path, "edit", "kind: Deployment\n", old_sha, branch="main")
    assert emulator.repo.read("main", path) == b"kind: Deployment\n"
    with pytest.raises(GithubException) as caught:
        repo.update_file(path, "stale edit", "kind: Service\n", old_sha, branch="main")
    assert caught.value.status == 409
    created = repo.create_file("new.yaml", "add", base64.b64decode(base64.b64encode(b"a: 1\n")), branch="main")
    assert created["commit"].sha == emulator.repo.sha("main")


def test_pull_request_already_exists_body(emulator: GitHubEmulator) -> None:
    repo = _client(emulator).get_repo(emulator.full_name)
    emulator.repo.commit_files("topic", {"y.txt": "y\n"}, "topic", parent=emulator.repo.sha("main"))
    repo.create_pull(base="main", head="topic", title="t", body="b")
    with pytest.raises(GithubException) as caught:
        repo.create_pull(base="main", head="topic", title="t", body="b")
    assert caught.value.status == 422
    assert caught.value.data["errors"][0]["message"] == "A pull request already exists for acme:topic."


def test_validator_rejects_wrong_shapes(openapi: OpenApiValidator) -> None:
    pulls = "/repos/{owner}/{repo}/pulls"
    assert openapi.errors("GET", pulls, 200, [{"number": "1"}])
    assert openapi.errors("POST", pulls, 201, {"title": None})
    assert openapi.errors("GET", "/repos/{owner}/{repo}/nope", 200, {})
    assert openapi.errors("GET", pulls, 503, {"message": 5})  # undocumented status: basic-error
    assert not openapi.errors("GET", pulls, 503, {"message": "Service Unavailable"})
    ref = {"ref": "refs/heads/x", "node_id": "n", "url": "u", "object": {"type": "commit", "sha": "f" * 40, "url": "u"}}
    assert not openapi.errors("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 200, ref)
