"""The action in a bed that runs it the way a GitHub-hosted runner does (issue #10): a per-job
bridge network, the docker socket mounted, a fresh image store per job, the registry on a 10.x
address with TLS. The control test shows the bed would have caught the old host-network probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from testbed.outputs import parse_output_file
from testbed.runner import RunnerBed
from testbed.runnerjob import RunnerJob, StepRun, new_job, run_container_action

from dify_action.markdown import escape

pytestmark = pytest.mark.e2e

# Inside the action container: start a busybox httpd the old way (network_mode=host) and, for
# comparison, in our own network namespace (what smoke does now), then probe 127.0.0.1 for each.
PROBE = r"""
import sys, urllib.request, urllib.error
import docker
from dify_action.engine.job import own_container
client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
image, port = sys.argv[1], 18080
own = own_container(client)
print("own-container", own)
for label, mode in (("host", "host"), ("own", f"container:{own}" if own else "host")):
    port += 1
    box = client.containers.run(image, ["sh", "-c", f"echo ok > /tmp/index.html; httpd -f -p 127.0.0.1:{port} -h /tmp"],
                                network_mode=mode, detach=True, user="0")
    try:
        verdict = "failed"
        for _ in range(40):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                verdict = "ok" if body == b"ok\n" else "bad"
                break
            except OSError:
                __import__("time").sleep(0.25)
        print(f"probe {label}: {verdict}")
    finally:
        box.remove(force=True)
"""

APP_DOCKERFILE = """\
FROM langgenius/dify-api:1.13.3
RUN echo acme > /app/api/acme.txt && mkdir -p /srv && echo ok > /srv/health
HEALTHCHECK --interval=1s --timeout=3s --retries=30 CMD wget -q -O /dev/null http://127.0.0.1:5001/health || exit 1
USER 1001:1001
CMD ["httpd", "-f", "-p", "127.0.0.1:5001", "-h", "/srv"]
"""

APP_CONFIG = """\
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
    healthcheck: true
    http-probe:
      url: http://127.0.0.1:5001/health
      timeout: 40s
    commands:
      - test -f /app/api/acme.txt
    timeout: 40s
scan:
  scanners: {{vuln: false}}
