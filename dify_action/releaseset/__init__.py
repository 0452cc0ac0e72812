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

from dify_action.releaseset.checks import Finding, SetReport, evaluate
from dify_action.releaseset.guard import SetCheck, SetRefused, check_change, enforce, touches_set
from dify_action.releaseset.members import ROLES, Member
from dify_action.releaseset.move import ReleaseMove, check_release, release_targets
from dify_action.releaseset.policy import SetPolicy
from dify_action.releaseset.table import Lookup, Pairing, PairingTable
from dify_action.releaseset.table import load as load_table
from dify_action.releaseset.upgrade import MigrationMode, migration_mode
from dify_action.releaseset.view import ReleaseSet, Versions, build_set, known_versions, read_set, version_keys

__all__ = [
    "ROLES", "Finding", "Lookup", "Member", "MigrationMode", "Pairing", "PairingTable", "ReleaseMove", "ReleaseSet",
    "SetCheck", "SetPolicy", "SetRefused", "SetReport", "Versions", "build_set", "check_change", "check_release",
    "enforce", "evaluate", "known_versions", "load_table", "migration_mode", "read_set", "release_targets",
    "touches_set", "version_keys",
]
