"""The registry conversation below the requests themselves: answers read within a size cap and
the request's deadline, JSON decoded by the one bounded decoder, and authentication bound to its
origin (see origin.py): Basic to the registry's own origin, a token from an https realm only.
Transport builds on it; credentials never appear in messages or reprs.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dify_action import untrusted
from dify_action.errors import RegistryError
from dify_action.registry.model import MAX_ANSWER, Credentials
from dify_action.registry.origin import check_realm, plain_http_ok, scrub, secrets_of

if TYPE_CHECKING:
    import requests

    from dify_action.registry.deadline import Deadline

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')


class Wire:
    """Reading answers and answering challenges for one registry (state set by Transport)."""

    registry: str
    base_url: str
    credentials: Credentials | None
    session: requests.Session
    timeout: float
    deadline: float
    _challenge: dict[str, str] | None
    _basic: bool
    _tokens: dict[tuple[str, ...], tuple[str, float]]

    def _read(self, response: requests.Response, cap: int, what: str, deadline: Deadline | None = None,
              *, truncate: bool = False) -> bytes:
        """The body, at most ``cap`` bytes (more is a RegistryError, or cut with ``truncate``)."""
        import requests
        import urllib3.exceptions

        chunks: list[bytes] = []
        total = 0
        try:
            while total <= cap:
                chunk = response.raw.read(min(1 << 16, cap + 1 - total), decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except (OSError, urllib3.exceptions.HTTPError, requests.RequestException):
            response.close()
            if deadline is not None and deadline.expired:
                raise self._late(*what.split(" ", 1)) from None
            raise RegistryError(f"registry {self.registry} broke off its answer to {what}",
                                hint="retry later; the registry or the network failed") from None
        if total > cap:
            response.close()
            if not truncate:
                raise RegistryError(f"registry {self.registry} answered {what} with over {cap} bytes",
                                    hint="a manifest or API answer that large is not one; check the registry")
        return b"".join(chunks)[:cap]

    def _done(self, response: requests.Response) -> None:
        """End a streamed request: its connection and its deadline."""
        response.close()
        deadline = getattr(response, "_dify_deadline", None)
        if deadline is not None:
            deadline.close()

    def _late(self, method: str, what: str) -> RegistryError:
        return RegistryError(f"registry {self.registry} did not finish {method} {what} within "
                             f"{self.deadline:.0f} s", hint="the registry or a proxy is stalling; retry later")

    def _json(self, body: bytes, what: str) -> Mapping[str, object]:
        return untrusted.json_object(body, f"the answer of {self.registry} to {what}", max_bytes=MAX_ANSWER,
                                     error=RegistryError)

    def _auth_header(self, scope_key: tuple[str, ...]) -> dict[str, str]:
        if not plain_http_ok(self.base_url):
            return {}  # never a secret over plain http to a host that is not loopback
        if self._challenge is not None:
            cached = self._tokens.get(scope_key)
            if not cached or cached[1] <= time.monotonic():
                self._fetch_token(scope_key)  # we know the realm: no need for another 401 round trip
                cached = self._tokens[scope_key]
            return {"Authorization": f"Bearer {cached[0]}"}
        if self._basic and self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _authenticate(self, response: requests.Response, scope_key: tuple[str, ...]) -> bool:
        """Answer a 401 challenge: Basic -> send credentials; Bearer -> fetch a token for the scopes."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.credentials or self._basic:
                return False
            if not plain_http_ok(self.base_url):
                raise RegistryError(f"registry {self.registry} asks for a password over plain http; it was not sent",
                                    hint="serve the registry over https (plain http is for loopback only)")
            self._basic = True
            return True
        if scheme.lower() != "bearer":
            return False
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _CHALLENGE_PARAM.finditer(rest)}
        if "realm" not in params:
            return False
        if self._challenge is not None and scope_key in self._tokens:
            return False  # a fresh token for these scopes was refused: the user lacks the access
        check_realm(params["realm"], self.registry)
        self._challenge = params
        extra = tuple(params["scope"].split(" ")) if params.get("scope") else ()
        self._fetch_token(scope_key, extra)
        return True

    def _fetch_token(self, scope_key: tuple[str, ...], extra: tuple[str, ...] = ()) -> None:
        import requests

        from dify_action.registry.deadline import Deadline, current

        params = self._challenge or {}
        check_realm(params.get("realm", ""), self.registry)
        scopes = set(scope_key) | set(extra)
        query: list[tuple[str, str]] = [("service", params["service"])] if params.get("service") else []
        query += [("scope", scope) for scope in sorted(scopes)]
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        own = Deadline(self.deadline).__enter__() if current() is None else None
        try:
            answer = self.session.get(params["realm"], params=query, auth=auth, timeout=self.timeout, stream=True)
            body = self._read(answer, MAX_ANSWER, "GET token", current())
        except requests.RequestException as error:
            raise RegistryError(f"cannot reach the token service of {self.registry}: {type(error).__name__}",
                                hint="check the network path to the realm the registry names") from None
        finally:
            if own is not None:
                own.close()
        if answer.status_code in (401, 403):
            raise self._credentials_error(scope_key, token_service=True)
        if answer.status_code >= 300:
            raise RegistryError(f"the token service of {self.registry} answered {answer.status_code}",
                                hint="retry later or check the registry's auth service")
        doc = self._json(body, "the token request")
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token or len(token) > 64 << 10:
            raise RegistryError(f"the token service of {self.registry} returned no token")
        lifetime = doc.get("expires_in")
        expires = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) \
            and 0 < lifetime < 1e9 else 60.0
        self._tokens[scope_key] = (token, time.monotonic() + max(min(expires, 3600.0) - 10.0, 5.0))

    def scrubbed(self, text: str) -> str:
        """Registry text without the password (plain or base64) or any token of this client."""
        user = self.credentials.username if self.credentials else None
        password = self.credentials.password if self.credentials else None
        return scrub(text, secrets_of(user, password, (token for token, _ in self._tokens.values())))

    def _credentials_error(self, scope_key: tuple[str, ...], *, token_service: bool = False) -> RegistryError:
        where = f"{self.registry}{' (token service)' if token_service else ''}"
        if not self.credentials:
            return RegistryError(f"registry {where} requires credentials and none were given",
                                 hint="give a registry username and password (or token)")
        scopes = ", ".join(scope_key) or "the registry API"
        return RegistryError(
            f"registry {where} rejected the credentials of user {self.credentials.username!r} for {scopes}",
            hint="check the username and password/token and that the user may pull/push this repository",
        )
