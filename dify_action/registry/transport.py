"""HTTP for one registry: requests with bounded retries, Basic and Bearer-token auth, clear errors.

The token flow: https://distribution.github.io/distribution/spec/auth/token/ . Credentials are values
given by the caller; they never appear in messages or reprs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import IO, TYPE_CHECKING

from dify_action.errors import RegistryError
from dify_action.registry.model import MAX_ANSWER, Credentials, default_scheme
from dify_action.registry.origin import same_origin
from dify_action.registry.wire import Wire
from dify_action.retry import REGISTRY, RetryPolicy

if TYPE_CHECKING:
    import requests

    from dify_action.registry.deadline import Deadline

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_HUB_ENDPOINT = {"docker.io": "registry-1.docker.io"}


class Transport(Wire):
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
                if self._authenticate(response, scope_key):
                    response.close()
                    continue
            if response.status_code in _RETRY_STATUS and attempt < self.retry.attempts:
                response.close()
                self.retry.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code < 300 or response.status_code in allow:
                return response
            response._content = self._read(response, 64 << 10, f"{method} {what}", deadline, truncate=True)
            raise self._error(response, method, what, scope_key)

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
