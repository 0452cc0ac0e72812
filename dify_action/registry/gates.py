"""Gate records: the smoke/scan verdicts of an image, stored in the registry next to the image.

Promote must not trust whoever calls it to say "the gates passed", so the pipeline records the
results where only someone with push access to the image's repository can write them: a small OCI
artifact manifest under the tag ``sha256-<hex>.gates`` (the tag scheme cosign uses for
signatures, so any registry works without OCI 1.1 referrers support). Its config and only layer
are the empty JSON blob ``{}``; the verdicts are annotations:

- ``io.dify-action.gates.<name>`` = ``passed`` | ``failed`` | ``skipped`` (``smoke``, ``scan``...)
- ``io.dify-action.subject`` = the image digest the record is about
- ``org.opencontainers.image.created`` = when it was recorded (RFC 3339, UTC)

The build stage also records the image facts (dify/facts.py: Dify version, Alembic graph, DSL
version) as the record's layer, a JSON blob of type FACTS_TYPE, with ``io.dify-action.dify.*``
annotations summing it up; recording verdicts later keeps it. Promote and rollback read it with
``read_facts`` without pulling any image layer.

A record whose subject is not the image it sits next to is refused (copied or edited by hand).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dify_action import refs
from dify_action.dify.facts import ImageFacts
from dify_action.errors import InputError, RegistryError
from dify_action.registry import OCI_MANIFEST, Manifest, RegistryClient, compute_digest
from dify_action.registry.labels import EMPTY_TYPE
from dify_action.text import display

ARTIFACT_TYPE = "application/vnd.dify-action.gates.v1"
EMPTY_BLOB = b"{}"
PREFIX = "io.dify-action.gates."
SUBJECT = "io.dify-action.subject"
CREATED = "org.opencontainers.image.created"
FACTS_TYPE = "application/vnd.dify-action.dify-facts.v1+json"
FACTS_PREFIX = "io.dify-action.dify."
STATUSES = ("passed", "failed", "skipped")
PASSING = frozenset({"passed", "skipped"})  # exact strings: anything else refuses, on read as on write
GATES = ("smoke", "scan")
_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")


def _frozen(data: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted(data.items())))


@dataclass(frozen=True)
class GateRecord:
    """The verdicts recorded for ``subject`` (an image digest); ``digest`` is the record's own."""

    subject: str
    results: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    created: str | None = None
    digest: str | None = None
    facts_digest: str | None = None  # the blob of the image facts recorded with it

    def status(self, gate: str) -> str | None:
        return self.results.get(gate)

    @property
    def failed(self) -> tuple[str, ...]:
        """Every gate whose status is not exactly a passing one (``FAILED``, ``error``, ``pending``,
        ``failed `` included): fail closed on anything this code did not write."""
        return tuple(name for name, status in self.results.items() if status not in PASSING)

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "results": dict(self.results), "created": self.created,
                "digest": self.digest, "facts": self.facts_digest}


def gates_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.gates``."""
    refs.validate_digest(digest, input_name="digest")
    return digest.replace(":", "-", 1) + ".gates"


def validate_results(results: Mapping[str, str]) -> dict[str, str]:
    """Check gate names and statuses (InputError naming the gate) before anything is written."""
    if not results:
        raise InputError("gates", "", f"give at least one gate result, e.g. smoke=passed ({', '.join(GATES)})")
    clean: dict[str, str] = {}
    for name, status in results.items():
        if not _NAME_RE.fullmatch(name):
            raise InputError("gate", name, "a lowercase name like smoke or scan")
        if not isinstance(status, str) or status not in STATUSES:
            raise InputError(f"gate {name}", status, f"one of {', '.join(STATUSES)}")
        clean[name] = status
    return clean


def parse_results(items: list[str]) -> dict[str, str]:
    """``["smoke=passed", "scan=failed"]`` -> a validated mapping (CLI helper)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, status = item.partition("=")
        if not sep:
            raise InputError("gate", item, "NAME=STATUS, e.g. smoke=passed")
        out[name.strip()] = status.strip()
    return validate_results(out)


def record_gates(client: RegistryClient, repository: str, digest: str, results: Mapping[str, str],
                 *, now: dt.datetime | None = None, facts: ImageFacts | None = None) -> GateRecord:
    """Push the gate record of ``repository@digest``; the image itself must exist there.

    Recording again replaces the previous verdicts (the tag moves to the new record); the image
    facts recorded at build time stay unless ``facts`` replaces them.
    """
    return _write(client, repository, digest, validate_results(results), facts, now)


def record_facts(client: RegistryClient, repository: str, digest: str, facts: ImageFacts,
                 *, now: dt.datetime | None = None) -> GateRecord:
    """Record what the image holds (Dify version, migration graph, DSL version) with its gate
    record, keeping the verdicts already there (none yet, at build time)."""
    existing = read_gates(client, repository, digest)
    return _write(client, repository, digest, dict(existing.results) if existing else {}, facts, now)


