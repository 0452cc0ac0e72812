"""Deliver a planned bump to the GitOps repository: a GitHub pull request, a branch, or a direct push.

Public API:

- ``DeliveryRequest`` / ``DeliveryResult`` (``operation``: created | updated | unchanged | closed |
  pushed | none, PR number/url, branch, commit sha).
- ``deliver(request)``: clone cheaply, plan with the bump engine on the real base, commit, push
  (branch mode with a lease, or direct mode re-planned from scratch when the base moved), then
  create / update / close the pull request (provider ``github``).
- ``parse_metadata(body)`` / ``render_body(...)``: the PR body and its hidden metadata block.
"""

from __future__ import annotations

from dify_action.delivery.destination import Destination
from dify_action.delivery.flow import deliver
from dify_action.delivery.git import CloneInfo, Git, Identity
from dify_action.delivery.github import GitHubForge, PullOutcome, PullSpec
from dify_action.delivery.model import DeliveryRequest, DeliveryResult
from dify_action.delivery.pr_body import BumpMetadata, ImageChange, parse_metadata, render_body
from dify_action.delivery.retry import Caller
from dify_action.retry import RetryPolicy

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
    "deliver",
    "parse_metadata",
    "render_body",
]
