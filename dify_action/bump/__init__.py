"""The GitOps bump engine: find image references in a GitOps tree and rewrite only their bytes.

Public API (used by the CLI, delivery, promote and rollback):

- ``Target``: one image to set (repository, tag, optional digest, optional explicit Helm key paths,
  optional compose ``env_file``); ``Target.from_reference("repo:tag[@digest]")`` for user input.
- ``plan_bump(root, targets, paths)`` -> ``BumpPlan``: pure; reads files, writes nothing. Several
  targets make one plan: one commit, one PR (``DeliveryRequest(targets=...)`` does the same remotely).
  Refusals are ``EditRefused`` (exit 2, ``.warnings`` lists the skipped files).
- ``apply_plan(plan)``: writes every planned file or none.
- ``find_images(root, paths)`` -> the image references deployed under ``paths`` (for promote).

Inside, the imports point one way: leaves (``model``, ``tree``, ``composer``, ``variables``,
``yamlnodes``, ``layout``) <- the shared replacer (``edit``) and the kinds (``imagekeys``, ``shapes``,
``argovalues``, ``envedit``; ``helmpath`` reads Helm mappings with ``imagekeys``) <- the one
dispatcher (``find``) <- ``explain`` <- ``engine``; ``journal`` writes the tree. ``scripts/check-imports`` keeps it so.
"""

from __future__ import annotations

from dify_action.bump.engine import apply_plan, plan_bump
from dify_action.bump.find import find_images
from dify_action.bump.model import BumpPlan, Change, FileEdit, FoundImage, Skipped, Target

__all__ = [
    "BumpPlan",
    "Change",
    "FileEdit",
    "FoundImage",
    "Skipped",
    "Target",
    "apply_plan",
    "find_images",
    "plan_bump",
]
