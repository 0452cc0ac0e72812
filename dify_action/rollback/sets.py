"""Rollback and the Dify release set (issue 21): the set an environment runs once the rollback lands
(the bump's whole set goes back), checked with the versions the migration guard read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dify_action.rollback.guard import GuardCheck, ImageMove
from dify_action.rollback.model import MergedBump, RollbackRequest

if TYPE_CHECKING:
    from dify_action.registry import RegistryFor
    from dify_action.releaseset import SetCheck, Versions


def release_set(request: RollbackRequest, root: Path, bump: MergedBump, moves: tuple[ImageMove, ...],
                guard: tuple[GuardCheck, ...], registry_for: RegistryFor | None) -> tuple[SetCheck, Versions]:
    """The set check (not enforced: the caller does) of the references the rollback restores."""
    from dify_action.releaseset.hooks import check_targets, restore_targets

    versions = {g.image: (g.current, g.restored) for g in guard}
    known = {ref: versions.get(m.current.name, (None, None))[side] for m in moves
             for side, ref in enumerate((m.current, m.restored))}
    paths = request.paths or tuple(sorted({m.file for m in moves}))
    return check_targets(root, paths, restore_targets([(m.current, m.restored) for m in moves]), known,
                         request.set_policy, registry_for, bump.environment)
