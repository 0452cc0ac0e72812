"""scripts/release-rewrite turns the development tree (actions built from the Dockerfile, workflows
checking dify-action out at action-ref) into a release where one SHA pins everything: action.yml, every
<command>/action.yml and every reusable workflow run the published image by digest, and nothing can
drift from it (#10)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release-rewrite"
IMAGE = "ghcr.io/acme/dify-action"
FULL, SLIM = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SLIM_COMMANDS = {"bump", "promote", "rollback"}
NOT_RELEASED = {"release.yml", "ci.yml"}  # this repository's own workflows, not called by users
COMMAND_ACTIONS = sorted(path.parent.name for path in ROOT.glob("*/action.yml"))


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    (root / ".github").mkdir(parents=True)
    shutil.copy2(ROOT / "action.yml", root / "action.yml")
    for command in COMMAND_ACTIONS:
        (root / command).mkdir()
        shutil.copy2(ROOT / command / "action.yml", root / command / "action.yml")
    shutil.copytree(ROOT / ".github" / "workflows", root / ".github" / "workflows")
    return root


def rewrite(root: Path, *extra: str, digest: str = FULL) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(SCRIPT), "--root", str(root), "--image", IMAGE, "--digest", digest,
            "--slim-digest", SLIM, *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.yml"))}


def steps(workflow: dict[str, object]) -> list[dict[str, object]]:
    jobs = workflow.get("jobs") or {}
    assert isinstance(jobs, dict)
    return [step for job in jobs.values() for step in (job.get("steps") or [])]


def test_the_release_is_a_self_consistent_set(tmp_path: Path) -> None:
    root = tree(tmp_path)
    before = snapshot(root)
    proc = rewrite(root)
    assert proc.returncode == 0, proc.stderr
    action = yaml.safe_load((root / "action.yml").read_text())
    assert action["runs"] == {"using": "docker", "image": f"docker://{IMAGE}@{FULL}"}
    assert COMMAND_ACTIONS == ["build", "bump", "check", "merge", "promote", "rollback", "scan", "test", "verify"]
    for command in COMMAND_ACTIONS:
        released_action = yaml.safe_load((root / command / "action.yml").read_text())
        digest = SLIM if command in SLIM_COMMANDS else FULL
        assert released_action["runs"] == {"using": "docker", "image": f"docker://{IMAGE}@{digest}",
                                           "args": [command]}, command
        changed = [line for line in (root / command / "action.yml").read_text().splitlines()
                   if line not in before[f"{command}/action.yml"].decode().splitlines()]
        assert changed == [f"  image: docker://{IMAGE}@{digest}"], command
    seen = set()
    for path in sorted((root / ".github" / "workflows").glob("*.yml")):
        if path.name in NOT_RELEASED:
            assert path.read_bytes() == before[f".github/workflows/{path.name}"]
            continue
        original = yaml.safe_load(before[f".github/workflows/{path.name}"])
        released = yaml.safe_load(path.read_text())
        text = path.read_text()
        assert ".dify-action" not in text and "inputs.action-ref" not in text, path.name
        call = (released.get(True) or released.get("on") or {}).get("workflow_call") or {}
        assert not {"action-ref", "action-repository"} & set(call.get("inputs") or {}), path.name
        kept = [s for s in steps(original) if "path" not in (s.get("with") or {}) or
                s["with"]["path"] != ".dify-action"]
        assert len(kept) == len(steps(released)), path.name
        for old, new in zip(kept, steps(released), strict=True):
            uses = str(old.get("uses", ""))
            if uses == "./.dify-action" or uses.startswith("./.dify-action/"):
                # a per-command action's command travels as the container's argument (with: args)
                command = uses.removeprefix("./.dify-action/") if "/" in uses[2:] else old["with"]["command"]
                digest = SLIM if command in SLIM_COMMANDS else FULL
                assert new["uses"] == f"docker://{IMAGE}@{digest}", (path.name, command)
                if "/" in uses[2:]:
                    assert "command" not in old["with"] and next(iter(new["with"])) == "args", path.name
                    assert new["with"].pop("args") == command
                seen.add(command)
                new = {**new, "uses": old["uses"]}
            assert new == old, path.name  # every other key, input and expression is untouched
        # byte for byte: every line of the release is a line of the development tree, or a new `uses:`
        old_lines = set(before[f".github/workflows/{path.name}"].decode().splitlines())
        for line in text.splitlines():
            pinned = re.fullmatch(rf"\s+uses: docker://{re.escape(IMAGE)}@sha256:[ab]{{64}}", line)
            assert line in old_lines or pinned or re.fullmatch(r"\s+args: [a-z]+", line)
    assert {"build", "test", "scan", "bump", "promote", "rollback", "pipeline", "verify"} <= seen


def test_the_released_workflows_pass_actionlint(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert rewrite(root).returncode == 0
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is not installed (pip install -r requirements-tools.txt)"
    workflows = [str(p.relative_to(root)) for p in sorted((root / ".github" / "workflows").glob("*.yml"))]
    proc = subprocess.run([actionlint, *workflows], cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_a_second_rewrite_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert rewrite(root).returncode == 0
    released = snapshot(root)
    again = rewrite(root)
    assert again.returncode == 2
    assert "action.yml: expected one 'image: Dockerfile' under runs:, found 0" in again.stderr
    assert snapshot(root) == released


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF:sh", min_size=0, max_size=80))
def test_a_bad_digest_is_exit_2_and_writes_nothing(digest: str) -> None:
    import tempfile

    if re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        return
    with tempfile.TemporaryDirectory() as temp:
        root = tree(Path(temp))
        before = snapshot(root)
        proc = rewrite(root, digest=digest)
        assert proc.returncode == 2
        assert f"invalid digest {digest!r}: sha256: and 64 hex digits" in proc.stderr
        assert snapshot(root) == before
