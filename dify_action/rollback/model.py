"""The values of a rollback: what to roll back (``RollbackRequest``), the merged bump found
(``MergedBump``) and what the rollback did (``RollbackResult``).

``run`` and ``source`` both import from here, one way; nothing here imports them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dify_action.choices import check_environment
from dify_action.delivery.destination import Destination
from dify_action.delivery.pr_body import BumpMetadata
from dify_action.errors import InputError
from dify_action.releaseset.policy import SetPolicy
from dify_action.rollback.guard import GuardCheck, ImageMove

if TYPE_CHECKING:
    from dify_action.releaseset import SetCheck


@dataclass(frozen=True)
class RollbackRequest:
    """Exactly one of ``pr``, ``commit``, ``environment`` says what to roll back."""

    destination: Destination
    pr: int | None = None
    commit: str | None = None
    environment: str | None = None
    paths: tuple[str, ...] = ()
    allow_schema_rollback: bool = False
    dry_run: bool = False
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    set_policy: SetPolicy = field(default_factory=SetPolicy)  # issue 21: the Dify set the rollback restores

    def validate(self) -> None:
        given = [name for name, value in (("pr", self.pr), ("commit", self.commit),
                                          ("environment", self.environment and not (self.pr or self.commit)))
                 if value]
        if not given:
            raise InputError("pull-request-number", "", "the merged bump PR to roll back (github), a commit sha, "
                             "or an environment (its last bump)")
        if self.pr is not None and self.commit:
            raise InputError("commit", self.commit, "either a pull request number or a commit, not both")
        self.destination.validate()
        if self.pr is not None and (self.destination.provider != "github" or self.pr < 1):
            raise InputError("pull-request-number", self.pr, "a pull request number (> 0) with the github "
                             "provider; with the git provider give a commit or an environment")
        if self.commit is not None and not re.fullmatch(r"[0-9a-f]{7,64}", self.commit):
            raise InputError("commit", self.commit, "a commit sha (7 to 64 lowercase hex digits)")
        if self.environment is not None:
            check_environment(self.environment)
        if self.environment and not (self.pr or self.commit) and self.destination.provider == "git" \
                and not self.paths:
            raise InputError("paths", "", f"the GitOps paths of {self.environment} (or a config): the git "
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
    commits_verified: bool | None = None  # sign-commits (issue 19): GitHub's verification of the commit
    dify_set: SetCheck | None = None  # issue 21: the Dify release set the rollback leaves

    def as_dict(self) -> dict[str, object]:
        return {
            "commits_verified": self.commits_verified,
            "dify_set": self.dify_set.as_dict() if self.dify_set else None,
            "operation": self.operation, "method": self.method, "environment": self.environment,
            "reverted_commit": self.reverted_commit, "reverted_pr": self.reverted_pr, "branch": self.branch,
            "commit": self.commit, "pr_number": self.pr_number, "pr_url": self.pr_url,
            "images": [m.as_dict() for m in self.moves], "guard": [g.as_dict() for g in self.guard],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class MergedBump:
    """The merged bump to roll back: ``commit`` on ``base`` (a merge when ``merge``)."""

    commit: str
    parent: str
    merge: bool
    base: str
    environment: str
    pr: int | None = None
    pr_url: str | None = None
    meta: BumpMetadata | None = None
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"#{self.pr}" if self.pr else self.commit[:12]

    @property
    def key(self) -> str:
        return f"pr-{self.pr}" if self.pr else self.commit[:12]
