"""Verification records: the verdicts of ``dify-action verify``, stored in the registry next to each
digest, where promote reads them ("verified freight": only what an environment proved moves on).

Like the gate records (registry/gates.py): an OCI artifact manifest under the tag
``sha256-<hex>.verify`` whose only layer is a JSON document with one entry per environment:

    {"version": 1, "subject": "sha256:...", "environments": {"staging": {"status": "passed",
     "commit": "<40 hex>", "revision": "<40 hex>", "time": "2026-12-07T09:00:00Z",
     "sources": ["docker", "dify"], "soak": 0, "merge_to_healthy": 42.0}}}

Recording an environment again replaces its entry (a failed verdict replaces a pass: the digest is
then no longer verified there) and keeps the others. Only someone with push access to the image's
repository can write it; a record whose subject is another digest is refused (copied by hand).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dify_action import refs, untrusted
from dify_action.errors import RegistryError
from dify_action.registry import OCI_MANIFEST, Manifest, RegistryClient, compute_digest
from dify_action.registry.labels import EMPTY_TYPE

ARTIFACT_TYPE = "application/vnd.dify-action.verification.v1"
LAYER_TYPE = "application/vnd.dify-action.verification.v1+json"
SUBJECT = "io.dify-action.subject"
MAX_RECORD = 1 << 20


@dataclass(frozen=True)
class Verification:
    """One environment's verdict about a digest."""

    environment: str
    status: str  # passed | failed
    commit: str
    revision: str
    time: str
    sources: tuple[str, ...]
    soak: float = 0.0
    merge_to_healthy: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "commit": self.commit, "revision": self.revision, "time": self.time,
                "sources": list(self.sources), "soak": self.soak, "merge_to_healthy": self.merge_to_healthy}

    @classmethod
    def from_dict(cls, environment: str, data: Mapping[str, Any]) -> Verification:
        return cls(environment, str(data.get("status")), str(data.get("commit")), str(data.get("revision")),
                   str(data.get("time")), tuple(str(s) for s in data.get("sources") or ()),
                   float(data.get("soak") or 0), data.get("merge_to_healthy"))


def verify_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.verify``."""
    refs.validate_digest(digest, input_name="digest")
    return digest.replace(":", "-", 1) + ".verify"


def read_verifications(client: RegistryClient, repository: str, digest: str) -> dict[str, Verification]:
    """Every environment's verdict about ``repository@digest`` (empty: never verified)."""
    tag = verify_tag(digest)
    if client.head_manifest(repository, tag) is None:
        return {}
    document = client.get_manifest(repository, tag).document
    layer = next((item for item in document.get("layers") or () if isinstance(item, dict)
                  and item.get("mediaType") == LAYER_TYPE), None)
    if document.get("artifactType") != ARTIFACT_TYPE or layer is None or \
            (document.get("annotations") or {}).get(SUBJECT) != digest:
        raise RegistryError(f"{repository}:{tag} is not a verification record of {digest}",
                            hint=f"delete the tag {tag} and verify the environment again")
    what = f"the verification record {repository}:{tag}"
    try:  # the registry's bytes through the one bounded, typed decoder (issue 22); anything odd refuses
        body = untrusted.json_object(client.get_blob(repository, str(layer["digest"]), max_size=MAX_RECORD), what,
                                     max_bytes=MAX_RECORD, error=RegistryError)
        if body.get("subject") != digest:
            raise ValueError("its subject is another digest")
        environments = untrusted.as_object(untrusted.field(body, "environments", what, RegistryError), what,
                                           RegistryError)
        return {str(env): Verification.from_dict(str(env), untrusted.as_object(entry, what, RegistryError))
                for env, entry in environments.items()}
    except (ValueError, TypeError, KeyError, AttributeError, RegistryError) as error:
        reason = error.message if isinstance(error, RegistryError) else str(error)
        raise RegistryError(f"{what} is unreadable ({reason})",
                            hint="verify the environment again to rewrite it") from None


def record_verification(client: RegistryClient, repository: str, digest: str, verification: Verification) -> str:
    """Write ``verification`` into the record of ``repository@digest``; returns the record's digest."""
    if client.head_manifest(repository, digest) is None:
        raise RegistryError(f"{repository}@{digest} does not exist in {client.registry}: no verification recorded")
    try:
        entries = read_verifications(client, repository, digest)
    except RegistryError:
        entries = {}  # an unreadable record is replaced by a good one
    entries[verification.environment] = verification
    body = json.dumps({"version": 1, "subject": digest,
                       "environments": {k: v.as_dict() for k, v in sorted(entries.items())}},
                      sort_keys=True, separators=(",", ":")).encode()
    blob = client.push_blob(repository, body)
    empty = client.push_blob(repository, b"{}")
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": empty.digest, "size": empty.size},
        "layers": [{"mediaType": LAYER_TYPE, "digest": blob.digest, "size": blob.size}],
        "annotations": {SUBJECT: digest, "org.opencontainers.image.created": verification.time,
                        f"io.dify-action.verify.{verification.environment}": verification.status},
    }
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return client.put_manifest(repository, verify_tag(digest), Manifest(OCI_MANIFEST, compute_digest(data), data))


def now_text(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refusal(records: Mapping[str, Verification], environment: str, image: str) -> str | None:
    """Why promote must not move ``image`` out of ``environment``, or None when it was verified there."""
    entry = records.get(environment)
    if entry is None:
        return f"{image}: never verified in {environment} (no sha256-<hex>.verify record names it)"
    if entry.status != "passed":
        return f"{image}: its last verification in {environment} {entry.status} (commit {entry.commit[:12]})"
    return None
