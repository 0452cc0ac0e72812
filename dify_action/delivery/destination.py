"""Where a GitOps change goes and how it is shipped: one ``Destination`` for bump, promote and rollback.

The repository (clone URL and, for the GitHub API, ``owner/name``), the base branch, the provider
(``github``: a pull request; ``git``: a pushed branch), the push mode, the token, and what a pull
request carries (labels, reviewers, draft) and who commits. Each command's request holds one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dify_action.choices import GITHUB_API, PROVIDERS, PUSH_MODES
from dify_action.delivery.git import Identity, check_branch
from dify_action.delivery.github_address import check_api_url, github_repository
from dify_action.errors import InputError

_OWNER_NAME = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class Destination:
    """A GitOps repository and the way a change reaches it. ``token`` never appears in repr or logs."""

    repo_url: str
    base: str | None = None  # None: the repository's default branch
    provider: str = "git"
    push_mode: str = "branch"
    token: str | None = field(default=None, repr=False)
    github_api_url: str = GITHUB_API
    github_repo: str | None = None  # owner/name for the API; None: derived from repo_url
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False
    author: Identity = field(default_factory=Identity)
    committer: Identity = field(default_factory=Identity)
    sign_commits: bool = False  # commit through GitHub's Git Data API (gitdata.py), which signs them
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # what git inherits

    def validate(self) -> None:
        """InputError (exit 2) before any side effect."""
        if self.provider not in PROVIDERS:
            raise InputError("provider", self.provider, f"one of {', '.join(PROVIDERS)}")
        if self.push_mode not in PUSH_MODES:
            raise InputError("push-mode", self.push_mode, f"one of {', '.join(PUSH_MODES)}")
        check_branch(self.base)
        if self.sign_commits and self.provider != "github":
            raise InputError("sign-commits", "true", "only with provider github (commits are made through "
                             "GitHub's API); turn it off for a plain git remote")
        check_api_url(self.github_api_url)
        if self.provider == "github" and self.github_repo is not None and not _OWNER_NAME.fullmatch(self.github_repo):
            raise InputError("github-repo", self.github_repo, "owner/name")

    def github_repository(self) -> str:
        """``owner/name`` for the API: given, or the last two segments of an http(s) URL."""
        return github_repository(self.repo_url, self.github_repo)

