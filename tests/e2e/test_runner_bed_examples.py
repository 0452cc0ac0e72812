"""Every example caller of examples/workflows/ runs as written, byte for byte, under act in the
runner bed (issue 23): the bed stands in for the public names the examples use the way production
sees them. ``ghcr.io`` is the bed's registry (TLS from the bed's CA, the job's GITHUB_TOKEN accepted
for github.actor, as GHCR does); ``github.com`` and ``api.github.com`` are the GitHub emulator over
TLS, holding ``acme/dify-gitops``; the App token comes from the minting stand-in and the pinned
``org/dify-action@<sha>`` from this checkout (act's --local-repository: the runner's side, not the
file's). What each produced is read back: images and tags in the registry, pull requests in the
emulator, the step outputs in act's log; the promotion carries Dify's official web with the api (one
release set, issue 21) and names the upstream sidecar it left behind (issue 23 item 7, on the third
front end). A control shows the names resolve only through the
stand-in: without it nothing answers, and no route leaves the namespace."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from emulator import GitHubEmulator, OpenApiValidator
from gitopstree import deployment
from integration.conftest import SecretWatch, check_emulator
from test_act import repository
from test_action_image import use_test_registry
from test_runner_bed_act import JOB, MINT, PINNED, bed_act
from testbed.appsource import write_app_source
from testbed.runner import ADDRESS, GITHUB_SOCKET, STAND_INS, RunnerBed, expose
from testbed.runnerjob import RunnerJob, new_job, run_container_action, transfer_image

from dify_action.registry import Credentials, RegistryClient
from dify_action.verify.record import Verification, now_text, record_verification

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
IMAGE = "ghcr.io/acme/dify-api"
ACTOR = "acme-dev"  # github.actor of the push; GHCR takes the job's GITHUB_TOKEN as its password
def web(tag: str) -> str:
    return deployment("dify-web", f"langgenius/dify-web:{tag}", "web")


def proxy(tag: str) -> str:
    return deployment("dify-proxy", f"nginx:{tag}", "proxy")


SET_OUTPUT = re.compile(r"\]\s+⚙\s+::set-output:: ([a-z-]+)=(.*)$")


def step_outputs(log: str) -> dict[str, str]:
    """The outputs act's log shows the steps setting (first line of a multi-line value)."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        match = SET_OUTPUT.search(line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def manifest_digest(bed: RunnerBed, tag: str) -> str | None:
    answer = requests.head(f"{bed.registry_url}/v2/acme/dify-api/manifests/{tag}", verify=str(bed.ca),
                           auth=(bed.username, bed.password), timeout=30, headers={
                               "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    return answer.headers.get("Docker-Content-Digest") if answer.status_code == 200 else None


def as_written(repo: Path) -> dict[str, tuple[str, ...]]:
    """Copy every example caller into the repository unchanged; act's arguments serving each one's
    pinned ``org/dify-action@<sha>`` from this checkout."""
    served: dict[str, tuple[str, ...]] = {}
    for example in sorted(EXAMPLES.glob("*.yml")):
        target = repo / ".github" / "workflows" / example.name
        shutil.copyfile(example, target)
        assert target.read_bytes() == example.read_bytes()
        pinned = PINNED.search(example.read_text())
        assert pinned is not None, f"{example.name}: pinned to a full SHA"
        served[example.name] = (MINT, "--local-repository", f"org/dify-action@{pinned.group(1)}={repo}",
                                "--var", "GITOPS_APP_ID=271828", "--actor", ACTOR)
    assert set(served) == {"dify-pipeline.yml", "dify-promote.yml", "dify-rollback.yml"}, (
        "a new example caller needs its run here")
    return served


@pytest.fixture
def public_github(tmp_path: Path, token: str, openapi: OpenApiValidator, secret_watch: SecretWatch,
                  runner_bed: RunnerBed) -> Iterator[GitHubEmulator]:
    """The emulator as github.com holding acme/dify-gitops, over TLS inside the bed."""
    em = GitHubEmulator(tmp_path / "srv", token, name="dify-gitops").start()
    em.public = "github.com"
    use_test_registry(em, IMAGE)
    # staging already runs Dify 1.13.3's official web (the api's release), production 1.13.2's (issue 21:
    # promote carries it); and an upstream sidecar differs, which promote leaves behind and names (issue 23)
    em.repo.commit_files("main", {"environments/staging/dify-web.yaml": web("1.13.3"),
                                  "environments/production/dify-web.yaml": web("1.13.2"),
                                  "environments/staging/dify-proxy.yaml": proxy("1.27.1"),
                                  "environments/production/dify-proxy.yaml": proxy("1.27.0")},
                         "staging runs Dify 1.13.3's web and a newer proxy")
    port = em.serve_tls(*runner_bed.server_tls)
    try:
        with expose(runner_bed, port, GITHUB_SOCKET):
            yield em
    finally:
        em.stop()
    check_emulator(em, openapi, secret_watch)


@pytest.mark.timeout(1800)
def test_every_example_caller_runs_as_written_in_the_bed(
        runner_bed: RunnerBed, runner_keep: tuple[str, ...], docker_host: str, job_image: str, action_image: str,
        tmp_path: Path, public_github: GitHubEmulator, token: str) -> None:
    bed, emulator = runner_bed, public_github
    assert job_image == JOB
    transfer_image(docker_host, bed, job_image)
    bed.docker("tag", job_image, "python:3.11-slim-bookworm")
    job = new_job(bed, tmp_path / "_temp", (*runner_keep, job_image))
    github_token, registry_password = "ghs_" + secrets.token_hex(18), secrets.token_urlsafe(18)
    bed.add_user(ACTOR, github_token)  # GHCR: github.actor with the job's GITHUB_TOKEN
    bed.add_user("acme-ci", registry_password)  # the registry user the promote and rollback callers name
    pipeline_text = (EXAMPLES / "dify-pipeline.yml").read_text()
    repo = repository(tmp_path, pipeline_text, "dify-pipeline.yml")
    served = as_written(repo)
    config = write_app_source(repo, "ghcr.io")
    with config.open("a") as handle:  # the example callers name environments, the config their files
        handle.write("environments:\n  staging: {paths: [environments/staging]}\n"
                     "  production: {paths: [environments/production]}\n")
    shutil.copy2(bed.ca, repo / "bed-ca.pem")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "the customized Dify"], check=True)
    subprocess.run([*git, "branch", "-M", "main"], check=True)  # the pipeline caller runs on pushes to main
    # what runs today (ghcr.io/acme/dify-api:1.13.3) is a real build, so the rollback's guard can read it
    first = run_container_action(job, action_image, {
        "command": "build", "config": "dify-action.yaml", "tags": "1.13.3", "builder": "legacy",
        "registry-username": bed.username, "registry-password": bed.password}, repo,
        options=bed.container_hosts.split())
    assert first.code == 0, first.stdout[-3000:] + first.stderr[-3000:]

    # the runner's trust store and name resolution, never the files: the bed's CA for every client
    # (git too), and the stand-in names in every job container
    ca = f"{repo}/bed-ca.pem"
    runner = {"GIT_SSL_CAINFO": ca, "STAND_IN_APP_TOKEN": token}
    hosts = f" {bed.container_hosts}"
    app = {"GITOPS_APP_PRIVATE_KEY": "-----BEGIN stand-in key-----"}
    shipped = bed_act(job, repo, "dify-pipeline.yml", secrets={**app, "GITHUB_TOKEN": github_token}, env=runner,
                      extra=served["dify-pipeline.yml"], mounts=hosts)
    log = shipped.stdout + shipped.stderr
    assert shipped.returncode == 0, log[-8000:]
    for secret in (token, github_token, registry_password, bed.password):
        assert secret not in log
    outputs = step_outputs(log)
    digest = outputs["digest"]
    assert digest.startswith("sha256:") and outputs["operation"] == "created", outputs
    assert outputs["pull-request-url"] == "https://github.com/acme/dify-gitops/pull/1"
    assert outputs["image"] == IMAGE and manifest_digest(bed, outputs["tag-names"]) == digest
    staging = emulator.pulls[1]
    text = emulator.repo.read(staging.head, "environments/staging/dify-api.yaml")
    assert text is not None and f"{IMAGE}:{outputs['tag-names']}@{digest}" in text.decode()
    merged = requests.put(f"{emulator.local_api_url}/repos/{emulator.full_name}/pulls/1/merge",
                          json={"merge_method": "merge"}, headers={"Authorization": f"token {emulator.token}"},
                          timeout=30)
    assert merged.status_code == 200, merged.text

    # verify ran in staging (issue 18 has its own tests): the record promote requires by default
    record_verification(host_client(bed), "acme/dify-api", digest, Verification(
        "staging", "passed", "0" * 40, "0" * 40, now_text(), ("docker",), 0.0, None))
    registry = {**app, "REGISTRY_PASSWORD": registry_password}
    promote = bed_act(job, repo, "dify-promote.yml", event="workflow_dispatch", secrets=registry, env=runner,
                      extra=served["dify-promote.yml"], mounts=hosts)
    log = promote.stdout + promote.stderr
    assert promote.returncode == 0, log[-8000:]
    assert "stand-in create-github-app-token: App 271828, repositories dify-gitops" in log
    for secret in (token, registry_password, bed.password):
        assert secret not in log
    outputs = step_outputs(log)
    [production] = [p for p in emulator.pulls.values() if p.base == "main" and "production" in p.head]
    assert outputs["pull-request-url"] == f"https://github.com/acme/dify-gitops/pull/{production.number}"
    text = emulator.repo.read(production.head, "environments/production/dify-api.yaml")
    assert text is not None and f"@{digest}" in text.decode()
    # Dify's official web travels with the api (one release set, issue 21), shown in the PR's set table;
    # the upstream proxy is not ours (not built here, no promote.official): left, and said, never silent
    assert "an official Dify image, carried with the release set" in log, log[-8000:]
    assert emulator.repo.read(production.head, "environments/production/dify-web.yaml") == web("1.13.3").encode()
    assert "### Dify release set" in (production.body or "")
    assert re.search(r"NOT promoted: \S*nginx \(staging: 1\.27\.1, production: 1\.27\.0\)", log), log[-8000:]
    assert emulator.repo.read(production.head, "environments/production/dify-proxy.yaml") == proxy("1.27.0").encode()
    assert manifest_digest(bed, "production") == digest  # registry-tag: production, a copy in ghcr.io

    rollback = bed_act(job, repo, "dify-rollback.yml", event="workflow_dispatch", inputs={
        "pull-request-number": "1", "environment": "staging"}, secrets=registry, env=runner,
        extra=served["dify-rollback.yml"], mounts=hosts)
    log = rollback.stdout + rollback.stderr
    assert rollback.returncode == 0, log[-8000:]
    [revert] = [p for p in emulator.pulls.values() if [label.name for label in p.labels] == ["rollback"]]
    assert "Rolls back #1" in (revert.body or "")
    assert step_outputs(log)["pull-request-url"] == f"https://github.com/acme/dify-gitops/pull/{revert.number}"
    for name in ("dify-pipeline.yml", "dify-promote.yml", "dify-rollback.yml"):  # still as written
        assert (repo / ".github" / "workflows" / name).read_bytes() == (EXAMPLES / name).read_bytes()


