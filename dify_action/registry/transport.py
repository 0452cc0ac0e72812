"""HTTP for one registry: requests with bounded retries, Basic and Bearer-token auth, clear errors.

The token flow: https://distribution.github.io/distribution/spec/auth/token/ . Credentials are values
given by the caller; they never appear in messages or reprs.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import IO, TYPE_CHECKING

from dify_action import untrusted
from dify_action.errors import RegistryError
from dify_action.registry.model import MAX_ANSWER, Credentials, default_scheme
from dify_action.registry.origin import check_realm, plain_http_ok, same_origin, scrub, secrets_of
from dify_action.retry import REGISTRY, RetryPolicy

if TYPE_CHECKING:
    import requests

    from dify_action.registry.deadline import Deadline

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')
_HUB_ENDPOINT = {"docker.io": "registry-1.docker.io"}


class Transport:
    """One registry (``host[:port]``), one set of credentials; tokens are cached per scope."""

    def __init__(
        self, registry: str, credentials: Credentials | None = None, *, scheme: str | None = None,
        retry: RetryPolicy | None = None, timeout: float = 60.0, session: requests.Session | None = None,
        deadline: float = 300.0,
    ) -> None:
        self.registry = registry
        endpoint = _HUB_ENDPOINT.get(registry, registry)
        self.base_url = f"{scheme or default_scheme(registry)}://{endpoint}"
        self.credentials = credentials
        self.retry = retry or REGISTRY
        self.timeout = timeout  # per socket read
        self.deadline = deadline  # per request, whatever the registry dribbles
        import requests  # ~35 ms: loaded when a registry is called, not when a command starts

        from dify_action.registry.deadline import adapter

        self.session = session or requests.Session()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, adapter())
        self._challenge: dict[str, str] | None = None  # the Bearer challenge once seen
        self._basic = False  # the registry asked for Basic
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def __repr__(self) -> str:
        user = self.credentials.username if self.credentials else None
        return f"RegistryClient({self.base_url!r}, user={user!r})"

    # -- HTTP, auth, retries -----------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, scopes: Iterable[str], what: str, allow: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None, data: bytes | IO[bytes] | None = None,
        params: Mapping[str, str] | None = None, stream: bool = False, cap: int = MAX_ANSWER,
    ) -> requests.Response:
        """One request under one total deadline (retries included). Without ``stream`` the body is
        read here, at most ``cap`` bytes; with it, the caller reads and then calls ``_done``."""
        from dify_action.registry.deadline import Deadline

        deadline = Deadline(self.deadline).__enter__()
        try:
            response = self._attempts(method, path, scopes, what, allow, headers, data, params, deadline)
            if stream:
                response._dify_deadline = deadline  # type: ignore[attr-defined]
                return response
            response._content = self._read(response, cap, f"{method} {what}", deadline)
            if deadline.expired:  # the cut-off answer looked complete: it is not
                raise self._late(method, what)
        except BaseException:
            deadline.close()
            raise
        deadline.close()
        return response

    def _attempts(self, method: str, path: str, scopes: Iterable[str], what: str, allow: tuple[int, ...],
                  headers: Mapping[str, str] | None, data: bytes | IO[bytes] | None,
                  params: Mapping[str, str] | None, deadline: Deadline) -> requests.Response:
        import requests

        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        ours = same_origin(url, self.base_url)  # credentials only for the registry's own origin
        scope_key = tuple(sorted(set(scopes)))
        authenticated_once = False
        attempt = 0
        while True:
            attempt += 1
            if hasattr(data, "seek"):
                data.seek(0)  # type: ignore[union-attr]
            auth = self._auth_header(scope_key) if ours else {}
            try:
                response = self.session.request(
                    method, url, headers={**(headers or {}), **auth}, data=data, params=params,
                    timeout=self.timeout, stream=True, allow_redirects=True,
                )
            except requests.RequestException as error:
                if deadline.expired:
                    raise self._late(method, what) from None
                if attempt < self.retry.attempts and isinstance(error, requests.ConnectionError | requests.Timeout):
                    self.retry.sleep(self._delay(attempt, None))
                    continue
                if isinstance(error, requests.Timeout):
                    raise RegistryError(f"registry {self.registry} timed out on {method} {what}",
                                        hint="retry later; the registry is slow or overloaded") from None
                raise RegistryError(
                    f"cannot reach registry {self.registry} ({method} {what}): {type(error).__name__}",
                    hint="check the registry host and port, TLS (https is used except for loopback) "
                         "and the network",
                ) from None
            if deadline.expired:
                response.close()
                raise self._late(method, what)
            if response.status_code == 401 and not authenticated_once and ours:
                authenticated_once = True
                response.close()
                if self._authenticate(response, scope_key):
                    continue
            if response.status_code in _RETRY_STATUS and attempt < self.retry.attempts:
                response.close()
                self.retry.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code < 300 or response.status_code in allow:
                return response
            response._content = self._read(response, 64 << 10, f"{method} {what}", deadline, truncate=True)
            raise self._error(response, method, what, scope_key)

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

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.retry.max_delay)
            except ValueError:
                try:
                    wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
                    return min(max(wait, 0.0), self.retry.max_delay)
                except (TypeError, ValueError):
                    pass
        return self.retry.backoff(attempt)

    # -- errors --------------------------------------------------------------------------------
    def tags(self, repository: str) -> list[str] | None:
        """The repository's tags (first page), or None when the repository does not exist."""
        response = self._request("GET", f"/v2/{repository}/tags/list", scopes=_pull(repository),
                                 allow=(404,), what=f"tags of {repository}")
        if response.status_code == 404:
            return None
        tags = self._json(response.content, f"tags of {repository}").get("tags") or []
        return [self.scrubbed(tag) for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []

    def _not_found(self, repository: str, reference: str) -> RegistryError:
        """Say whether the repository or only the tag is missing (one more request, on failure only)."""
        try:
            tags = self.tags(repository)
        except RegistryError:
            tags = []
        if tags is None:
            return RegistryError(f"repository {repository} does not exist in {self.registry}",
                                 hint="check the image name; push the image first")
        known = ", ".join(sorted(tags)[:10]) + (f" (and {len(tags) - 10} more)" if len(tags) > 10 else "")
        return RegistryError(f"{repository}:{reference} not found in {self.registry}",
                             hint=f"check the tag or digest; existing tags: {known or 'none'}")

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

    def _error(self, response: requests.Response, method: str, what: str,
               scope_key: tuple[str, ...]) -> RegistryError:
        detail = ""
        try:
            errors = self._json(response.content, f"{method} {what}").get("errors")
            detail = "; ".join(f"{item.get('code')}: {item.get('message')}" for item in errors
                               if isinstance(item, dict)) if isinstance(errors, list) else ""
        except RegistryError:
            pass
        detail = self.scrubbed(detail)[:500]
        status = response.status_code
        if status == 401:
            return self._credentials_error(scope_key)
        if status == 403:
            reason = detail or "forbidden"
            return RegistryError(f"registry {self.registry} denied {method} {what} (403 {reason})",
                                 hint="the credentials lack permission on this repository")
        if status == 404 and method in ("GET", "HEAD") and "/manifests/" in response.url:
            repository, _, reference = what.rpartition(":")
            return self._not_found(repository, reference)
        if status == 404:
            return RegistryError(f"{what} not found in {self.registry} ({detail or 'not found'})")
        hint = "retry later; the registry kept failing" if status in _RETRY_STATUS else None
        return RegistryError(f"registry {self.registry} answered {status} to {method} {what}"
                             f"{': ' + detail if detail else ''}", hint=hint)


def _pull(repository: str) -> tuple[str, ...]:
    return (f"repository:{repository}:pull",)


def _push(repository: str) -> tuple[str, ...]:
    return (f"repository:{repository}:pull,push",)
