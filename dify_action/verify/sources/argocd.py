"""Argo CD (the API server): each Application synced at the commit or after it, Healthy, its last sync
operation Succeeded on that revision with every PreSync/Sync hook (the migration Job) Succeeded,
and the union of their ``status.summary.images`` holding the expected references.

``GET /api/v1/applications/{name}`` with ``Authorization: Bearer <token>`` (the argocd CLI's
ARGOCD_AUTH_TOKEN); ``?refresh=normal`` on the first reading and while an app is behind, so that Argo
CD compares with Git now instead of at its next poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from dify_action.text import display
from dify_action.verify.model import ExpectedState, Observation, State, short_digest, short_revision
from dify_action.verify.request import ArgoCd
from dify_action.verify.sources import HTTP_TIMEOUT, USER_AGENT, digest_of, http_trouble

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

NAME = "argocd"
FAILED_PHASES = ("Failed", "Error")
HOOKS = ("PreSync", "Sync")


class ArgoCdSource:
    name = NAME

    def __init__(self, config: ArgoCd, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {config.token}", "User-Agent": USER_AGENT})
        self.session.verify = not config.insecure
        self._refresh = set(config.applications)

    def close(self) -> None:
        self.session.close()

    def _get(self, app: str) -> tuple[dict[str, Any] | None, Observation | None]:
        namespace, _, name = app.rpartition("/")
        params = {"refresh": "normal"} if app in self._refresh else {}
        if namespace:
            params["appNamespace"] = namespace
        url = f"{self.config.server}/api/v1/applications/{quote(name, safe='')}"
        try:
            response = self.session.get(url, params=params, timeout=HTTP_TIMEOUT)
        except requests.RequestException as error:
            return None, http_trouble(NAME, app, error)
        if response.status_code != 200:
            return None, http_trouble(NAME, app, response=response, what=f" for application {app}")
        self._refresh.discard(app)
        try:
            body = response.json()
        except ValueError:
            return None, Observation(NAME, app, State.PENDING, "answered 200 without JSON; retrying")
        return (body if isinstance(body, dict) else {}), None

    def observe(self, expectations: Expectations) -> list[Observation]:
        out: list[Observation] = []
        seen: list[str] = []
        settled = True
        for app in self.config.applications:
            body, trouble = self._get(app)
            if trouble is not None:
                out.append(trouble)
                settled = False
                continue
            assert body is not None
            observation, images = application(app, body, expectations)
            if observation.state in (State.PENDING,) and observation.detail.startswith("synced to"):
                self._refresh.add(app)  # behind: ask Argo CD to look at Git again
            settled = settled and observation.state in (State.OK, State.MISMATCH)
            out.append(observation)
            seen += images
        if settled:  # every app synced and healthy: the union must cover what the environment declares
            out += coverage(seen, expectations.current)
        return out


def application(app: str, body: Mapping[str, Any], expectations: Expectations) -> tuple[Observation, list[str]]:
    """One Application's reading, and its ``summary.images``."""
    status = body.get("status") or {}
    sync = status.get("sync") or {}
    revision = sync.get("revision") or next(iter(sync.get("revisions") or ()), None)
    health = (status.get("health") or {}).get("status") or "Unknown"
    images = [str(i) for i in (status.get("summary") or {}).get("images") or ()]
    operation = status.get("operationState") or {}
    result = operation.get("syncResult") or {}
    op_revision = result.get("revision") or ((operation.get("operation") or {}).get("sync") or {}).get("revision")

    def seen(state: State, detail: str) -> tuple[Observation, list[str]]:
        return Observation(NAME, app, state, display(detail), revision), images

    if op_revision and operation.get("phase") in FAILED_PHASES and expectations.relation(op_revision) in ("same",
                                                                                                       "ahead"):
        hooks = _failed_hooks(result)
        return seen(State.FAILED, f"sync operation {operation['phase']} at {short_revision(op_revision)}: "
                    + (hooks or str(operation.get("message") or "no message")))
    if not revision:
        return seen(State.PENDING, "no sync revision yet")
    expected = expectations.at(revision)
    if expected is None:
        where = expectations.relation(revision)
        return seen(State.PENDING, f"synced to {short_revision(revision)}, "
                    + ("an ancestor of" if where == "behind" else "not a descendant of")
                    + f" {short_revision(expectations.commit)}: waiting for the newer revision")
    if sync.get("status") != "Synced":
        return seen(State.PENDING, f"{sync.get('status') or 'Unknown'} at {short_revision(revision)}")
    if health == "Degraded":
        message = (status.get("health") or {}).get("message") or ""
        return seen(State.DEGRADED, f"Degraded at {short_revision(revision)}{': ' + message if message else ''}")
    if health != "Healthy":
        return seen(State.PENDING, f"{health} at {short_revision(revision)}")
    if op_revision != revision or operation.get("phase") != "Succeeded":
        return seen(State.PENDING, f"no succeeded sync operation at {short_revision(revision)} yet "
                    f"(last: {operation.get('phase') or 'none'} at {short_revision(op_revision)})")
    running = [f"{r.get('hookType')} {r.get('kind')}/{r.get('name')} {r.get('hookPhase') or 'pending'}"
               for r in result.get("resources") or ()
               if r.get("hookType") in HOOKS and r.get("hookPhase") != "Succeeded"]
    if running:
        return seen(State.PENDING, "hooks not succeeded: " + "; ".join(running))
    wrong = _wrong_images(images, expected)
    if wrong:
        return seen(State.MISMATCH, f"Synced and Healthy at {short_revision(revision)} but " + "; ".join(wrong))
    return seen(State.OK, f"Synced and Healthy at {short_revision(revision)}, sync and hooks Succeeded")


def _failed_hooks(result: Mapping[str, Any]) -> str:
    return "; ".join(f"{r.get('hookType') or 'resource'} {r.get('kind')}/{r.get('name')} "
                     f"{r.get('hookPhase') or r.get('status')}: {r.get('message') or 'no message'}"
                     for r in result.get("resources") or ()
                     if r.get("hookPhase") in FAILED_PHASES or r.get("status") in ("SyncFailed",))


def matches(image: str, expected_digest: str, expected_tag: str | None) -> bool:
    digest = digest_of(image)
    if digest is not None:
        return digest == expected_digest
    tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else None
    return tag == expected_tag


def _wrong_images(images: list[str], expected: ExpectedState) -> list[str]:
    wrong = []
    for image in images:
        want = expected.image_for(image)
        if want is not None and not matches(image, want.digest, want.ref.tag):
            wrong.append(f"summary.images has {image}, expected {want.ref.name}:{want.ref.tag} @ "
                         f"{short_digest(want.digest)}")
    return wrong


def coverage(images: list[str], expected: ExpectedState) -> list[Observation]:
    missing = [i for i in expected.images
               if not any(i.matches_repository(s) and matches(s, i.digest, i.ref.tag) for s in images)]
    if not missing:
        return []
    return [Observation(NAME, "applications", State.MISMATCH, "no application's summary.images holds "
                        + ", ".join(f"{i.ref.name}:{i.ref.tag} @ {short_digest(i.digest)}" for i in missing))]
