"""The GitHub forge: one open pull request per bump branch, created or updated, never duplicated.

API calls (counted by ``Caller``): a fresh PR is list + create (+ labels, + reviewers) <= 4; a rerun
is list (+ one edit when the title or body changed) <= 2. The repository object is lazy (no GET).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from github import Auth, Github, GithubException

from dify_action.delivery.github_address import check_api_url
from dify_action.delivery.github_calls import Caller, describe, is_already_exists
from dify_action.errors import ForgeError

_PR_WRITE = "pull-requests: write"


@dataclass(frozen=True)
class PullOutcome:
    operation: str
    number: int | None = None
    url: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullSpec:
    branch: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False


class GitHubForge:
    """Pull requests of one repository (``owner/name``) through PyGithub, under ``caller``'s policy."""

    def __init__(self, api_url: str, token: str | None, repository: str, caller: Caller,
                 timeout: int = 30) -> None:
        check_api_url(api_url)
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self.caller = caller
        # PyGithub's own retry and write throttling are off: Caller decides, and counts.
        self._gh = Github(auth=Auth.Token(token) if token else None, base_url=api_url.rstrip("/"),
                          timeout=timeout, retry=None, seconds_between_requests=None,
                          seconds_between_writes=None, lazy=True)
        self._repo = self._gh.get_repo(repository)

    def get_pull(self, number: int) -> Any:
        """A pull request, complete (merged state read), for rollback."""
        try:
            pull = self.caller.call("get pull request", lambda: self._repo.get_pull(number))
            self.caller.call("get pull request", lambda: pull.merged)  # completes a lazy object
            return pull
        except GithubException as error:
            raise describe(error, f"get pull request #{number} of {self.repository}", "pull-requests: read") from None

    def merged_pulls(self, base: str, limit: int) -> list[Any]:
        """The last ``limit`` closed pull requests into ``base`` that were merged, newest merge first."""
        pulls = self._repo.get_pulls(state="closed", base=base, sort="updated", direction="desc")

        def first() -> list[Any]:
            out = []
            for pull in pulls:
                out.append(pull)
                if len(out) >= limit:
                    break
            return out

        try:
            found = self.caller.call("list pull requests", first)
        except GithubException as error:
            raise describe(error, f"list pull requests of {self.repository}", "pull-requests: read") from None
        return sorted((p for p in found if p.merged_at), key=lambda p: p.merged_at, reverse=True)

    def find_open(self, branch: str, base: str) -> Any | None:
        pulls = self._repo.get_pulls(state="open", head=f"{self.owner}:{branch}", base=base)
        try:
            return self.caller.call("list pull requests", lambda: next(iter(pulls), None))
        except GithubException as error:
            raise describe(error, f"list pull requests of {self.repository}", "pull-requests: read") from None

    def sync(self, spec: PullSpec, *, fresh_branch: bool, branch_changed: bool) -> PullOutcome:
        """Create the PR for ``spec.branch`` or bring the open one up to date."""
        pr = self.find_open(spec.branch, spec.base)
        notes: list[str] = []
        if pr is None:
            pr, operation = self._create(spec, fresh_branch)
        else:
            operation = "updated" if branch_changed else "unchanged"
        if pr.title != spec.title or (pr.body or "") != spec.body:
            try:
                self.caller.call("update pull request", lambda: pr.edit(title=spec.title, body=spec.body))
            except GithubException as error:
                raise describe(error, f"update pull request #{pr.number}", _PR_WRITE) from None
            if operation == "unchanged":
                operation = "updated"
        notes += self._labels(pr, spec.labels)
        notes += self._reviewers(pr, spec.reviewers)
        return PullOutcome(operation, int(pr.number), str(pr.html_url), tuple(notes))

    def _create(self, spec: PullSpec, fresh_branch: bool) -> tuple[Any, str]:
        try:
            pr = self.caller.call(
                "create pull request",
                lambda: self._repo.create_pull(base=spec.base, head=spec.branch, title=spec.title,
                                               body=spec.body, draft=spec.draft),
                fresh_ref=fresh_branch,
            )
            return pr, "created"
        except GithubException as error:
            if not is_already_exists(error):
                what = f"create pull request {spec.branch} -> {spec.base}"
                raise describe(error, what, _PR_WRITE) from None
            # Our earlier attempt landed before its answer was lost, or a parallel job won the race.
            retried = self.caller.last_attempts > 1
        existing = self.find_open(spec.branch, spec.base)
        if existing is None:
            raise ForgeError(
                f"GitHub says a pull request for {spec.branch} exists but none is open against {spec.base}",
                hint="a pull request from this branch may target another base branch; close it and re-run",
            )
        return existing, "created" if retried else "updated"

    def _labels(self, pr: Any, labels: Sequence[str]) -> list[str]:
        have = {label.name for label in pr.labels}
        missing = [name for name in labels if name not in have]
        if not missing:
            return []
        try:
            self.caller.call("add labels", lambda: pr.add_to_labels(*missing))
        except GithubException as error:
            if error.status in (401, 403, 404):
                raise describe(error, f"add labels to #{pr.number}", "issues: write") from None
            return [f"labels not added: {describe(error, 'add labels').message}"]
        return []

    def _reviewers(self, pr: Any, reviewers: Sequence[str]) -> list[str]:
        users_have = {user.login.lower() for user in pr.requested_reviewers}
        teams_have = {team.slug.lower() for team in pr.requested_teams}
        users = [r for r in reviewers if "/" not in r and r.lower() not in users_have]
        slugs = [r.split("/", 1)[1] for r in reviewers if "/" in r]
        teams = [slug for slug in slugs if slug.lower() not in teams_have]
        if not users and not teams:
            return []
        try:
            self.caller.call("request reviewers",
                             lambda: pr.create_review_request(reviewers=users, team_reviewers=teams))
        except GithubException as error:
            if error.status in (401, 403, 404):
                raise describe(error, f"request reviewers on #{pr.number}", _PR_WRITE) from None
            # e.g. 422 "Review cannot be requested from pull request author": the PR itself is fine
            return [f"reviewers not requested: {describe(error, 'request reviewers').message}"]
        return []

    def close_stale(self, branch: str, base: str) -> PullOutcome | None:
        """Close the open PR of ``branch`` (its change is already in base); None when there is none."""
        pr = self.find_open(branch, base)
        if pr is None:
            return None
        try:
            self.caller.call("close pull request", lambda: pr.edit(state="closed"))
        except GithubException as error:
            raise describe(error, f"close pull request #{pr.number}", _PR_WRITE) from None
        return PullOutcome("closed", int(pr.number), str(pr.html_url))
