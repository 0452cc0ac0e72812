"""Image facts from real stand-in api images (test dockerd, registry with htpasswd): through the
engine, from the layers that hold /app/api, from the gate record; the exact guard in rollback()."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emulator import BareRepo, GitHubEmulator
from requestkit import delivery_request, rollback_request
from test_promote import PRODUCTION, World, deployment, push_image
from test_rollback import bump_pr, github_request, merge
from testbed.difyapi import PATCH, V14_LEFT, V14_MERGE, V14_RIGHT, build_api_image, history, patch_migration, rev

from dify_action import refs
from dify_action.bump import Target
from dify_action.delivery import deliver
from dify_action.dify.facts import read_engine
from dify_action.dify.layers import read_layers
from dify_action.dify.registryfacts import forward_for, image_facts, record_build_facts
from dify_action.errors import GateFailed
from dify_action.registry import Credentials, RegistryClient
from dify_action.registry.gates import read_facts, read_gates, record_facts, record_gates
from dify_action.rollback.guard import guard_markdown
from dify_action.rollback.run import RollbackRequest, rollback

pytestmark = pytest.mark.integration
VERSIONS = ("1.13.2", "1.13.3", "1.13.3-acme.1", "1.14.0", "wh")


class ApiImages:
    """The stand-ins built once, pushed to one repository of the registry under their version tags."""

    def __init__(self, docker_client: Any, registry: Any, base_image: str) -> None:
        self.client = RegistryClient(registry.host, Credentials(registry.username, registry.password))
        self.registry = registry
        self.docker = docker_client
        self.repository = f"facts{secrets.token_hex(3)}/dify-api"
        self.image = f"{registry.host}/{self.repository}"
        self.local: dict[str, str] = {}
        auth = {"username": registry.username, "password": registry.password}
        for version in VERSIONS:
            tag = f"{self.image}:{version}"
            if version == "wh":  # a customization that deletes the patch migration again (a whiteout)
                build_wh(docker_client, tag, f"{self.image}:1.13.3-acme.1")
            else:
                build_api_image(docker_client, tag, version, base=base_image)
            docker_client.images.push(self.image, version, auth_config=auth)
            self.local[version] = tag
        docker_client.images.get(base_image).tag(self.image, "base")
        docker_client.images.push(self.image, "base", auth_config=auth)

    def ref(self, tag: str) -> refs.ImageRef:
        return refs.parse(f"{self.image}:{tag}")

    def registry_for(self, host: str) -> RegistryClient:
        assert host == self.registry.host
        return self.client


def build_wh(docker_client: Any, tag: str, parent: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="da-wh-") as temp:
        Path(temp, "Dockerfile").write_text(
            f"FROM {parent}\nRUN rm /app/api/migrations/versions/{patch_migration().file}\n")
        docker_client.images.build(path=temp, tag=tag, network_mode="host", rm=True)


@pytest.fixture(scope="module")
def api(docker_client: Any, registry: Any, base_image: str) -> ApiImages:
    return ApiImages(docker_client, registry, base_image)


def test_engine_reads_the_archive_without_running_the_image(api: ApiImages) -> None:
    before = len(api.docker.containers.list(all=True))
    facts = read_engine(api.docker, api.local["1.14.0"])
    assert (facts.source, facts.dify_version, facts.dsl_version) == ("engine", "1.14.0", "0.6.0")
    assert facts.graph is not None and len(facts.graph) == len(history("1.14.0"))
    assert facts.heads == (rev(V14_MERGE[1]),) and not facts.notes
    assert len(api.docker.containers.list(all=True)) == before  # created, never started, removed
    patched = read_engine(api.docker, api.local["1.13.3-acme.1"])
    assert patched.heads == (rev(PATCH),) and patched.dify_version == "1.13.3"
    assert read_engine(api.docker, api.local["wh"]).heads == read_engine(api.docker, api.local["1.13.3"]).heads


def test_registry_reads_only_the_layers_that_hold_app_api(api: ApiImages) -> None:
    for version in ("1.13.3", "1.13.3-acme.1", "1.14.0", "wh"):
        engine = read_engine(api.docker, api.local[version])
        offset = api.registry.log_offset()
        layers = read_layers(api.client, api.ref(version))
        assert (layers.graph, layers.dsl_version, layers.dify_version) == \
            (engine.graph, engine.dsl_version, engine.dify_version), version
        manifest = api.client.get_manifest(api.repository, version).document
        read = {r.path.rsplit("/", 1)[1] for r in api.registry.requests_since(offset)
                if r.method == "GET" and "/blobs/" in r.path}
        layer_digests = [layer["digest"] for layer in manifest["layers"]]
        assert manifest["layers"][0]["digest"] not in read  # the busybox layer is not read
        assert 0 < len(read & set(layer_digests)) < len(layer_digests)
        assert any(f"of {len(layer_digests)} layers" in note for note in layers.notes)


def test_facts_recorded_with_the_gate_record_survive_the_verdicts(api: ApiImages) -> None:
    digest = api.client.resolve_digest(api.ref("1.14.0"))
    facts = read_engine(api.docker, api.local["1.14.0"])
    record = record_facts(api.client, api.repository, digest, facts)
    assert record.facts_digest and not record.results
    gated = record_gates(api.client, api.repository, digest, {"smoke": "passed", "scan": "passed"})
    assert gated.facts_digest == record.facts_digest
    found = read_gates(api.client, api.repository, digest)
    assert found is not None and dict(found.results) == {"scan": "passed", "smoke": "passed"}
    stored = read_facts(api.client, api.repository, digest)
    assert stored is not None and stored.source == "record" and stored.graph == facts.graph
    offset = api.registry.log_offset()
    looked_up = image_facts(api.client, api.ref("1.14.0"))
    assert looked_up.source == "record" and looked_up.heads == facts.heads
    big = [r for r in api.registry.requests_since(offset) if r.method == "GET" and "/blobs/" in r.path]
    assert len(big) == 1  # the facts blob, no image layer


def test_unreadable_image_falls_back_to_the_label_and_says_so(api: ApiImages) -> None:
    push_image(api.client, api.repository, "opaque", "1.14.0")  # its one layer is not a tar
    facts = image_facts(api.client, api.ref("opaque"))
    assert (facts.source, facts.dify_version, facts.graph) == ("label", "1.14.0", None)
    assert any("its migrations could not be read" in n and "labels instead" in n for n in facts.notes)
    bare = image_facts(api.client, api.ref("base"))  # readable, but no /app/api/migrations in it
    assert (bare.source, bare.graph) == ("layers", None)
    assert any("/app/api/migrations/versions not found" in n for n in bare.notes)


def rollback_world(api: ApiImages, registry: Any, tmp_path: Path, running: str, restored: str) -> World:
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
    world = World(registry, bare, bare.path.as_uri())
    world.image, world.repository = api.image, api.repository
    world.deploy(restored, restored)
    deliver(delivery_request(repo_url=world.url, environment="production", push_mode="direct",
                            targets=(Target.from_inputs(api.image, running),), paths=(PRODUCTION,)))
    return world


def request(world: World, **extra: Any) -> RollbackRequest:
    return rollback_request(repo_url=world.url, environment="production", paths=(PRODUCTION,), **extra)


def test_rollback_between_versions_with_the_same_heads_passes(api: ApiImages, registry: Any,
                                                              tmp_path: Path) -> None:
    world = rollback_world(api, registry, tmp_path, "1.13.3", "1.13.2")
    result = rollback(request(world), api.registry_for)
    assert result.operation == "pushed" and [(g.verdict, g.method) for g in result.guard] == [("ok", "graph")]
    assert world.production(result.branch or "") == deployment(f"{api.image}:1.13.2")


def test_rollback_of_a_patch_build_with_a_migration_is_refused_naming_it(api: ApiImages, registry: Any,
                                                                         tmp_path: Path) -> None:
    world = rollback_world(api, registry, tmp_path, "1.13.3-acme.1", "1.13.3")
    with pytest.raises(GateFailed) as caught:
        rollback(request(world), api.registry_for)
    assert f"{rev(PATCH)} ({PATCH})" in str(caught.value) and "dify_plugin" in str(caught.value)
    assert world.bare.branches() == ["main"]  # nothing pushed


def test_rollback_across_a_merge_lists_three_migrations(api: ApiImages, registry: Any, tmp_path: Path) -> None:
    world = rollback_world(api, registry, tmp_path, "1.14.0", "1.13.3")
    planned = rollback(request(world, allow_schema_rollback=True, dry_run=True), api.registry_for)
    (check,) = planned.guard
    assert (check.verdict, len(check.stranded), check.stranded[-1].is_merge) == ("downgrade", 3, True)



def test_build_step_records_and_forward_report_reads_the_registry(api: ApiImages, tmp_path: Path) -> None:
    digest = api.client.resolve_digest(api.ref("1.13.3-acme.1"))
    facts, record = record_build_facts(api.docker, api.local["1.13.3-acme.1"], api.client, api.repository, digest)
    assert facts.heads == (rev(PATCH),) and record.facts_digest
    env = tmp_path / "overlays" / "production"
    env.mkdir(parents=True)
    (env / "api.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dify-api\nspec:\n  replicas: 2\n  template:\n"
        f"    spec:\n      containers:\n        - name: api\n          image: {api.image}:1.13.3\n"
        "          env:\n            - name: MIGRATION_ENABLED\n              value: \"true\"\n")
    report = forward_for(api.client, api.ref("1.13.3"), api.ref("1.13.3-acme.1"), tmp_path, ["overlays/production"])
    assert [r.slug for r in report.migrations] == [PATCH] and report.exact
    assert len(report.warnings) == 2 and "this change runs 1 migration(s)" in report.summary()


def run_cli(args: list[str], registry: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password}
    return subprocess.run([sys.executable, "-m", "dify_action", "apps", "check", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=120, cwd=cwd)


def test_apps_check_reads_the_dsl_version_from_the_image(api: ApiImages, registry: Any, docker_host: str,
                                                         tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "dsl"
    (tmp_path / "apps").mkdir()
    for name in ("workflow-completed.yml", "chat-warnings.yml"):
        shutil.copy(fixtures / name, tmp_path / "apps" / name)
    (tmp_path / "dify-action.yaml").write_text("version: 1\napps: ['apps/*.yml']\n")
    common = ["--config", "dify-action.yaml", "--json", "--registry-username", registry.username]
    new = run_cli([*common, "--image", f"{api.image}:1.14.0"], registry, tmp_path)  # DSL 0.6.0
    assert new.returncode == 0, new.stderr
    assert [a["verdict"] for a in json.loads(new.stdout)["apps"]] == ["completed-with-warnings", "completed"]
    old = run_cli([*common, "--image", f"{api.image}:1.13.3"], registry, tmp_path)  # DSL 0.5.0
    assert old.returncode == 1 and "workflow-completed.yml (pending)" in old.stderr
    engine = subprocess.run(
        [sys.executable, "-m", "dify_action", "apps", "check", "--config", "dify-action.yaml", "--image",
         api.local["1.14.0"], "--engine", "--docker-host", docker_host], capture_output=True, text=True,
        check=False, timeout=120, cwd=tmp_path)
    assert engine.returncode == 0, engine.stderr
    assert "chat-warnings.yml: chat app HR assistant (DSL 0.5.0): completed-with-warnings" in engine.stdout
    missing = run_cli([*common, "--image", f"{api.image}:base"], registry, tmp_path)
    assert missing.returncode == 2 and "dsl_version.py" in missing.stderr


def test_rollback_pull_request_names_the_stranded_migrations(api: ApiImages, registry: Any,
                                                             emulator: GitHubEmulator) -> None:
    world = World(registry, emulator.repo, emulator.clone_url)
    world.image, world.repository = api.image, api.repository
    world.deploy("1.13.3", "1.13.3")
    number = bump_pr(emulator, world, "1.14.0")
    merge(emulator, number)
    result = rollback(github_request(emulator, pr=number, allow_schema_rollback=True), api.registry_for)
    body = emulator.pulls[result.pr_number or 0].body or ""
    for slug in (V14_LEFT[1], V14_RIGHT[1], V14_MERGE[1]):  # guard_markdown: each stranded one, escaped
        assert f"{rev(slug)} {slug.replace('_', chr(92) + '_')}" in body, body
    assert "3 migration(s) applied by the running image, unknown to the restored one" in body
    assert "### Dify migration guard" in body and "restore both Postgres databases" in body
    assert any("guard overridden" in note for note in result.notes)
    assert "### Dify migration guard" in guard_markdown(result.guard, allowed=True)


def test_a_bump_pull_request_lists_the_migrations_it_runs(api: ApiImages, registry: Any,
                                                          emulator: GitHubEmulator) -> None:
    """The delivery's sections hook (what the pipeline and promote set): the PR body says which
    migrations moving production from 1.13.3 to 1.14.0 runs, read from the images in the registry."""
    from dify_action.dify.registryfacts import forward_sections

    world = World(registry, emulator.repo, emulator.clone_url)
    world.image, world.repository = api.image, api.repository
    world.deploy("1.13.3", "1.13.3")
    targets = (Target.from_inputs(api.image, "1.14.0"),)
    result = deliver(delivery_request(
        repo_url=emulator.clone_url, environment="production", targets=targets, paths=(PRODUCTION,),
        provider="github", token=emulator.token, github_api_url=emulator.api_url, sleep=lambda s: None,
        sections=forward_sections(api.registry_for, targets, (PRODUCTION,))))
    body = emulator.pulls[result.pr_number or 0].body or ""
    assert "### Dify migrations" in body and "This change runs **3 migration(s)**" in body, body
    for slug in (V14_LEFT[1], V14_RIGHT[1], V14_MERGE[1]):
        assert slug.replace("_", "\\_") in body or slug in body
    assert result.sections and result.sections[0] in body
    assert body.rstrip().endswith("-->"), "the metadata block stays last (rollback trusts only the last one)"
