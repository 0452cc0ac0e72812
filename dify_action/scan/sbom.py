"""SBOMs of pushed images: made by Trivy offline (CycloneDX and SPDX JSON), attached to the image digest.

Each SBOM is an OCI 1.1 artifact manifest in the image's repository: ``artifactType`` and its one
layer are the SBOM's media type, the config is the empty ``{}`` blob, ``subject`` is the image
manifest. A registry with the referrers API indexes it by that subject; on one without it
(distribution 2.x, the cosign situation) it is also tagged ``sha256-<hex>.<format>.sbom``, next
to the gate records' ``sha256-<hex>.gates``. Reading tries the referrers API, then those tags, and
refuses an SBOM whose subject is not the image asked about.

Trivy makes the SBOM from the image in the Docker daemon (or a ``docker save`` archive) with no
network: no database, no check-bundle update, no version check, no telemetry. Listing packages
needs no vulnerability database.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dify_action import refs
from dify_action.errors import DifyActionError, InputError, RegistryError
from dify_action.registry import OCI_MANIFEST, Manifest, RegistryClient, compute_digest
from dify_action.registry.referrers import list_referrers, push_referrer
from dify_action.scan.tools import TRIVY_ENV, Tools

EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BLOB = b"{}"
SUBJECT = "io.dify-action.subject"
CREATED = "org.opencontainers.image.created"
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class SbomFormat:
    name: str
    trivy_format: str
    media_type: str
    file_name: str


FORMATS: Mapping[str, SbomFormat] = {
    "cyclonedx": SbomFormat("cyclonedx", "cyclonedx", "application/vnd.cyclonedx+json", "sbom.cdx.json"),
    "spdx": SbomFormat("spdx", "spdx-json", "application/spdx+json", "sbom.spdx.json"),
}
_BY_MEDIA_TYPE = {f.media_type: f for f in FORMATS.values()}


@dataclass(frozen=True)
class Sbom:
    """One SBOM document (the exact bytes Trivy wrote)."""

    format: str
    content: bytes

    @property
    def media_type(self) -> str:
        return FORMATS[self.format].media_type


@dataclass(frozen=True)
class AttachedSbom:
    """An SBOM in the registry: ``digest`` is its manifest; ``tag`` the fallback tag (None when the
    registry indexed the subject and no tag was needed); ``referrers`` whether it did."""

    format: str
    subject: str
    digest: str
    tag: str | None
    referrers: bool

    def as_dict(self) -> dict[str, object]:
        return {"format": self.format, "media-type": FORMATS[self.format].media_type, "subject": self.subject,
                "digest": self.digest, "tag": self.tag, "referrers": self.referrers}


def sbom_tag(digest: str, fmt: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.cyclonedx.sbom`` (or ``.spdx.sbom``)."""
    refs.validate_digest(digest, input_name="digest")
    return f"{digest.replace(':', '-', 1)}.{_format(fmt).name}.sbom"


def _format(name: str) -> SbomFormat:
    if name not in FORMATS:
        raise InputError("sbom-format", name, "one of " + ", ".join(FORMATS))
    return FORMATS[name]


def make_sboms(tools: Tools, *, image: str | None = None, docker_host: str | None = None,
               image_archive: Path | None = None, formats: Sequence[str] = ("cyclonedx", "spdx")) -> tuple[Sbom, ...]:
    """SBOMs of ``image`` (in the Docker daemon at ``docker_host``) or of ``image_archive``."""
    wanted = [_format(name) for name in formats]
    if (image is None) == (image_archive is None):
        raise InputError("sbom", image or str(image_archive), "give the image or the image archive, one of them")
    if tools.trivy is None:
        raise DifyActionError("trivy is not installed: no SBOM can be made",
                              hint="install Trivy (the action image ships it) or turn the SBOM off")
    env = {**tools.environ, **TRIVY_ENV}
    source = ["--input", str(image_archive)] if image_archive is not None else ["--image-src", "docker", str(image)]
    if docker_host:
        env["DOCKER_HOST"] = docker_host
        source = ["--docker-host", docker_host, *source]
    out: list[Sbom] = []
    for fmt in wanted:
        args = [tools.trivy, "image", "--quiet", "--skip-check-update", "--skip-version-check",
                "--disable-telemetry", "--skip-db-update", "--offline-scan", "--timeout", f"{int(tools.timeout)}s",
                "--format", fmt.trivy_format]
        if tools.cache_dir:
            args += ["--cache-dir", tools.cache_dir]
        out.append(Sbom(fmt.name, _run(args + source, env, tools, f"trivy image --format {fmt.trivy_format}")))
    return tuple(out)


