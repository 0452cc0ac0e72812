"""Read an image's /app/api facts from the registry by streaming only the layers that hold them.

The image config's ``history`` says what made each layer. A layer is read when its step could
have written a watched path: a COPY/ADD whose destination contains or lies inside one (``/`` for a
base OS layer, ``/app/api/`` for Dify's code, not ``/app/api/.venv``), a RUN that names one, or a
step the history does not describe. Layers are applied bottom-up with OCI whiteouts
(``.wh.<name>``, ``.wh..wh..opq``) and verified against their digests. A history that does not
map onto the layers means every layer is read, within the same byte budget.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dify_action import refs, untrusted
from dify_action.dify.facts import API_ROOT, MAX_FILE, MAX_FILES, PATHS, ImageFacts, facts_from_files
from dify_action.dify.layerstream import LayerStream, Meter
from dify_action.dify.versions import BASE_VERSION_LABEL
from dify_action.errors import DifyActionError
from dify_action.registry import Descriptor, Manifest, RegistryClient

DEFAULT_BUDGET = 512 << 20  # compressed bytes read; inflated bytes get INFLATED x that (layerstream)
MAX_HELD = 64 << 20  # bytes of watched files held at once (Dify's own: about 3 MiB)
WATCHED = tuple(f"{API_ROOT}/{path}" for path in PATHS)
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_MENTIONS = ("/app/api", "migrations", "dsl_version", "pyproject.toml")


@dataclass(frozen=True)
class LayerPlan:
    """The layers to read (bottom-up) and how many the image has."""

    layers: tuple[Descriptor, ...]
    total: int
    by_history: bool


def platform_manifest(client: RegistryClient, repository: str, reference: str) -> Manifest:
    """The image manifest; for an index, linux/amd64 if present, else the first platform."""
    manifest = client.get_manifest(repository, reference)
    if not manifest.is_index:
        return manifest
    what = f"index {repository}@{reference}"
    items = untrusted.objects(manifest.document.get("manifests"), what)
    if not items:
        raise DifyActionError(f"{repository}@{reference} is an empty index")

    def platform(item: Mapping[str, object]) -> Mapping[str, object]:
        value = item.get("platform")
        return value if isinstance(value, dict) else {}

    chosen = next((m for m in items if platform(m).get("architecture") == "amd64"
                   and platform(m).get("os") == "linux"), items[0])
    digest = untrusted.string(chosen, "digest", what)
    if not refs.DIGEST_RE.fullmatch(digest):
        untrusted.fail(what, "a platform digest is not a digest")
    return client.get_manifest(repository, digest)


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


def plan_layers(manifest: Manifest, config: Mapping[str, object]) -> LayerPlan:
    layers = tuple(manifest.layers())
    history = [h for h in untrusted.as_list(config.get("history") or [], "image config: history")
               if isinstance(h, dict)]
    if len([h for h in history if not h.get("empty_layer")]) != len(layers):
        return LayerPlan(layers, len(layers), False)
    if not any(API_ROOT in str(h.get("created_by") or "") for h in history):
        raise DifyActionError(f"no step of the image's history touches {API_ROOT}: not a Dify api image")
    chosen: list[Descriptor] = []
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


def _layer_files(client: RegistryClient, repository: str, layer: Descriptor,
                 meter: Meter) -> list[tuple[str, bytes | None]]:
    """The watched files of one layer (a later copy of a path replaces an earlier one) and its
    whiteouts of watched paths (``None``; a path ending in ``/`` is an opaque directory)."""
    digest = layer.digest
    if "zstd" in layer.media_type:
        raise DifyActionError(f"layer {digest} is zstd-compressed, which this reader does not decode")
    files: dict[str, bytes] = {}
    hidden: dict[str, None] = {}
    held = 0
    with client.open_blob(repository, digest) as raw:
        stream = LayerStream(raw, digest.split(":", 1)[0], meter)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    path = "/" + member.name.removeprefix("./").lstrip("/")
                    parent, _, base = path.rpartition("/")
                    if base == ".wh..wh..opq":
                        _whiteout(hidden, parent + "/")
                    elif base.startswith(".wh."):
                        _whiteout(hidden, f"{parent}/{base[4:]}")
                    elif member.isfile() and member.size <= MAX_FILE and _wanted(path):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            data = handle.read()
                            held += len(data) - len(files.pop(path, b""))  # a later copy replaces it
                            files[path] = data
                    if len(files) + len(hidden) > MAX_FILES or held > MAX_HELD:
                        raise DifyActionError(f"layer {digest} holds over {MAX_FILES} watched entries or "
                                              f"{MAX_HELD >> 20} MiB of them: not a Dify api image layout")
            stream.drain()
        except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as error:
            raise DifyActionError(f"layer {digest} of {repository} is not a readable tar: "
                                  f"{type(error).__name__}") from None
    if stream.digest() != digest:
        raise DifyActionError(f"layer {digest} of {repository} does not match its digest",
                              hint="the registry or a proxy altered the layer")
    return [*((path, None) for path in hidden), *files.items()]


def _whiteout(hidden: dict[str, None], path: str) -> None:
    """Record a whiteout only when it can hide a watched path: the rest cost nothing."""
    bare = path.rstrip("/")
    if bare == "" or any(watched == bare or watched.startswith(bare + "/") or bare.startswith(watched + "/")
                         for watched in WATCHED):
        hidden[path] = None


def apply_layer(state: Mapping[str, bytes], changes: Sequence[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """``state`` with one layer on top: its whiteouts (``None``; a path ending in ``/`` is an opaque
    directory) hide what lower layers had, then its files are added. Linear: one pass over the
    state, each path checked against the set of hidden paths and its parents."""
    hidden = {path.rstrip("/") for path, data in changes if data is None}
    out = {p: d for p, d in state.items() if not _covered(p, hidden)} if hidden else dict(state)
    out |= {path: data for path, data in changes if data is not None}
    if len(out) > MAX_FILES:
        raise DifyActionError(f"over {MAX_FILES} files under {WATCHED[0]}: not a Dify api image layout")
    return out


def _covered(path: str, hidden: set[str]) -> bool:
    while path:
        if path in hidden:
            return True
        path = path.rpartition("/")[0]
    return "" in hidden


def _wanted(path: str) -> bool:
    versions = WATCHED[0] + "/"
    return path in WATCHED[1:] or (path.startswith(versions) and "/" not in path[len(versions):])


def read_layers(client: RegistryClient, ref: refs.ImageRef, *, budget: int = DEFAULT_BUDGET) -> ImageFacts:
    """Facts from the layers of ``ref`` that hold the watched paths; DifyActionError when the
    image cannot be read that way (over the budget, no config, a broken layer)."""
    reference = ref.digest or ref.tag or "latest"
    manifest = platform_manifest(client, ref.remote_path, reference)
    config_ref = manifest.document.get("config")
    if not isinstance(config_ref, dict) or not isinstance(config_ref.get("digest"), str):
        raise DifyActionError(f"{ref} has no image config")
    config = untrusted.json_object(client.get_blob(ref.remote_path, str(config_ref["digest"])), f"config of {ref}")
    plan = plan_layers(manifest, config)
    size = sum(layer.size for layer in plan.layers)
    if size > budget:  # what the manifest declares: a cheap early refusal; the meter counts the truth
        raise DifyActionError(f"the {len(plan.layers)} layers of {ref} that may hold {API_ROOT} are "
                              f"{size >> 20} MiB, over the read budget of {budget >> 20} MiB")
    meter = Meter(budget, f"the layers of {ref} that may hold {API_ROOT}")
    state: dict[str, bytes] = {}
    for layer in plan.layers:
        state = apply_layer(state, _layer_files(client, ref.remote_path, layer, meter))
        if sum(map(len, state.values())) > MAX_HELD:
            raise DifyActionError(f"over {MAX_HELD >> 20} MiB under {API_ROOT}'s watched paths in {ref}")
    files = {path[len(API_ROOT) + 1:]: data for path, data in state.items()}
    how = "chosen by their history" if plan.by_history else "all: the history does not map onto them"
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    label = labels.get(BASE_VERSION_LABEL) if isinstance(labels, dict) else None
    facts = facts_from_files(files, "layers", label=label if isinstance(label, str) else None)
    return ImageFacts(facts.source, facts.dify_version, facts.dsl_version, facts.graph, (
        *facts.notes, f"read {len(plan.layers)} of {plan.total} layers ({meter.compressed >> 10} KiB, {how})"))
