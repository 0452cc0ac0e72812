"""Deliver a bump: clone, plan on the real base, commit, push (branch or direct), sync the PR.

Nothing is left half-done: a bad input fails before any push; a PR is only created after its
commit is on the branch; a branch this run created is deleted again when its PR cannot be made.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from dify_action.bump import BumpPlan, apply_plan, plan_bump
from dify_action.delivery.git import CloneInfo, Git, workspace
from dify_action.delivery.gitdata import Signed, signer
from dify_action.delivery.github import GitHubForge, PullOutcome, PullSpec
from dify_action.delivery.github_calls import Caller
from dify_action.delivery.model import DeliveryRequest, DeliveryResult, render, template_values
from dify_action.delivery.pr_body import metadata_from_changes, render_body
from dify_action.errors import GitError
from dify_action.retry import RetryPolicy

_REMOTE_REF = "refs/dify-action/remote"
_BASE_REF = "refs/dify-action/base"
_jitter = random.Random()  # noqa: S311 - backoff jitter, not security


def deliver(request: DeliveryRequest, caller: Caller | None = None) -> DeliveryResult:
    """Ship ``request``'s bump; see DeliveryResult for what comes back."""
    request.validate()
    repository = request.destination.github_repository() if request.destination.provider == "github" else ""
    caller = caller or Caller(RetryPolicy(sleep=request.sleep))
    with workspace("bump", request.workdir) as workdir:
        git = Git(request.destination.repo_url, workdir, request.destination.token,
                  base_env=request.destination.environ)
        base, clone = git.clone(request.destination.base, request.paths)
        signed = signer(request.destination, git, caller)  # sign-commits: ship through the Git Data API
        if request.destination.push_mode == "direct":
            return _direct(request, git, base, clone, signed)
        forge = (GitHubForge(request.destination.github_api_url, request.destination.token, repository, caller)
                 if request.destination.provider == "github" else None)
        return _branch(request, git, base, clone, forge, caller, signed)


def _plan(request: DeliveryRequest, git: Git) -> BumpPlan:
    return plan_bump(git.workdir, request.targets, request.paths)


def _prechecked(request: DeliveryRequest, git: Git, plan: BumpPlan) -> tuple[str, ...]:
    """Issue 21: the request's check of the plan on the real base, before any commit or push."""
    return tuple(request.precheck(git.workdir, plan)) if request.precheck and not plan.nothing_to_do else ()


def _commit(request: DeliveryRequest, git: Git, plan: BumpPlan, base: str) -> str:
    apply_plan(plan)
    message = render(request.message_template, template_values(request, base, plan.changes))
    d = request.destination
    return git.commit(message, [e.relpath for e in plan.edits], d.author, d.committer)


def _result(request: DeliveryRequest, operation: str, base: str, clone: CloneInfo, **fields: object) -> \
        DeliveryResult:
    return DeliveryResult(operation, request.destination.provider, request.destination.push_mode, base, clone=clone,
                          **fields)  # type: ignore[arg-type]


def _branch(request: DeliveryRequest, git: Git, base: str, clone: CloneInfo, forge: GitHubForge | None,
            caller: Caller, signed: Signed | None = None) -> DeliveryResult:
    branch = request.branch
    plan = _plan(request, git)
    checked = _prechecked(request, git, plan)  # issue 21
    remote = git.remote_sha(branch)
    notes = [*plan.notes]
    if plan.nothing_to_do:
        closed = forge.close_stale(branch, base) if forge and remote else None
        if remote:
            git.delete_branch(branch, remote)
            notes.append(f"base {base} already has these values: stale branch {branch} deleted")
        return _result(request, "closed" if closed else "none", base, clone, branch=branch,
                       pr_number=closed.number if closed else None, pr_url=closed.url if closed else None,
                       api_calls=caller.calls, notes=tuple(notes))
    git.run("checkout", "--quiet", "-B", branch)
    _commit(request, git, plan, base)
    # everything the pull request needs is computed before the first push (no orphan branch)
    sections = checked + (tuple(request.sections(git.workdir, plan.changes)) if request.sections and forge else ())
    published = publish_branch(git, branch, remote, request.max_attempts, request.sleep, signed)
    commit, pushed, attempts = published.commit, published.pushed, published.attempts
    verified = signed.fields() if signed else {}
    notes += signed.notes() if signed else ()
    if forge is None:
        return _result(request, "pushed" if pushed else "unchanged", base, clone, branch=branch,
                       commit=commit, changes=plan.changes, attempts=attempts, notes=tuple(notes), **verified)
    meta = metadata_from_changes(
        request.environment, plan.changes, source_sha=request.source_sha, source_repo=request.source_repo,
        digest=request.targets[0].digest or request.metadata_digest, run_url=request.run_url,
        dify_version_old=request.dify_version_old, dify_version_new=request.dify_version_new,
        promoted_from=request.promoted_from, rollback_of=request.rollback_of)
    values = template_values(request, base, plan.changes)
    spec = PullSpec(branch, base, render(request.title_template, values), render_body(meta, plan.changes, sections),
                    request.destination.labels, request.destination.reviewers, request.destination.draft)
    outcome_pr = sync_pull(forge, spec, git, published)
    return _result(request, outcome_pr.operation, base, clone, branch=branch, commit=commit,
                   pr_number=outcome_pr.number, pr_url=outcome_pr.url, changes=plan.changes,
                   attempts=attempts, api_calls=caller.calls, notes=tuple(notes + list(outcome_pr.notes)),
                   sections=sections, **verified)


