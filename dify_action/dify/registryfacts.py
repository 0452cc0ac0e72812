"""The facts of an image in a registry (best source first: the record, the layers, the label), and
the two calls the stages make: record them at build, report forward at bump/promote."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dify_action import refs
from dify_action.dify.facts import ImageFacts, label_facts, read_engine, with_note
from dify_action.dify.layers import DEFAULT_BUDGET, read_layers
from dify_action.dify.migrationreport import ForwardReport, forward_report
from dify_action.errors import DifyActionError, RegistryError
from dify_action.markdown import escape
from dify_action.registry import RegistryClient, RegistryFor

if TYPE_CHECKING:
    from dify_action.bump import Change, Target
    from dify_action.registry.gates import GateRecord


def image_facts(client: RegistryClient, ref: refs.ImageRef, *, budget: int = DEFAULT_BUDGET) -> ImageFacts:
    """What ``ref`` holds: the facts recorded at build (gate record), else read from the layers
    that hold /app/api, else the ``io.dify.base-version`` label (``source == "label"``, noted).

    RegistryError when the image itself is not in the registry.
    """
    from dify_action.dify.versions import base_version
    from dify_action.registry.gates import read_facts  # gates imports facts: keep this lazy

    digest = ref.digest or client.resolve_digest(ref)
    pinned = ref.with_version(None, digest)
    why: list[str] = []
    try:
        recorded = read_facts(client, ref.remote_path, digest)
        if recorded is None:  # issue 20: an index's facts sit next to its platforms' digests
            from dify_action.dify.platforms import index_facts

            recorded = index_facts(client, ref.remote_path, digest)
        if recorded is not None:
            return recorded
    except DifyActionError as error:
        why.append(f"recorded facts unreadable: {error.message}")
    try:
        facts = read_layers(client, pinned, budget=budget)
        return with_note(facts, "; ".join(why)) if why else facts
    except (DifyActionError, tarfile.TarError, OSError, EOFError, zlib.error, ValueError, KeyError) as error:
        why.append(error.message if isinstance(error, DifyActionError) else f"{type(error).__name__}: {error}")
    try:
        label = base_version(client, pinned)
    except RegistryError as error:
        why.append(error.message)
        label = None
    return label_facts(label, f"{ref.name}: its migrations could not be read ({'; '.join(why)})")


def record_build_facts(docker_client: Any, local_image: str, client: RegistryClient, repository: str,
                       digest: str) -> tuple[ImageFacts, GateRecord]:
    """The build stage's step: read the facts of the image just built through the engine (no run)
    and record them with the gate record of ``repository@digest`` (the pushed digest)."""
    from dify_action.registry.gates import record_facts

    facts = read_engine(docker_client, local_image)
    return facts, record_facts(client, repository, digest, facts)


def forward_for(client: RegistryClient, current: refs.ImageRef | None, new: refs.ImageRef, root: Path,
                paths: Sequence[str]) -> ForwardReport:
    """The forward report of a bump or promote from ``current`` (what the target environment runs;
    None when unknown) to ``new``, with the checks of the target's manifests under ``paths``."""
    old = image_facts(client, current) if current is not None else None
    return forward_report(old, image_facts(client, new), root, paths, new.with_version(None))


def forward_sections(registry_for: RegistryFor, targets: Sequence[Target],
                     paths: Sequence[str]) -> Callable[[Path, Sequence[Change]], list[str]]:
    """A ``DeliveryRequest.sections`` hook: for every target image, the migrations the move from
    what the environment runs (the old value of its first change) runs, and the checks of the
    target's manifests (``ForwardReport.markdown``). Images that are not Dify api images (no graph,
    no version) add nothing; a registry that cannot be read adds a note, never a failed bump."""
    def sections(root: Path, changes: Sequence[Change]) -> list[str]:
        out: list[str] = []
        for target in targets:
            new = target.image.with_version(target.tag, target.digest)
            old = next((_old_ref(target.image, c.old) for c in changes if c.image == target.image.name), None)
            try:
                report = forward_for(registry_for(new.registry), old, new, root, paths)
            except DifyActionError as error:
                out.append(f"### Dify migrations: {escape(new.name)}\n\nUnknown: {escape(error.message)}\n")
                continue
            if report.exact or report.new_version:
                out.append(report.markdown())
        return out

    return sections


def _old_ref(image: refs.ImageRef, old: str) -> refs.ImageRef | None:
    """What ran before a change: the old value is a whole reference, or only the tag of ``image``."""
    value = old.rsplit("=", 1)[-1].strip().strip("'\"")
    ref = refs.try_parse(value)
    if ref is not None and ref.repository == image.repository and (ref.tag or ref.digest):
        return ref
    tag, _, digest = value.partition("@")
    try:
        return image.with_version(refs.validate_tag(tag), digest or None) if tag else None
    except DifyActionError:
        return None
