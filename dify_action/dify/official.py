"""Dify's own images, as upstream publishes them: the images promote may move without a gate record
here (``promote.official`` in dify-action.yaml), because they are never built here, so never gated
here. Data, not code: when the release-set table of issue 21 lands, ``DIFY`` reads it."""

from __future__ import annotations

from collections.abc import Iterable

from dify_action import refs

# the repositories of a Dify release on Docker Hub (api also runs as worker and beat)
DIFY: tuple[str, ...] = (
    "docker.io/langgenius/dify-api",
    "docker.io/langgenius/dify-web",
    "docker.io/langgenius/dify-sandbox",
    "docker.io/langgenius/dify-plugin-daemon",
)
KEYWORDS = {"dify": DIFY}


def expand(names: Iterable[str]) -> tuple[str, ...]:
    """Normalized repositories (``docker.io/library/...`` form) of ``promote.official``: repositories,
    or ``dify`` for Dify's own. Raises ValueError with the first entry that is neither."""
    out: list[str] = []
    for name in names:
        if name in KEYWORDS:
            out += KEYWORDS[name]
            continue
        ref = refs.try_parse(name)
        if ref is None or ref.tag or ref.digest:
            raise ValueError(name)
        out.append(ref.repository)
    return tuple(dict.fromkeys(out))
