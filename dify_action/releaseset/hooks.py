"""The release-set check where a change is made: the facts it reads and the hooks the stages install.

- ``registry_versions``: the Dify version of a customized image from the facts recorded with its
  gate record, else its ``io.dify.base-version`` label (never its layers: the check stays cheap);
  official images are not looked up (their tag says, or nothing does).
- ``check_tree`` / ``check_remote``: the check on a working tree, or on a read-only clone of the
  GitOps repository (the delivery re-checks on the real base with ``precheck``).
- ``precheck``: a ``DeliveryRequest.precheck``: the planned targets checked on the base the
  delivery cloned, refused before its commit, the set table returned for the PR body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dify_action import refs
from dify_action.errors import DifyActionError
from dify_action.releaseset.guard import SetCheck, check_change, enforce
from dify_action.releaseset.members import official_role
from dify_action.releaseset.policy import SetPolicy
from dify_action.releaseset.view import Versions, known_versions, version_key_for

if TYPE_CHECKING:
    from dify_action.bump import BumpPlan, Target
    from dify_action.delivery import DeliveryRequest
    from dify_action.registry import RegistryFor


def registry_versions(registry_for: RegistryFor | None, policy: SetPolicy, targets: Sequence[Target] = ()) -> Versions:
    """What the caller knows (``policy.known``: the build's facts), then the registry's records of our
    components: the config's (``policy.customized``) and the images this change ships (``targets``).
    Other images are not looked up: a repository that only looks like Dify's is no reason to call a
    registry, and its version stays unknown (said in the report)."""
    cache: dict[str, tuple[str, str] | None] = {}
    ours = {*policy.customized, *(t.image.match_key for t in targets)}

    def lookup(ref: refs.ImageRef) -> tuple[str, str] | None:
        if registry_for is None or official_role(ref) is not None or not (ref.tag or ref.digest) or \
                ref.with_version(None).match_key not in ours:
            return None
        key = str(ref)
        if key not in cache:
            cache[key] = _recorded(registry_for, ref)
        return cache[key]

    return known_versions(policy.known, lookup)


def _recorded(registry_for: RegistryFor, ref: refs.ImageRef) -> tuple[str, str] | None:
    from dify_action.dify.versions import base_version
    from dify_action.registry.gates import read_facts

    try:
        client = registry_for(ref.registry)
        digest = ref.digest or client.resolve_digest(ref)
        facts = read_facts(client, ref.remote_path, digest)
        if facts is not None and facts.dify_version:
            return facts.dify_version, "facts"
        label = base_version(client, ref.with_version(None, digest))
        return (label, "label") if label else None
    except DifyActionError:
        return None  # unknown, and the report says so: a registry that cannot be read never fails a bump


def check_tree(root: Path, paths: Sequence[str], targets: Sequence[Target], policy: SetPolicy,
               versions: Versions, environment: str | None = None, *, reuse: bool = False) -> SetCheck:
    """The check of a change to a working tree; SetRefused (nothing written) unless allowed. ``reuse``:
    the bump of this tree follows and takes the check's plan (``SetCheck.plan``)."""
    check = check_change(root, paths, targets, policy, versions, environment=environment, reuse=reuse)
    enforce(check, f"the change to {environment or 'the environment'}")
    return check


def check_remote(request: DeliveryRequest, targets: Sequence[Target], policy: SetPolicy,
                 versions: Versions) -> SetCheck:
    """The check on a read-only clone of the delivery's repository (needed before the delivery when
    the release's targets depend on what the environment deploys)."""
    from dify_action.delivery import Git
    from dify_action.delivery.git import workspace

    with workspace("set") as workdir:
        d = request.destination
        git = Git(d.repo_url, workdir, d.token, base_env=d.environ)
        git.clone(d.base, request.paths)
        return check_tree(git.workdir, request.paths, targets, policy, versions, request.environment)


def check_targets(root: Path, paths: Sequence[str], targets: Sequence[Target],
                  known: Mapping[refs.ImageRef, str | None], policy: SetPolicy, registry_for: RegistryFor | None,
                  environment: str | None, source: str = "facts") -> tuple[SetCheck, Versions]:
    """Promote's and rollback's check (not enforced: the caller does): exactly ``targets`` applied, with
    the Dify versions the caller read (``known``: reference -> version, from its labels or guard)."""
    facts = {key: (version, source) for ref, version in known.items() if version for key in version_key_for(ref)}
    exact = replace(policy, release=None, follow_api=False, known=facts)
    versions = registry_versions(registry_for, exact, targets)
    return check_change(root, paths, targets, exact, versions, environment=environment), versions


def restore_targets(moves: Sequence[tuple[refs.ImageRef, refs.ImageRef]]) -> tuple[Target, ...]:
    """Rollback: one target per repository moved back (current -> restored) to a single tagged reference."""
    from dify_action.bump import Target

    by_repo: dict[str, set[refs.ImageRef]] = {}
    for _, restored in moves:
        by_repo.setdefault(restored.match_key, set()).add(restored)
    chosen = [next(iter(r)) for r in by_repo.values() if len(r) == 1]
    return tuple(Target(ref.with_version(None), ref.tag, ref.digest) for ref in chosen if ref.tag)


def precheck(targets: Sequence[Target], paths: Sequence[str], policy: SetPolicy, versions: Versions,
             environment: str | None) -> Callable[[Path, BumpPlan], list[str]]:
    """The delivery's re-check of exactly the planned targets on the base it cloned."""
    exact = replace(policy, release=None, follow_api=False)

    def hook(root: Path, plan: BumpPlan) -> list[str]:
        section = check_tree(root, paths, targets, exact, versions, environment).markdown()
        return [section] if section else []

    return hook
