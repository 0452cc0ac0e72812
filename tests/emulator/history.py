"""A real GitOps history for verify's source tests: a git repository with a line of commits, the
``History`` over it and ``Expectations`` whose state per revision the test chooses (the sources are
under test there; the reader of the files is tested on its own, with the registry)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dify_action import refs
from dify_action.delivery import Git
from dify_action.verify.expected import Expectations, History
from dify_action.verify.model import ExpectedImage, ExpectedState

API = "127.0.0.1:5000/acme/dify-api"
DIGESTS = {name: "sha256:" + (ch * 64) for name, ch in (("new", "a"), ("old", "b"), ("newer", "c"), ("web", "d"))}


def commit_line(root: Path, count: int = 3) -> list[str]:
    """``count`` commits on main, oldest first."""
    root.mkdir(parents=True, exist_ok=True)
    run = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True, text=True).stdout  # noqa: E731
    run("init", "-q", "-b", "main")
    shas = []
    for index in range(count):
        (root / "state.txt").write_text(f"{index}\n")
        run("add", "-A")
        run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"change {index}")
        shas.append(run("rev-parse", "HEAD").strip())
    return shas


def image(tag: str, digest: str, version: str | None = "1.13.3", repository: str = API) -> ExpectedImage:
    return ExpectedImage(refs.parse(f"{repository}:{tag}"), digest, version)


def expectations(root: Path, commit: str, states: Mapping[str, tuple[ExpectedImage, ...]]) -> Expectations:
    """Expectations at ``commit``; ``states`` maps revisions to their images (default: the commit's)."""
    history = History(Git(str(root), root, base_env=os.environ), "main")
    default = states.get(commit) or next(iter(states.values()))
    return Expectations(history, commit, lambda rev: ExpectedState("staging", rev, states.get(rev, default)))
