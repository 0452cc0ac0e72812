"""A Dify release is one set of images: read, check and move the set an environment runs.

Public API (the hooks of bump, pipeline, promote, rollback and ``check`` call only these):

- ``read_set(root, paths)`` -> ``ReleaseSet``: the Dify members deployed under an environment's
  paths (the bump engine's reader), with the version each one names and where that came from.
- ``load_table()`` -> ``PairingTable``: which sandbox / plugin-daemon / agent images each release
  pairs (package data ``pairings.json``, every row with its source and confidence).
- ``check_change(root, paths, targets, policy, versions)`` -> ``SetCheck``: the set before and after
  a change (``policy.release`` adds the targets that move every official member to a release), its
  findings and the environment's migration shape; ``enforce(check)`` refuses (``SetRefused``) or
  returns the warnings when ``allow_skew``; ``SetCheck.markdown()`` is the PR body / summary table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dify_action.lazy import loader

if TYPE_CHECKING:
    from dify_action.releaseset.checks import Finding, SetReport, evaluate
    from dify_action.releaseset.guard import SetCheck, SetRefused, check_change, enforce, touches_set
    from dify_action.releaseset.members import ROLES, Member
    from dify_action.releaseset.move import ReleaseMove, check_release, release_targets
    from dify_action.releaseset.policy import SetPolicy
    from dify_action.releaseset.table import Lookup, Pairing, PairingTable
    from dify_action.releaseset.table import load as load_table
    from dify_action.releaseset.upgrade import MigrationMode, migration_mode
    from dify_action.releaseset.view import ReleaseSet, Versions, build_set, known_versions, read_set, version_keys

# loaded on first use (issue 22 class 7): the resolver needs only ``policy``, and a bump whose tree
# holds no other member (the set check's early path) never loads the table, the checks or the renderer
_NAMES = {
    "Finding": "checks", "SetReport": "checks", "evaluate": "checks",
    "SetCheck": "guard", "SetRefused": "guard", "check_change": "guard", "enforce": "guard", "touches_set": "guard",
    "ROLES": "members", "Member": "members",
    "ReleaseMove": "move", "check_release": "move", "release_targets": "move",
    "SetPolicy": "policy",
    "Lookup": "table", "Pairing": "table", "PairingTable": "table",
    "MigrationMode": "upgrade", "migration_mode": "upgrade",
    "ReleaseSet": "view", "Versions": "view", "build_set": "view", "known_versions": "view", "read_set": "view",
    "version_keys": "view",
}
_load = loader(__name__, _NAMES, globals())


def __getattr__(name: str) -> object:
    if name == "load_table":  # the table module's ``load``, under the name the hooks call it by
        from dify_action.releaseset.table import load

        globals()[name] = load
        return load
    return _load(name)


__all__ = [
    "ROLES", "Finding", "Lookup", "Member", "MigrationMode", "Pairing", "PairingTable", "ReleaseMove", "ReleaseSet",
    "SetCheck", "SetPolicy", "SetRefused", "SetReport", "Versions", "build_set", "check_change", "check_release",
    "enforce", "evaluate", "known_versions", "load_table", "migration_mode", "read_set", "release_targets",
    "touches_set", "version_keys",
]
