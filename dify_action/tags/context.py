"""The git context the tags are computed from: commit, ref, event, PR, default branch, dates.

Build it from the workflow's event payload with :func:`dify_action.tags.event.context_from_event`;
the CLI builds it from flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dify_action.errors import InputError

PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
SHORT_SHA_LENGTH = 7
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_PR_REF_RE = re.compile(r"refs/pull/([0-9]+)/")


@dataclass(frozen=True)
class GitContext:
    """What the tags are computed from (GITHUB_SHA, GITHUB_REF, GITHUB_EVENT_NAME and the payload).

    ``default_branch`` is the repository's (``repository.default_branch`` of the payload); None
    when unknown, and then no build counts as one of the default branch. ``base_ref`` is the base
    branch of a PR, or the branch a tag was pushed from when GitHub says so. ``date`` is the build
    time (now, when None); ``commit_date`` the commit's committer date when known.
    """

    sha: str
    ref: str
    event: str
    default_branch: str | None = "main"
    pr_number: int | None = None
    run_number: int | None = None
    dify_version: str | None = None
    base_ref: str | None = None
    commit_date: datetime | None = None
    date: datetime | None = None

    def __post_init__(self) -> None:
        if not _SHA_RE.fullmatch(self.sha):
            raise InputError("sha", self.sha, "a full commit id: 40 (or 64) lowercase hex characters")
        for name in ("commit_date", "date"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise InputError(name, moment.isoformat(), "a date with a time zone (e.g. 2026-01-02T03:04:05Z)")

    @property
    def is_pull_request(self) -> bool:
        return self.event in PR_EVENTS

    @property
    def branch(self) -> str | None:
        """The branch being built; None on tag builds and PR events (their ref is not the code built)."""
        if self.is_pull_request or not self.ref.startswith("refs/heads/"):
            return None
        return self.ref.removeprefix("refs/heads/")

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None

    @property
    def on_default_branch(self) -> bool:
        """A build of the default branch: any non-PR event whose ref is ``refs/heads/<default>``."""
        return self.default_branch is not None and self.branch == self.default_branch

    @property
    def pull_request(self) -> int | None:
        if not self.is_pull_request:
            return None
        if self.pr_number is not None:
            return self.pr_number
        match = _PR_REF_RE.match(self.ref)
        return int(match.group(1)) if match else None

    def values(self) -> dict[str, str | None]:
        """Template values; None when unknown in this context."""
        return {
            "sha": self.sha[:SHORT_SHA_LENGTH],
            "short_sha": self.sha[:SHORT_SHA_LENGTH],
            "long_sha": self.sha,
            "branch": self.branch,
            "tag": self.tag,
            "base_ref": self.base_ref or None,
            "run_number": None if self.run_number is None else str(self.run_number),
            "dify_version": self.dify_version or None,
            "is_default_branch": str(self.on_default_branch).lower(),
            "is_not_default_branch": str(not self.on_default_branch).lower(),
        }
