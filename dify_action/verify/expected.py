"""The expected state: what the environment's GitOps branch declares at a revision.

Read with the bump engine's own reader (``find_images``: every shape a bump edits) from a clone with
history, so that a live revision can be placed relative to the commit asked for: the same, a
descendant (another change merged since: its state is expected, and what of the commit it
superseded is noted), an ancestor (still catching up) or unknown. Each image's digest is the one the
files pin, else the registry's for the tag; its Dify facts (version, Alembic heads) are the ones
recorded next to that digest (dify/registryfacts.py).
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from dify_action import refs
from dify_action.bump import find_images
from dify_action.delivery import Git
from dify_action.dify.registryfacts import image_facts
from dify_action.errors import DifyActionError, InputError
from dify_action.registry import RegistryFor
from dify_action.verify.model import ExpectedImage, ExpectedState, short_digest, short_revision
from dify_action.verify.request import VerifyRequest, ours_filter

MAX_TREE = 256 << 20  # a GitOps tree is text; an archive past this is refused, not unpacked


class History:
    """The GitOps branch's commits, in a local repository (a blobless clone, or the user's tree)."""

    def __init__(self, git: Git, branch: str | None) -> None:
        self.git, self.branch = git, branch

    def resolve(self, commit: str | None) -> str:
        """The full sha of ``commit`` (default: the branch's head); InputError when it is not there."""
        rev = commit or "HEAD"
        proc = self.git.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise InputError("commit", commit, f"a commit of the GitOps repository's {self.branch or 'branch'}: "
                             "not found in it")
        return proc.stdout.strip()

    def known(self, revision: str) -> bool:
        return self.git.run("cat-file", "-e", f"{revision}^{{commit}}", check=False).returncode == 0

    def relation(self, commit: str, live: str) -> str:
        """same | ahead (live descends from commit) | behind (live is an ancestor) | unknown."""
        if not self.known(live) and self.branch:  # merged after the clone: fetch the branch once more
            self.git.run("fetch", "--quiet", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
                         check=False)
        if not self.known(live):
            return "unknown"
        full = self.resolve(live)
        if full == commit:
            return "same"
        if self._ancestor(commit, full):
            return "ahead"
        return "behind" if self._ancestor(full, commit) else "unknown"

    def _ancestor(self, older: str, newer: str) -> bool:
        return self.git.run("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def tree(self, revision: str, into: Path) -> Path:
        """The files of ``revision`` under ``into`` (git archive: the user's checkout is not touched)."""
        archive = into / ".revision.tar"
        self.git.run("archive", "--format=tar", "-o", str(archive), revision)
        if archive.stat().st_size > MAX_TREE:
            raise DifyActionError(f"revision {short_revision(revision)} of the GitOps repository is over "
                                  f"{MAX_TREE >> 20} MiB: refused, not unpacked")
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
        archive.unlink()
        return into


@contextlib.contextmanager
def open_history(request: VerifyRequest) -> Iterator[History]:
    """A blobless clone of the environment's branch (history, blobs on demand), or the given tree."""
    if request.directory is not None:
        yield History(Git(str(request.directory.resolve()), request.directory.resolve(), base_env=request.environ),
                      None)
        return
    assert request.repo_url is not None
    with tempfile.TemporaryDirectory(prefix="dify-action-verify-") as temp:
        git = Git(request.repo_url, Path(temp) / "gitops", request.gitops_token, base_env=request.environ)
        branch = [f"--branch={request.base}"] if request.base else []
        proc = git.run("clone", "--quiet", "--bare", "--filter=blob:none", "--single-branch", *branch, "--",
                       git.url, str(git.workdir), cwd=Path(temp), check=False)
        if proc.returncode != 0:
            proc = git.run("clone", "--quiet", "--bare", "--single-branch", *branch, "--", git.url, str(git.workdir),
                           cwd=Path(temp), check=False)
        if proc.returncode != 0:
            raise git.error("clone", proc.stderr)
        if request.base:  # a bare clone names the branch itself; fetch keeps it under origin/ too
            git.run("config", "remote.origin.fetch", f"+refs/heads/{request.base}:refs/heads/{request.base}")
        yield History(git, request.base)


def read_state(history: History, revision: str, request: VerifyRequest, registry_for: RegistryFor) -> ExpectedState:
    """The images ``revision`` declares under the environment's paths (the config's components only,
    when it declares any: upstream images are not ours to prove), pinned and with their facts."""
    ours = ours_filter(request.ours)
    with tempfile.TemporaryDirectory(prefix="dify-action-verify-tree-") as temp:
        root = history.tree(revision, Path(temp))
        found = [f for f in find_images(root, request.paths) if not ours or f.ref.match_key in ours]
    by_repo: dict[str, list[tuple[refs.ImageRef, str]]] = {}
    for item in found:
        by_repo.setdefault(item.ref.match_key, []).append((item.ref, f"{item.file}:{item.line}"))
    images = []
    for key, items in sorted(by_repo.items()):
        versions = {(r.tag, r.digest) for r, _ in items}
        if len(versions) > 1:
            where = "; ".join(f"{w} {r}" for r, w in items)
            raise DifyActionError(f"{request.environment} declares several versions of {key} at "
                                  f"{short_revision(revision)}: {where}",
                                  hint="one version per image: an environment running two cannot be proven")
        ref, where = items[0]
        images.append(_pinned(ref, where, registry_for))
    if not images:
        raise DifyActionError(f"{request.environment} declares no image of ours under {', '.join(request.paths)} at "
                              f"{short_revision(revision)}", hint="check the environment's paths and components")
    return ExpectedState(request.environment, revision, tuple(images))


def _pinned(ref: refs.ImageRef, where: str, registry_for: RegistryFor) -> ExpectedImage:
    client = registry_for(ref.registry)
    digest = ref.digest or client.resolve_digest(ref)
    facts = image_facts(client, ref.with_version(ref.tag, digest))
    return ExpectedImage(ref, digest, facts.dify_version, facts.heads, where)


class Expectations:
    """The expected state the sources compare with: the commit's, moved forward to a live revision
    that descends from it. ``notes`` say what of the commit a newer revision superseded."""

    def __init__(self, history: History, commit: str, state_at: Callable[[str], ExpectedState]) -> None:
        self.history, self.commit, self._state_at = history, commit, state_at
        self._states: dict[str, ExpectedState] = {commit: state_at(commit)}
        self._relations: dict[str, str] = {}
        self.current = self._states[commit]
        self.notes: list[str] = []

    @property
    def base(self) -> ExpectedState:
        return self._states[self.commit]

    def relation(self, live: str) -> str:
        if live not in self._relations:
            self._relations[live] = self.history.relation(self.commit, live)
        return self._relations[live]

    def at(self, live: str) -> ExpectedState | None:
        """The state expected of a source at ``live``: None while it is behind (or unknown)."""
        relation = self.relation(live)
        if relation == "same":
            return self.base
        if relation != "ahead":
            return None
        full = self.history.resolve(live)
        if full not in self._states:
            state = self._states[full] = self._state_at(full)
            gone = [i for i in self.base.images if all(i.digest != j.digest for j in state.images)]
            if gone:
                self.notes.append(f"live revision {short_revision(full)} supersedes {short_revision(self.commit)}: "
                                  + "; ".join(f"{i.ref.name} {i.ref.tag} @ {short_digest(i.digest)} no longer "
                                              "declared" for i in gone))
            if self.current is self.base or self.relation_between(self.current.revision, full) == "ahead":
                self.current = state
        return self._states[full]

    def relation_between(self, older: str, newer: str) -> str:
        return self.history.relation(older, newer)
