"""The Git Data routes of the emulator (blobs, trees, commits) on the real bare repository, and
"require signed commits" on a branch (issue 19).

Objects are real git objects (``hash-object -w``, a temporary index on the base tree, ``commit-tree``),
so a tree the API makes has exactly the hash git gives the same content. GitHub signs a commit it
authors itself: a commit created here without author, committer or signature, by a token the
emulator treats as an App installation token (``signs``), is recorded as verified. A branch in
``protected`` refuses every pushed or API-moved commit that is not verified, with GH013's message.
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import objects as o
from .bare import git
from .server import ApiError

if TYPE_CHECKING:
    from .server import GitHubEmulator

Q = dict[str, list[str]]
_SHA = re.compile(r"[0-9a-f]{40}")
GH013 = ("GH013: Repository rule violations found for {ref}.\n"
         "Review all repository rules at http://github.invalid/rules\n\n- Commits must have verified signatures.")
_HOOK = """#!/bin/sh
# the emulator's "require signed commits" (a ruleset): only verified commits may reach a protected branch
dir=$(pwd)
while read old new ref; do
  grep -qxF "$ref" "$dir/protected-signed" 2>/dev/null || continue
  case "$new" in 0000000000000000000000000000000000000000) continue;; esac
  for c in $(git rev-list "$new" --not --all); do
    if ! grep -qxF "$c" "$dir/verified-commits" 2>/dev/null; then
      echo "error: GH013: Repository rule violations found for $ref." >&2
      echo "- Commits must have verified signatures." >&2
      echo "  Found 1 violation: $c" >&2
      exit 1
    fi
  done