"""


@pytest.fixture
def job(runner_bed: RunnerBed, runner_keep: tuple[str, ...], tmp_path: Path) -> RunnerJob:
    return new_job(runner_bed, tmp_path / "_temp", runner_keep)


def app_workspace(tmp_path: Path, registry: str) -> Path:
    workspace = tmp_path / "workspace"
    (workspace / "api").mkdir(parents=True)
    (workspace / "api" / "Dockerfile").write_text(APP_DOCKERFILE)
    (workspace / "dify-action.yaml").write_text(APP_CONFIG.format(registry=registry))
    return workspace


def test_control_a_host_network_probe_fails_in_the_bed(
        job: RunnerJob, action_image: str, runner_keep: tuple[str, ...], tmp_path: Path) -> None:
    base = runner_keep[1]
    (tmp_path / "ws").mkdir()
    step = run_container_action(job, action_image, {}, tmp_path / "ws", entrypoint="python",
                                args=["-c", PROBE, base])
    assert step.code == 0, step.stdout + step.stderr
    lines = step.stdout.splitlines()
    assert lines[0].startswith("own-container ") and len(lines[0].split()[1]) == 64
    # the old assumption: 127.0.0.1 in the action container is the runner host. On the job network it is not.
    assert "probe host: failed" in lines, step.stdout
    assert "probe own: ok" in lines, step.stdout
    # ... while with host networking (what every e2e test used before) the same probe passes
    host = job.bed.docker("run", "--rm", "--network", "host", "-v", "/var/run/docker.sock:/var/run/docker.sock",
                          "--entrypoint", "python", action_image, "-c", PROBE, base, check=False)
    assert host.returncode == 0, host.stderr
    assert "probe host: ok" in host.stdout.splitlines() and "probe own: ok" in host.stdout.splitlines()


def pipeline_step(job: RunnerJob, action_image: str, workspace: Path) -> StepRun:
    bed = job.bed
    return run_container_action(job, action_image, {
        "command": "pipeline", "config": "dify-action.yaml", "registry-username": bed.username,
        "registry-password": bed.password, "builder": "legacy"}, workspace)


def test_pipeline_smoke_healthcheck_probe_and_commands_on_the_job_network(
        job: RunnerJob, action_image: str, tmp_path: Path) -> None:
    bed = job.bed
    workspace = app_workspace(tmp_path, bed.registry)
    step = pipeline_step(job, action_image, workspace)
    summary = step.summary
    assert step.code == 0, step.stdout[-5000:] + step.stderr[-3000:]
    assert bed.password not in step.stdout.split("\n", 1)[1] + step.stderr
    for check in ("healthcheck", "http-probe", "command: test -f /app/api/acme.txt"):
        assert f"| {escape(check)} | ok |" in summary, summary
    outputs = parse_output_file(step.output_file)
    digest = outputs["digest"]
    answer = requests.head(f"{bed.registry_url}/v2/acme/dify-api/manifests/{digest}", verify=str(bed.ca),
                           auth=(bed.username, bed.password), timeout=30, headers={
                               "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert answer.status_code == 200 and answer.headers["Docker-Content-Digest"] == digest
    assert bed.docker("ps", "-aq", "--filter", "label=io.dify-action.smoke").stdout.strip() == ""


# The scan and test jobs of a workflow: each on a fresh engine, only the digest from the build
# job's outputs and the run's registry credentials.
CROSS_JOB = r"""
import datetime, json, sys
import docker
from dify_action.config.load import HttpProbe, ScanPolicy, Scanners, SmokeSpec
from dify_action.errors import DockerError
from dify_action.registry import Credentials
from dify_action.scan.tools import ScanRequest, Tools, run_scan
from dify_action.smoke.run import run_smoke
client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
job, image, user, password = sys.argv[1:5]
credentials = Credentials(user, password)
if job == "scan":
    request = ScanRequest(image=image, credentials=credentials)
    policy = ScanPolicy(scanners=Scanners(vuln=False))
    tools = Tools.discover({"PATH": "/opt/venv/bin:/usr/bin:/bin"})
    report = run_scan(request, policy, tools, today=datetime.date.today())
    print(json.dumps({"passed": report.passed, "ran": list(report.ran)}))
    sys.exit(0)
probe = HttpProbe("http://127.0.0.1:5001/health", 200, 40.0)
spec = SmokeSpec(http_probe=probe, commands=("test -f /app/api/acme.txt",), timeout=40.0)
try:
    run_smoke(client, image, spec)
except DockerError as error:
    print("anonymous:", error)
