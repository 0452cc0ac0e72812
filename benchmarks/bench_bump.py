"""Benchmark: bump over a generated GitOps tree of 10,000 YAML files.

Prints, from one run: our bump time (in-process and as a CLI process), a ruamel.yaml round trip
(load + dump) of the same files, `grep -rl` over the tree (the I/O floor) and our peak RSS.
Goals (issue 2): >= 10x faster than the round trip, within 3x of grep, peak RSS < 150 MB.

--small (issue 22): the same mix on 3,000 files (goal <= 5x `grep -rl`, where start-up counts most).
Both mixed trees also print the bare interpreter's start-up (``python -c pass``), the floor of the
CLI process, and a bump of a one-file tree, the floor of any bump; grep and bump alternate over 5
rounds (the best of each is compared); --skip-ruamel prints one line per tree.
--large (issue 11): a tree shaped like a checkout of many real repositories: about 20,000 files of
mixed formats (Markdown, Python, Go, JSON, binaries; about 2,300 YAML: manifests, Helm values and
templates, compose files, kustomizations, and some ~200 KB CRD bundles). Prints the whole bump
process time over `grep -rl` (goal <= 3x), a ruamel.yaml round trip of the YAML files over the bump
process (goal >= 30x) and the bump process's peak RSS (goal <= 150 MB).
Usage: python benchmarks/bench_bump.py [--files N] [--large | --small] [--skip-ruamel]
"""

from __future__ import annotations

import argparse
import io
import os
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


VALUES = """# values for {name}
image:
  api:
    repository: registry.local:5000/team{team}/{name}
    tag: "1.0.{i}"   # bumped by CI
  web: {{repository: registry.local:5000/team{team}/{name}-web, tag: "1.0.{i}"}}
resources: {{limits: {{cpu: 500m, memory: 512Mi}}}}
"""
COMPOSE = """services:
  {name}:
    image: registry.local:5000/team{team}/{name}:1.0.{i}
    environment: {{MODE: api}}
  redis:
    image: redis:6-alpine
"""
TEMPLATE = """# dify-api chart template
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ include "chart.fullname" . }}}}
spec:
  template:
    spec:
      containers:
        - image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}"
          {{{{- with .Values.resources }}}}
          resources: {{{{ toYaml . | nindent 12 }}}}
          {{{{- end }}}}
"""
KUSTOMIZATION = "resources: [deploy.yaml]\nimages:\n  - name: svc-{i}\n    newTag: 1.0.{i}\n"


def crd_bundle(i: int) -> str:
    """A ~200 KB multi-document file of CRDs (long schema descriptions), like a controller's install."""
    prop = ("          field{j}:\n            description: \"" + "Lorem ipsum dolor sit amet, consectetur. " * 6
            + "\"\n            type: string\n")
    body = "".join(prop.format(j=j) for j in range(600))
    # the image name in a description: the bump must compose the whole bundle to find nothing there
    head = ("---\n# installs the operator that runs dify-api\n"
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
            f"  name: things{i}.example.com\nspec:\n  versions:\n    - name: v1\n      schema:\n"
            "        properties:\n")
    # every other bundle ends with the operator's Deployment, which runs the image: one document
    # of the bundle mentions it, and only that one needs composing
    tail = "---\n" + DEPLOY.format(name="dify-api", team=0, i=i).split("---\n")[0] if i % 24 == 3 else ""
    return head + body + tail


def big_values(name: str, i: int, team: int) -> str:
    """A chart's values.yaml of ~100 KB: many settings, one image mapping that names ``name``."""
    settings = "".join(f"  setting{j}: {{enabled: true, replicas: {j % 5}, note: \"{'x' * 60}\"}}\n"
                       for j in range(1000))
    return (f"# values of {name}\nconfig:\n{settings}" + VALUES.format(name=name, team=team, i=i))


