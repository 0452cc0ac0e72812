"""Delivery figures: GitHub API calls per fresh bump PR and per rerun (against the emulator), and
clone time on a generated GitOps repository (20,000 files, 1,000 commits) over git smart-http
with basic auth: our shallow+blobless+sparse clone vs a plain full clone, in one run.

    python benchmarks/bench_delivery.py [--files 20000] [--commits 1000]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulator import GitHubEmulator
from emulator.scenario import again, request

from dify_action.delivery import Git, deliver

TOKEN = "ghs_benchmark_token_0123456789"


def generate(bare: Path, files: int, commits: int, envs: int = 20) -> None:
    """Fill ``bare`` with ``files`` manifests and ``commits`` commits through git fast-import."""
    per_env = files // envs
    lines: list[bytes] = []
    stamp = 1_700_000_000

    def blob_cmd(path: str, text: str) -> None:
        data = text.encode()
        lines.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")

    def manifest(env: int, i: int, tag: str) -> str:
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  namespace: env-{env}\n"
                f"spec:\n  template:\n    spec:\n      containers:\n        - name: svc-{i}\n"
                f"          image: 127.0.0.1:5000/acme/svc-{i}:{tag}\n" + "# padding\n" * 20)

    for number in range(commits):
        lines.append(f"commit refs/heads/main\ncommitter Bench <b@example.invalid> {stamp + number} +0000\n"
                     f"data 10\ncommit {number:03d}\n".encode())
        if number == 0:
            for env in range(envs):
                for i in range(per_env):
                    blob_cmd(f"environments/env-{env}/svc-{i}.yaml", manifest(env, i, "1.0.0"))
        else:
            for k in range(5):
                env, i = (number * 7 + k) % envs, (number * 13 + k) % per_env
                blob_cmd(f"environments/env-{env}/svc-{i}.yaml", manifest(env, i, f"1.0.{number}"))
        lines.append(b"\n")
    subprocess.run(["git", "-C", str(bare), "fast-import", "--quiet"], input=b"".join(lines), check=True)
    subprocess.run(["git", "-C", str(bare), "gc", "--quiet"], check=True)


def api_calls(root: Path) -> tuple[int, int, int]:
    from gitopstree import gitops_files

    em = GitHubEmulator(root / "srv", TOKEN).start()
    try:
        em.repo.commit_files("main", gitops_files(), "initial")
        req = request(em, root / "c1", labels=("deploy",), reviewers=("alice",))
        deliver(req)
        fresh = len(em.records)
        deliver(again(req, root / "c2"))
        rerun = len(em.records) - fresh
        mark = len(em.records)
        deliver(request(em, root / "c3", tag="1.13.3-acme.43", labels=("deploy",), reviewers=("alice",)))
        return fresh, rerun, len(em.records) - mark
    finally:
        em.stop()


def clone_times(root: Path, files: int, commits: int) -> None:
    em = GitHubEmulator(root / "big", TOKEN).start()
    try:
        started = time.perf_counter()
        generate(em.repo.path, files, commits)
        print(f"generated {files} files / {commits} commits in {time.perf_counter() - started:.1f}s "
              f"({_du(em.repo.path) / 1e6:.1f} MB packed)")
        started = time.perf_counter()
        git = Git(em.clone_url, root / "ours", TOKEN, base_env=os.environ)
        (root / "ours").mkdir()
        _, info = git.clone("main", ["environments/env-3"])
        ours = time.perf_counter() - started
        checked_out = sum(1 for p in (root / "ours").rglob("*.yaml"))
        started = time.perf_counter()
        header = f"http.extraHeader=Authorization: Basic {_basic()}"
        subprocess.run(["git", "-c", header, "clone", "--quiet", em.clone_url, str(root / "full")], check=True)
        full = time.perf_counter() - started
        print(f"clone ours ({info.strategy}): {ours:.2f}s, {checked_out} files checked out, "
              f".git {_du(root / 'ours' / '.git') / 1e6:.1f} MB")
        print(f"clone full: {full:.2f}s, .git {_du(root / 'full' / '.git') / 1e6:.1f} MB")
        print(f"speed-up: {full / ours:.1f}x (goal >= 5x)")
    finally:
        em.stop()


def _basic() -> str:
    import base64

    return base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--commits", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as temp:
        root = Path(temp)
        fresh, rerun, changed = api_calls(root)
        print(f"API calls: fresh PR (with label + reviewer) {fresh} (goal <= 4), rerun {rerun} (goal <= 2), "
              f"changed tag {changed}")
        clone_times(root, args.files, args.commits)


if __name__ == "__main__":
    main()
