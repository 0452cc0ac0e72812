"""sign-commits (issue 19) for promote and rollback: promote's commit, and the revert shipped as tree
edits, are made through the Git Data API (the revert's tree exactly git's), verified, in branch mode
(a PR) and direct mode on a base that requires signed commits (GH013 without sign-commits). The
guard, the metadata and the PR body are those of a plain revert."""

from __future__ import annotations

import pytest
from emulator import GitHubEmulator
from emulator.bare import git
from emulator.gitdata import protect, verified
from test_promote import World, deployment, push_image
from test_rollback import bump_pr, gh_world, github_request, merge

from dify_action.delivery import parse_metadata
from dify_action.errors import GitError
from dify_action.promote.run import promote
from dify_action.registry.gates import record_gates
from dify_action.rollback.run import rollback

pytestmark = pytest.mark.integration
__all__ = ["gh_world"]  # the fixture, imported for pytest


def test_rollback_revert_through_the_api_is_verified(gh_world: World, emulator: GitHubEmulator) -> None:
    world = gh_world
    number = bump_pr(emulator, world, "sha-111")
    merged = merge(emulator, number)
    result = rollback(github_request(emulator, pr=number, sign_commits=True), world.registry_for)
    assert (result.operation, result.method, result.commits_verified) == ("created", "revert", True)
    pull = emulator.pulls[result.pr_number or 0]
    assert emulator.repo.sha(pull.head) == result.commit and verified(emulator, result.commit or "")
    assert world.production(pull.head) == deployment(f"{world.image}:sha-000")  # exactly the old bytes
    # the tree is git's own revert of the merge, hash for hash
    assert git(emulator.repo.path, "rev-parse", f"{result.commit}^{{tree}}") == \
        git(emulator.repo.path, "rev-parse", f"{merged}^1^{{tree}}")
    meta = parse_metadata(pull.body)
    assert meta is not None and meta.rollback_of == f"#{number}"
    assert f"This reverts commit {merged}." in git(emulator.repo.path, "show", "-s", "--format=%B", result.commit or "")
    assert result.as_dict()["commits_verified"] is True
    rerun = rollback(github_request(emulator, pr=number, sign_commits=True), world.registry_for)
    assert (rerun.operation, rerun.commit, rerun.commits_verified) == ("unchanged", result.commit, True)


def test_direct_rollback_on_a_protected_base(gh_world: World, emulator: GitHubEmulator) -> None:
    world = gh_world
    number = bump_pr(emulator, world, "sha-111")
    merge(emulator, number)
    protect(emulator, "main")
    tip = emulator.repo.sha("main")
    with pytest.raises(GitError, match="GH013"):
        rollback(github_request(emulator, pr=number, push_mode="direct"), world.registry_for)
    assert emulator.repo.sha("main") == tip
    result = rollback(github_request(emulator, pr=number, push_mode="direct", sign_commits=True), world.registry_for)
    assert (result.operation, result.commits_verified) == ("pushed", True)
    assert emulator.repo.sha("main") == result.commit and verified(emulator, result.commit or "")
    assert world.production("main") == deployment(f"{world.image}:sha-000")


def test_promote_direct_on_a_protected_base_is_verified(registry: object, emulator: GitHubEmulator) -> None:
    world = World(registry, emulator.repo, emulator.clone_url)
    digest = push_image(world.client, world.repository, "sha-222")
    push_image(world.client, world.repository, "sha-000")
    record_gates(world.client, world.repository, digest, {"smoke": "passed", "scan": "passed"})
    world.deploy("sha-222", "sha-000")
    protect(emulator, "main")
    github = {"provider": "github", "token": emulator.token, "github_api_url": emulator.api_url, "push_mode": "direct"}
    with pytest.raises(GitError, match="GH013"):
        promote(world.request(**github), world.registry_for)
    result = promote(world.request(**github, sign_commits=True), world.registry_for)
    assert result.operation == "pushed" and result.delivery and result.delivery.commits_verified is True
    assert verified(emulator, emulator.repo.sha("main") or "")
    assert world.production("main") == deployment(f"{world.image}:sha-222")
