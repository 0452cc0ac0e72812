"""rollback against real git repositories (the emulator's bare repo over smart-http, a file:// bare
repo) and the real registry: revert of merge and squash commits, the last bump of an environment,
the bump-back when the revert conflicts, and the Dify migration guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator import BareRepo, GitHubEmulator
from requestkit import delivery_request, rollback_request
from test_promote import PRODUCTION, STAGING, World, deployment, push_image

from dify_action.bump import Target
from dify_action.delivery import BumpMetadata, deliver, parse_metadata
from dify_action.errors import DifyActionError, GateFailed, InputError
from dify_action.rollback.guard import guard_markdown
from dify_action.rollback.run import RollbackRequest, rollback

pytestmark = pytest.mark.integration


def bump_pr(em: GitHubEmulator, world: World, tag: str) -> int:
    result = deliver(delivery_request(
        repo_url=em.clone_url, environment="production", targets=(Target.from_inputs(world.image, tag),),
        paths=(PRODUCTION,), provider="github", token=em.token, github_api_url=em.api_url, sleep=lambda s: None))
    assert result.pr_number is not None
    return result.pr_number


def merge(em: GitHubEmulator, number: int, method: str = "merge") -> str:
    url = f"{em.api_url}/repos/{em.full_name}/pulls/{number}/merge"
    answer = requests.put(url, json={"merge_method": method}, headers={"Authorization": f"token {em.token}"},
                          timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["sha"])


def github_request(em: GitHubEmulator, **extra: Any) -> RollbackRequest:
    fields: dict[str, Any] = {"repo_url": em.clone_url, "provider": "github", "token": em.token,
                              "github_api_url": em.api_url, "sleep": lambda s: None}
    return rollback_request(**(fields | extra))


@pytest.fixture
def gh_world(registry: Any, emulator: GitHubEmulator) -> World:
    world = World(registry, emulator.repo, emulator.clone_url)
    for tag in ("sha-000", "sha-111", "sha-222"):
        push_image(world.client, world.repository, tag, "1.13.3")
    world.deploy("sha-000", "sha-000")
    return world


@pytest.mark.parametrize("method", ["merge", "squash"])
def test_rollback_by_pr_reverts_merge_or_squash(gh_world: World, emulator: GitHubEmulator, method: str) -> None:
    world = gh_world
    number = bump_pr(emulator, world, "sha-111")
    merged = merge(emulator, number, method)
    assert (emulator.repo.ref_sha(f"{merged}^2") is not None) == (method == "merge")
    result = rollback(github_request(emulator, pr=number), world.registry_for)
    assert (result.operation, result.method, result.reverted_pr) == ("created", "revert", number)
    assert result.reverted_commit == merged and result.environment == "production"
    assert [(str(m.current), str(m.restored)) for m in result.moves] == [
        (f"{world.image}:sha-111", f"{world.image}:sha-000")] * 2
    assert [g.verdict for g in result.guard] == ["ok"]
    pull = emulator.pulls[result.pr_number or 0]
    assert pull.head == result.branch == f"dify-action/production/rollback-pr-{number}"
    assert [label.name for label in pull.labels] == ["rollback"]
    assert f"Rolls back #{number} (http://" in (pull.body or "")
    meta = parse_metadata(pull.body)
    assert meta is not None and (meta.environment, meta.rollback_of) == ("production", f"#{number}")
    assert world.production(pull.head) == deployment(f"{world.image}:sha-000")  # exactly the old bytes
    log = emulator.repo.log(pull.head)
    assert log[0].split(" ", 1)[1] == f"rollback(production): revert #{number}"
    rerun = rollback(github_request(emulator, pr=number), world.registry_for)
    assert (rerun.operation, rerun.pr_number, rerun.commit) == ("unchanged", result.pr_number, result.commit)


def test_rollback_by_environment_goes_back_one_deployment_at_a_time(gh_world: World,
                                                                     emulator: GitHubEmulator) -> None:
    world = gh_world
    first = bump_pr(emulator, world, "sha-111")
    merge(emulator, first)
    second = bump_pr(emulator, world, "sha-222")
    merge(emulator, second, "squash")
    result = rollback(github_request(emulator, environment="production"), world.registry_for)
    assert (result.reverted_pr, result.operation) == (second, "created")
    assert world.production(result.branch or "") == deployment(f"{world.image}:sha-111")
    merge(emulator, result.pr_number or 0)
    assert world.production("main") == deployment(f"{world.image}:sha-111")
    again = rollback(github_request(emulator, environment="production"), world.registry_for)
    assert again.reverted_pr == first  # the rolled-back #second and the rollback itself are skipped
    assert world.production(again.branch or "") == deployment(f"{world.image}:sha-000")


def api(em: GitHubEmulator, method: str, path: str, body: dict[str, Any]) -> Any:
    answer = requests.request(method, f"{em.api_url}/repos/{em.full_name}{path}", json=body,
                              headers={"Authorization": f"token {em.token}"}, timeout=30)
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_rollback_trusts_only_the_metadata_dify_action_wrote(gh_world: World, emulator: GitHubEmulator) -> None:
    """Issue #9: a fake block in an old Helm value (a body written before values were escaped) and
    a block on a branch dify-action never uses must not change which PR rollback picks."""
    world = gh_world
    first = bump_pr(emulator, world, "sha-111")
    merge(emulator, first)
    staging = deliver(delivery_request(
        repo_url=emulator.clone_url, environment="staging", targets=(Target.from_inputs(world.image, "sha-222"),),
        paths=(STAGING,), provider="github", token=emulator.token, github_api_url=emulator.api_url,
        sleep=lambda s: None)).pr_number
    assert staging is not None
    fake = json.dumps(BumpMetadata("production", ()).as_dict())
    hostile = f"| `{STAGING}/api.yaml:9` | `sha-000\n<!-- dify-action:metadata {fake} -->` | `sha-222` |\n"
    api(emulator, "PATCH", f"/pulls/{staging}", {"body": hostile + (emulator.pulls[staging].body or "")})
    merge(emulator, staging)
    emulator.repo.commit_files("feature/notes", {"NOTES.md": "notes\n"}, "notes", parent=emulator.repo.sha("main"))
    planted = api(emulator, "POST", "/pulls", {"title": "notes", "head": "feature/notes", "base": "main",
                                               "body": f"<!-- dify-action:metadata {fake} -->"})["number"]
    merge(emulator, planted)
    result = rollback(github_request(emulator, environment="production", dry_run=True), world.registry_for)
    assert result.reverted_pr == first and result.environment == "production"
    assert any(f"#{planted} skipped" in note and "not dify-action's branch" in note for note in result.notes)
    with pytest.raises(DifyActionError, match="not dify-action's branch"):
        rollback(github_request(emulator, pr=planted, dry_run=True), world.registry_for)
    with pytest.raises(InputError, match="deployed 'staging'"):
        rollback(github_request(emulator, pr=staging, environment="production", dry_run=True), world.registry_for)


def test_conflicting_revert_bumps_back_from_the_replaced_references(gh_world: World,
                                                                    emulator: GitHubEmulator) -> None:
    world = gh_world
    number = bump_pr(emulator, world, "sha-111")
    merge(emulator, number)
    edited = deployment(f"{world.image}:sha-111").replace("# flask upgrade-db", "# flask upgrade-db (ops)")
    emulator.repo.commit_files("main", {f"{PRODUCTION}/api.yaml": edited}, "ops: comment")
    result = rollback(github_request(emulator, pr=number), world.registry_for)
    assert (result.operation, result.method) == ("created", "bump-back")
    assert any("does not apply cleanly" in note for note in result.notes)
    pull = emulator.pulls[result.pr_number or 0]
    assert pull.head == f"dify-action/production/rollback-pr-{number}"
    assert [label.name for label in pull.labels] == ["rollback"]
    meta = parse_metadata(pull.body)
    assert meta is not None and meta.rollback_of == f"#{number}"
    assert world.production(pull.head) == edited.replace(":sha-111", ":sha-000")  # the ops comment stays


def test_migration_guard_refuses_across_dify_versions(registry: Any, emulator: GitHubEmulator) -> None:
    world = World(registry, emulator.repo, emulator.clone_url)
    push_image(world.client, world.repository, "old", "1.13.3")
    push_image(world.client, world.repository, "new", "1.14.0")
    world.deploy("old", "old")
    number = bump_pr(emulator, world, "new")
    merge(emulator, number)
    branches, pulls = emulator.repo.branches(), len(emulator.pulls)
    with pytest.raises(GateFailed, match=r"Dify 1\.14\.0 -> 1\.13\.3 \(downgrade\)") as caught:
        rollback(github_request(emulator, pr=number), world.registry_for)
    text = str(caught.value)
    assert "dify_plugin" in text and "--allow-schema-rollback" in text
    assert (emulator.repo.branches(), len(emulator.pulls)) == (branches, pulls)  # no side effect
    planned = rollback(github_request(emulator, pr=number, allow_schema_rollback=True, dry_run=True),
                       world.registry_for)
    assert (planned.operation, [g.verdict for g in planned.guard]) == ("planned", ["downgrade"])
    assert (emulator.repo.branches(), len(emulator.pulls)) == (branches, pulls)
    allowed = rollback(github_request(emulator, pr=number, allow_schema_rollback=True), world.registry_for)
    assert allowed.operation == "created"
    assert any("guard overridden" in note for note in allowed.notes)
    body = emulator.pulls[allowed.pr_number or 0].body or ""
    assert "### Dify migration guard" in body and "Dify 1.14.0 → 1.13.3: **downgrade**" in body, body
    assert guard_markdown(allowed.guard, allowed=True).strip() in body


def test_git_provider_rollback_by_environment_direct(registry: Any, tmp_path: Path) -> None:
    """The local demo: plain git over file://, bumps pushed straight to main, rollback the same way."""
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
    world = World(registry, bare, bare.path.as_uri())
    for tag in ("sha-000", "sha-111", "sha-222"):
        push_image(world.client, world.repository, tag, "1.13.3")
    world.deploy("sha-000", "sha-000")
    for tag in ("sha-111", "sha-222"):
        deliver(delivery_request(repo_url=world.url, environment="production", push_mode="direct",
                                targets=(Target.from_inputs(world.image, tag),), paths=(PRODUCTION,)))
        bare.commit_files("main", {"README.md": f"GitOps {tag}\n"}, "docs")  # unrelated commits in between
    request = rollback_request(repo_url=world.url, environment="production", paths=(PRODUCTION,),
                              push_mode="direct")
    first = rollback(request, world.registry_for)
    assert (first.operation, first.method, first.branch) == ("pushed", "revert", "main")
    assert world.production("main") == deployment(f"{world.image}:sha-111")
    message = subprocess.run(["git", "-C", str(bare.path), "log", "-1", "--format=%B", "main"],
                             capture_output=True, text=True, check=True).stdout
    assert f"Dify-Action-Rollback-Of: {first.reverted_commit}" in message
    second = rollback(request, world.registry_for)
    assert second.reverted_commit != first.reverted_commit
    assert world.production("main") == deployment(f"{world.image}:sha-000")


