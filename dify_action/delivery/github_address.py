"""Addressing the GitHub API without talking to it: the API root URL a user gives, and the
``owner/name`` of a repository (given, or read from its clone URL).

Light on purpose (no PyGithub): requests are validated here before the first side effect, and a
command that never calls GitHub does not pay for the client's import.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dify_action.errors import InputError


def check_api_url(url: str, input_name: str = "github-api-url") -> None:
    """The GitHub REST API root: an http(s) URL with a host and no credentials, else InputError
    (exit 2) naming the input, before any request (``file://`` or ``ftp://`` never reach PyGithub)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc \
            or re.search(r"[\x00-\x20\x7f]", url) or (port is not None and not 0 < port < 65536):
        raise InputError(input_name, url, "an http:// or https:// URL of the GitHub API (e.g. "
                         "https://api.github.com or https://HOST/api/v3), without credentials")


def github_repository(repo_url: str, github_repo: str | None = None) -> str:
    """``owner/name`` for the API: ``github_repo`` when given, else the last two path segments of
    an http(s) clone URL (``https://github.com/acme/gitops.git`` -> ``acme/gitops``)."""
    if github_repo:
        return github_repo
    parts = urlsplit(repo_url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or len(segments) < 2:
        raise InputError("github-repo", "", "give --github-repo owner/name: it cannot be derived from "
                         f"{repo_url!r}")
    return f"{segments[-2]}/{segments[-1].removesuffix('.git')}"
