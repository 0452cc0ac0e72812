"""What promote checks next to a digest, for a plain image and for every platform of an index.

A multi-platform set is promoted as one index digest, but its gates, SBOMs and provenance sit next
to each platform manifest (each matrix job recorded its own): so every platform is checked, and a
refusal names the platform. A plain image manifest is checked as before, plus its provenance when
``require_provenance`` is set (issue 20).
"""

from __future__ import annotations

from dataclasses import dataclass

from dify_action.build.provenance import read_provenance, source_of
from dify_action.registry import RegistryClient
from dify_action.registry.gates import GateRecord, read_gates, refusal
from dify_action.registry.index import platforms_of
from dify_action.scan.sbom import read_sboms


@dataclass(frozen=True)
class Checked:
    """The verdicts about one digest: ``record`` (the first platform's for an index), the refusals of
    the gates/SBOM checks, the refusals of the provenance check, and notes (skipped gates)."""

    record: GateRecord | None
    refused: tuple[str, ...]
    unproven: tuple[str, ...]
    notes: tuple[str, ...]


def check_digest(client: RegistryClient, repository: str, name: str, digest: str, *, require_sbom: bool,
                 require_provenance: bool, source: str | None) -> Checked:
    """Check ``name@digest``; for an index, each platform manifest (``name@digest (linux/arm64)``)."""
    manifest = client.get_manifest(repository, digest)
    subjects = [(p.digest, f" ({p.platform})") for p in platforms_of(client, repository, digest)] \
        if manifest.is_index else [(digest, "")]
    refused: list[str] = []
    unproven: list[str] = []
    notes: list[str] = []
    first: GateRecord | None = None
    for index, (subject, label) in enumerate(subjects):
        what = f"{name}@{subject}{label}"
        record = read_gates(client, repository, subject)
        if index == 0:
            first = record
        why = refusal(record, what)
        if why:
            refused.append(why)
        elif require_sbom and not read_sboms(client, repository, subject):
            refused.append(f"{what} has no SBOM attached in the registry")
        elif record and "skipped" in record.results.values():
            skipped = ", ".join(k for k, v in record.results.items() if v == "skipped")
            notes.append(f"{name}{label}: gates skipped: {skipped}")
        if require_provenance:
            unproven += _provenance(client, repository, subject, what, source)
    if manifest.is_index and not subjects:
        refused.append(f"{name}@{digest} is an index without platform manifests")
    return Checked(first, tuple(refused), tuple(unproven), tuple(notes))


def _provenance(client: RegistryClient, repository: str, digest: str, what: str, source: str | None) -> list[str]:
    document = read_provenance(client, repository, digest)
    if document is None:
        return [f"{what} has no provenance attached in the registry"]
    built_from = source_of(document)
    if source and _norm(built_from) != _norm(source):
        return [f"{what} was built from {built_from or 'an unnamed source'}, not {source}"]
    return []


def _norm(url: str | None) -> str:
    return (url or "").rstrip("/").removesuffix(".git").lower()
