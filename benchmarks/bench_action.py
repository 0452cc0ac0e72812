"""Benchmark of the container action: image size, container start to first output line, and the
import time of ``dify-action --help``. Prints figures (goals: < 200 MB, < 1.5 s, < 0.5 s).

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
from testbed import start_dockerd, stop_dockerd  # noqa: E402
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
            workspace = Path(temp) / "ws"
            workspace.mkdir()
            first_line(host, ACTION_IMAGE, workspace)  # warm the page cache
            starts = [first_line(host, ACTION_IMAGE, workspace) for _ in range(args.runs)]
            helps = [help_time() for _ in range(args.runs)]
        finally:
            if daemon is not None:
                stop_dockerd(daemon)
    print(f"action image build (cached base)      {build_s:6.1f} s")
    print(f"action image on the local Debian base {total / 1e6:6.1f} MB  (base {base_size / 1e6:.1f} MB, "
          f"added {added / 1e6:.1f} MB)")
    print(f"estimated on python:3.11-slim-bookworm {SLIM_BASE_MB + added / 1e6:5.1f} MB + git  (with Trivy, hadolint)")
    print(f"slim (SCANNERS=false) on the same base {slim_added / 1e6:5.1f} MB added; "
          f"estimated {SLIM_BASE_MB + slim_added / 1e6:.1f} MB + git on python:3.11-slim  (goal < 200 MB)")
    print(f"container start -> first output line  {statistics.median(starts):6.2f} s median of {args.runs} "
          f"(min {min(starts):.2f})  (goal < 1.5 s)")
    print(f"dify-action --help (python -m)        {statistics.median(helps):6.2f} s median of {args.runs} "
          f"(goal < 0.5 s)")


if __name__ == "__main__":
    main()
