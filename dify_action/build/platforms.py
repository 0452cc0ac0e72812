"""Several platforms of one component: build each, push each by digest, then one OCI image index.

Two paths compose the same steps (issue 20):
- one engine that can build every platform (COPY-only stages, or QEMU registered): ``build
  --platforms linux/amd64,linux/arm64 --push`` builds and pushes each platform by digest, writes the
  index with our registry client and only then points the tags at it;
- one native runner per platform: ``build --platforms X --push-by-digest`` in each job (no tag
  written), then ``merge`` over their results (merge.py) writes the index and the tags.
Every pushed platform digest gets its SLSA provenance (provenance.py). A platform the engine did not
really build for (a builder that ignored ``--platform``) stops the set before anything is pushed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dify_action.build.component import BuildMetadata, BuildResult, BuildSpec, PlatformBuild, build_component
from dify_action.build.provenance import BuildFacts, attach_provenance, base_images, statement
from dify_action.engine.docker import Builder, DockerEngine, Progress
from dify_action.errors import DockerError
from dify_action.registry import Credentials, RegistryClient
from dify_action.registry.index import PlatformImage, parse_platforms, same_platform, tag_index, write_index
from dify_action.registry.upload import upload_image

# what a build is attributed to outside Actions (the front end passes the workflow ref inside)
LOCAL_BUILDER = "https://github.com/dify-action/dify-action/cli"


@dataclass(frozen=True)
class Provenance:
    """Who builds: the builder id (the workflow ref in Actions) and the run's URL."""

    builder_id: str = LOCAL_BUILDER
    invocation: str | None = None


def is_multi(spec: BuildSpec, by_digest: bool) -> bool:
    """Whether ``spec`` takes this path: several platforms, or a push by digest (a matrix job)."""
    return by_digest or (spec.platform is not None and "," in spec.platform)


def build_platforms(
    spec: BuildSpec, engine: DockerEngine, creds: Credentials | None = None, *, push: bool = True,
    by_digest: bool = False, builder: Builder = "auto", meta: BuildMetadata | None = None,
    progress: Progress | None = None, who: Provenance | None = None,
    registry_factory: Callable[[str, Credentials | None], RegistryClient] | None = None,
) -> BuildResult:
    """Build every platform of ``spec``; push each by digest; unless ``by_digest``, write the index
    and tag it. The result's digest is the index's; pushed by digest only, the one platform's digest
    (a matrix job builds one platform), else None; ``platforms`` lists each platform's digest."""
    platforms = parse_platforms(spec.platform or "linux/amd64")
    started = time.monotonic()
    meta = meta or BuildMetadata()
    meta = dataclasses.replace(meta, version=meta.version or spec.tags[0])  # one version label for every platform
    local: list[tuple[str, BuildResult, dt.datetime, dt.datetime]] = []
    for platform in platforms:  # every platform built before anything is pushed: one failure, nothing written
        began = dt.datetime.now(dt.UTC)
        slug = platform.replace("/", "-")
        result = build_component(dataclasses.replace(spec, platform=platform, tags=(f"{spec.tags[0]}-{slug}",)),
                                 engine, creds, push=False, builder=builder, meta=meta, progress=progress)
        _check_platform(engine, result.image_id, platform, spec.name)
        local.append((platform, result, began, dt.datetime.now(dt.UTC)))
    if not push:
        builds = tuple(PlatformBuild(p, r.image_id, None, 0, r.size, None, None) for p, r, _, _ in local)
        return _result(spec, builds, None, local[0][1], False, started)
    client = (registry_factory or RegistryClient)(spec.repository.registry, creds)
    repository = spec.repository.remote_path
    builds_list: list[PlatformBuild] = []
    for platform, result, began, ended in local:
        uploaded = upload_image(client, repository, engine.client.api.get_image(result.image_id))
        if progress:
            progress(f"[push] {spec.repository.name}@{uploaded.digest} ({platform}, by digest: "
                     f"{uploaded.blobs_uploaded} blob(s) uploaded, {uploaded.blobs_present} present)")
        facts = build_facts(spec, meta, who or Provenance(), platform, _bases(engine, spec), began, ended)
        attached = attach_provenance(client, repository, uploaded.digest,
                                     statement(spec.repository.name, uploaded.digest, facts))
        builds_list.append(PlatformBuild(platform, result.image_id, uploaded.digest, uploaded.size, result.size,
                                         uploaded.compressed_size, attached))
    builds = tuple(builds_list)
    index_digest = builds[0].digest if by_digest and len(builds) == 1 else None
    if by_digest and len(builds) == 1:  # the job's smoke test and scan find the image under its tags, locally
        for tag in spec.tags:
            engine.tag(builds[0].image_id, f"{spec.repository.name}:{tag}")
    if not by_digest:
        images = [PlatformImage(b.platform, str(b.digest), b.size) for b in builds]
        index = write_index(client, repository, images)
        tag_index(client, repository, index, spec.tags)  # last: the set is complete
        index_digest = index.digest
        if progress:
            progress(f"[push] {spec.repository.name}:{','.join(spec.tags)} -> index {index.digest} "
                     f"({', '.join(platforms)})")
    return _result(spec, builds, index_digest, local[0][1], True, started)


def build_facts(spec: BuildSpec, meta: BuildMetadata, who: Provenance, platform: str,
                bases: dict[str, str], began: dt.datetime, ended: dt.datetime) -> BuildFacts:
    """What the provenance says about ``spec``: the ids of its secrets, never their values."""
    return BuildFacts(who.builder_id, meta.source, meta.revision, spec.dockerfile, spec.context, platform,
                      spec.build_args, tuple(sorted({*spec.secrets, *spec.secret_files})), spec.target, bases,
                      began, ended, who.invocation)


def _result(spec: BuildSpec, builds: Sequence[PlatformBuild], digest: str | None, first: BuildResult,
            pushed: bool, started: float) -> BuildResult:
    compressed = [b.compressed_size for b in builds]
    total = sum(c for c in compressed if c is not None) if pushed else None
    return BuildResult(spec.name, spec.repository.name, spec.tags, first.image_id, digest,
                       max(b.image_size for b in builds), total, first.labels, first.builder, pushed,
                       time.monotonic() - started, first.warnings, tuple(builds))


def _check_platform(engine: DockerEngine, image_id: str, platform: str, name: str) -> None:
    data = engine.inspect(image_id)
    built = "/".join(str(p) for p in (data.get("Os"), data.get("Architecture"), data.get("Variant")) if p)
    if not same_platform(platform, built):
        raise DockerError(f"the engine built {name} for {built}, not {platform}",
                          hint="use a builder that honours --platform (BuildKit), or build this platform on a "
                               "native runner (build --platforms X --push-by-digest, then merge)")


def _bases(engine: DockerEngine, spec: BuildSpec) -> dict[str, str]:
    """Each external FROM image as resolved in the engine: its registry digest, else its image id."""
    text = spec.dockerfile.read_text(encoding="utf-8", errors="replace")
    out: dict[str, str] = {}
    for ref in base_images(text, spec.build_args):
        try:
            data = engine.inspect(ref)
        except DockerError:
            continue  # a base that is not a local image (a build-time pull BuildKit did not keep)
        digests = [str(d).rpartition("@")[2] for d in data.get("RepoDigests") or []]
        out[ref] = digests[0] if digests else str(data.get("Id"))
    return out
