"""Promote and the Dify release set (issue 21): Dify's own images travel with the set, and the set
``--to`` runs after the promotion is checked before any side effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dify_action import refs
from dify_action.bump import FoundImage, Target
from dify_action.registry import RegistryFor
from dify_action.releaseset import SetCheck, SetPolicy, Versions
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


def release_set(root: Path, paths: Sequence[str], targets: Sequence[Target],
                known: Mapping[refs.ImageRef, str | None], policy: SetPolicy, registry_for: RegistryFor,
                environment: str) -> tuple[SetCheck, Versions]:
    """The set ``environment`` runs once ``targets`` land (``known``: the Dify versions the images' labels
    gave), and the versions the delivery re-checks with on the real base."""
    from dify_action.releaseset.hooks import check_targets

    return check_targets(root, paths, targets, known, policy, registry_for, environment, "label")
