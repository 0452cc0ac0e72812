"""A real bare repository for the emulator, and plumbing to commit into it as "someone else"."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "Someone Else",
    "GIT_AUTHOR_EMAIL": "else@example.invalid",
    "GIT_COMMITTER_NAME": "Someone Else",
    "GIT_COMMITTER_EMAIL": "else@example.invalid",
    "LC_ALL": "C",
}


def git(
    repo: Path,
    *args: str,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **_ENV, **(env or {})},
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode().strip()


class BareRepo:
    """``path`` is ``<root>/<owner>/<name>.git``, served by git http-backend under ``<root>``."""

    def __init__(self, root: Path, owner: str, name: str, default_branch: str = "main") -> None:
        self.root = root
        self.owner = owner
        self.name = name
        self.default_branch = default_branch
        self.path = root / owner / f"{name}.git"
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(self.path)],
                check=True,
            )
            git(self.path, "config", "receive.denyNonFastForwards", "false")

    def sha(self, branch: str) -> str | None:
        out = git(self.path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
        return out or None

    def ref_sha(self, ref: str) -> str | None:
        return git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None

    def branches(self) -> list[str]:
        out = git(self.path, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
        return out.splitlines()

    def read(self, branch: str, path: str) -> bytes | None:
        proc = subprocess.run(
            ["git", "-C", str(self.path), "cat-file", "blob", f"refs/heads/{branch}:{path}"],
            capture_output=True,
            check=False,
        )
        return proc.stdout if proc.returncode == 0 else None

    def blob_sha(self, branch: str, path: str) -> str | None:
        return git(self.path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}:{path}", check=False) or None

    def log(self, branch: str) -> list[str]:
        return git(self.path, "log", "--format=%H %s", f"refs/heads/{branch}").splitlines()

    def commit_files(
        self, branch: str, files: Mapping[str, bytes | str | None], message: str, parent: str | None = None
    ) -> str:
        """Commit ``files`` (None deletes) on top of ``branch`` (or ``parent``) with plumbing only,
        then move the branch with a compare-and-swap (like a push by another client)."""
        current = self.sha(branch)
        old = parent if parent is not None else current
        with tempfile.TemporaryDirectory() as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            if old:
                git(self.path, "read-tree", old, env=env)
            for name, content in files.items():
                if content is None:
                    git(self.path, "update-index", "--force-remove", "--", name, env=env)
                    continue
                data = content.encode() if isinstance(content, str) else content
                blob = git(self.path, "hash-object", "-w", "--stdin", stdin=data)
                git(self.path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            tree = git(self.path, "write-tree", env=env)
        parents = ["-p", old] if old else []
        new = git(self.path, "commit-tree", tree, *parents, "-m", message)
        git(self.path, "update-ref", f"refs/heads/{branch}", new, current or "0" * 40)
        return new

    def is_ancestor(self, older: str, newer: str) -> bool:
        return (
            subprocess.run(
                ["git", "-C", str(self.path), "merge-base", "--is-ancestor", older, newer], check=False
            ).returncode
            == 0
        )

    def diff_stats(self, base: str, head: str) -> dict[str, int]:
        commits = int(git(self.path, "rev-list", "--count", f"{base}..{head}") or 0)
        adds = dels = files = 0
        for line in git(self.path, "diff", "--numstat", f"{base}...{head}").splitlines():
            a, d, _ = line.split("\t", 2)
            adds += int(a) if a.isdigit() else 0
            dels += int(d) if d.isdigit() else 0
            files += 1
        return {"commits": commits, "additions": adds, "deletions": dels, "changed_files": files}

    def merge(self, base: str, head: str, message: str, *, squash: bool = False) -> str | None:
        """Merge ``head`` into ``base`` like GitHub's merge button (a merge commit, or one squashed
        commit); None when it does not merge cleanly. Moves ``base`` with a compare-and-swap."""
        base_sha, head_sha = self.sha(base), self.sha(head)
        assert base_sha and head_sha
        proc = subprocess.run(["git", "-C", str(self.path), "merge-tree", "--write-tree", base_sha, head_sha],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
        tree = proc.stdout.split()[0]
        parents = ["-p", base_sha] if squash else ["-p", base_sha, "-p", head_sha]
        new = git(self.path, "commit-tree", tree, *parents, "-m", message)
        git(self.path, "update-ref", f"refs/heads/{base}", new, base_sha)
        return new
