"""SLSA v1 provenance as an in-toto statement, attached to each pushed platform digest as a referrer.

The statement says who built the digest and from what: the builder id (the workflow ref that ran),
the source repository and commit, the Dockerfile's path and digest, the build arguments and the
ids (never the values) of the build secrets, the base images as resolved, start and finish time.
It is an OCI 1.1 artifact (``subject`` = the platform manifest); a registry without the referrers
API also gets it under ``sha256-<hex>.provenance``, next to the gate records and SBOMs.
Shapes: https://in-toto.io/Statement/v1 and https://slsa.dev/spec/v1.0/provenance
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dify_action import refs
from dify_action.errors import RegistryError
from dify_action.registry import OCI_MANIFEST, Manifest, RegistryClient, compute_digest
from dify_action.registry.labels import EMPTY_TYPE
from dify_action.registry.referrers import list_referrers, push_referrer

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/dify-action/dify-action/build/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
SUBJECT = "io.dify-action.subject"


@dataclass(frozen=True)
class BuildFacts:
    """What the provenance tells about one build; ``secret_ids`` are names only (values never come here)."""

    builder_id: str
    source: str | None
    revision: str | None
    dockerfile: Path
    context: Path
    platform: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    secret_ids: tuple[str, ...] = ()
    target: str | None = None
    base_images: Mapping[str, str] = field(default_factory=dict)  # FROM reference -> resolved digest/id
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    invocation: str | None = None  # the run URL


def _time(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def statement(repository: str, digest: str, facts: BuildFacts) -> dict[str, Any]:
    """The in-toto v1 statement with the SLSA v1 predicate about ``repository@digest``."""
    refs.validate_digest(digest, input_name="digest")
    algorithm, _, hexdigest = digest.partition(":")
    dockerfile = facts.dockerfile.read_bytes()
    try:
        relative = str(facts.dockerfile.resolve().relative_to(facts.context.resolve()))
    except ValueError:
        relative = facts.dockerfile.name
    dependencies: list[dict[str, Any]] = []
    if facts.source and facts.revision:
        dependencies.append({"uri": f"git+{facts.source}", "digest": {"gitCommit": facts.revision}})
    for ref, resolved in sorted(facts.base_images.items()):
        algo, _, value = resolved.partition(":")
        dependencies.append({"uri": f"pkg:docker/{ref}", "digest": {algo or "sha256": value or resolved}})
    external: dict[str, Any] = {
        "source": facts.source, "revision": facts.revision, "platform": facts.platform,
        "dockerfile": relative, "buildArgs": dict(sorted(facts.build_args.items())),
        "secrets": sorted(facts.secret_ids), "target": facts.target,
    }
    metadata = {k: v for k, v in (("invocationId", facts.invocation), ("startedOn", _time(facts.started)),
                                  ("finishedOn", _time(facts.finished))) if v}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": repository, "digest": {algorithm: hexdigest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE, "externalParameters": external,
                "internalParameters": {"dockerfileDigest": compute_digest(dockerfile)},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {"builder": {"id": facts.builder_id}, "metadata": metadata},
        },
    }


def provenance_tag(digest: str) -> str:
    refs.validate_digest(digest, input_name="digest")
    return digest.replace(":", "-", 1) + ".provenance"


def attach_provenance(client: RegistryClient, repository: str, digest: str, document: Mapping[str, Any]) -> str:
    """Attach ``document`` to ``repository@digest``; returns the artifact manifest's digest."""
    image = client.head_manifest(repository, digest)
    if image is None:
        raise RegistryError(f"{repository}@{digest} does not exist in {client.registry}: no provenance attached",
                            hint="attach provenance after the image is pushed")
    empty = client.push_blob(repository, b"{}")
    blob = client.push_blob(repository, json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": MEDIA_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": empty.digest, "size": empty.size},
        "layers": [{"mediaType": MEDIA_TYPE, "digest": blob.digest, "size": blob.size}],
        "subject": {"mediaType": image.media_type or OCI_MANIFEST, "digest": digest, "size": image.size},
        "annotations": {SUBJECT: digest},
    }, sort_keys=True, separators=(",", ":")).encode()
    manifest = Manifest(OCI_MANIFEST, compute_digest(body), body)
    if not push_referrer(client, repository, manifest):
        client.put_manifest(repository, provenance_tag(digest), manifest)
    return manifest.digest


def read_provenance(client: RegistryClient, repository: str, digest: str) -> dict[str, Any] | None:
    """The statement about ``repository@digest`` (referrers API, then the fallback tag), or None.

    A statement whose subject is another digest is refused: it was copied or edited."""
    candidates = [r.digest for r in list_referrers(client, repository, digest, MEDIA_TYPE) or []]
    if not candidates and client.head_manifest(repository, provenance_tag(digest)) is not None:
        candidates = [provenance_tag(digest)]
    for reference in candidates:
        document = client.get_manifest(repository, reference).document
        layers = document.get("layers") or []
        if document.get("artifactType") != MEDIA_TYPE or not layers:
            raise RegistryError(f"{repository}:{reference} is not a provenance statement")
        data = json.loads(client.get_blob(repository, str(layers[0]["digest"])))
        subjects = [s.get("digest", {}) for s in data.get("subject") or [] if isinstance(s, dict)]
        algorithm, _, hexdigest = digest.partition(":")
        if (document.get("subject") or {}).get("digest") != digest or {algorithm: hexdigest} not in subjects:
            raise RegistryError(f"the provenance {repository}:{reference} is not about {digest}",
                                hint="it was copied or edited; build and attach the provenance again")
        return dict(data)
    return None


def source_of(document: Mapping[str, Any]) -> str | None:
    params = document.get("predicate", {}).get("buildDefinition", {}).get("externalParameters", {})
    return str(params["source"]) if isinstance(params, dict) and params.get("source") else None


def base_images(dockerfile_text: str, build_args: Mapping[str, str], stages: Sequence[str] = ()) -> tuple[str, ...]:
    """The external FROM references of a Dockerfile (build args expanded; stage names and scratch left out)."""
    out: list[str] = []
    names = {s.lower() for s in stages}
    for line in dockerfile_text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        image = next((w for w in words[1:] if not w.startswith("--")), "")
        for key, value in build_args.items():
            image = image.replace(f"${{{key}}}", value).replace(f"${key}", value)
        if len(words) >= 4 and words[-2].upper() == "AS":
            names.add(words[-1].lower())
        if image and image.lower() not in names and image != "scratch" and image not in out:
            out.append(image)
    return tuple(out)


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
