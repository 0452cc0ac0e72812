"""Rollback's reading side: which merged bump to roll back, and which image references it changed.

github: the pull request (by number, or the last merged one whose metadata block names the
environment); git: the commit (by sha, or the last first-parent commit of the base branch that
changes image references under the environment's paths). The image moves come from the commit's
own diff (find_images on both sides of it), so they are right whatever wrote the commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dify_action.bump import find_images
from dify_action.delivery import BumpMetadata, Git, parse_metadata
from dify_action.errors import DifyActionError, GitError, InputError
from dify_action.rollback.guard import Candidate, ImageMove, choose_last, rolled_back
from dify_action.rollback.model import MergedBump, RollbackRequest

if TYPE_CHECKING:
    from dify_action.delivery.github import GitHubForge
    from dify_action.delivery.github_calls import Caller

MAX_SCAN = 200  # closed PRs / commits looked at when searching the last bump of an environment


def _forge(request: RollbackRequest, caller: Caller) -> GitHubForge:
    """The one GitHub client (delivery's), with the request's API URL, token and retry policy."""
    from dify_action.delivery.github import GitHubForge  # PyGithub loads when GitHub is called

    d = request.destination
    return GitHubForge(d.github_api_url, d.token, d.github_repository(), caller)


def distrust(pull: Any, meta: BumpMetadata | None, base: str | None = None) -> str | None:
    """Why the metadata block of ``pull`` cannot be what dify-action wrote for it, or None.

    dify-action opens every bump, promote and rollback PR from ``dify-action/<environment>/...``
    (DeliveryRequest.branch, rollback_branch): a block naming an environment on any other branch
    (or a PR into another base) was not written for that PR by us.
    """
    if meta is None:
        return None
    head = str(pull.head.ref)
    if not head.startswith(f"dify-action/{meta.environment}/"):
        return (f"its metadata names environment {meta.environment!r} but its branch {head!r} is not "
                f"dify-action's branch for it (dify-action/{meta.environment}/...)")
    if base is not None and str(pull.base.ref) != base:
        return f"it was merged into {str(pull.base.ref)!r}, not {base!r}"
    return None


def _ensure_commit(git: Git, sha: str, base: str) -> None:
    """Make ``sha`` and its parents available in the (shallow) clone."""
    if git.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0 and \
            git.run("cat-file", "-e", f"{sha}^1", check=False).returncode == 0:
        return
    if git.run("fetch", "--quiet", "--depth=2", "origin", sha, check=False).returncode == 0:
        return
    _unshallow(git, base)
    if git.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode != 0:
        raise GitError(f"commit {sha} is not on {base} of {git.url}",
                       hint="check the commit, and that --base names the branch it was merged into")


def _unshallow(git: Git, base: str) -> None:
    if git.run("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        git.run("fetch", "--quiet", "--unshallow", "origin", f"+refs/heads/{base}:refs/remotes/origin/{base}")


def _parents(git: Git, sha: str) -> list[str]:
    return git.run("rev-list", "--parents", "-n", "1", sha).stdout.split()[1:]


def _bump_at(git: Git, sha: str, base: str, environment: str, **extra: Any) -> MergedBump:
    _ensure_commit(git, sha, base)
    parents = _parents(git, sha)
    if not parents:
        raise DifyActionError(f"commit {sha[:12]} is the first commit of {base}: there is nothing before it")
    return MergedBump(sha, parents[0], len(parents) > 1, base, environment, **extra)


def find_bump(request: RollbackRequest, git: Git, caller: Caller) -> MergedBump:
    """Clone into ``git.workdir`` and identify the bump to roll back (errors say why none)."""
    if request.pr is not None:
        pull = _forge(request, caller).get_pull(request.pr)
        if not pull.merged or not pull.merge_commit_sha:
            raise DifyActionError(f"pull request #{request.pr} is not merged ({pull.state}): nothing is deployed "
                                  "to roll back", hint="close an open bump pull request instead of rolling it back")
        if request.destination.base and request.destination.base != pull.base.ref:
            raise InputError("base", request.destination.base, f"#{request.pr} was merged into "
                             f"{pull.base.ref!r}: give that base (or none)")
        meta = parse_metadata(pull.body)
        doubt = distrust(pull, meta)
        if meta is not None and doubt:
            if not request.environment:
                raise DifyActionError(f"#{request.pr}: {doubt}", hint=f"if #{request.pr} is a deployment, name "
                                      "its environment with --environment")
            meta = None
        if meta is not None and request.environment and meta.environment != request.environment:
            raise InputError("environment", request.environment, f"#{request.pr} deployed {meta.environment!r} "
                             "(its dify-action metadata): give that environment (or none)")
        environment = request.environment or (meta.environment if meta else None)
        if not environment:
            raise InputError("environment", "", f"#{request.pr} has no dify-action metadata block: name the "
                             "environment it deployed with --environment")
        base, _ = git.clone(request.destination.base or pull.base.ref)
        return _bump_at(git, pull.merge_commit_sha, base, environment, pr=request.pr, pr_url=pull.html_url,
                        meta=meta)
    base, _ = git.clone(request.destination.base)
    if request.commit is not None:
        full = request.commit
        _ensure_commit(git, full, base)
        full = git.rev_parse(f"{full}^{{commit}}")
        return _bump_at(git, full, base, request.environment or "gitops")
    assert request.environment is not None
    if request.destination.provider == "github":
        return _last_merged_pull(request, git, caller, base, request.environment)
    return _last_commit(request, git, base, request.environment)


def _last_merged_pull(request: RollbackRequest, git: Git, caller: Caller, base: str, environment: str) -> MergedBump:
    notes: list[str] = []
    pulls: dict[str, tuple[Any, BumpMetadata]] = {}

    def candidates() -> Iterator[Candidate]:  # lazily: choose_last stops at the first one in effect
        for pull in _forge(request, caller).merged_pulls(base, MAX_SCAN):
            try:
                meta = parse_metadata(pull.body)
            except DifyActionError as error:
                notes.append(f"#{pull.number} skipped: {error.message}")
                continue
            if meta is None or meta.environment != environment:
                continue
            doubt = distrust(pull, meta, base)
            if doubt:
                notes.append(f"#{pull.number} skipped: {doubt}")
                continue
            pulls[f"#{pull.number}"] = (pull, meta)
            yield Candidate(f"#{pull.number}", meta.rollback_of)

    chosen = choose_last(candidates())
    if chosen is None:
        raise DifyActionError(f"no merged bump of {environment} into {base} that is still in effect was found "
                              f"(looked at the last {MAX_SCAN} closed pull requests)",
                              hint="give the pull request: pull-request-number (action) or --pr-number N (CLI)")
    pull, meta = pulls[chosen.key]
    return _bump_at(git, pull.merge_commit_sha, base, environment, pr=int(pull.number), pr_url=pull.html_url,
                    meta=meta, notes=tuple(notes))


def _last_commit(request: RollbackRequest, git: Git, base: str, environment: str) -> MergedBump:
    _unshallow(git, base)
    log = git.run("log", "--first-parent", f"-n{MAX_SCAN}", "--format=%H", "HEAD", "--", *request.paths)
    parents: dict[str, list[str]] = {}

    def candidates() -> Iterator[Candidate]:  # lazily: image_moves reads two trees per commit
        for sha in log.stdout.split():
            parents[sha] = _parents(git, sha)
            if not parents[sha] or not image_moves(git, sha, parents[sha][0], request.paths):
                continue  # the first commit, or a commit that changes no image reference
            message = git.run("log", "--format=%B", f"{parents[sha][0]}..{sha}").stdout
            of = rolled_back(message)
            yield Candidate(sha, (git.rev_parse(f"{of}^{{commit}}") if len(of) < 40 else of) if of else None)

    chosen = choose_last(candidates())
    if chosen is None:
        raise DifyActionError(f"no commit of {base} in the last {MAX_SCAN} changes an image under "
                              f"{', '.join(request.paths)} ({environment}) without having been rolled back",
                              hint="give the commit with --commit SHA")
    first_parents = parents[chosen.key]
    return MergedBump(chosen.key, first_parents[0], len(first_parents) > 1, base, environment)


def image_moves(git: Git, commit: str, parent: str, paths: tuple[str, ...] = ()) -> list[ImageMove]:
    """Every image reference ``commit`` changed (relative to ``parent``), as current -> restored."""
    files = git.run("diff", "--name-only", "--no-renames", parent, commit, "--", *paths).stdout.split("\n")
    files = [f for f in files if f]
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="dify-action-diff-") as temp:
        sides = {}
        for name, rev in (("before", parent), ("after", commit)):
            root = Path(temp) / name
            present = list(_export(git, rev, files, root))
            found = find_images(root, present) if present else []
            sides[name] = {(i.file, i.where, i.ref.repository): i for i in found}
    moves = []
    for key, after in sides["after"].items():
        before = sides["before"].get(key)
        if before is not None and before.ref != after.ref:
            moves.append(ImageMove(after.file, after.line, after.where, after.ref, before.ref))
    return moves


def _export(git: Git, rev: str, files: list[str], root: Path) -> Iterator[str]:
    for name in files:
        proc = git.run("show", f"{rev}:{name}", check=False)
        if proc.returncode != 0:
            continue  # added or deleted by the commit: no reference moved there
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(proc.stdout, encoding="utf-8")
        yield name
