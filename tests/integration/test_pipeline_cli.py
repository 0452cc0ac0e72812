"""``dify-action pipeline`` end to end in-process: build and push to the test registry, smoke-test and
scan (Trivy and hadolint of this machine, offline), record the gates, bump a file:// GitOps repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulator import BareRepo
from testbed.appsource import SMOKE, write_app_source

from dify_action.front.cli import main

pytestmark = pytest.mark.integration

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dify-api
spec:
  template:
    spec:
      containers:
        - name: api
          image: "{image}:1.13.3"  # bumped by dify-action
"""


def source(tmp_path: Path, registry: Any, smoke: str = SMOKE) -> Path:
    return write_app_source(tmp_path / "src", registry.host, smoke)


def argv(config: Path, registry: Any, docker_host: str, *extra: str) -> list[str]:
    return ["pipeline", "--config", str(config), "--registry-username", registry.username,
            "--revision", "a" * 40, "--ref", "refs/heads/main", "--event", "push", "--run-number", "42",
            "--builder", "legacy", "--docker-host", docker_host, *extra]


@pytest.fixture
def cli_env(tmp_path: Path, registry: Any, docker_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFY_ACTION_REGISTRY_PASSWORD", registry.password)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    for name in ("GITOPS_TOKEN", "GITHUB_TOKEN", "DIFY_ACTION_REGISTRY_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("cli_env", "base_image")
def test_pipeline_builds_gates_and_pushes_the_bump_branch(
        tmp_path: Path, registry: Any, docker_host: str, capsys: pytest.CaptureFixture[str]) -> None:
    image = f"{registry.host}/acme/dify-api"
    gitops = BareRepo(tmp_path / "srv", "acme", "gitops")
    gitops.commit_files("main", {"environments/staging/dify-api.yaml": MANIFEST.format(image=image)}, "initial")
    config = source(tmp_path, registry)

    code = main(argv(config, registry, docker_host, "--gitops-repo", gitops.path.as_uri(), "--environment",
                     "staging", "--provider", "git", "--path", "environments/staging", "--pin-digest", "--json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err[-4000:]
    assert registry.password not in captured.out + captured.err
    result = json.loads(captured.out)
    [built] = result["components"]
    assert (built["component"], built["image"], built["tag_names"]) == ("api", image, ["1.13.3-acme.42",
                                                                                       "sha-aaaaaaa"])
    assert built["tags"] == result["tags"] == [f"{image}:1.13.3-acme.42", f"{image}:sha-aaaaaaa"]
    digest = built["digest"]
    assert digest.startswith("sha256:") and built["size"] > 0 and built["ref"] == f"{image}:1.13.3-acme.42"
    assert result["gates"] == [{"image": image, "digest": digest, "results": ["smoke=passed", "scan=passed"]}]
    [delivery] = result["deliveries"]
    branch = "dify-action/staging/dify-api"
    assert (delivery["operation"], delivery["branch"]) == ("pushed", branch)
    assert delivery["commit"] == gitops.sha(branch) and delivery["count"] == 1
    assert [s["stage"] for s in result["stages"]] == ["build", "test", "scan", "gates", "bump"]
    assert "== dify-action scan (api)" in captured.err and "::" not in captured.out + captured.err
    text = gitops.read(branch, "environments/staging/dify-api.yaml")
    assert text == MANIFEST.format(image=image).replace(
        f"{image}:1.13.3", f"{image}:1.13.3-acme.42@{digest}").encode()
    assert gitops.read("main", "environments/staging/dify-api.yaml") == MANIFEST.format(image=image).encode()

    # the record promote reads, through the CLI's gates command
    assert main(["gates", "show", "--image", image, "--digest", digest, "--registry-username",
                 registry.username, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == {"smoke": "passed", "scan": "passed"}


@pytest.mark.usefixtures("cli_env", "base_image")
def test_a_failed_smoke_test_is_recorded_and_nothing_is_bumped(
        tmp_path: Path, registry: Any, docker_host: str, capsys: pytest.CaptureFixture[str]) -> None:
    gitops = BareRepo(tmp_path / "srv", "acme", "gitops")
    gitops.commit_files("main", {"environments/staging/dify-api.yaml": MANIFEST.format(image="x")}, "initial")
    summary = tmp_path / "summary.md"
    config = source(tmp_path, registry, smoke="test -f /missing")
    code = main(argv(config, registry, docker_host, "--gitops-repo", gitops.path.as_uri(), "--environment",
                     "staging", "--path", "environments/staging", "--provider", "git", "--summary", str(summary)))
    captured = capsys.readouterr()
    assert code == 1 and "test of" in captured.err and "the gate did not pass" in captured.err
    assert "| gates | recorded | smoke=failed |" in summary.read_text()
    assert gitops.branches() == ["main"]


def test_registry_user_without_password_is_bad_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DIFY_ACTION_REGISTRY_PASSWORD", raising=False)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    config = tmp_path / "dify-action.yaml"
    config.write_text("version: 1\ncomponents: [{name: api, image: r.example/a/b, dockerfile: Dockerfile}]\n")
    assert main(["pipeline", "--config", str(config), "--registry-username", "ci", "--tag", "1"]) == 2
    assert "DIFY_ACTION_REGISTRY_PASSWORD" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env", "base_image")
@pytest.mark.parametrize("installed", [(), ("hadolint",)])
def test_a_pipeline_whose_scanners_were_all_skipped_stops_at_the_gate(
        tmp_path: Path, registry: Any, docker_host: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, installed: tuple[str, ...]) -> None:
    """Issue 23: ``scan.missing-scanner: skip`` with no scanner on the runner ran no check, so the
    scan gate fails on both front ends (CLI and action); with one scanner present it passes and the
    skipped one is named in a warning."""
    import shutil

    from dify_action.front import action

    tools = tmp_path / "bin"  # the runner's PATH: only these scanners
    tools.mkdir()
    for name in installed:
        found = shutil.which(name)
        assert found, f"{name} is needed on PATH for this test"
        (tools / name).symlink_to(found)
    config = source(tmp_path, registry)
    with config.open("a") as handle:
        handle.write("  missing-scanner: skip\n")
    monkeypatch.setenv("PATH", str(tools))
    cli_code = main(argv(config, registry, docker_host))
    captured = capsys.readouterr()
    out = tmp_path / "github-output"
    action_code = action.main({
        "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_WORKSPACE": str(tmp_path), "PATH": str(tools),
        "GITHUB_SHA": "b" * 40, "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
        "GITHUB_RUN_NUMBER": "43", "INPUT_COMMAND": "pipeline", "INPUT_CONFIG": str(config),
        "INPUT_BUILDER": "legacy", "INPUT_DOCKER-HOST": docker_host, "INPUT_REGISTRY-USERNAME": registry.username,
        "INPUT_REGISTRY-PASSWORD": registry.password})
    acted = capsys.readouterr()
    for front, code, log in (("cli", cli_code, captured.err), ("action", action_code, acted.out + acted.err)):
        assert "trivy did not run: not installed (scan.missing-scanner: skip)" in log, (front, log[-3000:])
        if installed:
            assert code == 0, (front, log[-3000:])
        else:
            assert code == 1, (front, log[-3000:])
            assert "scan of" in log and "no check ran: trivy not installed (scan.missing-scanner: skip); hadolint " \
                   "not installed (scan.missing-scanner: skip); a gate that ran no check never passes" in log, (
                       front, log[-3000:])
