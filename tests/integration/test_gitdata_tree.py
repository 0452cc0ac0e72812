"""Property (issue 19): for generated changes, the commit made through the Git Data API has the tree
``git commit`` makes from the same working tree, hash for hash: nested paths, the executable bit,
symlinks, CRLF, bytes that look binary, deletions, files up to a few MB (base64 blobs)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from emulator.bare import git as bare_git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_action.delivery import Caller, Git, Identity, RetryPolicy
from dify_action.delivery.gitdata import GitData

pytestmark = pytest.mark.integration

_NAME = st.text("abcxyz-_.", min_size=1, max_size=6).filter(lambda s: s not in (".", "..") and
                                                               not s.startswith("."))
_PATH = st.lists(_NAME, min_size=1, max_size=3).map("/".join)
_BYTES = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\0", b"")),  # binary-looking but no NUL
    st.text(max_size=200).map(lambda t: t.replace("\n", "\r\n").encode()),  # CRLF text
    st.sampled_from([70_000, 1_500_000, 3_000_000]).map(lambda n: (b"kind: Deployment\r\n" * n)[:n]),
)
_FILE = st.tuples(st.sampled_from(["file", "exec", "link"]), _BYTES)
_CHANGES = st.dictionaries(_PATH, st.one_of(st.none(), _FILE), min_size=1, max_size=6)


@pytest.fixture
def bed(emulator: GitHubEmulator, tmp_path: Path) -> Iterator[tuple[GitHubEmulator, Path]]:
    emulator.repo.commit_files("main", {"base/a.yaml": "a: 1\n", "base/run.sh": "#!/bin/sh\n", "top.txt": "t\r\n"},
                               "base files")
    yield emulator, tmp_path


def _write(root: Path, changes: dict[str, tuple[str, bytes] | None]) -> bool:
    """Apply ``changes`` to the working tree; False when the paths clash (a file and a directory)."""
    for path, change in changes.items():
        target = root / path
        if any(p.is_file() or p.is_symlink() for p in target.parents if p != root and root in p.parents):
            return False
        if target.is_dir() and not target.is_symlink():
            return False
        if change is None:
            if target.is_symlink() or target.is_file():
                target.unlink()
            continue
        kind, data = change
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        if kind == "link":
            os.symlink(data.decode(errors="replace").replace("\0", "")[:80] or "x", target)
        else:
            target.write_bytes(data)
            target.chmod(0o755 if kind == "exec" else 0o644)
    return True


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=_CHANGES)
def test_api_tree_equals_git_tree(bed: tuple[GitHubEmulator, Path], changes: dict[str, tuple[str, bytes] | None]
                                  ) -> None:
    em, tmp = bed
    work = tmp / f"w{len(list(tmp.iterdir()))}"
    subprocess.run(["git", "clone", "--quiet", str(em.repo.path), str(work)], check=True)
    if not _write(work, changes):
        return
    g = Git(str(work), work, base_env=os.environ)
    g.run("-c", "core.autocrlf=false", "add", "-A")
    if not g.run("status", "--porcelain").stdout.strip():
        return  # nothing changed: no commit to make
    g.run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "change")
    api = GitData(em.api_url, em.token, em.full_name, Caller(RetryPolicy(sleep=lambda _: None)), Identity())
    sha = api.remake(g, "HEAD", g.rev_parse("HEAD^"))
    assert bare_git(em.repo.path, "rev-parse", f"{sha}^{{tree}}") == g.rev_parse("HEAD^{tree}")
    assert bare_git(em.repo.path, "rev-parse", f"{sha}^") == g.rev_parse("HEAD^")
