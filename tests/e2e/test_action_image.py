"""The action image, built from the Dockerfile and run the way the runner runs container actions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from actionrun import ActionRun, action_context, docker, run_action
from emulator import GitHubEmulator
from testbed import Registry
from testbed.appsource import SMOKE, write_app_source

from dify_action.delivery import parse_metadata
from dify_action.markdown import code

pytestmark = pytest.mark.e2e

API = "127.0.0.1:5000/acme/dify-api"
MANIFEST = """\
# staging api: keep this comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dify-api
spec:
  template:
    spec:
      containers:
        - name: api
          image: "127.0.0.1:5000/acme/dify-api:1.13.3"   # pinned by dify-action
"""


def workspace_with_gitops(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    target = workspace / "gitops" / "environments" / "staging"
    target.mkdir(parents=True)
    (target / "api.yaml").write_text(MANIFEST)
    # a repository owned by someone else: git must still trust the workspace (safe.directory)
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    return workspace


def test_bump_a_checked_out_gitops_tree(docker_host: str, action_image: str, tmp_path: Path) -> None:
    workspace = workspace_with_gitops(tmp_path)
    run = run_action(docker_host, action_image, {
        "command": "bump", "gitops-dir": "gitops", "image": f"{API}:1.13.3-acme.42", "paths": "environments/staging",
        "token": "ghs-s3cret-value",
    }, workspace)
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == "::add-mask::ghs-s3cret-value"
    assert (workspace / "gitops/environments/staging/api.yaml").read_text() == MANIFEST.replace(
        "dify-api:1.13.3\"", "dify-api:1.13.3-acme.42\"")
    assert run.outputs["operation"] == "edited" and run.outputs["image"] == API
    assert "## dify-action bump: passed" in run.summary
    assert f"| {code('environments/staging/api.yaml:11')} | {code(API + ':1.13.3')} | " \
           f"{code(API + ':1.13.3-acme.42')} |" in run.summary

    again = run_action(docker_host, action_image, {"command": "bump", "gitops-dir": "gitops",
                                                   "image": f"{API}:1.13.3-acme.42"}, workspace)
    assert again.code == 0 and again.outputs["operation"] == "none"


@pytest.mark.parametrize(("inputs", "message"), [
    ({"command": "bump", "dry-run": "yes"}, "::error title=dify-action bump::invalid dry-run 'yes': true or false"),
    ({"command": "deploy"}, "::error title=dify-action deploy::invalid command 'deploy': one of build, test"),
    ({"command": "bump", "gitops-dir": "gitops", "image": f"{API}:bad tag!"}, "::error title=dify-action bump::"),
    ({"command": "promote", "gitops-dir": "gitops", "from-environment": "staging"},
     "::error title=dify-action promote::dify-action promote does not take the input gitops-dir: it would ignore it"),
])
def test_bad_input_exits_2_with_an_annotation_and_changes_nothing(
        docker_host: str, action_image: str, tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    workspace = workspace_with_gitops(tmp_path)
    run = run_action(docker_host, action_image, {**inputs, "token": "ghs_tokenvalue123"}, workspace)
    assert run.code == 2, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("::add-mask::ghs_tokenvalue123")
    assert any(line.startswith(message) for line in lines), run.stdout
    assert "ghs_tokenvalue123" not in "\n".join(lines[2:]) + run.stderr
    assert (workspace / "gitops/environments/staging/api.yaml").read_text() == MANIFEST
    assert run.outputs == {} and "passed" not in run.summary


def test_bump_pull_request_in_the_github_emulator(docker_host: str, action_image: str, tmp_path: Path,
                                                  emulator: GitHubEmulator, token: str) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    inputs = {
        "command": "bump", "gitops-repo": emulator.clone_url, "github-api-url": emulator.api_url,
        "environment": "staging", "paths": "environments/staging", "image": f"{API}:1.13.3-acme.42",
        "pr-labels": "deploy\nstaging", "token": token,
    }
    run = run_action(docker_host, action_image, inputs, workspace)
    assert run.code == 0, run.stdout + run.stderr
    masks, rest = run.stdout.split("\n", 2)[:2], run.stdout.split("\n", 2)[2]
    assert masks[0] == f"::add-mask::{token}" and masks[1].startswith("::add-mask::")
    assert token not in rest + run.stderr + run.summary + str(run.outputs)
    assert run.outputs["operation"] == "created"
    pull = emulator.pulls[int(run.outputs["pull-request-number"])]
    assert run.outputs["pull-request-url"] == f"{emulator.urls.html}/acme/gitops/pull/{pull.number}"
    assert run.outputs["branch"] == "dify-action/staging/dify-api" == pull.head
    assert emulator.repo.sha(pull.head) == run.outputs["commit"]
    assert [label.name for label in pull.labels] == ["deploy", "staging"]
    meta = parse_metadata(pull.body)
    assert meta is not None and meta.source_sha == "a" * 40 and meta.environment == "staging"
    assert "https://github.example/acme/dify-custom/actions/runs/7" in (pull.body or "")
    assert f"| created | 3 value(s) PR #{pull.number}" in run.summary.replace("| bump ", "")

    rerun = run_action(docker_host, action_image, inputs, workspace)
    assert rerun.code == 0 and rerun.outputs["operation"] == "unchanged"
    assert rerun.outputs["pull-request-number"] == run.outputs["pull-request-number"]
    assert len(emulator.open_pulls()) == 1


def test_forge_failure_is_exit_1_with_an_error_annotation(docker_host: str, action_image: str, tmp_path: Path,
                                                          emulator: GitHubEmulator) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = run_action(docker_host, action_image, {
        "command": "bump", "gitops-repo": emulator.clone_url, "github-api-url": emulator.api_url,
        "environment": "staging", "paths": "environments/staging", "image": f"{API}:1.13.3-acme.42",
        "token": "ghs_wrongwrongwrong",
    }, workspace)
    assert run.code == 1, run.stdout + run.stderr
    assert any(line.startswith("::error title=dify-action bump::") for line in run.stdout.splitlines()), run.stdout
    assert "ghs_wrongwrongwrong" not in run.stdout.split("\n", 2)[2] + run.stderr
    assert not emulator.pulls


def test_image_entrypoint_scanners_and_size(docker_host: str, action_image: str, job_image: str,
                                            tmp_path: Path) -> None:
    info = docker(docker_host, "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Size}}", action_image)
    entrypoint, size = info.stdout.split()
    assert entrypoint == '["python","/app/entrypoint.py"]'
    for tool in ("trivy", "hadolint"):  # the default image scans inside the container
        ran = docker(docker_host, "run", "--rm", "--network", "host", "--entrypoint", tool, action_image, "--version")
        assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
    base = int(docker(docker_host, "image", "inspect", "--format", "{{.Size}}", job_image).stdout)
    slim = docker(docker_host, "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={job_image}",
                  "--build-arg", "SCANNERS=false", "--build-arg", "DOCKER_CLI=false", "-t", "dify-action:e2e-slim",
                  str(action_context(tmp_path / "ctx")))
    assert slim.returncode == 0, slim.stderr
    slim_size = int(docker(docker_host, "image", "inspect", "--format", "{{.Size}}", "dify-action:e2e-slim").stdout)
    assert slim_size - base < 80_000_000  # the slim image: dependencies + package on top of the base
    assert int(size) - slim_size > 150_000_000  # what the bundled scanners weigh


def source_workspace(tmp_path: Path, registry: Registry, smoke: str = SMOKE) -> Path:
    workspace = tmp_path / "workspace"
    write_app_source(workspace, registry.host, smoke)
    return workspace


def pipeline(docker_host: str, action_image: str, workspace: Path, registry: Registry, emulator: GitHubEmulator,
             token: str) -> ActionRun:
    return run_action(docker_host, action_image, {
        "command": "pipeline", "config": "dify-action.yaml", "registry-username": registry.username,
        "registry-password": registry.password, "gitops-repo": emulator.clone_url,
        "github-api-url": emulator.api_url, "environment": "staging", "paths": "environments/staging",
        "pin-digest": "true", "token": token, "builder": "legacy",
    }, workspace, docker_socket=True)


def use_test_registry(emulator: GitHubEmulator, image: str) -> None:
    emulator.repo.commit_files("main", {
        f"environments/{env}/dify-api.yaml": MANIFEST.replace("127.0.0.1:5000/acme/dify-api", image)
        for env in ("staging", "production")}, "environments use the test registry")


def test_pipeline_build_push_test_scan_then_bump_pr(
        docker_host: str, action_image: str, base_image: str, registry: Registry, tmp_path: Path,
        emulator: GitHubEmulator, token: str) -> None:
    image = f"{registry.host}/acme/dify-api"
    use_test_registry(emulator, image)
    run = pipeline(docker_host, action_image, source_workspace(tmp_path, registry), registry, emulator, token)
    assert run.code == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert run.stdout.splitlines()[0] == f"::add-mask::{registry.password}"
    assert registry.password not in run.stdout.split("\n", 1)[1] + run.stderr
    assert run.outputs["tag-names"].splitlines() == ["1.13.3-acme.42", "sha-aaaaaaa"]
    assert run.outputs["tags"].splitlines() == [f"{image}:1.13.3-acme.42", f"{image}:sha-aaaaaaa"]
    assert json.loads(run.outputs["json"])["components"][0]["digest"] == run.outputs["digest"]
    assert run.outputs["image"] == image and run.outputs["ref"] == f"{image}:1.13.3-acme.42"
    digest = run.outputs["digest"]
    assert digest.startswith("sha256:") and int(run.outputs["size"]) > 0
    assert run.outputs["operation"] == "created"
    pull = emulator.pulls[int(run.outputs["pull-request-number"])]
    text = emulator.repo.read(pull.head, "environments/staging/dify-api.yaml")
    assert text is not None and f'"{image}:1.13.3-acme.42@{digest}"' in text.decode()
    for stage in ("| build | passed |", "| test | passed |", "| scan | passed |",
                  "| gates | recorded | smoke=passed, scan=passed |", "| bump | created |"):
        assert stage in run.summary, run.summary
    # the scanners bundled in the image really ran (nothing skipped)
    assert "trivy image" in run.summary and "hadolint" in run.summary, run.summary
    assert "skipped" not in run.summary.split("| scan |", 1)[1].split("\n", 1)[0]


def merge(emulator: GitHubEmulator, number: int) -> None:
    answer = requests.put(f"{emulator.api_url}/repos/{emulator.full_name}/pulls/{number}/merge",
                          json={"merge_method": "merge"}, headers={"Authorization": f"token {emulator.token}"},
                          timeout=30)
    assert answer.status_code == 200, answer.text


def test_promote_then_rollback_through_the_action(
        docker_host: str, action_image: str, base_image: str, registry: Registry, tmp_path: Path,
        emulator: GitHubEmulator, token: str) -> None:
    image = f"{registry.host}/acme/dify-api"
    use_test_registry(emulator, image)
    workspace = source_workspace(tmp_path, registry)
    # what runs today (image:1.13.3) is a real build too, so the rollback's migration guard can read it
    first = run_action(docker_host, action_image, {
        "command": "build", "config": "dify-action.yaml", "tags": "1.13.3", "builder": "legacy",
        "registry-username": registry.username, "registry-password": registry.password}, workspace,
        docker_socket=True)
    assert first.code == 0 and first.outputs["tag-names"] == "1.13.3", first.stdout[-3000:]
    built = pipeline(docker_host, action_image, workspace, registry, emulator, token)
    assert built.code == 0, built.stdout[-3000:] + built.stderr[-3000:]
    merge(emulator, int(built.outputs["pull-request-number"]))
    common = {"gitops-repo": emulator.clone_url, "github-api-url": emulator.api_url, "provider": "github",
              "token": token, "registry-username": registry.username, "registry-password": registry.password}
    promoted = run_action(docker_host, action_image, {
        "command": "promote", "from-environment": "staging", "to-environment": "production",
        "from-paths": "environments/staging", "to-paths": "environments/production", "registry-tag": "production",
        "require-verified": "false", **common}, tmp_path / "workspace")  # verify: its own tests (issue 18)
    assert promoted.code == 0, promoted.stdout[-3000:] + promoted.stderr[-3000:]
    assert promoted.outputs["operation"] == "created"
    pull = emulator.pulls[int(promoted.outputs["pull-request-number"])]
    text = emulator.repo.read(pull.head, "environments/production/dify-api.yaml")
    assert text is not None and f"{image}:1.13.3-acme.42@{built.outputs['digest']}" in text.decode()
    answer = requests.head(f"{registry.url}/v2/acme/dify-api/manifests/production",
                           auth=(registry.username, registry.password), timeout=30, headers={
                               "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert answer.headers.get("Docker-Content-Digest") == built.outputs["digest"]
    assert "## dify-action promote: passed" in promoted.summary
    assert registry.password not in promoted.stdout.split("\n", 2)[2]

    rolled = run_action(docker_host, action_image, {
        "command": "rollback", "pull-request-number": built.outputs["pull-request-number"], **common},
        tmp_path / "workspace")
    assert rolled.code == 0, rolled.stdout[-3000:] + rolled.stderr[-3000:]
    assert rolled.outputs["operation"] == "created"
    revert = emulator.pulls[int(rolled.outputs["pull-request-number"])]
    assert [label.name for label in revert.labels] == ["rollback"]
    assert f"Rolls back #{built.outputs['pull-request-number']}" in (revert.body or "")


def test_promotion_of_a_failed_gate_is_refused(
        docker_host: str, action_image: str, base_image: str, registry: Registry, tmp_path: Path,
        emulator: GitHubEmulator, token: str) -> None:
    image = f"{registry.host}/acme/dify-api"
    use_test_registry(emulator, image)
    failed = pipeline(docker_host, action_image, source_workspace(tmp_path, registry, smoke="test -f /missing"),
                      registry, emulator, token)
    assert failed.code == 1, failed.stdout[-3000:]
    assert "| gates | recorded | smoke=failed |" in failed.summary and not emulator.pulls
    digest = failed.outputs["digest"]
    # someone deploys the failed digest to staging by hand; promote must refuse to carry it on
    emulator.repo.commit_files("main", {"environments/staging/dify-api.yaml": MANIFEST.replace(
        "127.0.0.1:5000/acme/dify-api:1.13.3", f"{image}:1.13.3-acme.42@{digest}")}, "manual staging deploy")
    before = emulator.repo.sha("main")
    refused = run_action(docker_host, action_image, {
        "command": "promote", "from-environment": "staging", "to-environment": "production",
        "from-paths": "environments/staging", "to-paths": "environments/production",
        "gitops-repo": emulator.clone_url, "github-api-url": emulator.api_url, "provider": "github",
        "token": token, "registry-username": registry.username, "registry-password": registry.password,
    }, tmp_path / "workspace")
    assert refused.code == 1, refused.stdout[-3000:]
    errors = [line for line in refused.stdout.splitlines() if line.startswith("::error title=dify-action promote::")]
    assert errors and "smoke" in errors[0], refused.stdout[-3000:]
    assert not emulator.pulls and emulator.repo.sha("main") == before