def generate_large(root: Path, count: int) -> int:
    """Mixed-format tree; returns the number of YAML files."""
    yaml_files = 0
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit; dify-api is mentioned in prose. " * 250)
    for i in range(count):
        folder = root / f"repo{i // 400:03d}" / ("deploy" if i % 3 else "src") / f"d{i % 40:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = "dify-api" if i % 5 == 0 else f"svc-{i}"  # about 400 of 20,000 files deploy it
        team = 0 if name == "dify-api" else i % 7
        kind = i % 26
        if kind == 0:
            (folder / f"{name}-{i}.yaml").write_text(DEPLOY.format(name=name, team=team, i=i))
        elif kind == 3 and i % 12 == 3:
            (folder / f"crds-{i}.yaml").write_text(crd_bundle(i))
        elif kind == 6 and i % 4 == 2:  # a big values file (~100 KB) whose one image is the bumped one
            (folder / f"values-big-{i}.yaml").write_text(big_values(name, i, team))
        elif kind == 3:
            (folder / f"values-{i}.yaml").write_text(VALUES.format(name=name, team=team, i=i))
        elif kind == 4 and i % 2:
            (folder / f"docker-compose-{i}.yml").write_text(COMPOSE.format(name=name, team=team, i=i))
        elif kind == 4:
            (folder / f"tpl-{i}.yaml").write_text(TEMPLATE)
        elif kind == 5 and i % 4 == 1:
            (folder / "kustomization.yaml").write_text(KUSTOMIZATION.format(i=i))
        else:
            suffix = (".md", ".py", ".go", ".json", ".txt", ".bin", ".ts")[i % 7]
            data = filler[: 1000 + (i * 7919) % 20000].encode()
            if suffix == ".bin":
                data = bytes(range(256)) * (1 + i % 40)
            (folder / f"file-{i}{suffix}").write_bytes(data)
            continue
        yaml_files += 1
    return yaml_files


# A child's ru_maxrss still holds the peak of the process that spawned it (Linux keeps it across
# exec, and subprocess uses vfork), so a small launcher forks the measured process and reports it.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
                  usage.ru_utime + usage.ru_stime]))
"""


ROUNDS = 5


def rss_of(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of one process running ``command`` (its workers'
    CPU included: wait4 reports a process with the children it waited for)."""
    import json

    # the action image ships compiled bytecode: let the children cache it (the first run compiles)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(["/usr/bin/env", "python3", "-c", LAUNCHER, *command], capture_output=True,
                         text=True, check=True, env=env).stdout
    elapsed, rss, code, cpu = json.loads(out)
    if code != 0:
        raise SystemExit(f"{command[:4]}... exited {code}")
    return float(elapsed), float(rss), float(cpu)


