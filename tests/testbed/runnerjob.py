"""Jobs in the runner bed: a fresh image store and a ``github_network_<hex>`` per job, and the
container action run with exactly the flags a GitHub-hosted runner uses (visible in any run's log):

    docker run --name <x> --label <x> --workdir /github/workspace --rm -e INPUT_<NAME> ... -e HOME
      -e GITHUB_* -e RUNNER_* -e ACTIONS_* -e GITHUB_ACTIONS=true -e CI=true
      -v /var/run/docker.sock:/var/run/docker.sock -v <temp>/_github_home:/github/home
      -v <temp>/_github_workflow:/github/workflow -v <temp>/_runner_file_commands:/github/file_commands
      -v <repo>:/github/workspace --network github_network_<hex> <image> <args>
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .procs import TestbedError
from .runner import DOCKER_CLI, RunnerBed

LABEL = "dify-action-runner-bed"


@dataclass(frozen=True)
class RunnerJob:
    bed: RunnerBed
    network: str
    temp: Path  # the runner's RUNNER_TEMP: _github_home, _github_workflow, _runner_file_commands

    @property
    def home(self) -> Path:
        return self.temp / "_github_home"

    @property
    def file_commands(self) -> Path:
        return self.temp / "_runner_file_commands"

    @property
    def ca_in_container(self) -> str:
        """Where the bed's CA is inside the action container (the job put it in $HOME)."""
        return "/github/home/bed-ca.pem"


@dataclass(frozen=True)
class StepRun:
    code: int
    stdout: str
    stderr: str
    output_file: str
    summary: str


def transfer_image(from_host: str, bed: RunnerBed, image: str) -> None:
    """``docker save`` on the host engine piped into ``docker load`` in the bed (no temp file)."""
    if bed.docker("image", "inspect", image, check=False).returncode == 0:
        return
    env = {**os.environ, "DOCKER_HOST": from_host}
    with subprocess.Popen([DOCKER_CLI, "save", image], env=env, stdout=subprocess.PIPE) as save:
        assert save.stdout is not None
        loaded = bed.docker("load", "-q", stdin=save.stdout.fileno(), check=False)
        code = save.wait()
    if code != 0 or loaded.returncode != 0:
        raise TestbedError(f"could not move {image} into the runner bed: {loaded.stderr[-1000:]}")


def new_job(bed: RunnerBed, temp: Path, keep: Sequence[str] = ()) -> RunnerJob:
    """A fresh machine: every container and image is removed except ``keep`` (what the runner
    itself fetches before the job: the action image); the registry keeps what it holds."""
    containers = bed.docker("ps", "-aq").stdout.split()
    if containers:
        bed.docker("rm", "-f", "-v", *containers)
    kept = {bed.docker("image", "inspect", "--format", "{{.Id}}", name).stdout.strip() for name in keep}
    for image_id in set(bed.docker("images", "-aq", "--no-trunc").stdout.split()) - kept:
        bed.docker("rmi", "-f", image_id, check=False)  # children of a removed parent may be gone already
    bed.docker("builder", "prune", "-af", check=False)
    old = bed.docker("network", "ls", "--format", "{{.Name}}", "--filter", "name=github_network_").stdout
    for network in old.split():
        bed.docker("network", "rm", network, check=False)
    network = f"github_network_{secrets.token_hex(16)}"
    bed.docker("network", "create", "--label", LABEL, network)
    shutil.rmtree(temp, ignore_errors=True)
    for name in ("_github_home", "_github_workflow", "_runner_file_commands"):
        (temp / name).mkdir(parents=True)
    shutil.copy2(bed.ca, temp / "_github_home" / "bed-ca.pem")
    return RunnerJob(bed, network, temp)


def run_container_action(job: RunnerJob, image: str, inputs: Mapping[str, str], workspace: Path,
                         env: Mapping[str, str] | None = None, args: Sequence[str] = (),
                         entrypoint: str | None = None, timeout: float = 600, options: Sequence[str] = ()
                         ) -> StepRun:
    """One step of ``image`` as the runner starts it; INPUT_ names keep their hyphens, upper-cased.
    ``options``: what the runner's machine adds, e.g. the bed's public names (``container_hosts``)."""
    step = secrets.token_hex(4)
    output, summary = f"set_output_{step}", f"step_summary_{step}"
    for name in (output, summary):
        (job.file_commands / name).write_text("")
    ca = job.ca_in_container
    variables = {
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        "HOME": "/github/home", "GITHUB_JOB": "job", "GITHUB_REF": "refs/heads/main",
        "GITHUB_SHA": "a" * 40, "GITHUB_REPOSITORY": "acme/dify-custom", "GITHUB_REPOSITORY_OWNER": "acme",
        "GITHUB_RUN_ID": "7", "GITHUB_RUN_NUMBER": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTOR": "octocat",
        "GITHUB_WORKFLOW": "ship", "GITHUB_EVENT_NAME": "push", "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_API_URL": "https://api.github.example", "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_ACTION": "__run", "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_OUTPUT": f"/github/file_commands/{output}", "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary}",
        "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_NAME": "GitHub Actions 2",
        "RUNNER_TEMP": "/home/runner/work/_temp",
        "RUNNER_TOOL_CACHE": "/opt/hostedtoolcache", "ACTIONS_RUNTIME_URL": "https://pipelines.example/",
        "GITHUB_ACTIONS": "true", "CI": "true",
        # a job trusting a private CA sets these in `env:` (the runner passes every one with -e)
        "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca, **(env or {}),
    }
    (job.temp / "_github_workflow" / "event.json").write_text("{}")
    name = f"{step}_{image.replace('/', '').replace(':', '').replace('@', '')[:40]}"
    argv = [DOCKER_CLI, "run", "--name", name, "--label", LABEL, "--workdir", "/github/workspace", "--rm"]
    for variable in variables:
        argv += ["-e", variable]  # values through the environment, as the runner does
    argv += ["-v", "/var/run/docker.sock:/var/run/docker.sock",
             "-v", f"{job.temp}/_github_home:/github/home",
             "-v", f"{job.temp}/_github_workflow:/github/workflow",
             "-v", f"{job.temp}/_runner_file_commands:/github/file_commands",
             "-v", f"{workspace}:/github/workspace", "--network", job.network, *options]
    if entrypoint is not None:  # the runner's `entrypoint:` of a docker action
        argv += ["--entrypoint", entrypoint]
    argv += [image, *args]
    proc_env = {**os.environ, "DOCKER_HOST": job.bed.docker_host, **variables}
    proc = subprocess.run(argv, env=proc_env, capture_output=True, text=True, timeout=timeout, check=False)
    return StepRun(proc.returncode, proc.stdout, proc.stderr, (job.file_commands / output).read_text(),
                   (job.file_commands / summary).read_text())