def _write(client: RegistryClient, repository: str, digest: str, results: Mapping[str, str],
           facts: ImageFacts | None, now: dt.datetime | None) -> GateRecord:
    tag = gates_tag(digest)
    if client.head_manifest(repository, digest) is None:
        raise RegistryError(f"{repository}@{digest} does not exist in {client.registry}: no gates recorded",
                            hint="record gates after the image is pushed, with the digest the push reported")
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    empty = client.push_blob(repository, EMPTY_BLOB)
    descriptor = {"mediaType": EMPTY_TYPE, "digest": empty.digest, "size": empty.size}
    kept: dict[str, Any] = {}
    facts_layer: dict[str, Any] | None = None
    if facts is not None:
        blob = client.push_blob(repository, facts.to_json())
        facts_layer = {"mediaType": FACTS_TYPE, "digest": blob.digest, "size": blob.size}
        kept = _facts_annotations(facts)
    else:
        previous = _record_document(client, repository, digest)
        if previous is not None:
            layer = _facts_layer(previous)
            facts_layer = dict(layer) if layer is not None else None
            kept = {k: v for k, v in previous["annotations"].items()
                    if isinstance(k, str) and k.startswith(FACTS_PREFIX) and isinstance(v, str)}
    annotations = {f"{PREFIX}{name}": status for name, status in sorted(results.items())}
    annotations |= kept | {SUBJECT: digest, CREATED: created}
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
        "config": descriptor, "layers": [facts_layer or descriptor], "annotations": annotations,
    }
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    stored = client.put_manifest(repository, tag, Manifest(OCI_MANIFEST, compute_digest(body), body))
    return GateRecord(digest, _frozen(dict(results)), created, stored,
                      facts_layer["digest"] if facts_layer else None)


def _facts_annotations(facts: ImageFacts) -> dict[str, str]:
    """A readable summary next to the blob (``crane manifest`` shows it); the blob is the truth."""
    out = {f"{FACTS_PREFIX}source": facts.source}
    if facts.dify_version:
        out[f"{FACTS_PREFIX}version"] = facts.dify_version
    if facts.dsl_version:
        out[f"{FACTS_PREFIX}dsl-version"] = facts.dsl_version
    if facts.graph is not None:
        out[f"{FACTS_PREFIX}heads"] = ",".join(facts.heads)
        out[f"{FACTS_PREFIX}migrations"] = str(len(facts.graph))
    return out


def _record_document(client: RegistryClient, repository: str, digest: str) -> Mapping[str, Any] | None:
    found = _record(client, repository, digest)
    return found[0] if found else None


def _record(client: RegistryClient, repository: str, digest: str) -> tuple[Mapping[str, Any], str] | None:
    """The record manifest of ``digest`` and its own digest, when there is one about it (else None)."""
    tag = gates_tag(digest)
    if client.head_manifest(repository, tag) is None:
        return None
    manifest = client.get_manifest(repository, tag)
    document = manifest.document
    annotations = document.get("annotations")
    if document.get("artifactType") != ARTIFACT_TYPE or not isinstance(annotations, dict):
        raise RegistryError(f"{repository}:{tag} is not a dify-action gate record",
                            hint=f"delete the tag {tag} and record the gates again")
    if annotations.get(SUBJECT) != digest:
        raise RegistryError(
            f"the gate record {repository}:{tag} is about {annotations.get(SUBJECT)!r}, not {digest}",
            hint="the record was copied or edited; record the gates of this image again")
    return document, manifest.digest


def read_gates(client: RegistryClient, repository: str, digest: str) -> GateRecord | None:
    """The gate record of ``repository@digest``, or None when none was recorded."""
    found = _record(client, repository, digest)
    if found is None:
        return None
    document, manifest_digest = found
    annotations = document["annotations"]
    # a status that is not a string is kept as its repr: it is not a passing status, so it refuses
    results = {key[len(PREFIX):]: value if isinstance(value, str) else repr(value)[:40]
               for key, value in annotations.items() if isinstance(key, str) and key.startswith(PREFIX)}
    layer = _facts_layer(document)
    created = annotations.get(CREATED)
    return GateRecord(digest, _frozen(results), created if isinstance(created, str) else None, manifest_digest,
                      str(layer["digest"]) if layer else None)


def _facts_layer(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The facts layer of a record, its digest checked to be a digest (else None: no facts)."""
    layers = document.get("layers")
    return next((layer for layer in layers if isinstance(layer, dict) and layer.get("mediaType") == FACTS_TYPE
                 and isinstance(layer.get("digest"), str) and refs.DIGEST_RE.fullmatch(layer["digest"])
                 and isinstance(layer.get("size"), int)), None) if isinstance(layers, list) else None


def read_facts(client: RegistryClient, repository: str, digest: str) -> ImageFacts | None:
    """The image facts recorded with the gate record of ``repository@digest`` (None: none recorded)."""
    document = _record_document(client, repository, digest)
    layer = _facts_layer(document) if document is not None else None
    if layer is None:
        return None
    return ImageFacts.from_json(client.get_blob(repository, str(layer["digest"])), "record")


def refusal(record: GateRecord | None, image: str, required: tuple[str, ...] = GATES) -> str | None:
    """Why ``image`` must not be promoted, or None when its record allows it.

    Missing record, a failed gate, or a required gate never recorded are refusals; ``skipped``
    is allowed (the pipeline decided not to run that gate) and reported by the caller.
    """
    if record is None:
        return f"{image}: no gate record (tag {gates_tag_or_none(image)} missing)"
    if record.failed:
        shown = ", ".join(f"{name} ({display(record.results[name])})" for name in record.failed)
        return f"{image}: gate(s) failed: {shown}"
    missing = [gate for gate in required if gate not in record.results]
    if missing:
        return f"{image}: gate(s) never recorded: {', '.join(missing)}"
    return None


def gates_tag_or_none(image: str) -> str:
    digest = image.rpartition("@")[2]
    return gates_tag(digest) if refs.DIGEST_RE.fullmatch(digest) else "<digest>.gates"