done
"""


def protect(em: GitHubEmulator, branch: str) -> None:
    """Require verified signatures on ``branch`` (pushes over git and ref updates through the API)."""
    path = em.repo.path
    hook = path / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(_HOOK)
    hook.chmod(0o755)
    with (path / "protected-signed").open("a") as out:
        out.write(f"refs/heads/{branch}\n")


def verified(em: GitHubEmulator, sha: str) -> bool:
    file = em.repo.path / "verified-commits"
    return file.exists() and sha in file.read_text().split()


def check_protected(em: GitHubEmulator, ref: str, old: str | None, new: str) -> None:
    """GH013 for an API ref update that would bring an unverified commit onto a protected branch."""
    file = em.repo.path / "protected-signed"
    if not file.exists() or ref not in file.read_text().split():
        return
    news = git(em.repo.path, "rev-list", new, *(["--not", old] if old else [])).split()
    if any(not verified(em, sha) for sha in news):
        raise ApiError(422, o.error(GH013.format(ref=ref), "rest/repos/rules", 422))


def _object_type(em: GitHubEmulator, sha: str) -> str | None:
    if not _SHA.fullmatch(sha or ""):
        return None
    return git(em.repo.path, "cat-file", "-t", sha, check=False) or None


def _fail(message: str, doc: str) -> ApiError:
    return ApiError(422, o.error(message, doc, 422))


def create_blob(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    doc = "git/blobs#create-a-blob"
    content, encoding = body.get("content"), body.get("encoding", "utf-8")
    if not isinstance(content, str) or encoding not in ("utf-8", "base64"):
        raise _fail("Invalid request.\n\nFor 'properties/content', nil is not a string.", doc)
    data = base64.b64decode(content) if encoding == "base64" else content.encode()
    sha = subprocess.run(["git", "-C", str(em.repo.path), "hash-object", "-w", "--stdin"], input=data,
                         capture_output=True, check=True).stdout.decode().strip()
    return 201, {"url": f"{em.urls.api}/repos/{em.full_name}/git/blobs/{sha}", "sha": sha}


def create_tree(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    doc = "git/trees#create-a-tree"
    base = body.get("base_tree")
    if base and _object_type(em, base) != "tree":
        raise _fail(f"base_tree {base} is not a valid tree", doc)
    with tempfile.TemporaryDirectory() as temp:
        env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
        git(em.repo.path, "read-tree", *([base] if base else ["--empty"]), env=env)
        for entry in body.get("tree", []):
            path, mode, kind, sha = entry.get("path"), entry.get("mode"), entry.get("type"), entry.get("sha")
            if mode not in ("100644", "100755", "040000", "160000", "120000") or kind not in ("blob", "commit"):
                raise _fail(f"tree.mode/type of {path} is invalid", doc)
            if sha is None and "content" not in entry:
                git(em.repo.path, "update-index", "--force-remove", "--", path, env=env)
                continue
            if sha is None:
                sha = subprocess.run(["git", "-C", str(em.repo.path), "hash-object", "-w", "--stdin"],
                                     input=entry["content"].encode(), capture_output=True,
                                     check=True).stdout.decode().strip()
            elif kind == "blob" and _object_type(em, sha) != "blob":
                raise _fail(f"tree.sha {sha} is not a valid blob", doc)
            git(em.repo.path, "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", env=env)
        tree = git(em.repo.path, "write-tree", env=env)
    return 201, _tree_json(em, tree)


def _tree_json(em: GitHubEmulator, tree: str) -> dict[str, Any]:
    base = f"{em.urls.api}/repos/{em.full_name}/git"
    entries = []
    for line in git(em.repo.path, "ls-tree", "-z", "--long", tree).split("\0"):
        if not line:
            continue
        meta, path = line.split("\t", 1)
        mode, kind, sha, size = meta.split()
        item: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": sha,
                                "url": f"{base}/{kind}s/{sha}"}
        if size != "-":
            item["size"] = int(size)
        entries.append(item)
    return {"sha": tree, "url": f"{base}/trees/{tree}", "truncated": False, "tree": entries}


def create_commit(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    doc = "git/commits#create-a-commit"
    tree, parents, message = body.get("tree", ""), body.get("parents") or [], body.get("message")
    if not isinstance(message, str) or _object_type(em, tree) != "tree":
        raise _fail("Tree SHA does not exist", doc)
    if any(_object_type(em, sha) != "commit" for sha in parents):
        raise _fail("Parent SHA does not exist or is not a commit object", doc)
    custom = any(key in body for key in ("author", "committer", "signature"))
    who = {"name": em.author, "email": f"{em.author}@users.noreply.github.invalid"}
    person = body.get("author") or who
    env = {"GIT_AUTHOR_NAME": person["name"], "GIT_AUTHOR_EMAIL": person["email"],
           "GIT_COMMITTER_NAME": (body.get("committer") or who)["name"],
           "GIT_COMMITTER_EMAIL": (body.get("committer") or who)["email"]}
    args = [arg for parent in parents for arg in ("-p", parent)]
    sha = subprocess.run(["git", "-C", str(em.repo.path), "commit-tree", tree, *args], input=message.encode(),
                         capture_output=True, check=True, env={**_env(), **env}).stdout.decode().strip()
    if em.signs and not custom:  # GitHub signs what it authors itself, for an App token
        with (em.repo.path / "verified-commits").open("a") as out:
            out.write(sha + "\n")
    return 201, commit_json(em, sha)


def _env() -> dict[str, str]:
    import os

    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": os.environ.get("HOME", "/")}


def commit_json(em: GitHubEmulator, sha: str) -> dict[str, Any]:
    base, html = f"{em.urls.api}/repos/{em.full_name}/git", f"{em.urls.html}/{em.full_name}"
    fields = git(em.repo.path, "show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI", sha)
    tree, parents, an, ae, ad, cn, ce, cd = fields.split("\0")
    message = subprocess.run(["git", "-C", str(em.repo.path), "cat-file", "commit", sha], capture_output=True,
                             check=True).stdout.decode().split("\n\n", 1)[1]
    signed = verified(em, sha)
    return {
        "sha": sha, "node_id": o.node_id("C", int(sha[:6], 16)), "url": f"{base}/commits/{sha}",
        "html_url": f"{html}/commit/{sha}", "message": message,
        "author": {"name": an, "email": ae, "date": ad}, "committer": {"name": cn, "email": ce, "date": cd},
        "tree": {"sha": tree, "url": f"{base}/trees/{tree}"},
        "parents": [{"sha": s, "url": f"{base}/commits/{s}", "html_url": f"{html}/commit/{s}"}
                    for s in parents.split()],
        "verification": {"verified": signed, "reason": "valid" if signed else "unsigned",
                         "signature": "-----BEGIN PGP SIGNATURE-----\n(emulated)\n-----END PGP SIGNATURE-----"
                         if signed else None, "payload": None, "verified_at": o.now_iso() if signed else None},
    }


def get_commit(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    if _object_type(em, p["commit_sha"]) != "commit":
        raise ApiError(404, o.error("Not Found", "git/commits#get-a-commit-object", 404))
    return 200, commit_json(em, p["commit_sha"])
