"""Promote what runs in environment A to environment B of the GitOps repository.

Read A's image references from a clone, keep ours, check each exists in the registry by digest
and passed its gates (the record in the registry, see gates.py), optionally add a registry tag by
manifest copy (no layer moves), then deliver the bump of B with the same tag and digest. Every
check runs before the first side effect: a refused promotion leaves no tag, branch or PR.

The registry tag moves only after the GitOps change exists (pushed, or its PR opened): a refused
push or a failed PR leaves the tag where it was (issue #9). If the tag copy itself fails after
the delivery, the error says that the change was delivered and the tag was not moved (a re-run
finds the delivery unchanged and moves the tag).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dify_action import refs
from dify_action.bump import Change, FoundImage, Target, find_images, plan_bump
from dify_action.choices import check_environment
from dify_action.delivery import DeliveryRequest, DeliveryResult, Destination, Git
from dify_action.delivery.git import workspace
from dify_action.dify.versions import base_version
from dify_action.errors import DifyActionError, GateFailed, InputError, RegistryError
from dify_action.markdown import escape
from dify_action.promote.left import Left, left_behind
from dify_action.promote.platforms import check_digest
from dify_action.promote.sets import carried, dify_member
from dify_action.registry import CopyResult, RegistryFor
from dify_action.registry.gates import GateRecord
from dify_action.releaseset import SetPolicy, enforce
from dify_action.verify.record import read_verifications
from dify_action.verify.record import refusal as verification_refusal

if TYPE_CHECKING:
    from dify_action.releaseset import SetCheck, Versions


@dataclass(frozen=True)
class PromoteRequest:
    """Promote ``source`` -> ``target``. ``images``: repositories to promote (default: every image
    deployed in both environments whose version differs). ``token`` never appears in repr."""

    destination: Destination
    source: str
    target: str
    source_paths: tuple[str, ...]
    target_paths: tuple[str, ...]
    images: tuple[str, ...] = ()
    ours: tuple[str, ...] = ()  # the config's component repositories: a filter, not a requirement
    official: tuple[str, ...] = ()  # promote.official: upstream repositories moved without a gate record here
    helm_paths: tuple[str, ...] = ()
    registry_tag: str | None = None
    require_gates: bool = True
    require_verified: bool = True  # issue 18: refuse a digest without a passed verification in ``source``
    require_sbom: bool = False  # refuse a digest without an attached SBOM (the pipeline attaches them)
    require_provenance: bool = False  # issue 20: refuse a digest without provenance from source_repository
    source_repository: str | None = None
    pin_digest: bool | None = None  # None: pin in B when A pins
    dry_run: bool = False
    run_url: str | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    set_policy: SetPolicy = field(default_factory=SetPolicy)  # issue 21: the Dify release set of --to

    def validate(self) -> None:
        """InputError (exit 2) before any side effect."""
        for name, value in (("from-environment", self.source), ("to-environment", self.target)):
            check_environment(value, name)
        if self.source == self.target:
            raise InputError("to-environment", self.target, "an environment other than from-environment")
        if not self.source_paths:
            raise InputError("from-paths", "", f"the GitOps paths of {self.source} (--from-path in the CLI), or a "
                             "config with environments")
        if not self.target_paths:
            raise InputError("to-paths", "", f"the GitOps paths of {self.target} (--to-path in the CLI), or a "
                             "config with environments")
        self.destination.validate()
        if self.registry_tag is not None:
            refs.validate_tag(self.registry_tag, input_name="registry-tag")
        for image in (*self.images, *self.ours):
            refs.parse_repository(image, input_name="image")


@dataclass(frozen=True)
class Promotion:
    """One image to promote: what A runs, the verified digest, its gates and the tag copy."""

    ref: refs.ImageRef
    digest: str
    current: refs.ImageRef | None
    gates: GateRecord | None = None
    tag_copy: CopyResult | None = None
    dify_version_old: str | None = None
    dify_version_new: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "image": self.ref.name, "tag": self.ref.tag, "digest": self.digest,
            "from": str(self.ref), "current": str(self.current) if self.current else None,
            "gates": self.gates.as_dict() if self.gates else None,
            "tag_copy": self.tag_copy.as_dict() if self.tag_copy else None,
            "dify_version": {"old": self.dify_version_old, "new": self.dify_version_new},
        }


@dataclass(frozen=True)
class PromoteResult:
    """``operation``: a delivery operation (created, updated, pushed...), ``none`` or ``planned``."""

    operation: str
    source: str
    target: str
    images: tuple[Promotion, ...] = ()
    delivery: DeliveryResult | None = None
    notes: tuple[str, ...] = ()
    diff: str = ""
    left: tuple[Left, ...] = ()  # differs between the environments, not moved, and why
    dify_set: SetCheck | None = None  # issue 21: the Dify release set --to runs after the promotion

    def as_dict(self) -> dict[str, object]:
        d = self.delivery
        return {
            "operation": self.operation, "from": self.source, "to": self.target,
            "images": [p.as_dict() for p in self.images],
            "pr_number": d.pr_number if d else None, "pr_url": d.pr_url if d else None,
            "branch": d.branch if d else None, "commit": d.commit if d else None,
            "changes": [c.as_dict() for c in d.changes] if d else [],
            "notes": list(self.notes) + (list(d.notes) if d else []),
            "left": [item.as_dict() for item in self.left],
            "dify_set": self.dify_set.as_dict() if self.dify_set else None,
        }


@contextlib.contextmanager
def _clone(request: PromoteRequest) -> Iterator[Path]:
    with workspace("promote") as root:
        git = Git(request.destination.repo_url, root, request.destination.token,
                  base_env=request.destination.environ)
        git.clone(request.destination.base, (*request.source_paths, *request.target_paths))
        yield git.workdir


def _versions(found: list[FoundImage]) -> dict[str, list[FoundImage]]:
    by_repo: dict[str, list[FoundImage]] = {}
    for item in found:
        by_repo.setdefault(item.ref.repository, []).append(item)
    return by_repo


def _single(repo: str, items: list[FoundImage], env: str) -> refs.ImageRef:
    versions = {(i.ref.tag, i.ref.digest) for i in items}
    if len(versions) > 1:
        where = "; ".join(f"{i.file}:{i.line} {i.ref}" for i in items)
        raise DifyActionError(f"{env} runs several versions of {repo}: {where}",
                              hint=f"make {env} consistent first (one tag per image), then promote")
    ref = items[0].ref
    if not ref.tag:
        raise DifyActionError(f"{env} deploys {ref} by digest only: promote needs a tag to write",
                              hint="deploy it as repository:tag@digest", file=items[0].file, line=items[0].line)
    return ref


Chosen = list[tuple[refs.ImageRef, refs.ImageRef | None]]


def select(request: PromoteRequest, root: Path) -> tuple[Chosen, list[str]]:
    """(what A runs, what B runs) for each image to promote that differs, and notes."""
    chosen, notes, _ = select_all(request, root)
    return chosen, notes


def select_all(request: PromoteRequest, root: Path) -> tuple[Chosen, list[str], tuple[Left, ...]]:
    """``select``, and every image that differs and is left behind, with the reason."""
    source = _versions(find_images(root, request.source_paths))
    target = _versions(find_images(root, request.target_paths))
    notes: list[str] = []
    if request.images:
        wanted = [refs.parse_repository(i, input_name="image").repository for i in request.images]
        for repo in wanted:
            if repo not in source:
                raise InputError("image", repo, f"not deployed under {', '.join(request.source_paths)} "
                                 f"({request.source}); deployed there: {', '.join(sorted(source)) or 'nothing'}")
    else:
        ours = {refs.parse_repository(i, input_name="image").repository for i in request.ours}
        ours |= set(request.official) if ours else set()
        # issue 21: the official members of the Dify set travel with our components (one release set)
        mine = sorted(repo for repo in source if not ours or repo in ours or dify_member(source[repo]))
        wanted = [repo for repo in mine if repo in target]
        notes += [f"{repo} runs in {request.source} only: not promoted" for repo in mine if repo not in target]
    chosen: list[tuple[refs.ImageRef, refs.ImageRef | None]] = []
    for repo in wanted:
        ref = _single(repo, source[repo], request.source)
        current = target.get(repo)
        now = {(i.ref.tag, i.ref.digest) for i in current} if current else set()
        if now == {(ref.tag, ref.digest)}:
            notes.append(f"{repo} is already {ref.tag} in {request.target}")
            continue
        chosen.append((ref, current[0].ref if current else None))
    ours = {refs.parse_repository(i, input_name="image").repository for i in request.ours}
    left = left_behind(source, target, {ref.repository for ref, _ in chosen}, asked=request.images, ours=ours,
                       official={*request.official, *(r for r in source if dify_member(source[r]))},
                       source_env=request.source, target_env=request.target)
    return chosen, notes, left


def check(request: PromoteRequest, chosen: list[tuple[refs.ImageRef, refs.ImageRef | None]],
          registry_for: RegistryFor) -> tuple[list[Promotion], list[str]]:
    """Resolve and verify every digest and gate; GateFailed lists every refused image at once."""
    promotions: list[Promotion] = []
    refused: list[str] = []
    unverified: list[str] = []
    unproven: list[str] = []
    notes: list[str] = []
    for ref, current in chosen:
        if carried(request.ours, request.official, ref):  # issue 21: Dify's own image, moved with the release set
            notes.append(f"{ref}: an official Dify image, carried with the release set (not gated: not built here)")
            promotions.append(Promotion(ref, ref.digest or "", current))
            continue
        client = registry_for(ref.registry)
        if ref.digest:
            if client.head_manifest(ref.remote_path, ref.digest) is None:
                raise RegistryError(f"{ref} is deployed in {request.source} but its digest is not in {ref.registry}",
                                    hint="the image was deleted or never pushed; rebuild and redeploy it")
            digest = ref.digest
        else:
            digest = client.resolve_digest(ref)
        # the verified-freight rule (issue 18): the index digest is what from-environment ran and proved
        unready = verification_refusal(read_verifications(client, ref.remote_path, digest), request.source,
                                       f"{ref.name}@{digest}")
        if unready:
            unverified.append(unready)
        # gates, SBOMs and provenance of every platform of an index (issue 20: promote/platforms.py)
        checked = check_digest(client, ref.remote_path, ref.name, digest, require_sbom=request.require_sbom,
                               require_provenance=request.require_provenance, source=request.source_repository)
        record = checked.record
        if record is None and ref.repository in request.official:  # upstream's: never built, so never gated, here
            notes.append(f"{ref.name}: an official upstream image (promote.official), promoted without a gate "
                         "record or provenance of ours")
        else:
            refused += checked.refused
            unproven += checked.unproven
            notes += checked.notes
        new_version = base_version(client, ref.with_version(None, digest))
        old_version = None
        if current is not None and current.registry == ref.registry:
            with contextlib.suppress(RegistryError):
                old_version = base_version(client, current)
        promotions.append(Promotion(ref, digest, current, record, None, old_version, new_version))
    if unproven:  # require-provenance is never overridden by --no-require-gates
        raise GateFailed(f"promotion {request.source} -> {request.target} refused: " + "; ".join(unproven),
                         hint="build it with dify-action (every pushed platform digest gets its provenance), "
                              "from the configured source repository")
    if refused and (request.require_gates or request.require_sbom):
        raise GateFailed(
            f"promotion {request.source} -> {request.target} refused: " + "; ".join(refused),
            hint="fix the image and let the pipeline record passing gates (tag sha256-<hex>.gates), "
                 "or override with --no-require-gates (the override is reported)")
    notes += [f"gates NOT enforced (--no-require-gates): {why}" for why in refused]
    if unverified and request.require_verified:
        raise GateFailed(
            f"promotion {request.source} -> {request.target} refused: " + "; ".join(unverified),
            hint=f"run `dify-action verify --environment {request.source}` once {request.source} runs it (the "
                 "verdict is recorded as tag sha256-<hex>.verify), or override with --no-require-verified "
                 "(the override is said in the pull request)")
    notes += [f"verification NOT required (--no-require-verified): {why}" for why in unverified]
    return promotions, notes


def promote(request: PromoteRequest, registry_for: RegistryFor) -> PromoteResult:
    """Promote ``request.source`` to ``request.target``; see PromoteResult."""
    from dify_action.releaseset.hooks import check_targets  # the set of --to once promoted (issue 21)

    request.validate()
    with _clone(request) as root:
        chosen, notes, left = select_all(request, root)
        notes += [item.note(request.source, request.target) for item in left]
        if not chosen:
            return PromoteResult("none", request.source, request.target, notes=tuple(notes), left=left)
        promotions, more = check(request, chosen, registry_for)
        notes += more
        targets = tuple(_target(request, p) for p in promotions)
        known = {p.ref.with_version(p.ref.tag, p.digest or None): p.dify_version_new for p in promotions}
        checked, versions = check_targets(root, request.target_paths, targets, known, request.set_policy,  # issue 21
                                          registry_for, request.target, "label")
        notes += enforce(checked)
        if request.dry_run:
            plan = plan_bump(root, targets, request.target_paths)
            return PromoteResult("planned", request.source, request.target, tuple(promotions),
                                 notes=tuple(notes), diff=plan.diff(), left=left, dify_set=checked)
    try:
        delivery = _deliver(request, targets, promotions, registry_for, versions)
    except DifyActionError as error:
        if request.registry_tag:  # say what the registry looks like now: untouched
            error.message += (f" (registry tag {request.registry_tag} not moved: it moves only after the GitOps "
                              "change is delivered)")
            error.args = (error.message,)
        raise
    if request.registry_tag:
        promotions = _move_tag(request, promotions, delivery, registry_for)
        moved = any(p.tag_copy and p.tag_copy.changed for p in promotions)
        notes.append(f"registry tag {request.registry_tag} " + (
            f"moved after the GitOps change was delivered ({_where(delivery)})" if moved
            else "already pointed at the promoted digest" if any(p.tag_copy for p in promotions)
            else "not moved: only upstream's Dify images were promoted, and they are not ours to tag"))
    return PromoteResult(delivery.operation, request.source, request.target, tuple(promotions), delivery,
                         tuple(notes), left=left, dify_set=checked)


def _deliver(request: PromoteRequest, targets: tuple[Target, ...], promotions: list[Promotion],
             registry_for: RegistryFor, versions: Versions) -> DeliveryResult:
    from dify_action.delivery.flow import deliver  # PyGithub and requests: only when delivering
    from dify_action.dify.registryfacts import forward_sections  # the PR lists the migrations the promotion runs
    from dify_action.releaseset.hooks import precheck

    first = promotions[0]
    return deliver(DeliveryRequest(
        destination=request.destination, environment=request.target, targets=targets, paths=request.target_paths,
        run_url=request.run_url,
        title_template=f"promote({{environment}}): {{images}} from {request.source}",
        message_template=f"promote({{environment}}): {{images}} from {request.source}\n\n{{changes}}",
        promoted_from=request.source, metadata_digest=first.digest if len(promotions) == 1 else None,
        dify_version_old=first.dify_version_old, dify_version_new=first.dify_version_new, sleep=request.sleep,
        sections=_with_verification(request, forward_sections(registry_for, targets, request.target_paths)),
        precheck=precheck(targets, request.target_paths, request.set_policy, versions, request.target),  # issue 21
    ))


def _with_verification(request: PromoteRequest, sections: Callable[[Path, Sequence[Change]], list[str]]
                       ) -> Callable[[Path, Sequence[Change]], list[str]]:
    """issue 18: a promotion that did not require verification says so in the pull request."""
    if request.require_verified:
        return sections
    note = (f"### Verification not required\n\nThis promotion ran with `require-verified: false`: the images were "
            f"not required to have a passed verification in {escape(request.source)}.\n")
    return lambda root, changes: [note, *sections(root, changes)]


def _where(delivery: DeliveryResult) -> str:
    if delivery.pr_url:
        return f"{delivery.operation} pull request {delivery.pr_url}"
    return f"{delivery.operation} {delivery.branch or delivery.base}" + (
        f" at {delivery.commit[:12]}" if delivery.commit else "")


def _move_tag(request: PromoteRequest, promotions: list[Promotion], delivery: DeliveryResult,
              registry_for: RegistryFor) -> list[Promotion]:
    """Copy ``registry_tag`` onto each promoted digest; a failure says what was already delivered."""
    assert request.registry_tag is not None
    moved: list[Promotion] = []
    for promotion in promotions:
        if not promotion.digest:  # upstream's image carried with the Dify set (issue 21): not ours to tag
            moved.append(promotion)
            continue
        try:
            copy = registry_for(promotion.ref.registry).copy_tag(promotion.ref.remote_path, promotion.digest,
                                                                 request.registry_tag)
        except RegistryError as error:
            done = ", ".join(f"{p.ref.name}:{request.registry_tag}" for p in moved if p.tag_copy) or "none"
            raise RegistryError(
                f"the GitOps change was delivered ({_where(delivery)}) but registry tag {request.registry_tag} "
                f"of {promotion.ref.name} was not moved: {error.message} (tags already moved: {done})",
                hint="fix the registry access and re-run promote: the delivery is then unchanged and the tag moves",
            ) from None
        moved.append(replace(promotion, tag_copy=copy))
    return moved


def _target(request: PromoteRequest, promotion: Promotion) -> Target:
    pin = bool(promotion.ref.digest) if request.pin_digest is None else request.pin_digest
    return Target(promotion.ref.with_version(None), promotion.ref.tag or "", promotion.digest if pin else None,
                  request.helm_paths)
