"""Promote never splits a release silently (issue 23): staging moved the official web beside the
customized api; a promotion that moves only the api lists web as left behind, with the reason and
the fix, on every front end (the core, the CLI's --json, the action's json output and summary);
``promote.official`` in the config moves the upstream image too, without a gate record here.
Real registry (htpasswd), a real bare GitOps repository over file://."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_promote import PRODUCTION, STAGING, World, deployment, push_image, run_cli
from testbed.outputs import parse_output_file

from dify_action.front import action
from dify_action.promote.run import promote
from dify_action.registry.gates import record_gates
from dify_action.verify.record import Verification, now_text, record_verification

pytestmark = pytest.mark.integration


def web(image: str) -> str:
    return deployment(image).replace("dify-api", "dify-web").replace("initContainers", "x-init")


class Release(World):
    """The customized api (built and gated here) and an official web image (never gated here)."""

    def __init__(self, registry: Any, bare: Any, url: str) -> None:
        super().__init__(registry, bare, url)
        self.web_repository = self.repository.replace("dify-api", "dify-web")
        self.web = f"{registry.host}/{self.web_repository}"

    def ship(self) -> str:
        push_image(self.client, self.repository, "sha-000")
        api = push_image(self.client, self.repository, "sha-111")
        record_gates(self.client, self.repository, api, {"smoke": "passed", "scan": "passed"})
        # verify proved it in staging (issue 18): the record promote requires by default
        record_verification(self.client, self.repository, api, Verification(
            "staging", "passed", "0" * 40, "0" * 40, now_text(), ("docker",), 0.0, None))
        for tag in ("1.13.3", "1.13.4"):
            push_image(self.client, self.web_repository, tag)
        self.bare.commit_files("main", {
            f"{STAGING}/api.yaml": deployment(f"{self.image}:sha-111"),
            f"{STAGING}/web.yaml": web(f"{self.web}:1.13.4"),
            f"{PRODUCTION}/api.yaml": deployment(f"{self.image}:sha-000"),
            f"{PRODUCTION}/web.yaml": web(f"{self.web}:1.13.3")}, "deploy")
        return api

    def config(self, tmp_path: Path, official: str = "") -> Path:
        path = tmp_path / "dify-action.yaml"
        path.write_text(
            f"version: 1\ncomponents:\n  - {{name: api, image: {self.image}, dockerfile: Dockerfile}}\n"
            f"environments:\n  staging: {{paths: [{STAGING}], provider: git}}\n"
            f"  production: {{paths: [{PRODUCTION}], provider: git}}\n" + official)
        (tmp_path / "Dockerfile").write_text("FROM scratch\n")
        return path


@pytest.fixture
def release(registry: Any, tmp_path: Path) -> Release:
    from emulator import BareRepo

    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"README.md": "GitOps\n"}, "initial")
    return Release(registry, bare, bare.path.as_uri())


def test_the_core_lists_what_it_left_behind_and_why(release: Release) -> None:
    release.ship()
    result = promote(release.request(ours=(release.image,)), release.registry_for)
    assert [p.ref.name for p in result.images] == [release.image]
    (left,) = result.left
    assert (left.image, left.source, left.target) == (release.web, "1.13.4", "1.13.3")
    assert "not in promote.official" in left.reason
    assert any(n.startswith(f"NOT promoted: {release.web} (staging: 1.13.4, production: 1.13.3)") for n in result.notes)
    assert result.as_dict()["left"] == [left.as_dict()]


def test_the_cli_json_and_the_action_output_say_it_too(release: Release, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    release.ship()
    config = release.config(tmp_path)
    args = ["--gitops-repo", release.url, "--from-environment", "staging", "--to-environment", "production",
            "--config", str(config), "--dry-run", "--json"]
    done = run_cli(args, release.registry)
    assert done.returncode == 0, done.stderr
    left = json.loads(done.stdout)["promote"]["left"]
    assert [(item["image"], item["from"], item["to"]) for item in left] == [(release.web, "1.13.4", "1.13.3")]
    outputs, summary = tmp_path / "outputs", tmp_path / "summary"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_WORKSPACE": str(tmp_path), "INPUT_GITOPS-REPO": release.url, "INPUT_CONFIG": str(config),
           "INPUT_FROM-ENVIRONMENT": "staging", "INPUT_TO-ENVIRONMENT": "production", "INPUT_DRY-RUN": "true",
           "INPUT_REGISTRY-USERNAME": release.registry.username,
           "INPUT_REGISTRY-PASSWORD": release.registry.password}
    assert action.main(env, ["promote"]) == 0, capsys.readouterr()
    assert "### promote: NOT promoted (1)" in summary.read_text() and "dify-web" in summary.read_text()
    document = json.loads(parse_output_file(outputs.read_text())["json"])
    assert document["promote"]["left"] == left


def test_an_official_policy_moves_the_upstream_image_without_a_gate_record(release: Release, tmp_path: Path) -> None:
    release.ship()
    config = release.config(tmp_path, f"promote:\n  official: [{release.web}]\n")
    done = run_cli(["--gitops-repo", release.url, "--from-environment", "staging", "--to-environment",
                    "production", "--config", str(config), "--json"], release.registry)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)["promote"]
    assert sorted(image["image"] for image in data["images"]) == sorted([release.image, release.web])
    assert data["left"] == []
    assert any("official upstream image (promote.official)" in note for note in data["notes"])
    branch = data["branch"]
    web_text = release.bare.read(branch, f"{PRODUCTION}/web.yaml")
    assert web_text is not None and f"{release.web}:1.13.4" in web_text.decode()
