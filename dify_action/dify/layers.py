"""Read an image's /app/api facts from the registry by streaming only the layers that hold them.

The image config's ``history`` says what made each layer. A layer is read when its step could
have written a watched path: a COPY/ADD whose destination contains or lies inside one (``/`` for a
base OS layer, ``/app/api/`` for Dify's code, not ``/app/api/.venv``), a RUN that names one, or a
step the history does not describe. Layers are applied bottom-up with OCI whiteouts
(``.wh.<name>``, ``.wh..wh..opq``) and verified against their digests. A history that does not
map onto the layers means every layer is read, within the same byte budget.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from dify_action import refs
from dify_action.dify.facts import API_ROOT, MAX_FILE, MAX_FILES, PATHS, ImageFacts, facts_from_files
from dify_action.dify.versions import BASE_VERSION_LABEL
from dify_action.errors import DifyActionError
from dify_action.registry import Manifest, RegistryClient

DEFAULT_BUDGET = 512 << 20
WATCHED = tuple(f"{API_ROOT}/{path}" for path in PATHS)
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_MENTIONS = ("/app/api", "migrations", "dsl_version", "pyproject.toml")


@dataclass(frozen=True)
class LayerPlan:
    """The layers to read (bottom-up) and how many the image has."""

    layers: tuple[dict[str, Any], ...]
    total: int
    by_history: bool


def platform_manifest(client: RegistryClient, repository: str, reference: str) -> Manifest:
    """The image manifest; for an index, linux/amd64 if present, else the first platform."""
    manifest = client.get_manifest(repository, reference)
    if not manifest.is_index:
        return manifest
    items = manifest.document.get("manifests") or []
    if not items:
        raise DifyActionError(f"{repository}@{reference} is an empty index")
    chosen = next((m for m in items if (m.get("platform") or {}).get("architecture") == "amd64"
                   and (m.get("platform") or {}).get("os") == "linux"), items[0])
    return client.get_manifest(repository, str(chosen["digest"]))


def _touches(created_by: str, workdir: str) -> bool:
    step = _NOP.sub("", created_by.replace("# buildkit", "")).strip()
    word = step.split(" ", 1)[0].upper()
    if word in ("COPY", "ADD"):
        dest = step.rsplit(" in ", 1)[1] if " in " in step else step.split()[-1]
        dest = posixpath.normpath(posixpath.join(workdir, dest.strip()))
        return any(path == dest or path.startswith(dest.rstrip("/") + "/") or dest.startswith(path + "/")
                   for path in WATCHED)
    if word in ("ENV", "LABEL", "WORKDIR", "EXPOSE", "CMD", "ENTRYPOINT", "USER", "ARG", "VOLUME"):
        return False
    return any(mention in step for mention in _MENTIONS) or (workdir.startswith(API_ROOT) and "rm " in step)


def plan_layers(manifest: Manifest, config: dict[str, Any]) -> LayerPlan:
    layers = tuple(manifest.document.get("layers") or ())
    history = [h for h in config.get("history") or () if isinstance(h, dict)]
    if len([h for h in history if not h.get("empty_layer")]) != len(layers):
        return LayerPlan(layers, len(layers), False)
    if not any(API_ROOT in str(h.get("created_by") or "") for h in history):
        raise DifyActionError(f"no step of the image's history touches {API_ROOT}: not a Dify api image")
    chosen: list[dict[str, Any]] = []
    workdir, index = "/", 0
    for entry in history:
        created_by = str(entry.get("created_by") or "")
        step = _NOP.sub("", created_by.replace("# buildkit", "")).strip()
        if step.upper().startswith("WORKDIR "):
            workdir = posixpath.normpath(posixpath.join(workdir, step[8:].strip()))
        if entry.get("empty_layer"):
            continue
        if not created_by or _touches(created_by, workdir):
            chosen.append(layers[index])
        index += 1
    return LayerPlan(tuple(chosen), len(layers), True)


class _Hashing:
    """A file-like reader that hashes what passes through (the digest is checked at the end)."""

    def __init__(self, raw: IO[bytes], algorithm: str) -> None:
        self.raw, self.hasher, self.size = raw, hashlib.new(algorithm), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hasher.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _layer_files(client: RegistryClient, repository: str, layer: dict[str, Any]) -> Iterator[tuple[str, bytes | None]]:
    """(path, bytes) for watched files of one layer, (path, None) for a whiteout of path."""
    digest = str(layer["digest"])
    if "zstd" in str(layer.get("mediaType", "")):
        raise DifyActionError(f"layer {digest} is zstd-compressed, which this reader does not decode")
    reader = _Hashing(client.open_blob(repository, digest), digest.split(":", 1)[0])
    with tarfile.open(fileobj=reader, mode="r|*") as archive:  # type: ignore[call-overload]
        for member in archive:
            path = "/" + member.name.removeprefix("./").lstrip("/")
            parent, _, base = path.rpartition("/")
            if base == ".wh..wh..opq":
                yield parent + "/", None
            elif base.startswith(".wh."):
                yield f"{parent}/{base[4:]}", None
            elif member.isfile() and member.size <= MAX_FILE and _wanted(path):
                handle = archive.extractfile(member)
                if handle is not None:
                    yield path, handle.read()
    reader.drain()
    if f"{digest.split(':', 1)[0]}:{reader.hasher.hexdigest()}" != digest:
        raise DifyActionError(f"layer {digest} of {repository} does not match its digest",
                              hint="the registry or a proxy altered the layer")


def apply_layer(state: Mapping[str, bytes], changes: Sequence[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """``state`` with one layer on top: its whiteouts (``None``; a path ending in ``/`` is an opaque
    directory) hide what lower layers had, then its files are added."""
    out = dict(state)
    for path, data in changes:
        if data is None:
            out = {p: d for p, d in out.items() if not (p == path or p.startswith(path.rstrip("/") + "/"))}
    out |= {path: data for path, data in changes if data is not None}
    if len(out) > MAX_FILES:
        raise DifyActionError(f"over {MAX_FILES} files under {WATCHED[0]}: not a Dify api image layout")
    return out


def _wanted(path: str) -> bool:
    versions = WATCHED[0] + "/"
    return path in WATCHED[1:] or (path.startswith(versions) and "/" not in path[len(versions):])


def read_layers(client: RegistryClient, ref: refs.ImageRef, *, budget: int = DEFAULT_BUDGET) -> ImageFacts:
    """Facts from the layers of ``ref`` that hold the watched paths; DifyActionError when the
    image cannot be read that way (over the budget, no config, a broken layer)."""
    reference = ref.digest or ref.tag or "latest"
    manifest = platform_manifest(client, ref.remote_path, reference)
    config_ref = manifest.document.get("config") or {}
    config = json.loads(client.get_blob(ref.remote_path, str(config_ref["digest"]))) if "digest" in config_ref else {}
    if not isinstance(config, dict):
        raise DifyActionError(f"{ref} has no image config")
    plan = plan_layers(manifest, config)
    size = sum(int(layer.get("size", 0)) for layer in plan.layers)
    if size > budget:
        raise DifyActionError(f"the {len(plan.layers)} layers of {ref} that may hold {API_ROOT} are "
                              f"{size >> 20} MiB, over the read budget of {budget >> 20} MiB")
    state: dict[str, bytes] = {}
    for layer in plan.layers:
        state = apply_layer(state, list(_layer_files(client, ref.remote_path, layer)))
    files = {path[len(API_ROOT) + 1:]: data for path, data in state.items()}
    how = "chosen by their history" if plan.by_history else "all: the history does not map onto them"
    labels = (config.get("config") or {}).get("Labels") or {}
    facts = facts_from_files(files, "layers", label=labels.get(BASE_VERSION_LABEL))
    return ImageFacts(facts.source, facts.dify_version, facts.dsl_version, facts.graph, (
        *facts.notes, f"read {len(plan.layers)} of {plan.total} layers ({size >> 10} KiB, {how})"))
