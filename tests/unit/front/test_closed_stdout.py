"""A reader that goes away (``dify-action bump ... --json | head -1``) ends the output, not the run.

The CLI runs as a real process with its stdout (or stderr) a pipe whose reader is already gone: the
bump still writes the whole change (all or nothing, no journal left), exits with the command's own
code and prints no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api-{i}
spec:
  template:
    spec:
      containers:
        - name: api
          image: registry.local:5000/team0/dify-api:1.0.{i}  # pinned by CI
"""
ROOT = Path(__file__).resolve().parents[3]


def _tree(root: Path, count: int) -> None:
    for i in range(count):
        (root / f"env{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"env{i % 3}" / f"api-{i}.yaml").write_text(DEPLOY.format(i=i))


def _run_closed(root: Path, closed: str, *extra: str) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte: every write meets EPIPE
    try:
        streams = {"stdout": write, "stderr": subprocess.PIPE} if closed == "stdout" else \
            {"stdout": subprocess.PIPE, "stderr": write}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
        env["PYTHONPATH"] = str(ROOT)
        return subprocess.run(
            [sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(root), "--image",
             "registry.local:5000/team0/dify-api", "--tag", "2.0.1", *extra],
            text=True, env=env, cwd=root, timeout=120, check=False, **streams)  # type: ignore[call-overload]
    finally:
        os.close(write)


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
@pytest.mark.parametrize("extra", [("--json",), ()])
def test_closed_reader_ends_output_not_the_bump(tmp_path: Path, closed: str, extra: tuple[str, ...]) -> None:
    _tree(tmp_path, 40)
    done = _run_closed(tmp_path, closed, *extra)
    other = done.stderr if closed == "stdout" else done.stdout
    assert done.returncode == 0, other
    assert "Traceback" not in (other or "") and "BrokenPipeError" not in (other or "")
    for i in range(40):  # the whole change, as with an open stdout
        text = (tmp_path / f"env{i % 3}" / f"api-{i}.yaml").read_text()
        assert text == DEPLOY.format(i=i).replace(f"dify-api:1.0.{i}", "dify-api:2.0.1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env0", "env1", "env2"]  # no journal left


def test_closed_reader_keeps_the_commands_exit_code(tmp_path: Path) -> None:
    """A refused bump (bad input: exit 2) stays exit 2 with nobody reading; nothing is written."""
    _tree(tmp_path, 3)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.yaml")}
    done = _run_closed(tmp_path, "stdout", "--path", "../outside", "--json")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "path" in done.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.yaml")} == before