result = run_smoke(client, image, spec, credentials=credentials)
print(json.dumps(result.as_dict()))
"""


def test_a_fresh_test_job_pulls_the_image_by_digest_with_the_run_credentials(
        runner_bed: RunnerBed, runner_keep: tuple[str, ...], action_image: str, tmp_path: Path) -> None:
    bed = runner_bed
    build_job = new_job(bed, tmp_path / "_temp", runner_keep)
    workspace = app_workspace(tmp_path, bed.registry)
    built = run_container_action(build_job, action_image, {
        "command": "build", "config": "dify-action.yaml", "registry-username": bed.username,
        "registry-password": bed.password, "builder": "legacy"}, workspace)
    assert built.code == 0, built.stdout[-4000:] + built.stderr[-2000:]
    outputs = parse_output_file(built.output_file)
    reference = f"{outputs['image']}:{outputs['tag-names'].splitlines()[0]}@{outputs['digest']}"

    scan_job = new_job(bed, tmp_path / "_temp2", runner_keep)
    assert bed.docker("image", "inspect", reference, check=False).returncode != 0  # a fresh machine
    scanned = run_container_action(scan_job, action_image, {}, workspace, entrypoint="python",
                                   args=["-c", CROSS_JOB, "scan", reference, bed.username, bed.password])
    assert scanned.code == 0, scanned.stdout[-4000:] + scanned.stderr[-4000:]
    report = json.loads(scanned.stdout.splitlines()[-1])
    assert report["passed"] and report["ran"] == [f"trivy image {reference} (secret)"], report

    test_job = new_job(bed, tmp_path / "_temp3", runner_keep)
    assert bed.docker("image", "inspect", reference, check=False).returncode != 0
    step = run_container_action(test_job, action_image, {}, workspace, entrypoint="python",
                                args=["-c", CROSS_JOB, "test", reference, bed.username, bed.password])
    assert step.code == 0, step.stdout[-4000:] + step.stderr[-4000:]
    lines = step.stdout.splitlines()
    assert f"anonymous: image {reference} is not in the Docker engine and could not be pulled" in step.stdout
    assert "hint: no registry credentials were given; give registry-username and registry-password" in step.stdout
    result_line = lines[-1]
    assert bed.password not in step.stdout
    result = json.loads(result_line)
    assert result["passed"], result
    assert [c["name"] for c in result["checks"]] == ["healthcheck", "http-probe", "command: test -f /app/api/acme.txt"]

    # the same through the action's front end, as test/action.yml runs it (the command is the
    # container's argument, runs.args; no command input): a fresh job, the run's credentials
    action_job = new_job(bed, tmp_path / "_temp4", runner_keep)
    assert bed.docker("image", "inspect", reference, check=False).returncode != 0
    tested = run_container_action(action_job, action_image, {
        "config": "dify-action.yaml", "components": "api", "image": reference,
        "registry-username": bed.username, "registry-password": bed.password}, workspace, args=("test",))
    assert tested.code == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert bed.password not in tested.stdout.split("\n", 1)[1] + tested.stderr


CACHED_DOCKERFILE = """\
FROM langgenius/dify-api:1.13.3
ARG ROUND=1
# a BuildKit cache mount survives between builds on the same engine; the legacy builder rejects it
RUN --mount=type=cache,target=/cache echo "round $ROUND" >> /cache/rounds && cp /cache/rounds /app/api/rounds
USER 1001:1001
CMD ["sleep", "300"]
"""

SECRET_DOCKERFILE = """\
FROM langgenius/dify-api:1.13.3
RUN --mount=type=secret,id=index_token wc -c < /run/secrets/index_token > /app/api/secret-length
RUN test ! -e /run/secrets/index_token
"""

BUILDKIT = r"""
import sys
from pathlib import Path
from dify_action.engine.docker import BuildRequest, DockerEngine, Throttle
engine = DockerEngine("unix:///var/run/docker.sock")
print("builder", engine.choose("auto"))
lines = []
request = BuildRequest(Path("/github/workspace/secret/Dockerfile"), Path("/github/workspace/secret"),
                       ("bed/secret:1",), secrets={"index_token": sys.argv[1]})
engine.build(request, "buildkit", Throttle(lines.append, interval=0))
print("log-has-secret", any(sys.argv[1] in line for line in lines))
print(engine.client.containers.run("bed/secret:1", ["cat", "/app/api/secret-length"], remove=True).decode().strip())
"""


def test_buildkit_cache_and_secret_mounts_inside_the_action_container(
        job: RunnerJob, action_image: str, tmp_path: Path) -> None:
    bed = job.bed
    workspace = app_workspace(tmp_path, bed.registry)
    (workspace / "api" / "Dockerfile").write_text(CACHED_DOCKERFILE)
    for round_number in ("1", "2"):
        step = run_container_action(job, action_image, {
            "command": "build", "config": "dify-action.yaml", "push": "false", "tags": f"round-{round_number}",
            "build-args": f"ROUND={round_number}"}, workspace)  # builder: auto -> BuildKit (the bundled CLI)
        assert step.code == 0, step.stdout[-4000:] + step.stderr[-3000:]
    assert "building api with buildkit" in step.stdout + step.stderr, step.stderr[-3000:]
    rounds = bed.docker("run", "--rm", f"{bed.registry}/acme/dify-api:round-2", "cat", "/app/api/rounds").stdout
    assert rounds.splitlines() == ["round 1", "round 2"]

    (workspace / "secret").mkdir()
    (workspace / "secret" / "Dockerfile").write_text(SECRET_DOCKERFILE)
    token = "idx-" + "s3cr3t" * 4
    step = run_container_action(job, action_image, {}, workspace, entrypoint="python", args=["-c", BUILDKIT, token])
    assert step.code == 0, step.stdout[-4000:] + step.stderr[-4000:]
    assert step.stdout.splitlines() == ["builder buildkit", "log-has-secret False", str(len(token))]
    history = bed.docker("history", "--no-trunc", "bed/secret:1").stdout
    assert token not in history
