"""verify end to end on the real test engine and registry: stand-in Dify api images (they answer
``/health`` with their version) run as a compose project (containers labelled as compose labels
them), read by the docker source and Dify's /health; the expected state read from a real GitOps
repository; verdicts recorded in the registry, read back by promote; on-failure rollback through
the GitHub emulator, the migration guard included."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator import BareRepo, GitHubEmulator
from requestkit import promote_request
from test_rollback import merge
from testbed.difyapi import build_api_image

from dify_action.config import load as config_module
from dify_action.errors import GateFailed
from dify_action.promote.run import promote
from dify_action.registry import Credentials, RegistryClient
from dify_action.verify import VerifyInputs, read_verifications, resolve_request, verify

pytestmark = pytest.mark.integration
STAGING, PRODUCTION = "environments/staging", "environments/production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose(image: str) -> str:
    return ("# the staging stack (Portainer deploys this file)\nservices:\n  api:\n"
            f"    image: {image}\n    network_mode: host\n")


class Stack:
    """Pushed stand-ins (1.13.2, 1.13.3, 1.14.0) and what runs them on the engine."""

    def __init__(self, docker_client: Any, registry: Any, base_image: str) -> None:
        self.docker, self.registry = docker_client, registry
        self.client = RegistryClient(registry.host, Credentials(registry.username, registry.password))
        self.repository = f"verify{secrets.token_hex(4)}/dify-api"
        self.image = f"{registry.host}/{self.repository}"
        auth = {"username": registry.username, "password": registry.password}
        self.digests: dict[str, str] = {}
        for version in ("1.13.2", "1.13.3", "1.14.0"):
            build_api_image(docker_client, f"{self.image}:{version}", version, base=base_image, health_port=5001)
            docker_client.images.push(self.image, version, auth_config=auth)
            self.digests[version] = self.client.resolve_digest(f"{self.image}:{version}")
        self.containers: list[Any] = []

    def ref(self, version: str) -> str:
        return f"{self.image}:{version}@{self.digests[version]}"

    def run(self, project: str, version: str, port: int, *, command: str | None = None) -> Any:
        container = self.docker.containers.run(
            f"{self.image}:{version}", command=["sh", "-c", command] if command else None, detach=True,
            network_mode="host", environment={"DIFY_PORT": str(port)},
            labels={"com.docker.compose.project": project, "com.docker.compose.service": "api" if not command
                    else "migrate"})
        self.containers.append(container)
        return container

    def cleanup(self) -> None:
        for container in self.containers:
            container.remove(force=True)
        self.containers.clear()

    def registry_for(self, host: str) -> RegistryClient:
        assert host == self.registry.host
        return self.client


@pytest.fixture(scope="module")
def stack(docker_client: Any, registry: Any, base_image: str) -> Iterator[Stack]:
    built = Stack(docker_client, registry, base_image)
    yield built
    built.cleanup()


@pytest.fixture
def running(stack: Stack) -> Iterator[Stack]:
    yield stack
    stack.cleanup()


def config(tmp_path: Path, stack: Stack, url: str, project: str, port: int, docker_host: str,
           extra: str = "") -> config_module.Config:
    path = tmp_path / "dify-action.yaml"
    path.write_text(f"""version: 1
components:
  - name: api
    image: {stack.image}
    dockerfile: Dockerfile
environments:
  staging:
    repository: {url}
    paths: [{STAGING}]
    provider: git
    verify:
      docker: {{project: {project}, host: "{docker_host}"}}
      dify: {{url: "http://127.0.0.1:{port}"}}
      timeout: 40s
      interval: 200ms
      degraded-grace: 20s{extra}
  production:
    repository: {url}
    paths: [{PRODUCTION}]
    provider: git
