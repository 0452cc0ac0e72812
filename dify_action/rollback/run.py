"""Roll back a merged bump of the GitOps repository, as a new pull request (github) or branch (git).

What to roll back: ``--pr N`` (github), ``--commit SHA`` (git), or ``--environment X``: the last
bump of X still in effect (github: merged PRs whose metadata block names X; git: first-parent
commits of the base branch that change image references under X's paths). How: ``git revert``
of the merge or squash commit when it applies cleanly (``-m 1`` for merges), else a bump back to
the previous references (the images the reverted commit replaced). Before any push, the Dify
migration guard (rollback_guard.py) compares the images' Alembic graphs (dify/lookup.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dify_action import refs
from dify_action.bump import Change, Target
from dify_action.choices import GITHUB_API, PROVIDERS, PUSH_MODES, check_environment
from dify_action.delivery import BumpMetadata, DeliveryRequest, Git, Identity, deliver, render_body
from dify_action.delivery.flow import publish_branch, sync_pull
from dify_action.delivery.git import check_branch, workspace
from dify_action.delivery.github import GitHubForge, PullSpec, check_api_url
from dify_action.delivery.pr_body import metadata_from_changes
from dify_action.delivery.retry import Caller
from dify_action.dify.lookup import image_facts
from dify_action.errors import DifyActionError, GitError, InputError
from dify_action.markdown import code, url
from dify_action.registry import RegistryFor
from dify_action.releaseset import SetCheck, SetPolicy, Versions, enforce
from dify_action.retry import RetryPolicy
from dify_action.rollback.guard import TRAILER, GuardCheck, ImageMove, guard_markdown, guard_moves
from dify_action.rollback.source import MergedBump, find_bump, image_moves, repository_name


@dataclass(frozen=True)
class RollbackRequest:
    """Exactly one of ``pr``, ``commit``, ``environment`` says what to roll back."""

    repo_url: str
    pr: int | None = None
    commit: str | None = None
    environment: str | None = None
    paths: tuple[str, ...] = ()
    base: str | None = None
    provider: str = "git"
    push_mode: str = "branch"
    allow_schema_rollback: bool = False
    dry_run: bool = False
    token: str | None = field(default=None, repr=False)
    github_api_url: str = GITHUB_API
    github_repo: str | None = None
    labels: tuple[str, ...] = ()
    author: Identity = field(default_factory=Identity)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    set_policy: SetPolicy = field(default_factory=SetPolicy)  # issue 21: the Dify set the rollback restores

    def validate(self) -> None:
        given = [name for name, value in (("pr", self.pr), ("commit", self.commit),
                                          ("environment", self.environment and not (self.pr or self.commit)))
                 if value]
        if not given:
            raise InputError("pr", "", "give --pr N (github), --commit SHA or --environment NAME")
        if self.pr is not None and self.commit:
            raise InputError("commit", self.commit, "give either --pr or --commit, not both")
        if self.provider not in PROVIDERS:
            raise InputError("provider", self.provider, f"one of {', '.join(PROVIDERS)}")
        if self.push_mode not in PUSH_MODES:
            raise InputError("push-mode", self.push_mode, f"one of {', '.join(PUSH_MODES)}")
        check_branch(self.base)
        check_api_url(self.github_api_url)
        if self.pr is not None and (self.provider != "github" or self.pr < 1):
            raise InputError("pr", self.pr, "a pull request number (> 0) with --provider github; "
                             "with the git provider give --commit or --environment")
        if self.commit is not None and not re.fullmatch(r"[0-9a-f]{7,64}", self.commit):
            raise InputError("commit", self.commit, "a commit sha (7 to 64 lowercase hex digits)")
        if self.environment is not None:
            check_environment(self.environment)
        if self.environment and not (self.pr or self.commit) and self.provider == "git" and not self.paths:
            raise InputError("path", "", f"the GitOps paths of {self.environment} (or --config): the git "
                             "provider finds bumps by the files they change")


@dataclass(frozen=True)
class RollbackResult:
    """``operation``: created | updated | unchanged | pushed | none | planned; ``method``: revert |
    bump-back | none."""

    operation: str
    method: str
    environment: str
    reverted_commit: str
    reverted_pr: int | None = None
    branch: str | None = None
    commit: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    moves: tuple[ImageMove, ...] = ()
    guard: tuple[GuardCheck, ...] = ()
    notes: tuple[str, ...] = ()
    dify_set: SetCheck | None = None  # issue 21

    def as_dict(self) -> dict[str, object]:
        return {
            "dify_set": self.dify_set.as_dict() if self.dify_set else None,
            "operation": self.operation, "method": self.method, "environment": self.environment,
            "reverted_commit": self.reverted_commit, "reverted_pr": self.reverted_pr, "branch": self.branch,
            "commit": self.commit, "pr_number": self.pr_number, "pr_url": self.pr_url,
            "images": [m.as_dict() for m in self.moves], "guard": [g.as_dict() for g in self.guard],
            "notes": list(self.notes),
        }


def rollback_branch(environment: str, key: str) -> str:
    """The same branch for the revert and the bump-back: a rerun updates it, never duplicates."""
    return f"dify-action/{environment}/rollback-{key}"


def rollback(request: RollbackRequest, registry_for: RegistryFor | None = None,
             caller: Caller | None = None) -> RollbackResult:
    """Find the bump, check the migration guard, then revert it (or bump back) as a branch / PR."""
    request.validate()
    caller = caller or Caller(RetryPolicy(), sleep=request.sleep)
    with workspace("rollback") as root:
        git = Git(request.repo_url, root, request.token)
        bump = find_bump(request, git, caller)
        moves = tuple(image_moves(git, bump.commit, bump.parent))
        notes = list(bump.notes)
        guard = tuple(check_guard(request, moves, bump.meta, registry_for, notes))
        checked, versions = release_set(request, git.workdir, bump, moves, guard, registry_for)  # issue 21
        notes += enforce(checked, f"the rollback of {bump.label}")
        if request.dry_run:
            return _result("planned", "none", bump, moves, guard, notes, dify_set=checked)
        reverted = _revert(git, bump, request.author)
        if reverted == "empty":
            notes.append(f"{bump.base} already has the references from before {bump.label}: nothing to roll back")
            return _result("none", "none", bump, moves, guard, notes, dify_set=checked)
        if reverted == "applied":
            return _ship(request, git, bump, moves, guard, notes, caller, checked)
    notes.append(f"the revert of {bump.commit[:12]} does not apply cleanly on {bump.base}: bumping back to "
                 "the previous references instead")
    return _bump_back(request, bump, moves, guard, notes, checked, versions)


def release_set(request: RollbackRequest, root: Path, bump: MergedBump, moves: tuple[ImageMove, ...],
                guard: tuple[GuardCheck, ...], registry_for: RegistryFor | None) -> tuple[SetCheck, Versions]:
    """Issue 21: the set once the rollback lands (the bump's whole set goes back), with the guard's versions."""
    from dify_action.releaseset.hooks import check_targets, restore_targets

    versions = {g.image: (g.current, g.restored) for g in guard}
    known = {ref: versions.get(m.current.name, (None, None))[side] for m in moves
             for side, ref in enumerate((m.current, m.restored))}
    pairs = [(m.current, m.restored) for m in moves]
    return check_targets(root, request.paths or tuple(sorted({m.file for m in moves})), restore_targets(pairs), known,
                         request.set_policy, registry_for, bump.environment)


def _result(operation: str, method: str, bump: MergedBump, moves: tuple[ImageMove, ...], guard: tuple[GuardCheck, ...],
            notes: list[str], **fields: object) -> RollbackResult:
    return RollbackResult(operation, method, bump.environment, bump.commit, bump.pr, moves=moves, guard=guard,
                          notes=tuple(notes), **fields)  # type: ignore[arg-type]


def check_guard(request: RollbackRequest, moves: tuple[ImageMove, ...], meta: BumpMetadata | None,
                registry_for: RegistryFor | None, notes: list[str]) -> list[GuardCheck]:
    """The images' own migration graphs on both sides of every move (rollback_guard.guard_moves);
    GateFailed when the running one has migrations the restored one lacks."""
    facts_for = None if registry_for is None else (
        lambda ref: image_facts(registry_for(ref.registry), ref))
    versions = (meta.dify_version_new, meta.dify_version_old) if meta is not None else (None, None)
    return guard_moves(moves, facts_for, versions, allow=request.allow_schema_rollback, notes=notes)


def _revert(git: Git, bump: MergedBump, author: Identity) -> str:
    """applied | empty | conflict: ``git revert --no-commit`` of the bump on the base tip."""
    env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
           "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
    mainline = ["-m", "1"] if bump.merge else []
    proc = git.run("revert", "--no-commit", *mainline, bump.commit, check=False, env=env)
    if proc.returncode != 0:
        unmerged = git.run("diff", "--name-only", "--diff-filter=U", check=False).stdout.strip()
        if not unmerged and "conflict" not in (proc.stdout + proc.stderr).lower():
            raise git.error("revert", proc.stderr or proc.stdout)
        git.run("revert", "--abort", check=False)
        git.run("reset", "--quiet", "--hard", "HEAD")
        return "conflict"
    if git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
        git.run("revert", "--quit", check=False)
        return "empty"
    title = f"rollback({bump.environment}): revert {bump.label}"
    message = f"{title}\n\nThis reverts commit {bump.commit}.\n\n{TRAILER}: {bump.commit}\n"
    git.run("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-F", "-", stdin=message, env=env)
    return "applied"


def _body(bump: MergedBump, moves: tuple[ImageMove, ...], guard: tuple[GuardCheck, ...], allowed: bool,
          checked: SetCheck | None = None) -> str:
    link = f"#{bump.pr}" + (f" ({url(bump.pr_url)})" if bump.pr_url else "") if bump.pr else \
        f"commit {code(bump.commit)}"
    lines = [f"Rolls back {link}: `git revert` of {code(bump.commit)} on {code(bump.base)}.", ""]
    lines += [guard_markdown(guard, allowed=allowed)]  # the verdict, and every migration it would strand
    lines += [checked.markdown()] if checked is not None else []  # issue 21: the Dify set before and after
    changes = [Change(m.file, m.line, str(m.current), str(m.restored), m.where, m.current.name) for m in moves]
    first = guard[0] if guard else None
    meta = metadata_from_changes(bump.environment, changes, rollback_of=bump.label if bump.pr else bump.commit,
                                 dify_version_old=first.current if first else None,
                                 dify_version_new=first.restored if first else None)
    return "\n".join(lines) + "\n" + render_body(meta, changes)


def _ship(request: RollbackRequest, git: Git, bump: MergedBump, moves: tuple[ImageMove, ...],
          guard: tuple[GuardCheck, ...], notes: list[str], caller: Caller, checked: SetCheck) -> RollbackResult:
    head = git.rev_parse("HEAD")
    if request.push_mode == "direct":
        if git.push("HEAD", bump.base).status == "rejected":
            raise GitError(f"{bump.base} moved while the rollback was pushed",
                           hint="re-run the rollback: it is planned again on the new tip")
        return _result("pushed", "revert", bump, moves, guard, notes, branch=bump.base, commit=head, dify_set=checked)
    branch = rollback_branch(bump.environment, bump.key)
    published = publish_branch(git, branch, git.remote_sha(branch), 8, request.sleep)
    if request.provider != "github":
        return _result("pushed" if published.pushed else "unchanged", "revert", bump, moves, guard, notes,
                       branch=branch, commit=published.commit, dify_set=checked)
    forge = GitHubForge(request.github_api_url, request.token, repository_name(request), caller)
    spec = PullSpec(branch, bump.base, f"rollback({bump.environment}): revert {bump.label}",
                    _body(bump, moves, guard, request.allow_schema_rollback, checked), ("rollback", *request.labels))
    outcome = sync_pull(forge, spec, git, published)
    return _result(outcome.operation, "revert", bump, moves, guard, notes + list(outcome.notes), branch=branch,
                   commit=published.commit, pr_number=outcome.number, pr_url=outcome.url)


def _bump_back(request: RollbackRequest, bump: MergedBump, moves: tuple[ImageMove, ...], guard: tuple[GuardCheck, ...],
               notes: list[str], checked: SetCheck, versions: Versions) -> RollbackResult:
    from dify_action.releaseset.hooks import precheck

    by_repo: dict[str, set[refs.ImageRef]] = {}
    for move in moves:
        by_repo.setdefault(move.restored.repository, set()).add(move.restored.with_version(
            move.restored.tag, move.restored.digest))
    targets = []
    for repo, restored in sorted(by_repo.items()):
        if len(restored) > 1 or not next(iter(restored)).tag:
            raise DifyActionError(
                f"cannot bump {repo} back: {bump.label} replaced {', '.join(sorted(map(str, restored)))}",
                hint="the revert conflicts and the previous references differ (or have no tag): revert by hand")
        ref = next(iter(restored))
        targets.append(Target(ref.with_version(None), ref.tag or "", ref.digest))
    if not targets:
        raise DifyActionError(f"the revert of {bump.label} conflicts and it changed no image reference",
                              hint="revert it by hand")
    first = guard[0] if guard else None
    title = f"rollback({{environment}}): {{images}} (revert {bump.label})"
    delivery = deliver(DeliveryRequest(
        repo_url=request.repo_url, environment=bump.environment, targets=tuple(targets),
        paths=tuple(sorted({m.file for m in moves})), base=bump.base, provider=request.provider,
        push_mode=request.push_mode, group=f"rollback-{bump.key}", token=request.token,
        github_api_url=request.github_api_url, github_repo=request.github_repo,
        labels=("rollback", *request.labels), title_template=title,
        message_template=f"{title}\n\n{{changes}}\n\n{TRAILER}: {bump.commit}\n",
        author=request.author, committer=request.author, rollback_of=bump.label if bump.pr else bump.commit,
        dify_version_old=first.current if first else None, dify_version_new=first.restored if first else None,
        sleep=request.sleep,
        precheck=precheck(targets, tuple(sorted({m.file for m in moves})), request.set_policy, versions,
                          bump.environment),  # issue 21
    ))
    return _result(delivery.operation, "bump-back", bump, moves, guard, notes + list(delivery.notes),
                   branch=delivery.branch, commit=delivery.commit, pr_number=delivery.pr_number,
                   pr_url=delivery.pr_url, dify_set=checked)
