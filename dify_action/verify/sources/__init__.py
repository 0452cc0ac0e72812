"""Live sources: one small adapter per system that knows what an environment runs.

Each adapter turns one reading of its system into ``Observation``s (model.py) against the
expected state; it never decides the verdict (wait.py does) and never imports a stage. Transient
trouble (a refused connection, a 5xx) is PENDING and retried by the wait; a refused credential
(401/403) is FAILED at once: waiting does not fix a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import requests

from dify_action.text import display
from dify_action.verify.model import Observation, State

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

USER_AGENT = "dify-action-verify"
HTTP_TIMEOUT = 10.0


class Source(Protocol):
    name: str

    def observe(self, expectations: Expectations) -> list[Observation]: ...

    def close(self) -> None: ...


def http_trouble(source: str, subject: str, error: requests.RequestException | None = None,
                 response: requests.Response | None = None, what: str = "") -> Observation:
    """The observation for a failed HTTP exchange: 401/403 final, 5xx and connection errors retried,
    any other status final (a wrong URL or name does not heal)."""
    if response is None:
        reason = type(error).__name__ if error is not None else "no answer"
        return Observation(source, subject, State.PENDING, f"unreachable ({reason}); retrying")
    status = response.status_code
    message = display(_message(response))[:300]
    if status in (401, 403):
        return Observation(source, subject, State.FAILED, f"{status}: the credential was refused{what} ({message})")
    if status >= 500 or status == 429:
        return Observation(source, subject, State.PENDING, f"answered {status} ({message}); retrying")
    return Observation(source, subject, State.FAILED, f"answered {status}{what} ({message})")


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:200]
    return ""


def digest_of(image: str) -> str | None:
    """The ``sha256:...`` of ``repo@sha256:...`` or ``docker-pullable://repo@sha256:...``; None for a
    bare ``sha256:`` (an image config id, not the registry digest: nothing to compare)."""
    _, at, digest = image.rpartition("@")
    return digest if at and digest.startswith("sha256:") else None
