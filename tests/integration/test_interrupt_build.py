"""A cancelled job during a BuildKit build (issue #9, item 7): SIGTERM to a real ``dify-action
build`` exits 143, stops the docker CLI, and no file ever holds the registry credentials."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dify_action import refs
from dify_action.build.component import BuildSpec, build_component
from dify_action.engine.docker import DockerEngine, Throttle
from dify_action.registry import Credentials

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]


def _secret_files(top: Path, secrets: list[bytes]) -> list[str]:
    """Regular files under ``top`` holding any of ``secrets`` (a named pipe is not read)."""
    found = []
    for folder, _, names in os.walk(top):
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as stream:
                    data = stream.read()
                if any(secret in data for secret in secrets):
                    found.append(str(path))
    return found


def _running(marker: bytes) -> list[int]:
    """Processes whose command line holds ``marker`` (the build's RUN step, run by dockerd)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as stream:
        return [int(child) for child in stream.read().split()]


def test_buildkit_reads_the_credentials_from_the_pipe(tmp_path: Path, docker_host: str, base_image: str,
                                                      registry: Any) -> None:
    """FROM a private image: BuildKit can only pull it with the credentials the pipe served."""
    engine = DockerEngine(docker_host)
    creds = Credentials(registry.username, registry.password)
    try:
        private = f"{registry.host}/acme/private-base"
        engine.tag(base_image, f"{private}:p1")
        engine.push(private, "p1", creds, Throttle(None))
        engine.remove([f"{private}:p1"])
        context = tmp_path / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {private}:p1\nRUN echo ok > /ok\n")
        spec = BuildSpec("private", context / "Dockerfile", context,
                         refs.parse_repository(f"{registry.host}/acme/from-private"), ("f1",))
        result = build_component(spec, engine, creds, builder="buildkit", push=False)
        assert result.image_id
        assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("dify-action-docker-*"))
    finally:
        engine.close()


def test_sigterm_during_a_buildkit_build_exits_143_and_leaves_no_credentials(
    tmp_path: Path, docker_host: str, base_image: str, registry: Any
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    marker = f"slow-step-{os.getpid()}-{time.time_ns()}"
    (context / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo {marker} && sleep 120 && echo {marker}-done\n")
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    env = {**os.environ, "DOCKER_HOST": docker_host, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password,
           "TMPDIR": str(temp)}
    argv = [sys.executable, "-m", "dify_action", "build", "--context", str(context), "--builder", "buildkit",
            "--repository", f"{registry.host}/acme/api-sigterm", "--tag", "s1",
            "--registry-username", registry.username]
    secrets = [registry.password.encode(),
               base64.b64encode(f"{registry.username}:{registry.password}".encode())]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    output = b""
    try:
        deadline = time.monotonic() + 120
        cli: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None:  # the docker CLI started ...
            output += proc.stdout.read() or b""
            cli = _children(proc.pid)
            if cli and not list(temp.glob("dify-action-docker-*")):  # ... and opened the pipe
                break
            time.sleep(0.1)
        assert cli, output.decode(errors="replace")
        time.sleep(4)  # well into RUN sleep
        output += proc.stdout.read() or b""
        assert proc.poll() is None, output.decode(errors="replace")
        assert _running(marker.encode()), "the RUN step should be running in the daemon"
        assert _secret_files(temp, secrets) == []  # during the build: no credential in any file
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output += proc.stdout.read() or b""
    assert code == 143, output.decode(errors="replace")
    assert b"interrupted" in output and b"Traceback" not in output
    assert list(temp.iterdir()) == []  # no DOCKER_CONFIG, no iidfile, nothing
    for pid in cli:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert registry.password.encode() not in output
    deadline = time.monotonic() + 30  # the CLI's exit cancels the build in the daemon
    while _running(marker.encode()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _running(marker.encode()) == []
