"""Benchmark: bump over a generated GitOps tree of 10,000 YAML files.

Prints, from one run: our bump time (in-process and as a CLI process), a ruamel.yaml round trip
(load + dump) of the same files, `grep -rl` over the tree (the I/O floor) and our peak RSS.
Goals (issue 2): >= 10x faster than the round trip, within 3x of grep, peak RSS < 150 MB.
Usage: python benchmarks/bench_bump.py [--files N]
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPLOY = """# {name}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: main
          image: registry.local:5000/team{team}/{name}:1.0.{i}   # pinned by CI
          resources: {{limits: {{cpu: 500m, memory: 512Mi}}}}
          env:
            - {{name: MODE, value: api}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports: [{{port: 80, targetPort: 5001}}]
"""


def generate(root: Path, count: int) -> None:
    for i in range(count):
        env = ("staging", "production")[i % 2]
        folder = root / env / f"app{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = "dify-api" if i % 500 == 0 else f"svc-{i}"
        (folder / f"{name}-{i}.yaml").write_text(DEPLOY.format(name=name, team=i % 7, i=i))


def timed(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-bump-"))
    try:
        tree = work / "tree"
        generate(tree, args.files)
        subprocess.run(["grep", "-rl", "dify-api", str(tree)], capture_output=True, check=False)  # warm cache

        grep_s = min(
            timed(lambda: subprocess.run(["grep", "-rl", "dify-api", str(tree)], capture_output=True, check=False))
            for _ in range(3)
        )

        from dify_action.bump import Target, apply_plan, plan_bump

        target = Target.from_inputs("registry.local:5000/team0/dify-api", "2.0.0")
        plans = []
        ours_s = min(timed(lambda: plans.append(plan_bump(tree, [target]))) for _ in range(3))
        plan = plans[-1]
        apply_plan(plan)
        cli = [sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(tree), "--image",
               "registry.local:5000/team0/dify-api", "--tag", "2.0.1", "--json"]
        cli_s = timed(lambda: subprocess.run(cli, capture_output=True, check=True))
        # children so far: grep and our CLI; grep's RSS is a few MB, so the max is ours
        cli_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        from ruamel.yaml import YAML

        rt = YAML()
        files = sorted(tree.rglob("*.yaml"))

        def round_trip() -> None:
            for path in files:
                docs = list(rt.load_all(path.read_text()))
                out = io.StringIO()
                rt.dump_all(docs, out)

        ruamel_s = timed(round_trip)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"files: {args.files}, matching files changed: {len(plan.edits)}, values: {len(plan.changes)}")
        print(f"grep -rl (I/O floor):        {grep_s * 1000:8.1f} ms")
        print(f"ours, plan in-process:       {ours_s * 1000:8.1f} ms  ({ours_s / grep_s:.2f}x grep)")
        print(f"ours, whole CLI process:     {cli_s * 1000:8.1f} ms  ({cli_s / grep_s:.2f}x grep)")
        print(f"ruamel.yaml load+dump:       {ruamel_s * 1000:8.1f} ms  ({ruamel_s / ours_s:.1f}x ours)")
        print(f"peak RSS, CLI process:       {cli_rss_mb:8.1f} MB")
        print(f"peak RSS, this process:      {peak_mb:8.1f} MB (includes ruamel's round trip)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
