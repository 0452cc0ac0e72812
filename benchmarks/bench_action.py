"""Benchmark of the container action, both ways a job can get it (issue #10):

- the published path (a release: ``docker://IMAGE@sha256:...``): a fresh runner pulls the image
  from a registry, then runs it; reported: pull time, ``docker run`` to the first output line,
  and the image sizes (default and -slim);
- the development path (``runs.image: Dockerfile``, what every job of every run did before a
  release pinned the image): the time to build the action image from the Dockerfile.

Also the import time of ``dify-action --help``. Goals: < 200 MB slim, < 1.5 s to the first line.

    python benchmarks/bench_action.py                 # starts a private dockerd, builds the image
    python benchmarks/bench_action.py --docker-host unix:///tmp/da-x/docker.sock

The image is built on the local Debian 12 + python3 image (nothing can be pulled here); the figure
for python:3.11-slim-bookworm is that base's size plus the layers this Dockerfile adds on top.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from actionrun import ACTION_IMAGE, action_context, docker  # noqa: E402
from testbed import start_dockerd, start_registry, stop_dockerd, stop_registry  # noqa: E402
from testbed.jobimage import ensure_job_image  # noqa: E402

SLIM_BASE_MB = 125.0  # python:3.11-slim-bookworm, uncompressed, as `docker images` shows it (approx.)


def size(docker_host: str, image: str) -> int:
    return int(docker(docker_host, "image", "inspect", "--format", "{{.Size}}", image).stdout)


def first_line(docker_host: str, image: str, workspace: Path) -> float:
    """Seconds from `docker run` to the first line on stdout: a real bump of an empty local tree
    (the first line, ``::group::``, comes after the inputs are read and the CLI is loaded)."""
    argv = ["/usr/bin/docker", "run", "--rm", "--network", "host", "-e", "GITHUB_ACTIONS=true",
            "-e", "INPUT_COMMAND=bump", "-e", "INPUT_GITOPS-DIR=.", "-e", "INPUT_IMAGE=registry.example/acme/a:1",
            "-w", "/github/workspace", "-v", f"{workspace}:/github/workspace", image]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env={"DOCKER_HOST": docker_host})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    assert line.startswith(b"::group::"), line
    return elapsed


def published_pull(docker_host: str, image: str, registry_host: str, auth: Path) -> tuple[str, float]:
    """Push ``image`` to the registry, drop every local copy, and time the fresh runner's pull."""
    env = {"DOCKER_HOST": docker_host, "DOCKER_CONFIG": str(auth), "PATH": "/usr/bin:/bin"}
    remote = f"{registry_host}/bench/{image.replace(':', '-')}:release"

    def cli(*argv: str) -> None:
        subprocess.run(["/usr/bin/docker", *argv], env=env, check=True, capture_output=True)

    cli("tag", image, remote)
    cli("push", remote)
    cli("rmi", remote)
    cli("rmi", image)  # the layers go with the last tag: the engine is as fresh as a new runner's
    start = time.perf_counter()
    cli("pull", "-q", remote)
    return remote, time.perf_counter() - start


def help_time() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dify_action", "--help"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docker-host", help="use this dockerd instead of starting one")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    daemon = None
    with tempfile.TemporaryDirectory(prefix="da-b", dir="/tmp") as temp:
        host = args.docker_host
        if not host:
            daemon = start_dockerd(Path(temp) / "d")
            host = daemon.host
        registry = start_registry(Path(temp) / "reg", "basic")
        try:
            base = ensure_job_image(host)
            context = action_context(Path(temp) / "ctx")
            started = time.perf_counter()
            proc = docker(host, "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
                          "-t", ACTION_IMAGE, str(context))
            build_s = time.perf_counter() - started
            assert proc.returncode == 0, proc.stderr
            total, base_size = size(host, ACTION_IMAGE), size(host, base)
            added = total - base_size
            slim = docker(host, "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
                          "--build-arg", "SCANNERS=false", "--build-arg", "DOCKER_CLI=false",
                          "-t", f"{ACTION_IMAGE}-slim", str(context))
            assert slim.returncode == 0, slim.stderr
            slim_added = size(host, f"{ACTION_IMAGE}-slim") - base_size
            slim_total = size(host, f"{ACTION_IMAGE}-slim")
            auth = Path(temp) / "auth"
            auth.mkdir()
            subprocess.run(["/usr/bin/docker", "login", "-u", registry.username, "--password-stdin", registry.host],
                           input=registry.password.encode(), env={"DOCKER_CONFIG": str(auth), "DOCKER_HOST": host},
                           check=True, capture_output=True)
            # a base layer shared with the job image stays: runner images also carry common layers
            published, pull_s = published_pull(host, ACTION_IMAGE, registry.host, auth)
            published_slim, pull_slim_s = published_pull(host, f"{ACTION_IMAGE}-slim", registry.host, auth)
            workspace = Path(temp) / "ws"
            workspace.mkdir()
            cold = first_line(host, published, workspace)
            starts = [first_line(host, published, workspace) for _ in range(args.runs)]
            slim_starts = [first_line(host, published_slim, workspace) for _ in range(args.runs)]
            helps = [help_time() for _ in range(args.runs)]
        finally:
            stop_registry(registry)
            if daemon is not None:
                stop_dockerd(daemon)
    print("-- published path (release: docker://IMAGE@sha256, pulled by a fresh runner)")
    print(f"pull, default image (local registry)  {pull_s:6.1f} s   ({total / 1e6:.1f} MB)")
    print(f"pull, slim image (local registry)     {pull_slim_s:6.1f} s   ({slim_total / 1e6:.1f} MB)")
    print(f"docker run -> first line, first run   {cold:6.2f} s")
    print(f"docker run -> first line, default     {statistics.median(starts):6.2f} s median of {args.runs} "
          f"(min {min(starts):.2f})  (goal < 1.5 s)")
    print(f"docker run -> first line, slim        {statistics.median(slim_starts):6.2f} s median of {args.runs}")
    print("-- development path (runs.image: Dockerfile: every job of every run before the release pin)")
    print(f"action image build from the Dockerfile {build_s:5.1f} s  (base image present, wheels offline: "
          "a runner also downloads them)")
    print(f"action image on the local Debian base {total / 1e6:6.1f} MB  (base {base_size / 1e6:.1f} MB, "
          f"added {added / 1e6:.1f} MB)")
    print(f"estimated on python:3.11-slim-bookworm {SLIM_BASE_MB + added / 1e6:5.1f} MB + git  (with Trivy, hadolint)")
    print(f"slim (SCANNERS=false) on the same base {slim_added / 1e6:5.1f} MB added; "
          f"estimated {SLIM_BASE_MB + slim_added / 1e6:.1f} MB + git on python:3.11-slim  (goal < 200 MB)")
    print(f"dify-action --help (python -m)        {statistics.median(helps):6.2f} s median of {args.runs} "
          f"(goal < 0.5 s)")


if __name__ == "__main__":
    main()