def large(count: int, label: str, goal: float, skip_ruamel: bool = False) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-bump-large-"))
    try:
        tree = work / "tree"
        yaml_count = generate_large(tree, count)
        size_mb = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file()) / 1e6
        grep = ["grep", "-rl", "dify-api", str(tree)]
        os.sync()  # the generated tree on disk: the first bump's sync must not pay for writing it
        subprocess.run(grep, capture_output=True, check=False)  # warm the page cache
        # grep and bump alternate, so that both meet the machine in the same state (this VM's disk
        # and CPU vary by 2x over minutes); the best of each is compared
        grep_runs, runs = [], []
        for round_ in range(ROUNDS):
            grep_runs.append(timed(lambda: subprocess.run(grep, capture_output=True, check=False)))
            cli = [sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(tree), "--image",
                   "registry.local:5000/team0/dify-api", "--tag", f"2.0.{round_}", "--json"]
            runs.append(rss_of(cli))
        grep_s = min(grep_runs)
        bump_s = min(run[0] for run in runs)
        rss_mb = max(run[1] for run in runs)
        cpu_s = min(run[2] for run in runs)
        ratios = sorted(run[0] / g for run, g in zip(runs, grep_runs, strict=True))
        from dify_action.bump import fanout
        # the floor no bump goes under: this interpreter starting and importing nothing of ours
        bare_s = min(rss_of([sys.executable, "-c", "pass"])[0] for _ in range(3))
        one_s = one_file_bump(work / "one")
        if skip_ruamel:
            print(f"{label} tree: {count} files ({yaml_count} YAML), bump {bump_s * 1000:.1f} ms = "
                  f"{bump_s / grep_s:.2f}x grep -rl ({grep_s * 1000:.1f} ms; goal <= {goal:g}x; median of the "
                  f"{ROUNDS} paired runs {ratios[len(ratios) // 2]:.2f}x), CPU {cpu_s * 1000:.0f} ms in "
                  f"{fanout.processes()} process(es), peak RSS {rss_mb:.1f} MB (goal <= 150 MB); bare "
                  f"interpreter start {bare_s * 1000:.1f} ms, a bump of a one-file tree {one_s * 1000:.1f} ms "
                  f"({one_s / grep_s:.2f}x this tree's grep)")
            return
        from ruamel.yaml import YAML

        rt = YAML()
        files = sorted(p for p in tree.rglob("*") if p.suffix in (".yaml", ".yml") and "tpl-" not in p.name)

        def round_trip() -> None:
            for path in files:
                out = io.StringIO()
                rt.dump_all(list(rt.load_all(path.read_text())), out)

        ruamel_s = timed(round_trip)
        changed = len(subprocess.run(grep, capture_output=True, text=True, check=False).stdout.splitlines())
        print(f"{label} tree: {count} files ({yaml_count} YAML, {changed} mention the image), {size_mb:.0f} MB")
        print(f"grep -rl:                    {grep_s * 1000:8.1f} ms")
        print(f"bump, whole CLI process:     {bump_s * 1000:8.1f} ms  ({bump_s / grep_s:.2f}x grep -rl; "
              f"goal <= {goal:g}x; median of the paired runs {ratios[len(ratios) // 2]:.2f}x)")
        print(f"bump CPU (user + system):    {cpu_s * 1000:8.1f} ms  ({fanout.processes()} process(es))")
        print(f"ruamel.yaml round trip:      {ruamel_s * 1000:8.1f} ms  ({ruamel_s / bump_s:.1f}x bump; goal >= 30x)")
        print(f"peak RSS, bump process:      {rss_mb:8.1f} MB  (goal <= 150 MB)")
        print(f"bare interpreter start:      {bare_s * 1000:8.1f} ms  (the floor of any CLI process)")
        print(f"bump of a one-file tree:     {one_s * 1000:8.1f} ms  (the floor of any bump: start, imports, "
              f"checks; {one_s / grep_s:.2f}x this tree's grep)")
    finally:
        shutil.rmtree(work)


def one_file_bump(root: Path) -> float:
    """Seconds of the best of 3 bumps of a tree of one Deployment: what a bump costs before the tree's
    size counts (interpreter, imports, the release set's and the journal's fixed work)."""
    (root / "app").mkdir(parents=True)
    (root / "app" / "deploy.yaml").write_text(DEPLOY.format(name="dify-api", team=0, i=0))
    cli = [sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(root), "--image",
           "registry.local:5000/team0/dify-api", "--json"]
    return min(rss_of([*cli, "--tag", f"3.0.{i}"])[0] for i in range(3))


def timed(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int)
    parser.add_argument("--large", action="store_true", help="the mixed 20,000-file tree of issue 11")
    parser.add_argument("--skip-ruamel", action="store_true", help="only the bump vs grep figures")
    parser.add_argument("--small", action="store_true", help="the same mix on 3,000 files (issue 22)")
    args = parser.parse_args()
    if args.large:
        large(args.files or 20_000, "large", 3, args.skip_ruamel)
        return
    if args.small:
        large(args.files or 3_000, "small", 5, args.skip_ruamel)
        return
    args.files = args.files or 10_000
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
