"""Where registry credentials may go, and scrubbing them out of what a registry says.

As docker and containerd do: the Authorization header (Basic password or Bearer token) goes only
to the origin (scheme, host, port) of the registry that challenged; the password goes only to the
token realm that registry names, and only over https (loopback excepted, for local registries);
nothing secret ever goes over plain http to a host that is not loopback. A registry's error text
may echo the request's headers: the password, its base64 form and the tokens are cut out of it.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from dify_action.errors import RegistryError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_AUTH_VALUE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}")

Origin = tuple[str, str, int]


def origin(url: str) -> Origin:
    """``(scheme, host, port)`` of an absolute URL, ports made explicit, host lowercased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = -1  # not a port: matches no origin
    return scheme, (parts.hostname or "").lower(), port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_ok(url: str) -> bool:
    """Whether a secret may travel to ``url``: https, or http to a loopback host."""
    scheme, host, _ = origin(url)
    return scheme == "https" or (scheme == "http" and is_loopback(host))


def same_origin(url: str, registry_url: str) -> bool:
    return origin(url) == origin(registry_url)


def check_realm(realm: str, registry: str) -> None:
    """Refuse a token realm the password must not be sent to (RegistryError, before anything is sent)."""
    scheme, host, _ = origin(realm)
    if scheme not in ("http", "https") or not host:
        raise RegistryError(f"registry {registry} names a token realm that is not an http(s) URL",
                            hint="check the registry's auth configuration")
    if not plain_http_ok(realm):
        raise RegistryError(
            f"registry {registry} asks for credentials at a plain http token realm ({scheme}://{host}); "
            "they would travel in clear text, so they were not sent",
            hint="configure the registry's token realm with https")


def secrets_of(username: str | None, password: str | None, tokens: Iterable[str]) -> list[str]:
    """Every form a secret could be echoed in: the password, base64 of ``user:password``, tokens."""
    out: list[str] = []
    if password:
        out.append(password)
        if username is not None:
            pair = f"{username}:{password}".encode()
            out += [base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()]
    out += [token for token in tokens if token]
    return sorted({s for s in out if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` and without any ``Basic``/``Bearer`` header value."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _AUTH_VALUE.sub(lambda match: f"{match.group(1)} ***", text)