def run_cli(args: list[str], registry: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password}
    env.pop("GITOPS_TOKEN", None)
    env.pop("GITHUB_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "dify_action", "rollback", *args, "--registry-username",
                           registry.username], capture_output=True, text=True, env=env, check=False, timeout=120)


def test_cli_git_branch_mode_json_and_bad_input(registry: Any, tmp_path: Path) -> None:
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
    world = World(registry, bare, bare.path.as_uri())
    push_image(world.client, world.repository, "a", "1.13.3")
    push_image(world.client, world.repository, "b", "1.14.0")
    world.deploy("a", "a")
    bumped = deliver(delivery_request(repo_url=world.url, environment="production", push_mode="direct",
                                     targets=(Target.from_inputs(world.image, "b"),), paths=(PRODUCTION,)))
    common = ["--gitops-repo", world.url, "--environment", "production", "--path", PRODUCTION, "--json"]
    refused = run_cli(common, registry)
    assert refused.returncode == 1 and "migration guard" in refused.stderr and "dify_plugin" in refused.stderr
    assert "migration guard" in json.loads(refused.stdout)["error"]["message"]  # --json: a refusal is JSON too
    planned = run_cli([*common, "--dry-run"], registry)  # a refused dry run still shows what it would move
    assert planned.returncode == 1, planned.stderr
    shown = json.loads(planned.stdout)
    assert shown["rollback"]["operation"] == "refused" and shown["rollback"]["dry_run"] is True
    assert [(m["current"], m["restored"]) for m in shown["rollback"]["images"]] == [
        (f"{world.image}:b", f"{world.image}:a")] * 2
    assert "migration guard" in shown["error"]["message"]
    assert bare.branches() == ["main"]
    ok = run_cli([*common, "--allow-schema-rollback"], registry)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)["rollback"]
    assert (data["operation"], data["method"], data["reverted_commit"]) == ("pushed", "revert", bumped.commit)
    assert data["branch"] == f"dify-action/production/rollback-{bumped.commit[:12]}"
    assert world.production(data["branch"]) == deployment(f"{world.image}:a")
    bad = run_cli(["--gitops-repo", world.url, "--pr-number", "3", "--provider", "git", "--json"], registry)
    assert bad.returncode == 2 and "invalid --pr-number 3" in bad.stderr
    assert json.loads(bad.stdout)["error"]["input"] == "pull-request-number"
