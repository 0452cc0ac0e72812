"""Roll back a merged bump of the GitOps repository, as a new pull request (github) or branch (git).

What to roll back: ``--pr-number N`` (github), ``--commit SHA`` (git), or ``--environment X``: the last
bump of X still in effect (github: merged PRs whose metadata block names X; git: first-parent
commits of the base branch that change image references under X's paths). How: ``git revert``
of the merge or squash commit when it applies cleanly (``-m 1`` for merges), else a bump back to
the previous references (the images the reverted commit replaced). Before any push, the Dify
migration guard (rollback/guard.py) compares the images' Alembic graphs (dify/registryfacts.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dify_action import refs
from dify_action.bump import Change, Target
from dify_action.delivery import BumpMetadata, DeliveryRequest, Git, Identity, render_body
from dify_action.delivery.git import workspace
from dify_action.delivery.pr_body import metadata_from_changes
from dify_action.errors import DifyActionError, GateFailed, GitError
from dify_action.markdown import code, url
from dify_action.releaseset import enforce
from dify_action.retry import RetryPolicy
from dify_action.rollback.guard import TRAILER, GuardCheck, ImageMove, guard_markdown, guard_moves
from dify_action.rollback.model import MergedBump, RollbackRequest, RollbackResult
from dify_action.rollback.sets import release_set
from dify_action.rollback.source import find_bump, image_moves

if TYPE_CHECKING:
    from dify_action.delivery.github_calls import Caller
    from dify_action.registry import RegistryFor
    from dify_action.releaseset import SetCheck, Versions

__all__ = ["RollbackRequest", "RollbackResult", "check_guard", "rollback", "rollback_branch"]


def rollback_branch(environment: str, key: str) -> str:
    """The same branch for the revert and the bump-back: a rerun updates it, never duplicates."""
    return f"dify-action/{environment}/rollback-{key}"


def rollback(request: RollbackRequest, registry_for: RegistryFor | None = None,
             caller: Caller | None = None) -> RollbackResult:
    """Find the bump, check the migration guard, then revert it (or bump back) as a branch / PR."""
    from dify_action.delivery.github_calls import Caller  # requests and PyGithub: only when rolling back

    request.validate()
    caller = caller or Caller(RetryPolicy(sleep=request.sleep))
    with workspace("rollback") as root:
        git = Git(request.destination.repo_url, root, request.destination.token,
                  base_env=request.destination.environ)
        bump = find_bump(request, git, caller)
        moves = tuple(image_moves(git, bump.commit, bump.parent))
        notes = list(bump.notes)
        guard: tuple[GuardCheck, ...] = ()
        try:
            guard = tuple(check_guard(request, moves, bump.meta, registry_for, notes))
            checked, versions = release_set(request, git.workdir, bump, moves, guard, registry_for)  # issue 21
            notes += enforce(checked, f"the rollback of {bump.label}")
        except GateFailed as refused:
            if request.dry_run:  # a dry run shows the plan it refused (issue 23): the moves and why
                refused.planned = _result("refused", "none", bump, moves, guard, [*notes, refused.message])
            raise
        if request.dry_run:
            return _result("planned", "none", bump, moves, guard, notes, dify_set=checked)
        reverted = _revert(git, bump, request.destination.author)
        if reverted == "empty":
            notes.append(f"{bump.base} already has the references from before {bump.label}: nothing to roll back")
            return _result("none", "none", bump, moves, guard, notes, dify_set=checked)
        if reverted == "applied":
            return _ship(request, git, bump, moves, guard, notes, caller, checked)
    notes.append(f"the revert of {bump.commit[:12]} does not apply cleanly on {bump.base}: bumping back to "
                 "the previous references instead")
    return _bump_back(request, bump, moves, guard, notes, checked, versions)


def _result(operation: str, method: str, bump: MergedBump, moves: tuple[ImageMove, ...], guard: tuple[GuardCheck, ...],
            notes: list[str], **fields: object) -> RollbackResult:
    return RollbackResult(operation, method, bump.environment, bump.commit, bump.pr, moves=moves, guard=guard,
                          notes=tuple(notes), **fields)  # type: ignore[arg-type]


def check_guard(request: RollbackRequest, moves: tuple[ImageMove, ...], meta: BumpMetadata | None,
                registry_for: RegistryFor | None, notes: list[str]) -> list[GuardCheck]:
    """The images' own migration graphs on both sides of every move (guard.guard_moves);
    GateFailed when the running one has migrations the restored one lacks. Dify's official web,
    sandbox, plugin-daemon and agent images hold no Alembic graph (the plugin daemon's own database is
    the release-set check's, issue 21): only the api's moves, official or ours, and our other images."""
    from dify_action.dify.registryfacts import image_facts
    from dify_action.releaseset.members import API, official_role

    facts_for = None if registry_for is None else (
        lambda ref: image_facts(registry_for(ref.registry), ref))
    versions = (meta.dify_version_new, meta.dify_version_old) if meta is not None else (None, None)
    guarded = tuple(m for m in moves if official_role(m.current) in (None, API))
    return guard_moves(guarded, facts_for, versions, allow=request.allow_schema_rollback, notes=notes)


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
    from dify_action.delivery.flow import publish_branch, sync_pull
    from dify_action.delivery.gitdata import signer
    from dify_action.delivery.github import GitHubForge, PullSpec

    head = git.rev_parse("HEAD")
    signed = signer(request.destination, git, caller)  # sign-commits: the revert's tree edits via the API
    if request.destination.push_mode == "direct":
        pushed, head = signed.push(bump.base, git.rev_parse("HEAD^"), force=False) if signed else \
            (git.push("HEAD", bump.base), head)
        if pushed.status == "rejected":
            raise GitError(f"{bump.base} moved while the rollback was pushed",
                           hint="re-run the rollback: it is planned again on the new tip")
        return _result("pushed", "revert", bump, moves, guard, notes + list(signed.notes() if signed else ()),
                       branch=bump.base, commit=head, dify_set=checked, **(signed.fields() if signed else {}))
    branch = rollback_branch(bump.environment, bump.key)
    published = publish_branch(git, branch, git.remote_sha(branch), 8, request.sleep, signed)
    notes += signed.notes() if signed else ()
    verified = signed.fields() if signed else {}
    if request.destination.provider != "github":
        return _result("pushed" if published.pushed else "unchanged", "revert", bump, moves, guard, notes,
                       branch=branch, commit=published.commit, dify_set=checked, **verified)
    d = request.destination
    forge = GitHubForge(d.github_api_url, d.token, d.github_repository(), caller)
    spec = PullSpec(branch, bump.base, f"rollback({bump.environment}): revert {bump.label}",
                    _body(bump, moves, guard, request.allow_schema_rollback, checked),
                    ("rollback", *request.destination.labels))
    outcome = sync_pull(forge, spec, git, published)
    return _result(outcome.operation, "revert", bump, moves, guard, notes + list(outcome.notes), branch=branch,
                   commit=published.commit, pr_number=outcome.number, pr_url=outcome.url, dify_set=checked,
                   **verified)


def _bump_back(request: RollbackRequest, bump: MergedBump, moves: tuple[ImageMove, ...], guard: tuple[GuardCheck, ...],
               notes: list[str], checked: SetCheck, versions: Versions) -> RollbackResult:
    from dify_action.delivery.flow import deliver
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
        destination=replace(request.destination, base=bump.base, labels=("rollback", *request.destination.labels)),
        environment=bump.environment, targets=tuple(targets),
        paths=tuple(sorted({m.file for m in moves})), group=f"rollback-{bump.key}", title_template=title,
        message_template=f"{title}\n\n{{changes}}\n\n{TRAILER}: {bump.commit}\n",
        rollback_of=bump.label if bump.pr else bump.commit,
        dify_version_old=first.current if first else None, dify_version_new=first.restored if first else None,
        sleep=request.sleep,
        precheck=precheck(targets, tuple(sorted({m.file for m in moves})), request.set_policy, versions,
                          bump.environment),  # issue 21
    ))
    return _result(delivery.operation, "bump-back", bump, moves, guard, notes + list(delivery.notes),
                   branch=delivery.branch, commit=delivery.commit, pr_number=delivery.pr_number,
                   pr_url=delivery.pr_url, commits_verified=delivery.commits_verified, dify_set=checked)
