"""Deliver a planned bump to the GitOps repository: a GitHub pull request, a branch, or a direct push.

Public API:

- ``DeliveryRequest`` / ``DeliveryResult`` (``operation``: created | updated | unchanged | closed |
  pushed | none, PR number/url, branch, commit sha).
- ``deliver(request)``: clone cheaply, plan with the bump engine on the real base, commit, push
  (branch mode with a lease, or direct mode re-planned from scratch when the base moved), then
  create / update / close the pull request (provider ``github``).
- ``parse_metadata(body)`` / ``render_body(...)``: the PR body and its hidden metadata block.
- ``Destination.sign_commits``: the commit git made is re-made through GitHub's Git Data API
  (``gitdata.py``), so GitHub signs it; ``DeliveryResult.commits_verified`` is GitHub's verdict.

The values (request, result, git identity, PR body) load eagerly; ``deliver`` and the GitHub
client load on first use (PEP 562 ``__getattr__``): PyGithub and requests cost about 150 ms, which
a command that builds a request and never delivers (``bump --gitops-dir``) must not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dify_action.delivery.destination import Destination
from dify_action.delivery.git import CloneInfo, Git, Identity
from dify_action.delivery.github_address import check_api_url
from dify_action.delivery.model import DeliveryRequest, DeliveryResult
from dify_action.delivery.pr_body import BumpMetadata, ImageChange, parse_metadata, render_body
from dify_action.lazy import loader
from dify_action.retry import RetryPolicy

if TYPE_CHECKING:  # the real names for the type checker; at run time __getattr__ loads them
    from dify_action.delivery.flow import deliver
    from dify_action.delivery.github import GitHubForge, PullOutcome, PullSpec
    from dify_action.delivery.github_calls import Caller

_LAZY = {
    "deliver": "flow",
    "GitHubForge": "github",
    "PullOutcome": "github",
    "PullSpec": "github",
    "Caller": "github_calls",
}

__all__ = [
    "BumpMetadata",
    "Caller",
    "CloneInfo",
    "DeliveryRequest",
    "DeliveryResult",
    "Destination",
    "Git",
    "GitHubForge",
    "Identity",
    "ImageChange",
    "PullOutcome",
    "PullSpec",
    "RetryPolicy",
    "check_api_url",
    "deliver",
    "parse_metadata",
    "render_body",
]


__getattr__ = loader(__name__, _LAZY, globals())
