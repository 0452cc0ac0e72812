"""Helpers of the end-to-end tests: the offline wheelhouse, the action's build context, and running
the action image the way the runner runs container actions."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from testbed.jobimage import DOCKER_CLI, cache_dir
from testbed.outputs import parse_output_file

ROOT = Path(__file__).resolve().parents[2]
ACTION_IMAGE = "dify-action:e2e"
LOCKS = ("requirements.lock", "requirements-scanners.lock", "requirements-kubernetes.lock")
# the action files: the pipeline action, one action per command (they run the same Dockerfile)
ACTION_FILES = ("action.yml", *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/action.yml")))
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "entrypoint.py", *LOCKS, *ACTION_FILES)


def docker(docker_host: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": docker_host, "DOCKER_BUILDKIT": "0"}
    return subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def wheelhouse() -> Path:
    """Wheels of the locks, downloaded once per lock content (the image build is offline)."""
    locks = b"".join((ROOT / name).read_bytes() for name in LOCKS)
    target = cache_dir() / f"wheels-{hashlib.sha256(locks).hexdigest()[:16]}"
    if not target.is_dir():
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for name in LOCKS:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
                            "-r", str(ROOT / name), "-d", str(partial)], check=True, timeout=600)
        partial.rename(target)
    return target


def action_context(directory: Path) -> Path:
    """The repository's action files (what `uses: ./` sees) plus the offline wheelhouse."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in CONTEXT_FILES:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, directory / name)
    shutil.copytree(ROOT / "dify_action", directory / "dify_action",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    shutil.copytree(wheelhouse(), directory / ".wheels", dirs_exist_ok=True)
    # the docker client the image bundles (Debian's 20.10, as the Dockerfile installs it online)
    (directory / ".docker-cli").mkdir(exist_ok=True)
    shutil.copy2(DOCKER_CLI, directory / ".docker-cli" / "docker")
    return directory


@dataclass(frozen=True)
class ActionRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def run_action(docker_host: str, image: str, inputs: Mapping[str, str], workspace: Path,
               env: Mapping[str, str] | None = None, *, docker_socket: bool = False) -> ActionRun:
    """Run the action container like the runner: INPUT_ names keep their hyphens, the workspace and
    the file-command directory are mounted, GITHUB_* describe the run."""
    commands = workspace.parent / f"{workspace.name}-file-commands"
    shutil.rmtree(commands, ignore_errors=True)
    commands.mkdir(parents=True)
    (commands / "set_output").touch()
    (commands / "step_summary").touch()
    variables = {
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_OUTPUT": "/github/file_commands/set_output",
        "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary",
        "GITHUB_SHA": "a" * 40, "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
        "GITHUB_REPOSITORY": "acme/dify-custom", "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "7", "GITHUB_RUN_NUMBER": "42", "HOME": "/github/home",
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()}, **(env or {}),
    }
    argv = ["run", "--rm", "--network", "host", "--workdir", "/github/workspace",
            "-v", f"{workspace}:/github/workspace", "-v", f"{commands}:/github/file_commands"]
    if docker_socket:
        socket = docker_host.removeprefix("unix://")
        argv += ["-v", f"{socket}:/var/run/docker.sock"]
    for name in variables:
        argv += ["-e", name]  # values through the environment, never on the command line
    proc_env = {**os.environ, "DOCKER_HOST": docker_host, **variables}
    proc = subprocess.run([DOCKER_CLI, *argv, image], env=proc_env, capture_output=True, text=True, timeout=600,
                          check=False)
    return ActionRun(proc.returncode, proc.stdout, proc.stderr,
                     parse_output_file((commands / "set_output").read_text()),
                     (commands / "step_summary").read_text())
