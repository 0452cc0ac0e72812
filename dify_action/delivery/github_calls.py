"""Calling the GitHub API under the one retry policy (``dify_action/retry.py``; PyGithub's own retry
is turned off), reading GitHub's rate-limit answers, and turning its errors into ForgeErrors.

What is retried, after
https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api:
- 429, and 403 that is a rate limit (primary: ``x-ratelimit-remaining: 0``; secondary: the message
  or a ``Retry-After``): wait ``Retry-After`` seconds, else until ``x-ratelimit-reset``, else one
  minute for a secondary limit; refuse to wait longer than ``max_wait``.
- 5xx and connection errors: exponential backoff, bounded.
- 422/404 right after a ref was pushed or a Git Data object was made (the API may not see it yet)
  when the caller says so.
Other 4xx are never retried blindly: they become errors for the caller to explain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests
from github import GithubException

from dify_action.errors import ForgeError
from dify_action.retry import RetryPolicy

T = TypeVar("T")


def error_message(error: GithubException) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    parts = [str(data.get("message") or error.message or "")]
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("message") or f"{item.get('field')} {item.get('code')}"))
        else:
            parts.append(str(item))
    return "; ".join(p for p in parts if p)


def _header(error: GithubException, name: str) -> str | None:
    for key, value in (error.headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


@dataclass
class Caller:
    """Runs one-request callables under the policy, counting every HTTP attempt."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)  # its ``sleep`` waits (tests: no real wait)
    clock: Callable[[], float] = time.time
    calls: int = 0
    last_attempts: int = 0
    waits: list[float] = field(default_factory=list)

    def rate_limit_wait(self, error: GithubException) -> float | None:
        """Seconds to wait if ``error`` is a rate limit, else None."""
        status = error.status
        message = error_message(error).lower()
        retry_after = _header(error, "retry-after")
        remaining = _header(error, "x-ratelimit-remaining")
        reset = _header(error, "x-ratelimit-reset")
        limited = status == 429 or (status == 403 and (
            retry_after is not None or remaining == "0" or "rate limit" in message))
        if not limited:
            return None
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if remaining == "0" and reset and reset.strip().isdigit():
            return max(1.0, float(reset) - self.clock() + 1)
        return 60.0  # secondary limit without a hint: GitHub asks for at least a minute

    def call(self, what: str, fn: Callable[[], T], *, fresh_ref: bool = False) -> T:
        """Run ``fn`` (one HTTP request); ``last_attempts`` tells the caller whether it was retried."""
        attempt = 0
        fresh_left = self.policy.fresh_ref_attempts if fresh_ref else 0
        while True:
            attempt += 1
            self.calls += 1
            self.last_attempts = attempt
            try:
                return fn()
            except GithubException as error:
                delay = self._delay_for(what, error, attempt, fresh_left)
                if fresh_left and is_fresh_ref_error(error):
                    fresh_left -= 1
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt >= self.policy.attempts:
                    raise ForgeError(f"{what}: cannot reach the GitHub API: {type(error).__name__}",
                                     hint="check --github-api-url and the network") from None
                delay = self._backoff(attempt)
            self.waits.append(delay)
            self.policy.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return self.policy.backoff(attempt)

    def _delay_for(self, what: str, error: GithubException, attempt: int, fresh_left: int) -> float:
        wait = self.rate_limit_wait(error)
        if wait is not None:
            if wait > self.policy.max_wait or attempt >= self.policy.attempts:
                raise ForgeError(
                    f"{what}: GitHub rate limit ({error.status}): {error_message(error)}",
                    hint=f"the limit resets in {wait:.0f}s; re-run later or use a token with its own quota",
                ) from None
            return wait
        if error.status >= 500 and attempt < self.policy.attempts:
            return self._backoff(attempt)
        if fresh_left and is_fresh_ref_error(error):
            return self._backoff(attempt)
        raise error


def is_fresh_ref_error(error: GithubException) -> bool:
    """The answers GitHub gives while a just-pushed branch is not visible to the API yet."""
    if error.status == 404:
        return True
    data = error.data if isinstance(error.data, dict) else {}
    message = error_message(error).lower()
    # a blob, tree or commit made a moment ago that another replica does not see yet (Git Data API)
    fresh_object = any(words in message for words in ("sha does not exist", "object does not exist",
                                                      "is not a valid blob", "is not a valid tree"))
    return error.status == 422 and (fresh_object or any(
        isinstance(item, dict) and item.get("field") == "head" and item.get("code") == "invalid"
        for item in data.get("errors") or []
    ))


def is_already_exists(error: GithubException) -> bool:
    return error.status == 422 and "already exists" in error_message(error).lower()


def describe(error: GithubException, what: str, permission: str | None = None) -> ForgeError:
    """A ForgeError that says what failed and, for 401/403/404, which permission is missing."""
    message = f"{what}: GitHub answered {error.status}: {error_message(error) or 'no message'}"
    hint: str | None = None
    if error.status == 401:
        hint = "the token is invalid or expired; set GITOPS_TOKEN (or GITHUB_TOKEN) to a valid token"
    elif error.status in (403, 404) and permission:
        hint = (f"the token needs '{permission}' on the GitOps repository (a 404 also means no access); "
                "the workflow's GITHUB_TOKEN cannot write to another repository: use a fine-grained PAT "
                "or a GitHub App token in GITOPS_TOKEN")
    return ForgeError(message, hint=hint)
