"""Kills of a real ``dify-action bump`` over 3000 files (issue #9, item 7): SIGKILL and SIGTERM at
random moments leave, after recovery, every file old or every file new and no temp or journal
file; SIGTERM exits 143 and recovers in the same run. And a full disk is a clear error."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
FILES = 3000
# a note line makes 3000 files about 1.5 MB: over fanout.MIN_WEIGHT, so the kills also meet the
# forked workers that compose and stage the files (a killed bump must leave none of them running)
DEPLOY = (
    "# app {i}\n# " + "notes " * 50 + "\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: api\n          image: acme/dify-api:{tag}   # pinned\n"
)
TAG = re.compile(rb"acme/dify-api:(\S+)")


def _generate(root: Path, count: int, tag: str = "1.0") -> None:
    for i in range(count):
        folder = root / f"env{i % 3}" / f"group{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"app{i}.yaml").write_text(DEPLOY.format(i=i, tag=tag))


def _tags(root: Path) -> set[bytes]:
    found: set[bytes] = set()
    count = 0
    for path in root.rglob("*.yaml"):
        match = TAG.search(path.read_bytes())
        assert match, path
        found.add(match.group(1))
        count += 1
    assert count == FILES
    return found


def _leftovers(root: Path) -> list[str]:
    """Anything hidden anywhere in the tree: old-style temp files (.name.XXXX) or the journal."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if any(part.startswith(".") for part in
                                                                         p.relative_to(root).parts))


def _bump(root: Path, tag: str, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(root), "--image", "acme/dify-api",
            "--tag", tag, *extra]
    return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kills_at_random_moments_leave_all_old_or_all_new(tmp_path: Path) -> None:
    seed = int(os.environ.get("DA_KILL_SEED", str(time.time_ns() % 10**6)))
    rng = random.Random(seed)
    root = tmp_path / "gitops"
    _generate(root, FILES)
    journal = root / ".dify-action-journal"
    old = b"1.0"
    moments: list[str] = []
    rounds = [(signal.SIGKILL, "staging"), (signal.SIGTERM, "renaming"), (signal.SIGKILL, "renaming"),
              (signal.SIGTERM, "staging"), (signal.SIGKILL, "planning"), (signal.SIGKILL, "any")]
    for round_, (signum, moment) in enumerate(rounds):
        new = f"r{round_}".encode()
        proc = _bump(root, new.decode())
        if moment == "any":
            moment = rng.choice(["planning", "staging", "renaming"])
        if moment == "planning":
            time.sleep(rng.uniform(0.3, 3.0))
        else:  # staging: from the journal's first appearance; renaming: from the commit point
            marker = journal if moment == "staging" else journal / "manifest.json"
            while not marker.exists() and proc.poll() is None:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 2.0 if moment == "staging" else 0.05))
        had_journal = journal.exists()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        moments.append(f"{signal.Signals(signum).name} {moment} rc={proc.returncode} journal={had_journal}")
        if signum == signal.SIGTERM:
            assert proc.returncode in (143, 0), err.decode()
            assert b"Traceback" not in err
            if proc.returncode == 143:
                assert b"interrupted" in err
        else:
            assert proc.returncode in (-signal.SIGKILL, 0)
            recovery = _bump(root, new.decode(), "--dry-run")
            _, recovery_err = recovery.communicate(timeout=120)
            assert recovery.returncode == 0, recovery_err.decode()
            if journal.exists() or b"interrupted bump was found" in recovery_err:
                moments[-1] += " recovered: " + recovery_err.decode().splitlines()[0]
        state = _tags(root)
        assert state in ({old}, {new}), (seed, moments, state)
        assert _leftovers(root) == [], (seed, moments)
        old = state.pop()
    print(f"seed {seed}:", *moments, sep="\n  ")
    assert any("journal=True" in moment for moment in moments), moments  # some kills hit the write
    assert _orphans(root) == [], "a worker of a killed bump is still running"


def _orphans(root: Path) -> list[str]:
    """Processes still running a bump of ``root`` (a worker outliving its killed parent)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(root).encode() in argv and b"bump" in argv:
                found.append(entry)
    return found


def test_enospc_is_a_clear_error_and_the_tree_is_unchanged(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        root = small / "gitops"
        count = 60
        _generate(root, count)
        before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
        fd = os.open(small / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk, then free a few pages
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(small / "filler", max(0, (small / "filler").stat().st_size - 10 * 4096))
        done = subprocess.run([sys.executable, "-m", "dify_action", "bump", "--gitops-dir", str(root),
                               "--image", "acme/dify-api", "--tag", "2.0"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "cannot write the bump into" in done.stderr and "No space left on device" in done.stderr
        assert "free disk space; no file of the tree was changed" in done.stderr
        assert "Traceback" not in done.stderr
        assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before
        assert not list(root.rglob(".*"))
    finally:
        subprocess.run(["umount", str(small)], check=True)
