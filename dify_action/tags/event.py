"""The GitContext of a workflow run, from its event payload (the JSON at GITHUB_EVENT_PATH).

Pure: the front end reads the environment and the file and passes them in. What comes from where
(https://docs.github.com/en/webhooks/webhook-events-and-payloads):

- PR number: ``number`` (``pull_request``, ``pull_request_target``; for the latter GITHUB_REF is
  the base branch, so the number cannot come from the ref);
- head sha (``pr_head_sha=True``, metadata-action's ``DOCKER_METADATA_PR_HEAD_SHA``):
  ``pull_request.head.sha`` instead of GITHUB_SHA (the merge commit, or the base for ``_target``);
- default branch: ``repository.default_branch``; a ``schedule`` payload has no repository, but
  schedules always run on the default branch, so it is the ref's branch there;
- base_ref: ``pull_request.base.ref`` on PRs, ``base_ref`` of a tag push (when GitHub sets it);
- commit date: the ``timestamp`` of the pushed commit (``commits[]`` or ``head_commit``), else
  the ``commit_date`` the caller passes (e.g. from ``git log -1 --format=%cI``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dify_action.errors import InputError
from dify_action.tags.context import PR_EVENTS, GitContext


def context_from_event(
    event_name: str,
    payload: Mapping[str, Any],
    github: Mapping[str, str],
    *,
    dify_version: str | None = None,
    pr_head_sha: bool = False,
    commit_date: datetime | None = None,
    now: datetime | None = None,
) -> GitContext:
    """The context of this run. ``github`` holds the GITHUB_* values (GITHUB_SHA, GITHUB_REF,
    GITHUB_RUN_NUMBER, optionally GITHUB_BASE_REF); ``payload`` the parsed event JSON."""
    sha = github.get("GITHUB_SHA", "")
    ref = github.get("GITHUB_REF", "")
    if not sha:
        raise InputError("GITHUB_SHA", sha, "the commit of the run; set by the runner (or pass --revision)")
    if not ref.startswith("refs/"):
        raise InputError("GITHUB_REF", ref, "a full ref such as refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge")
    run_number = _int(github.get("GITHUB_RUN_NUMBER") or None, "GITHUB_RUN_NUMBER")
    is_pr = event_name in PR_EVENTS
    pr_number = _int(_get(payload, "number") if is_pr else None, "pull request number in the event payload")
    if is_pr and pr_number is None:
        pr_number = _int(_get(payload, "pull_request", "number"), "pull_request.number in the event payload")
    head = _get(payload, "pull_request", "head", "sha")
    if pr_head_sha and is_pr and isinstance(head, str) and head:
        sha = head
    default_branch = _str(_get(payload, "repository", "default_branch"))
    if default_branch is None and event_name == "schedule" and ref.startswith("refs/heads/"):
        default_branch = ref.removeprefix("refs/heads/")
    if is_pr:
        base_ref = _str(_get(payload, "pull_request", "base", "ref")) or github.get("GITHUB_BASE_REF") or None
    elif ref.startswith("refs/tags/"):
        base_ref = (_str(_get(payload, "base_ref")) or "").removeprefix("refs/heads/") or None
    else:
        base_ref = None
    return GitContext(
        sha=sha, ref=ref, event=event_name, default_branch=default_branch, pr_number=pr_number,
        run_number=run_number, dify_version=dify_version, base_ref=base_ref,
        commit_date=_pushed_commit_date(payload, sha) or commit_date, date=now,
    )


def load_event(path: str | Path, *, input_name: str = "GITHUB_EVENT_PATH") -> dict[str, Any]:
    """The event payload file the runner wrote (a JSON object); a named InputError otherwise."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(input_name, str(path), f"a readable JSON event payload ({error})") from None
    if not isinstance(payload, dict):
        raise InputError(input_name, str(path), "a JSON object (the webhook payload of the event)")
    return payload


def _pushed_commit_date(payload: Mapping[str, Any], sha: str) -> datetime | None:
    candidates = list(_get(payload, "commits") or [])
    candidates.append(_get(payload, "head_commit"))
    for commit in candidates:
        if isinstance(commit, Mapping) and commit.get("id") == sha and isinstance(commit.get("timestamp"), str):
            try:
                moment = datetime.fromisoformat(commit["timestamp"])
            except ValueError:
                raise InputError("commit timestamp in the event payload", commit["timestamp"],
                                 "an ISO 8601 date-time") from None
            return moment if moment.tzinfo is not None else None
    return None


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise InputError(name, value, "a positive whole number")
    return int(value)