@dataclass(frozen=True)
class Published:
    """A branch after ``publish_branch``: its commit, whether this run pushed it, whether it existed."""

    branch: str
    commit: str
    pushed: bool
    fresh: bool
    attempts: int = 1


def publish_branch(git: Git, branch: str, remote: str | None, max_attempts: int,
                   sleep: Callable[[float], None], signed: Signed | None = None) -> Published:
    """Push HEAD to ``branch`` with a lease on ``remote`` (its sha, None: new), retrying when someone
    else moves it; a branch that already holds exactly HEAD's tree is left as it is (idempotent).
    ``signed``: HEAD is re-made through the API and the branch rebuilt on it (no lease there)."""
    fresh, attempts = remote is None, 0
    while True:
        attempts += 1
        if remote is not None and git.fetch(branch, _REMOTE_REF) == remote and \
                git.rev_parse(f"{remote}^{{tree}}") == git.rev_parse("HEAD^{tree}"):
            if signed:
                signed.kept(remote)
            return Published(branch, remote, False, fresh, attempts)  # exactly this edit on this base
        outcome, commit = signed.push(branch, remote, force=True) if signed else \
            (git.push("HEAD", branch, remote, leased=True), git.rev_parse("HEAD"))
        if outcome.status != "rejected":
            return Published(branch, commit, True, fresh, attempts)
        if attempts >= max_attempts:
            raise GitError(f"branch {branch} keeps changing under us ({outcome.detail})",
                           hint="another job is changing the same environment and group; re-run later")
        sleep(_backoff(attempts))
        remote = git.remote_sha(branch)


def sync_pull(forge: GitHubForge, spec: PullSpec, git: Git, published: Published) -> PullOutcome:
    """Open or update the pull request of a published branch; a branch this run created is deleted
    again when its pull request cannot be made (no orphan branches)."""
    try:
        return forge.sync(spec, fresh_branch=published.fresh, branch_changed=published.pushed)
    except BaseException:
        if published.fresh and published.pushed:
            with contextlib.suppress(GitError):
                git.delete_branch(published.branch, published.commit)
        raise


def _backoff(attempt: int) -> float:
    return float(min(4.0, 0.2 * 2 ** (attempt - 1)) * _jitter.uniform(0.5, 1.5))


def _direct(request: DeliveryRequest, git: Git, base: str, clone: CloneInfo, signed: Signed | None) -> DeliveryResult:
    first: dict[tuple[str, str], str] = {}
    for attempt in range(1, request.max_attempts + 1):
        if attempt > 1:
            # Never replay a stale diff: plan again from scratch on the new tip of base.
            git.reset_to(git.fetch(base, _BASE_REF))
        plan = _plan(request, git)
        _prechecked(request, git, plan)  # issue 21
        for change in plan.changes:
            key = (change.file, change.where)
            if key in first and first[key] != change.old:
                raise GitError(
                    f"conflict in {change.file}:{change.line} ({change.where}): someone changed "
                    f"{first[key]!r} to {change.old!r} on {base} while this bump wanted {change.new!r}",
                    hint="another deployment changed the same value; check which one should win and re-run",
                    file=change.file, line=change.line,
                )
            first.setdefault(key, change.old)
        if plan.nothing_to_do:
            return _result(request, "none", base, clone, branch=base, commit=git.rev_parse("HEAD"),
                           attempts=attempt, notes=plan.notes)
        commit = _commit(request, git, plan, base)
        outcome, commit = signed.push(base, git.rev_parse("HEAD^"), force=False) if signed else \
            (git.push("HEAD", base), commit)
        if outcome.status != "rejected":
            return _result(request, "pushed", base, clone, branch=base, commit=commit, changes=plan.changes,
                           attempts=attempt, notes=plan.notes + (signed.notes() if signed else ()),
                           **(signed.fields() if signed else {}))
        if attempt < request.max_attempts:
            request.sleep(_backoff(attempt))
    raise GitError(
        f"{base} moved {request.max_attempts} times while pushing the bump; gave up",
        hint="many jobs push to the same branch at once: raise max attempts or use --push-mode branch",
    )