def _run(args: list[str], env: dict[str, str], tools: Tools, what: str) -> bytes:
    try:
        done = subprocess.run(args, env=env, capture_output=True, timeout=tools.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DifyActionError(f"{what} did not finish in {tools.timeout:.0f}s") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").strip().splitlines()[-5:])
        raise DifyActionError(f"{what} failed (exit {done.returncode}): {tail}",
                              hint="check that the image exists in the Docker daemon (or the archive is readable)")
    try:
        json.loads(done.stdout)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DifyActionError(f"{what} printed no JSON SBOM", hint="check the Trivy version") from None
    return bytes(done.stdout)


def attach_sboms(client: RegistryClient, repository: str, digest: str, sboms: Sequence[Sbom],
                 *, now: dt.datetime | None = None) -> tuple[AttachedSbom, ...]:
    """Attach each SBOM to ``repository@digest``; the image must exist there, else nothing is written.

    The same bytes at the same ``now`` give the same artifacts; a fallback tag moves to the newest
    SBOM of its format."""
    refs.validate_digest(digest, input_name="digest")
    image = client.head_manifest(repository, digest)
    if image is None:
        raise RegistryError(f"{repository}@{digest} does not exist in {client.registry}: no SBOM attached",
                            hint="attach SBOMs after the image is pushed, with the digest the push reported")
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    empty = client.push_blob(repository, EMPTY_BLOB)
    attached: list[AttachedSbom] = []
    for sbom in sboms:
        fmt = _format(sbom.format)
        blob = client.push_blob(repository, sbom.content)
        document = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": fmt.media_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": empty.digest, "size": empty.size},
            "layers": [{"mediaType": fmt.media_type, "digest": blob.digest, "size": blob.size,
                        "annotations": {TITLE: fmt.file_name}}],
            "subject": {"mediaType": image.media_type or OCI_MANIFEST, "digest": digest, "size": image.size},
            "annotations": {SUBJECT: digest, CREATED: created},
        }
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        manifest = Manifest(OCI_MANIFEST, compute_digest(body), body)
        indexed = push_referrer(client, repository, manifest)
        tag = None
        if not indexed:
            tag = sbom_tag(digest, fmt.name)
            client.put_manifest(repository, tag, manifest)
        attached.append(AttachedSbom(fmt.name, digest, manifest.digest, tag, indexed))
    return tuple(attached)


def read_sboms(client: RegistryClient, repository: str, digest: str) -> tuple[AttachedSbom, ...]:
    """The SBOMs attached to ``repository@digest`` (referrers API first, then the fallback tags)."""
    refs.validate_digest(digest, input_name="digest")
    found: dict[str, AttachedSbom] = {}
    for referrer in list_referrers(client, repository, digest) or []:
        fmt = _BY_MEDIA_TYPE.get(referrer.artifact_type or "")
        if fmt is not None and fmt.name not in found:
            _check(client, repository, referrer.digest, digest, fmt)
            found[fmt.name] = AttachedSbom(fmt.name, digest, referrer.digest, None, True)
    for fmt in FORMATS.values():
        tag = sbom_tag(digest, fmt.name)
        if fmt.name in found or client.head_manifest(repository, tag) is None:
            continue
        manifest = _check(client, repository, tag, digest, fmt)
        found[fmt.name] = AttachedSbom(fmt.name, digest, manifest.digest, tag, False)
    return tuple(found[name] for name in FORMATS if name in found)


def _check(client: RegistryClient, repository: str, reference: str, digest: str, fmt: SbomFormat) -> Manifest:
    manifest = client.get_manifest(repository, reference)
    document = manifest.document
    raw_subject = document.get("subject")
    subject: dict[str, object] = raw_subject if isinstance(raw_subject, dict) else {}
    if document.get("artifactType") != fmt.media_type:
        raise RegistryError(f"{repository}:{reference} is not a {fmt.name} SBOM",
                            hint=f"delete {reference} and attach the SBOM again")
    if subject.get("digest") != digest or document.get("annotations", {}).get(SUBJECT) != digest:
        raise RegistryError(f"the SBOM {repository}:{reference} is about {subject.get('digest')!r}, not {digest}",
                            hint="the SBOM was copied or edited; attach the SBOM of this image again")
    return manifest


def read_sbom_content(client: RegistryClient, repository: str, attached: AttachedSbom) -> bytes:
    """The SBOM document itself (its one layer, digest-checked by the blob download)."""
    manifest = client.get_manifest(repository, attached.digest)
    layer = manifest.document["layers"][0]
    return client.get_blob(repository, layer["digest"], max_size=64 << 20)
