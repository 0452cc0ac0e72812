"""Benchmark: start-up of `dify-action bump --help` and of a no-op bump, this tree against a baseline.

The no-op bump runs over a small generated GitOps tree whose image is already at the target tag,
so what is measured is start-up: imports, argument parsing, resolving, reading a few files. The
baseline commit (default 41fa90b, before the lazy edges of issue 17) is checked out with
`git worktree add` into a temp directory, run with the same interpreter through PYTHONPATH, and
removed afterwards. Prints the median wall time of N runs of each, then the heaviest imports of
the no-op bump (`python -X importtime`) and which heavy clients were loaded.
Each run is a fresh interpreter that imports dify_action.front.cli and calls main(argv), as
`python -m dify_action` does.
Usage: python benchmarks/bench_startup.py [--runs N] [--baseline REV] [--top K]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("github", "requests", "docker", "jsonschema")
IMAGE = "registry.example.com/acme/dify-api"
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: svc-{i}}}
spec:
  template:
    spec:
      containers:
        - name: main
          image: {image}:1.0.{i}
"""


def tree(root: Path, files: int = 20) -> None:
    """``files`` Deployments; the first deploys IMAGE at 1.0.0, the tag the bump asks for."""
    for i in range(files):
        image = IMAGE if i == 0 else f"registry.example.com/acme/svc-{i}"
        (root / f"svc-{i}.yaml").write_text(DEPLOY.format(i=i, image=image))


# runs the CLI like `python -m dify_action`, then says which checkout it ran (stdout's last line)
PROBE = """
import sys
import dify_action
from dify_action.front.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("ran", dify_action.__file__.rsplit("/dify_action/", 1)[0], "exit", code)
sys.exit(code)
"""


def commands(gitops: Path) -> dict[str, list[str]]:
    return {
        "bump --help": ["bump", "--help"],
        "no-op bump": ["bump", "--gitops-dir", str(gitops), "--image", f"{IMAGE}:1.0.0"],
    }


def _run(source: Path, argv: Sequence[str], *extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI from the checkout ``source``: PYTHONPATH comes before the venv's editable install, and
    the working directory (first on sys.path) is ``/``, which holds no dify_action."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    proc = subprocess.run([sys.executable, *extra, "-c", PROBE, *argv], env=env, cwd="/", capture_output=True,
                          text=True, check=True)
    if f"ran {source}" not in proc.stdout.splitlines()[-1]:
        raise SystemExit(f"bench_startup: {source} did not run: {proc.stdout[-200:]}")
    return proc


def medians(sources: dict[str, Path], argv: Sequence[str], runs: int) -> list[float]:
    """The median wall time of each source; runs interleave so both see the same machine load."""
    times: dict[str, list[float]] = {label: [] for label in sources}
    for source in sources.values():
        _run(source, argv)  # writes the .pyc files once
    for _ in range(runs):
        for label, source in sources.items():
            start = time.perf_counter()
            _run(source, argv)
            times[label].append(time.perf_counter() - start)
    return [statistics.median(times[label]) for label in sources]


def import_times(source: Path, argv: Sequence[str]) -> dict[str, tuple[int, int]]:
    """module -> (self µs, cumulative µs) from ``-X importtime`` (the fastest of 3 runs per module)."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(3):
        proc = _run(source, argv, "-X", "importtime")
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line.removeprefix("import time:").split("|")
            key = name.strip()
            value = (int(own), int(cumulative))
            best[key] = min(best.get(key, value), value, key=lambda pair: pair[1])
    return best


def checked_out(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(into), rev], check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default="41fa90b")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        gitops = Path(tmp) / "gitops"
        gitops.mkdir()
        tree(gitops)
        baseline = Path(tmp) / "baseline"
        checked_out(args.baseline, baseline)
        try:
            sources = {"baseline " + args.baseline: baseline, "this tree": ROOT}
            print(f"median of {args.runs} runs, {sys.executable} ({os.cpu_count()} cpu)")
            print(f"{'':22}" + "".join(f"{label:>20}" for label in sources))
            for name, argv in commands(gitops).items():
                figures = medians(sources, argv, args.runs)
                print(f"{name:22}" + "".join(f"{seconds * 1000:17.0f} ms" for seconds in figures)
                      + f"   ({figures[0] / figures[1]:.2f}x)")
            for label, source in sources.items():
                times = import_times(source, commands(gitops)["no-op bump"])
                print(f"\n{label}: heaviest imports of the no-op bump (cumulative ms, self ms)")
                for module, (own, cumulative) in sorted(times.items(), key=lambda item: -item[1][1])[: args.top]:
                    print(f"  {cumulative / 1000:7.1f} {own / 1000:7.1f}  {module}")
                loaded = [name for name in HEAVY if name in times]
                print(f"  heavy clients loaded: {', '.join(loaded) or 'none'}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=True)


if __name__ == "__main__":
    main()