""")
    return config_module.load(path)


def inputs(cfg: config_module.Config, stack: Stack, **extra: Any) -> VerifyInputs:
    return VerifyInputs(environment="staging", config=cfg, environ=os.environ,
                        registry_username=stack.registry.username, registry_password=stack.registry.password, **extra)


@pytest.fixture
def gitops(tmp_path: Path, stack: Stack) -> BareRepo:
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {f"{STAGING}/docker-compose.yaml": compose(stack.ref("1.13.2")),
                               f"{PRODUCTION}/docker-compose.yaml": compose(stack.ref("1.13.2"))}, "initial")
    bare.commit_files("main", {f"{STAGING}/docker-compose.yaml": compose(stack.ref("1.13.3"))}, "bump staging")
    return bare


def test_verified_recorded_and_promote_needs_it(tmp_path: Path, running: Stack, gitops: BareRepo,
                                                docker_host: str) -> None:
    stack, port, project = running, free_port(), f"dify{secrets.token_hex(3)}"
    cfg = config(tmp_path, stack, gitops.path.as_uri(), project, port, docker_host)
    promotion = promote_request(repo_url=gitops.path.as_uri(), source="staging", target="production",
                               source_paths=(STAGING,), target_paths=(PRODUCTION,), require_gates=False,
                               dry_run=True, sleep=lambda s: None)
    with pytest.raises(GateFailed, match="never verified in staging"):
        promote(promotion, stack.registry_for)
    stack.run(project, "1.13.3", port)
    stack.run(project, "1.13.3", port, command="echo upgrade-db done; exit 0")  # the one-off migration
    lines: list[str] = []
    result = verify(resolve_request(inputs(cfg, stack)), stack.registry_for, progress=lines.append)
    assert result.verified, result.verdict.cause
    assert result.expected.revision == gitops.sha("main")
    assert result.expected.images[0].dify_version == "1.13.3"  # read from the image in the registry
    details = " ".join(o.detail for o in result.verdict.observations)
    assert "healthy, runs" in details and "completed (exit 0)" in details and "Dify version 1.13.3" in details
    assert any("health check starting" in line or "unreachable" in line for line in lines) or result.verdict.rounds == 1
    record = read_verifications(stack.client, stack.repository, stack.digests["1.13.3"])["staging"]
    assert (record.status, record.commit, record.sources) == ("passed", gitops.sha("main"), ("docker", "dify"))
    assert result.merge_to_healthy is not None and result.merge_to_healthy >= 0
    planned = promote(promotion, stack.registry_for)
    assert planned.operation == "planned" and "1.13.3" in planned.diff


def test_wrong_version_running_is_caught_and_recorded(tmp_path: Path, running: Stack, gitops: BareRepo,
                                                      docker_host: str) -> None:
    stack, port, project = running, free_port(), f"dify{secrets.token_hex(3)}"
    cfg = config(tmp_path, stack, gitops.path.as_uri(), project, port, docker_host)
    stack.run(project, "1.13.2", port)  # the deployer never pulled the bump
    result = verify(resolve_request(inputs(cfg, stack)), stack.registry_for)
    assert result.verdict.status == "failed"
    cause = result.verdict.cause
    assert f"runs {stack.image} @ {stack.digests['1.13.2'][:19]}, expected {stack.image}:1.13.3 @ " \
           f"{stack.digests['1.13.3'][:19]}" in cause, cause
    assert "answers Dify version 1.13.2, expected 1.13.3" in cause
    record = read_verifications(stack.client, stack.repository, stack.digests["1.13.3"])["staging"]
    assert record.status == "failed"


def test_failed_migration_container_is_final_and_named(tmp_path: Path, running: Stack, gitops: BareRepo,
                                                       docker_host: str) -> None:
    stack, port, project = running, free_port(), f"dify{secrets.token_hex(3)}"
    cfg = config(tmp_path, stack, gitops.path.as_uri(), project, port, docker_host)
    stack.run(project, "1.13.3", port)
    migrate = stack.run(project, "1.13.3", port, command="echo \"Can't locate revision identified by 'x'\"; exit 3")
    migrate.wait(timeout=30)
    result = verify(resolve_request(inputs(cfg, stack)), stack.registry_for)
    assert result.verdict.status == "failed" and result.verdict.rounds == 1
    assert "migrate: exited with code 3: Can't locate revision" in result.verdict.cause


def test_cli_exit_codes_and_bad_commit(tmp_path: Path, running: Stack, gitops: BareRepo, docker_host: str) -> None:
    stack, port, project = running, free_port(), f"dify{secrets.token_hex(3)}"
    config(tmp_path, stack, gitops.path.as_uri(), project, port, docker_host)
    env = {**os.environ, "DIFY_ACTION_REGISTRY_PASSWORD": stack.registry.password}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dify_action", "verify", "--config",
                               str(tmp_path / "dify-action.yaml"), "--registry-username", stack.registry.username,
                               *args], capture_output=True, text=True, env=env, timeout=120, check=False)

    bad = cli("--environment", "staging", "--commit", "0123456789abcdef")
    assert bad.returncode == 2 and "invalid --commit '0123456789abcdef'" in bad.stderr, bad.stderr
    none = cli("--environment", "production")
    assert none.returncode == 2 and "with a verify section" in none.stderr
    stack.run(project, "1.13.2", port)
    failed = cli("--environment", "staging", "--timeout", "20s", "--summary", str(tmp_path / "summary.md"))
    assert failed.returncode == 1 and "FAILED: staging" in failed.stdout, failed.stdout + failed.stderr
    assert "## dify-action verify: staging failed" in (tmp_path / "summary.md").read_text()


@pytest.fixture
def github_stack(emulator: GitHubEmulator, running: Stack) -> GitHubEmulator:
    return emulator


@pytest.mark.parametrize(("old", "new", "refused"), [("1.13.2", "1.13.3", False), ("1.13.3", "1.14.0", True)])
def test_on_failure_rollback_opens_the_revert_or_reports_the_guard(
        tmp_path: Path, github_stack: GitHubEmulator, running: Stack, docker_host: str, old: str, new: str,
        refused: bool) -> None:
    em, stack, port, project = github_stack, running, free_port(), f"dify{secrets.token_hex(3)}"
    em.repo.commit_files("main", {f"{STAGING}/docker-compose.yaml": compose(stack.ref(old))}, "staging")

    number = bump_pr_staging(em, stack, new)
    merge(em, number)
    cfg = config(tmp_path, stack, em.clone_url, project, port, docker_host, extra="\n      on-failure: rollback")
    stack.run(project, old, port)  # the new release never came up: staging still runs the old one
    request = resolve_request(inputs(cfg, stack, gitops_token=em.token, github_api_url=em.api_url,
                                     github_repo=em.full_name, provider="github"))
    result = verify(request, stack.registry_for)
    assert result.verdict.status == "failed"
    if refused:
        assert result.rollback is None and result.rollback_refused is not None
        assert "refused by the migration guard" in result.rollback_refused
        assert not [p for p in em.pulls.values() if "rollback" in p.head]
    else:
        assert result.rollback is not None and result.rollback["operation"] == "created", result.rollback_refused
        pull = em.pulls[int(str(result.rollback["pr_number"]))]
        assert pull.head.startswith("dify-action/staging/rollback") and f"Rolls back #{number}" in (pull.body or "")
        assert stack.ref(old) in (em.repo.read(pull.head, f"{STAGING}/docker-compose.yaml") or b"").decode()


def bump_pr_staging(em: GitHubEmulator, stack: Stack, version: str) -> int:
    from requestkit import delivery_request

    from dify_action.bump import Target
    from dify_action.delivery import deliver

    result = deliver(delivery_request(
        repo_url=em.clone_url, environment="staging", paths=(STAGING,), provider="github", token=em.token,
        targets=(Target.from_inputs(stack.image, version, stack.digests[version]),),
        github_api_url=em.api_url, sleep=lambda s: None))
    assert result.pr_number is not None
    return result.pr_number
