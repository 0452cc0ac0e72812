"""promote against the real registry (htpasswd) and real GitOps repositories: a local bare repo over
file:// for the git provider, the OpenAPI-checked GitHub emulator for pull requests.

Images are pushed straight through the registry client (config blob with the Dify base-version
label, one small layer, OCI manifest): what promote reads is exactly what build.py pushes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emulator import BareRepo, GitHubEmulator
from requestkit import promote_request

from dify_action.delivery import parse_metadata
from dify_action.errors import GateFailed, GitError, InputError, RegistryError
from dify_action.promote.run import PromoteRequest, promote
from dify_action.registry import OCI_MANIFEST, Credentials, Manifest, RegistryClient, compute_digest
from dify_action.registry.gates import gates_tag, read_gates, record_gates

pytestmark = pytest.mark.integration
STAGING, PRODUCTION = "environments/staging", "environments/production"


def push_image(client: RegistryClient, repository: str, tag: str, dify_version: str | None = "1.13.3") -> str:
    """A tiny image with its own layer; returns the manifest digest."""
    labels = {"io.dify.base-version": dify_version} if dify_version else {}
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": labels},
                         "rootfs": {"type": "layers", "diff_ids": []}, "marker": secrets.token_hex(8)}).encode()
    layer = secrets.token_bytes(256)
    c, lay = client.push_blob(repository, config), client.push_blob(repository, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c.digest, "size": c.size},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": lay.digest,
                       "size": lay.size}]}
    body = json.dumps(doc).encode()
    return client.put_manifest(repository, tag, Manifest(OCI_MANIFEST, compute_digest(body), body))


def deployment(image: str) -> str:
    return ("# dify-api: api and the migration job share the image\napiVersion: apps/v1\nkind: Deployment\n"
            "metadata:\n  name: dify-api\nspec:\n  template:\n    spec:\n      initContainers:\n"
            f"        - name: migrate\n          image: {image}  # flask upgrade-db\n      containers:\n"
            f"        - name: api\n          image: \"{image}\"\n")


class World:
    """A registry namespace of its own and a GitOps repository with staging and production."""

    def __init__(self, registry: Any, bare: BareRepo, url: str) -> None:
        self.registry = registry
        self.client = RegistryClient(registry.host, Credentials(registry.username, registry.password))
        self.repository = f"promo{secrets.token_hex(4)}/dify-api"
        self.image = f"{registry.host}/{self.repository}"
        self.bare = bare
        self.url = url

    def deploy(self, staging: str, production: str, branch: str = "main") -> str:
        return self.bare.commit_files(branch, {f"{STAGING}/api.yaml": deployment(f"{self.image}:{staging}"),
                                               f"{PRODUCTION}/api.yaml": deployment(f"{self.image}:{production}")},
                                      "deploy")

    def request(self, **extra: Any) -> PromoteRequest:
        fields: dict[str, Any] = {"repo_url": self.url, "source": "staging", "target": "production",
                                  "source_paths": (STAGING,), "target_paths": (PRODUCTION,), "sleep": lambda s: None,
                                  "require_verified": False}  # the verification rule: test_verify_promote.py
        return promote_request(**(fields | extra))

    def registry_for(self, host: str) -> RegistryClient:
        assert host == self.registry.host
        return self.client

    def production(self, branch: str) -> str:
        data = self.bare.read(branch, f"{PRODUCTION}/api.yaml")
        assert data is not None
        return data.decode()


@pytest.fixture
def world(registry: Any, tmp_path: Path) -> World:
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
    return World(registry, bare, bare.path.as_uri())


def blob_writes(requests: list[Any]) -> list[Any]:
    return [r for r in requests if "/blobs/" in r.path and r.method in ("POST", "PUT", "PATCH")]


def test_promote_git_provider_with_registry_tag_copy(world: World) -> None:
    old = push_image(world.client, world.repository, "sha-000")
    new = push_image(world.client, world.repository, "sha-111", "1.14.0")
    record_gates(world.client, world.repository, new, {"smoke": "passed", "scan": "passed"})
    world.deploy("sha-111", "sha-000")
    offset = world.registry.log_offset()
    result = promote(world.request(registry_tag="production"), world.registry_for)
    assert result.operation == "pushed"
    assert result.delivery is not None and result.delivery.branch == "dify-action/production/dify-api"
    text = world.production("dify-action/production/dify-api")
    assert text == deployment(f"{world.image}:sha-111")  # only the two values changed, comments kept
    assert world.production("main") == deployment(f"{world.image}:sha-000")
    (promoted,) = result.images
    assert (promoted.digest, promoted.dify_version_old, promoted.dify_version_new) == (new, "1.13.3", "1.14.0")
    assert promoted.tag_copy is not None and promoted.tag_copy.changed
    assert world.client.resolve_digest(f"{world.image}:production") == new != old
    requests = world.registry.requests_since(offset)
    assert not blob_writes(requests)  # the tag copy moved no layer
    assert not [r for r in requests if r.method == "GET" and "/blobs/" in r.path and r.size > 1024]
    again = promote(world.request(registry_tag="production"), world.registry_for)
    assert again.operation == "unchanged" and again.images[0].tag_copy is not None
    assert not again.images[0].tag_copy.changed


@pytest.mark.parametrize("served", ["file", "smart-http"])
def test_refused_push_leaves_the_registry_tag_where_it_was(registry: Any, emulator: GitHubEmulator,
                                                           tmp_path: Path, served: str) -> None:
    """Issue #9: the tag moves only after the GitOps change exists. A pre-receive hook refuses the
    push (on a file:// bare repo, and on the emulator's git server with a pull request to open)."""
    extra: dict[str, Any] = {"registry_tag": "production"}
    if served == "file":
        bare = BareRepo(tmp_path / "srv", "acme", "gitops")
        bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
        world = World(registry, bare, bare.path.as_uri())
    else:
        world = World(registry, emulator.repo, emulator.clone_url)
        extra |= {"provider": "github", "token": emulator.token, "github_api_url": emulator.api_url}
    old = push_image(world.client, world.repository, "sha-000")
    new = push_image(world.client, world.repository, "sha-111")
    record_gates(world.client, world.repository, new, {"smoke": "passed", "scan": "passed"})
    world.client.copy_tag(world.repository, old, "production")  # the tag follows what production runs
    world.deploy("sha-111", "sha-000")
    hook = world.bare.path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused: production is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    branches, offset = world.bare.branches(), world.registry.log_offset()
    with pytest.raises(GitError, match="registry tag production not moved") as caught:
        promote(world.request(**extra), world.registry_for)
    assert "production is frozen" in str(caught.value)
    assert world.client.resolve_digest(f"{world.image}:production") == old
    assert not [r for r in world.registry.requests_since(offset) if r.method in ("PUT", "POST", "PATCH", "DELETE")]
    assert world.bare.branches() == branches and not emulator.pulls
    hook.unlink()
    result = promote(world.request(**extra), world.registry_for)
    assert result.operation == ("pushed" if served == "file" else "created")
    assert world.client.resolve_digest(f"{world.image}:production") == new
    assert any(note.startswith("registry tag production moved after the GitOps change was delivered")
               for note in result.notes)


def test_promote_opens_pull_request_with_metadata(registry: Any, emulator: GitHubEmulator) -> None:
    world = World(registry, emulator.repo, emulator.clone_url)
    digest = push_image(world.client, world.repository, "sha-222")
    push_image(world.client, world.repository, "sha-000")
    record_gates(world.client, world.repository, digest, {"smoke": "passed", "scan": "skipped"})
    world.deploy("sha-222", "sha-000")
    result = promote(world.request(provider="github", token=emulator.token, github_api_url=emulator.api_url,
                                   pin_digest=True), world.registry_for)
    assert result.operation == "created" and result.delivery and result.delivery.pr_number
    pull = emulator.pulls[result.delivery.pr_number]
    assert pull.title == "promote(production): dify-api sha-222 from staging"
    meta = parse_metadata(pull.body)
    assert meta is not None
    assert (meta.environment, meta.promoted_from, meta.digest) == ("production", "staging", digest)
    assert meta.images[0].after == f"{world.image}:sha-222@{digest}"
    assert "Promoted from **staging**" in (pull.body or "")
    assert any("gates skipped: scan" in note for note in result.notes)
    assert world.production(pull.head) == deployment(f"{world.image}:sha-222@{digest}")


def test_nothing_to_promote_is_none(world: World) -> None:
    digest = push_image(world.client, world.repository, "sha-333")
    record_gates(world.client, world.repository, digest, {"smoke": "passed", "scan": "passed"})
    world.deploy("sha-333", "sha-333")
    before = world.bare.branches()
    result = promote(world.request(registry_tag="production"), world.registry_for)
    assert (result.operation, result.delivery, result.images) == ("none", None, ())
    assert world.bare.branches() == before
    assert world.client.head_manifest(world.repository, "production") is None


def test_missing_image_is_a_clear_error_and_changes_nothing(world: World) -> None:
    push_image(world.client, world.repository, "sha-000")
    world.deploy("sha-gone", "sha-000")
    with pytest.raises(RegistryError, match=r"dify-api:sha-gone not found") as caught:
        promote(world.request(registry_tag="production"), world.registry_for)
    assert "existing tags: sha-000" in str(caught.value)
    assert world.bare.branches() == ["main"]


@pytest.mark.parametrize(("gates", "expected"), [
    ({"smoke": "passed", "scan": "failed"}, "gate(s) failed: scan"),
    (None, "no gate record"),
    ({"smoke": "passed"}, "gate(s) never recorded: scan"),
])
def test_refused_gate_has_no_side_effect(world: World, gates: dict[str, str] | None, expected: str) -> None:
    push_image(world.client, world.repository, "sha-000")
    digest = push_image(world.client, world.repository, "sha-444")
    if gates:
        record_gates(world.client, world.repository, digest, gates)
    world.deploy("sha-444", "sha-000")
    offset = world.registry.log_offset()
    with pytest.raises(GateFailed, match="promotion staging -> production refused") as caught:
        promote(world.request(registry_tag="production"), world.registry_for)
    assert expected in str(caught.value) and "--no-require-gates" in str(caught.value)
    assert world.bare.branches() == ["main"]
    assert world.client.head_manifest(world.repository, "production") is None
    assert not [r for r in world.registry.requests_since(offset) if r.method in ("PUT", "POST", "DELETE")]
    forced = promote(world.request(require_gates=False), world.registry_for)
    assert forced.operation == "pushed"
    assert any("gates NOT enforced" in note for note in forced.notes)


def test_gate_record_is_an_oci_artifact_tied_to_its_subject(world: World) -> None:
    digest = push_image(world.client, world.repository, "sha-555")
    other = push_image(world.client, world.repository, "sha-556")
    record = record_gates(world.client, world.repository, digest, {"smoke": "passed", "scan": "failed"})
    manifest = world.client.get_manifest(world.repository, gates_tag(digest))
    doc = manifest.document
    assert doc["annotations"]["io.dify-action.gates.scan"] == "failed"
    assert doc["annotations"]["io.dify-action.subject"] == digest
    assert read_gates(world.client, world.repository, digest) == record
    assert read_gates(world.client, world.repository, other) is None
    # a record copied next to another image is refused, not trusted
    world.client.put_manifest(world.repository, gates_tag(other), manifest)
    with pytest.raises(RegistryError, match="is about"):
        read_gates(world.client, world.repository, other)
    with pytest.raises(InputError, match="gate scan"):
        record_gates(world.client, world.repository, digest, {"scan": "ok"})


def test_dry_run_plans_and_changes_nothing(world: World) -> None:
    push_image(world.client, world.repository, "sha-000")
    digest = push_image(world.client, world.repository, "sha-666")
    record_gates(world.client, world.repository, digest, {"smoke": "passed", "scan": "passed"})
    world.deploy("sha-666", "sha-000")
    result = promote(world.request(dry_run=True, registry_tag="production"), world.registry_for)
    assert result.operation == "planned"
    assert f"+          image: {world.image}:sha-666  # flask upgrade-db" in result.diff
    assert world.bare.branches() == ["main"]
    assert world.client.head_manifest(world.repository, "production") is None


def run_cli(args: list[str], registry: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password}
    env.pop("GITOPS_TOKEN", None)
    env.pop("GITHUB_TOKEN", None)
    args = [*args, "--no-require-verified"]  # the verification rule: test_verify_promote.py
    return subprocess.run([sys.executable, "-m", "dify_action", "promote", *args, "--registry-username",
                           registry.username], capture_output=True, text=True, env=env, check=False, timeout=120)


def test_cli_json_and_exit_codes(world: World, tmp_path: Path) -> None:
    push_image(world.client, world.repository, "sha-000")
    digest = push_image(world.client, world.repository, "sha-777")
    world.deploy("sha-777", "sha-000")
    common = ["--gitops-repo", world.url, "--from-environment", "staging", "--to-environment", "production",
              "--from-path", STAGING, "--to-path", PRODUCTION, "--json"]
    refused = run_cli(common, world.registry)
    assert refused.returncode == 1 and "no gate record" in refused.stderr
    bad = run_cli([*common[:4], "--to-environment", "staging", *common[6:]], world.registry)
    assert bad.returncode == 2 and "invalid --to-environment 'staging'" in bad.stderr
    env = {**os.environ, "DIFY_ACTION_REGISTRY_PASSWORD": world.registry.password}
    gates = [sys.executable, "-m", "dify_action", "gates", "--image", world.image, "--digest", digest,
             "--registry-username", world.registry.username, "--json"]
    missing = subprocess.run([*gates[:4], "show", *gates[4:]], capture_output=True, text=True, env=env, timeout=60)
    assert (missing.returncode, missing.stdout.strip()) == (1, "null")
    bad = subprocess.run([*gates[:4], "record", *gates[4:], "--result", "smoke=green"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "invalid gate smoke 'green'" in bad.stderr
    recorded = subprocess.run([*gates[:4], "record", *gates[4:], "--result", "smoke=passed", "--result",
                               "scan=passed"], capture_output=True, text=True, env=env, timeout=60)
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["results"] == {"scan": "passed", "smoke": "passed"}
    config = tmp_path / "dify-action.yaml"
    config.write_text(f"version: 1\nenvironments:\n  staging:\n    paths: [{STAGING}]\n    provider: git\n"
                      f"  production:\n    paths: [{PRODUCTION}]\n    provider: git\n")
    ok = run_cli(["--gitops-repo", world.url, "--from-environment", "staging", "--to-environment", "production",
                  "--config",
                  str(config), "--registry-tag", "production", "--json"], world.registry)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)["promote"]
    assert (data["operation"], data["branch"]) == ("pushed", "dify-action/production/dify-api")
    assert data["images"][0]["digest"] == digest and data["images"][0]["tag_copy"]["changed"] is True
    assert world.registry.password not in ok.stdout + ok.stderr


def test_promote_can_require_an_sbom(world: World) -> None:
    """require_sbom: a digest with passing gates but no SBOM is refused (nothing pushed); attached
    (the document bytes stand in for Trivy's: the check reads the attachment, not its content), it goes."""
    from dify_action.scan.sbom import Sbom, attach_sboms

    old = push_image(world.client, world.repository, "sha-000")
    new = push_image(world.client, world.repository, "sha-111")
    record_gates(world.client, world.repository, new, {"smoke": "passed", "scan": "passed"})
    world.deploy("sha-111", "sha-000")
    with pytest.raises(GateFailed, match="has no SBOM attached"):
        promote(world.request(require_sbom=True), world.registry_for)
    assert world.bare.branches() == ["main"]
    document = b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}'
    attach_sboms(world.client, world.repository, new, [Sbom("cyclonedx", document)])
    assert promote(world.request(require_sbom=True), world.registry_for).operation == "pushed"
    assert old != new
