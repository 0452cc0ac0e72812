"""The merge of a platform matrix: per-platform build results -> one OCI image index per component, tagged.

Each matrix job ran ``build --platforms X --push-by-digest --json`` and left its JSON document; the
merge reads them all, checks that every expected platform is there exactly once (a failed job left
none: the merge names it and writes nothing), asks the registry what each digest really is (its
config's os/architecture, not the job's word), writes the index and only then moves the tags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dify_action import refs
from dify_action.errors import GateFailed, InputError
from dify_action.registry import RegistryClient
from dify_action.registry.index import (
    PlatformImage,
    image_platform,
    parse_platforms,
    same_platform,
    tag_index,
    write_index,
)


@dataclass(frozen=True)
class PlatformResult:
    """One platform a matrix job pushed by digest (from its ``build --json`` document)."""

    component: str
    image: str  # repository, no tag
    tags: tuple[str, ...]
    platform: str
    digest: str
    source: str  # the file it came from, for messages


@dataclass(frozen=True)
class Merged:
    component: str
    image: str
    digest: str
    tags: tuple[str, ...]
    platforms: tuple[PlatformImage, ...]

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "image": self.image, "digest": self.digest,
                "tags": [f"{self.image}:{t}" for t in self.tags], "tag_names": list(self.tags),
                "platforms": [p.as_dict() for p in self.platforms]}


def parse_results(documents: Sequence[tuple[str, Any]]) -> tuple[PlatformResult, ...]:
    """(file name, parsed JSON) of each job -> its platform results; InputError names the bad file."""
    out: list[PlatformResult] = []
    for name, doc in documents:
        components = doc.get("components") if isinstance(doc, dict) else None
        if not isinstance(components, list) or not components:
            raise InputError("results", name, "the JSON document of `build --push-by-digest --json` (components)")
        for item in components:
            platforms = item.get("platforms") if isinstance(item, dict) else None
            if not isinstance(platforms, list) or not platforms:
                raise InputError("results", name, "a build result with platforms (build --platforms X "
                                 "--push-by-digest --json)")
            image = refs.parse_repository(str(item.get("image", "")), input_name=f"results ({name}) image").name
            tags = tuple(str(t) for t in item.get("tag_names") or ())
            for entry in platforms:
                digest = refs.validate_digest(str(entry.get("digest") or ""), input_name=f"results ({name}) digest")
                out.append(PlatformResult(str(item.get("component") or image), image, tags,
                                          str(entry.get("platform", "")), digest, name))
    return tuple(out)


def merge(results: Sequence[PlatformResult], expected: str | None, client_for: Callable[[str], RegistryClient],
          tags: Sequence[str] = ()) -> tuple[Merged, ...]:
    """Write and tag the index of every component in ``results``; see the module doc."""
    wanted = parse_platforms(expected) if expected else None
    if not results:  # every platform job failed (no result at all): say which platforms are missing
        raise GateFailed(f"no platform results: {', '.join(wanted or ('every platform',))} missing; every build "
                         "job failed or did not run; the index is not written and no tag moved",
                         hint="fix and re-run the platform jobs")
    for tag in tags:
        refs.validate_tag(tag, input_name="tag")
    groups: dict[str, list[PlatformResult]] = {}
    for result in results:
        groups.setdefault(result.image, []).append(result)
    plans = [(image, items, _plan(image, items, wanted, tags)) for image, items in groups.items()]
    merged = []
    for image, items, tag_list in plans:  # every check first: nothing is written for a broken set
        ref = refs.parse_repository(image, input_name="image")
        client = client_for(ref.registry)
        checked = []
        for item in items:
            found = image_platform(client, ref.remote_path, item.digest)
            if not same_platform(item.platform, found.platform):
                raise GateFailed(f"{image}@{item.digest} ({item.source}) is an image for {found.platform}, "
                                 f"not {item.platform}", hint="the job's engine built another platform; fix its "
                                 "runner (runs-on) or builder and re-run it")
            checked.append(PlatformImage(item.platform, item.digest, found.size, found.media_type))
        index = write_index(client, ref.remote_path, checked)
        tag_index(client, ref.remote_path, index, tag_list)
        merged.append(Merged(items[0].component, image, index.digest, tag_list, tuple(checked)))
    return tuple(merged)


def _plan(image: str, items: list[PlatformResult], wanted: tuple[str, ...] | None,
          override: Sequence[str]) -> tuple[str, ...]:
    got = [i.platform for i in items]
    twice = sorted({p for p in got if got.count(p) > 1})
    if twice:
        raise InputError("results", ", ".join(i.source for i in items if i.platform in twice),
                         f"one result per platform of {image} ({', '.join(twice)} given twice)")
    if wanted is not None:
        missing = [p for p in wanted if p not in got]
        if missing:
            raise GateFailed(f"{image}: no result for {', '.join(missing)}: its build job failed or did not run; "
                             "the index is not written and no tag moved", hint="fix and re-run that platform's job")
        extra = [p for p in got if p not in wanted]
        if extra:
            raise InputError("results", ", ".join(extra), f"only the platforms asked for ({', '.join(wanted)})")
    tag_sets = {i.tags for i in items}
    if override:
        return tuple(override)
    if len(tag_sets) != 1 or not next(iter(tag_sets)):
        raise InputError("tags", "; ".join(",".join(t) for t in sorted(tag_sets)),
                         f"the same tags from every platform job of {image} (or give --tag)")
    return next(iter(tag_sets))


def describe(merged: Sequence[Merged]) -> Mapping[str, object]:
    """The merge's JSON document (the same shape as ``build --json``'s components)."""
    return {"command": "merge", "components": [m.as_dict() for m in merged],
            "tags": [f"{m.image}:{t}" for m in merged for t in m.tags]}
