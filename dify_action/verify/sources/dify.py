"""Dify itself, whatever the platform: ``GET <url>/health`` answers ``status: ok`` with ``version``
equal to the image's Dify version (Dify sets it, and ``X-Version``, on every response:
api/extensions/ext_app_metrics.py); optional extra URLs must answer 2xx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from dify_action.text import display
from dify_action.verify.model import Observation, State
from dify_action.verify.sources import HTTP_TIMEOUT, USER_AGENT, http_trouble

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

NAME = "dify"


class DifySource:
    name = NAME

    def __init__(self, url: str, checks: tuple[str, ...] = (), session: requests.Session | None = None) -> None:
        self.url, self.checks = url.rstrip("/"), checks
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def observe(self, expectations: Expectations) -> list[Observation]:
        out = [self._health(expectations.current.dify_versions)]
        for url in self.checks:
            try:
                response = self.session.get(url, timeout=HTTP_TIMEOUT)
            except requests.RequestException as error:
                out.append(http_trouble(NAME, url, error))
                continue
            out.append(Observation(NAME, url, State.OK, f"answered {response.status_code}")
                       if response.ok else http_trouble(NAME, url, response=response))
        return out

    def _health(self, versions: tuple[str, ...]) -> Observation:
        url = f"{self.url}/health"
        try:
            response = self.session.get(url, timeout=HTTP_TIMEOUT)
        except requests.RequestException as error:
            return http_trouble(NAME, url, error)
        if response.status_code != 200:
            return http_trouble(NAME, url, response=response)
        return health(url, response, versions)


def health(url: str, response: requests.Response, versions: tuple[str, ...]) -> Observation:
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    version = body.get("version") or response.headers.get("X-Version")
    if body.get("status") != "ok":
        return Observation(NAME, url, State.PENDING, f"status {display(body.get('status'))!s:.40}, not ok yet")
    if not versions:
        return Observation(NAME, url, State.OK, f"status ok, version {display(version)} (no Dify version recorded "
                           "for the expected images: not compared)")
    if version not in versions:
        return Observation(NAME, url, State.MISMATCH, f"answers Dify version {display(version)[:40]}, expected "
                           f"{' or '.join(versions)}")
    return Observation(NAME, url, State.OK, f"status ok, Dify version {version}")
