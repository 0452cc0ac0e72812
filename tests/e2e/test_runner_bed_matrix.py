"""act runs the reusable pipeline's platform matrix (issue 20) in the runner bed: a plan job, one job
per platform (linux/amd64 on ubuntu-latest, linux/arm64 on ubuntu-24.04-arm) each building, smoke-
testing, scanning and recording its gates against its own digest, then the merge job that writes the
image index, tags it and opens the bump PR pinned to the index digest.

The bed has no arm64 machine: the ubuntu-24.04-arm label maps to the same amd64 job image and the
arm64 job's RUN steps and smoke container run under QEMU (registered for the test's duration, then
unregistered). The artifact actions are offline stand-ins sharing a directory between the jobs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from test_act import STAND_INS, repository
from test_action_image import use_test_registry
from test_runner_bed_act import JOB, bed_act
from testbed.images import BUSYBOX
from testbed.qemu import aarch64_emulation, arm64_busybox
from testbed.runner import RunnerBed, expose
from testbed.runnerjob import new_job, transfer_image

pytestmark = pytest.mark.e2e
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"

CALLER = """\
name: multi-platform caller
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
      platforms: linux/amd64,linux/arm64
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
          DIGEST: ${{{{ needs.ship.outputs.digest }}}}
        run: echo "checked index=$DIGEST"
"""

CONFIG = """\
version: 1
registry:
  host: {registry}
components:
  - name: api
    image: {registry}/acme/dify-api
    context: api
    dockerfile: api/Dockerfile
tags:
  rules:
    - type=sha
smoke:
  api:
    healthcheck: false
    commands:
      - test -f /app/api/acme.txt
    timeout: 60s
scan:
  scanners: {{vuln: false}}
"""

DOCKERFILE = """\
FROM scratch
ARG TARGETARCH
COPY busybox-${TARGETARCH} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /app/api && uname -m > /app/api/acme.txt
USER 1001:1001
CMD ["sleep", "300"]
"""

def test_the_platform_matrix_merges_one_index_and_bumps_its_digest(
        runner_bed: RunnerBed, runner_keep: tuple[str, ...], docker_host: str, job_image: str, action_image: str,
        tmp_path: Path, emulator: GitHubEmulator, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bed = runner_bed
    transfer_image(docker_host, bed, job_image)
    bed.docker("tag", job_image, "python:3.11-slim-bookworm")
    job = new_job(bed, tmp_path / "_temp", (*runner_keep, job_image))
    image = f"{bed.registry}/acme/dify-api"
    use_test_registry(emulator, image)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with expose(bed, emulator.port) as where, aarch64_emulation():
        emulator.advertise = where
        repo = repository(tmp_path, CALLER.format(username=bed.username, repo=emulator.clone_url), "ship.yml")
        (repo / "api").mkdir()
        (repo / "api" / "Dockerfile").write_text(DOCKERFILE)
        shutil.copy2(BUSYBOX, repo / "api" / "busybox-amd64")
        shutil.copy2(arm64_busybox(), repo / "api" / "busybox-arm64")
        (repo / "dify-action.yaml").write_text(CONFIG.format(registry=bed.registry))
        shutil.copy2(bed.ca, repo / "bed-ca.pem")
        git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "a two-platform Dify"], check=True)
        extra = ("--local-repository", f"{UPLOAD}={STAND_INS / 'upload-artifact'}",
                 "--local-repository", f"{DOWNLOAD}={STAND_INS / 'download-artifact'}",
                 "-P", f"ubuntu-24.04-arm={JOB}", "--concurrent-jobs", "1")
        shipped = bed_act(job, repo, "ship.yml", secrets={"REGISTRY_PASSWORD": bed.password, "GITOPS_TOKEN": token},
                          env={"GITHUB_API_URL": emulator.api_url}, extra=extra,
                          mounts=f" -v {artifacts}:/stand-in-artifacts")
    log = shipped.stdout + shipped.stderr
    assert shipped.returncode == 0 and "Job failed" not in log, log[-8000:]
    assert token not in log and bed.password not in log
    index = next(line.split("digest=", 1)[1].split()[0] for line in log.splitlines()
                 if "merge the image index" in line and "::set-output:: digest=sha256:" in line)
    assert f"checked index={index}" in log  # the reusable workflow's output reaches the caller
    results = sorted(p.name for p in artifacts.rglob("*.json"))
    assert results == ["linux-amd64.json", "linux-arm64.json"]
    platforms = {}
    for path in artifacts.rglob("*.json"):
        [component] = json.loads(path.read_text())["components"]
        [entry] = component["platforms"]
        platforms[entry["platform"]] = entry["digest"]
    outside = f"127.0.0.1:{bed.host_port}/acme/dify-api"  # the bed's registry, as the host reaches it
    raw = skopeo(bed, "inspect", "--raw", f"docker://{outside}:sha-{_sha(repo)[:7]}")
    document = json.loads(raw)
    assert {m["platform"]["architecture"]: m["digest"] for m in document["manifests"]} == {
        "amd64": platforms["linux/amd64"], "arm64": platforms["linux/arm64"]}
    arm = json.loads(skopeo(bed, "inspect", "--override-arch", "arm64", "--override-os", "linux",
                            f"docker://{outside}@{index}"))
    assert arm["Architecture"] == "arm64"
    staging = next(p for p in emulator.pulls.values() if "staging" in p.head)
    text = emulator.repo.read(staging.head, "environments/staging/dify-api.yaml")
    assert text is not None and f"{image}:sha-{_sha(repo)[:7]}@{index}" in text.decode()


def _sha(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def skopeo(bed: RunnerBed, *args: str) -> bytes:
    done = subprocess.run(["skopeo", *args[:-1], "--tls-verify=false", "--creds", f"{bed.username}:{bed.password}",
                           args[-1]], capture_output=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout
