"""Build one component image, label it, check its size budget, push its tags, report its digest.

``build_component(spec, engine, ...)`` is independent of the config file and of the tag policy:
the caller gives the tags. The digest reported is the registry's own answer (HEAD of every pushed
tag), not only what the daemon said; the compressed size is the sum of the layer sizes of the
pushed manifest.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dify_action import refs
from dify_action.config.load import SizeBudget
from dify_action.dify.versions import BASE_VERSION_LABEL as BASE_VERSION_LABEL  # re-exported for callers
from dify_action.dify.versions import dify_base_version as dify_base_version
from dify_action.engine.docker import Builder, BuildRequest, DockerEngine, Progress, Throttle
from dify_action.errors import DockerError, GateFailed, InputError, RegistryError
from dify_action.registry import Credentials, RegistryClient


@dataclass(frozen=True)
class BuildSpec:
    """One component to build. ``repository`` has no tag; ``tags`` are plain tags (``sha-abc1234``)."""

    name: str
    dockerfile: Path
    context: Path
    repository: refs.ImageRef
    tags: tuple[str, ...]
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    cache_from: tuple[str, ...] = ()
    platform: str | None = None
    size_budget: SizeBudget | None = None
    # BuildKit secrets (RUN --mount=type=secret,id=ID): values, or files; never in layers, args or logs
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    secret_files: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildMetadata:
    """What the OCI labels say about the build (source URL, commit, version) and when it ran."""

    source: str | None = None
    revision: str | None = None
    version: str | None = None
    created: dt.datetime | None = None


@dataclass(frozen=True)
class BuildResult:
    name: str
    image: str
    tags: tuple[str, ...]
    image_id: str
    digest: str | None
    size: int
    compressed_size: int | None
    labels: Mapping[str, str]
    builder: str
    pushed: bool
    seconds: float
    warnings: tuple[str, ...] = ()
    platforms: tuple[PlatformBuild, ...] = ()  # several platforms (issue 20): ``digest`` is the index's

    def as_dict(self) -> dict[str, object]:
        return {
            "component": self.name, "image": self.image, "tags": list(self.tags), "digest": self.digest,
            "image_id": self.image_id, "size": self.size, "compressed_size": self.compressed_size,
            "labels": dict(self.labels), "builder": self.builder, "pushed": self.pushed,
            "seconds": round(self.seconds, 2), "warnings": list(self.warnings),
        } | ({"platforms": [p.as_dict() for p in self.platforms]} if self.platforms else {})


@dataclass(frozen=True)
class PlatformBuild:
    """One platform of a multi-platform build (build/platforms.py), pushed by digest unless ``digest``
    is None; ``size`` is its manifest's size, as the index's descriptor gives it."""

    platform: str
    image_id: str
    digest: str | None
    size: int
    image_size: int
    compressed_size: int | None
    provenance: str | None  # the attached statement's manifest digest

    def as_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "digest": self.digest, "size": self.size, "image_id": self.image_id,
                "image_size": self.image_size, "compressed_size": self.compressed_size,
                "provenance": self.provenance}


def oci_labels(spec: BuildSpec, meta: BuildMetadata, base_version: str | None) -> dict[str, str]:
    """org.opencontainers.image.* plus the Dify base version; the spec's own labels win."""
    created = (meta.created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    labels = {
        "org.opencontainers.image.title": spec.name,
        "org.opencontainers.image.created": created.isoformat().replace("+00:00", "Z"),
        "org.opencontainers.image.version": meta.version or (spec.tags[0] if spec.tags else ""),
    }
    if meta.source:
        labels["org.opencontainers.image.source"] = meta.source
    if meta.revision:
        labels["org.opencontainers.image.revision"] = meta.revision
    if base_version:
        labels[BASE_VERSION_LABEL] = base_version
    return labels | dict(spec.labels)


def validate_spec(spec: BuildSpec) -> None:
    """Bad input fails here, before anything is built (exit 2, no side effect)."""
    if not spec.dockerfile.is_file():
        raise InputError("dockerfile", str(spec.dockerfile), "an existing Dockerfile")
    if not spec.context.is_dir():
        raise InputError("context", str(spec.context), "an existing directory (the build context)")
    if spec.repository.tag or spec.repository.digest:
        raise InputError("repository", str(spec.repository), "a repository without tag or digest")
    if not spec.tags:
        raise InputError("tag", "", "at least one tag (from --tag or the tag policy)")
    for tag in spec.tags:
        refs.validate_tag(tag)


def check_budget(size: int, budget: SizeBudget | None, name: str) -> str | None:
    """GateFailed above ``fail``; the warning text above ``warn``; None within budget."""
    if budget is None:
        return None
    if budget.fail is not None and size > budget.fail:
        raise GateFailed(
            f"image of {name} is {_mb(size)}, over its size budget of {_mb(budget.fail)}",
            hint="slim the image (multi-stage build, no caches in layers) or raise the budget",
        )
    if budget.warn is not None and size > budget.warn:
        return f"image of {name} is {_mb(size)}, over its size warning of {_mb(budget.warn)}"
    return None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def build_component(
    spec: BuildSpec, engine: DockerEngine, registry_creds: Credentials | None = None, *,
    push: bool = True, builder: Builder = "auto", meta: BuildMetadata | None = None,
    progress: Progress | None = None, registry_factory: Callable[[str, Credentials | None], RegistryClient]
    | None = None, throttle_seconds: float = 3.0,
) -> BuildResult:
    """Build, label, budget-check and (unless ``push`` is False) push ``spec``; see the module doc."""
    validate_spec(spec)
    started = time.monotonic()
    chosen: Literal["buildkit", "legacy"] = engine.choose(builder)
    base_version = dify_base_version(spec.dockerfile.read_text(encoding="utf-8", errors="replace"),
                                     spec.build_args)
    labels = oci_labels(spec, meta or BuildMetadata(), base_version)
    image = spec.repository.name
    references = tuple(f"{image}:{tag}" for tag in spec.tags)
    throttle = Throttle(progress, throttle_seconds)
    creds = {spec.repository.registry: registry_creds} if registry_creds else {}
    if (spec.secrets or spec.secret_files) and chosen != "buildkit":
        raise InputError("secrets", ", ".join([*spec.secrets, *spec.secret_files]), "BuildKit to mount build secrets "
                         "(builder buildkit, or auto with the docker CLI): the legacy builder has no secret mounts")
    request = BuildRequest(spec.dockerfile.resolve(), spec.context.resolve(), references, spec.build_args,
                           labels, spec.target, spec.cache_from, spec.platform, spec.secrets,
                           {k: v.resolve() for k, v in spec.secret_files.items()})
    throttle("build", f"building {spec.name} with {chosen} as {', '.join(references)}", force=True)
    for cache in spec.cache_from:  # the previous image as cache: pull it when this runner lacks it
        if not engine.exists(cache):
            cache_ref = refs.try_parse(cache)
            if cache_ref is not None and not cache_ref.digest:
                found = engine.pull(cache_ref.name, cache_ref.tag or "latest", registry_creds)
                throttle("build", f"cache image {cache} {'pulled' if found else 'not found; building without'}",
                         force=True)
    image_id = engine.build(request, chosen, throttle, creds)
    size = int(engine.inspect(image_id).get("Size") or 0)
    warnings = tuple(w for w in [check_budget(size, spec.size_budget, spec.name)] if w)
    digest = compressed = None
    if push:
        digest = _push_all(engine, spec, registry_creds, throttle)
        client = (registry_factory or _client)(spec.repository.registry, registry_creds)
        for tag in spec.tags:
            served = client.resolve_digest(spec.repository.with_version(tag))
            if served != digest:
                raise RegistryError(
                    f"registry serves {image}:{tag} as {served}, but the push reported {digest}",
                    hint="another push raced this one; re-run the build",
                )
        compressed = client.get_manifest(spec.repository.remote_path, digest).layers_size()
        throttle("push", f"pushed {len(spec.tags)} tag(s) of {image} at {digest}", force=True)
    return BuildResult(spec.name, image, spec.tags, image_id, digest, size, compressed, labels, chosen,
                       push, time.monotonic() - started, warnings)


def _push_all(engine: DockerEngine, spec: BuildSpec, creds: Credentials | None, throttle: Throttle) -> str:
    digests = {engine.push(spec.repository.name, tag, creds, throttle) for tag in spec.tags}
    if len(digests) != 1:
        raise DockerError(f"the tags of {spec.repository.name} were pushed with different digests: "
                          f"{sorted(digests)}", hint="re-run the build; the image changed during the push")
    return digests.pop()


def _client(registry: str, creds: Credentials | None) -> RegistryClient:
    return RegistryClient(registry, creds)