def host_client(bed: RunnerBed) -> RegistryClient:
    """The bed's registry from the test process: its loopback relay, over TLS with the bed's CA only."""
    session = requests.Session()
    session.verify = str(bed.ca)
    session.trust_env = False  # a REQUESTS_CA_BUNDLE of this process (another bed's CA) must not win
    return RegistryClient(f"127.0.0.1:{bed.host_port}", Credentials(bed.username, bed.password), scheme="https",
                          session=session)


RESOLVE = r"""
import socket, ssl, sys, urllib.error, urllib.request
for name in sys.argv[1:]:
    try:
        address = socket.gethostbyname(name)
    except OSError as error:
        print(f"{name} unresolved ({error})")
        continue
    try:
        urllib.request.urlopen(f"https://{name}/v2/", timeout=10,
                               context=ssl.create_default_context(cafile="/bed-ca.pem"))
        print(f"{name} {address} answered 200")
    except urllib.error.HTTPError as error:
        print(f"{name} {address} answered {error.code}")
    except OSError as error:
        print(f"{name} {address} no answer ({error})")
try:
    socket.create_connection(("140.82.112.3", 443), timeout=5)  # a public address: no route may leave
    print("public route open")
except OSError as error:
    print(f"public route closed ({error})")
"""


def test_control_the_public_names_resolve_only_through_the_stand_in(
        runner_bed: RunnerBed, runner_keep: tuple[str, ...], docker_host: str, job_image: str,
        tmp_path: Path) -> None:
    bed = runner_bed
    transfer_image(docker_host, bed, job_image)
    job: RunnerJob = new_job(bed, tmp_path / "_temp", (*runner_keep, job_image))
    names = list(STAND_INS)

    def probe(*options: str) -> str:
        ran = bed.docker("run", "--rm", "--network", job.network, "-v", f"{bed.ca}:/bed-ca.pem:ro", *options,
                         job_image, "python3", "-c", RESOLVE, *names, timeout=120)
        return ran.stdout

    with_stand_in = probe(*bed.container_hosts.split())
    assert f"ghcr.io {ADDRESS} answered 401" in with_stand_in, with_stand_in  # the registry, TLS verified by name
    assert "public route closed" in with_stand_in, with_stand_in
    without = probe()
    assert all(f"{name} unresolved" in without for name in names), without
    assert "public route closed" in without and "answered" not in without, without
    # the bed's names live in its own mount namespace: the host's /etc/hosts never learns them
    assert ADDRESS not in Path("/etc/hosts").read_text()
