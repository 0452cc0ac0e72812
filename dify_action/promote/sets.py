"""Promote and the Dify release set (issue 21): Dify's own images travel with the set (the set ``--to``
runs after the promotion is checked by releaseset.hooks.check_targets, before any side effect)."""

from __future__ import annotations

from collections.abc import Sequence

from dify_action import refs
from dify_action.bump import FoundImage
from dify_action.releaseset.members import official_role


def dify_member(items: Sequence[FoundImage]) -> bool:
    """Whether a repository deployed as ``items`` is one of Dify's official images (web, sandbox...)."""
    return any(official_role(i.ref) is not None for i in items)


def carried(ours: Sequence[str], official: Sequence[str], ref: refs.ImageRef) -> bool:
    """An official Dify image that is neither a component of ours nor named in ``promote.official``:
    moved with the release set, never looked up in a registry (upstream's, not built or gated here)."""
    if official_role(ref) is None or ref.repository in official:
        return False
    return not any(refs.parse_repository(i, input_name="image").same_repository(ref) for i in ours)

