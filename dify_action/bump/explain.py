"""Why nothing matched: the files that mention the image but were skipped, HelmReleases whose
values live elsewhere, and repositories the tree does deploy that look like the one asked for.
Runs only on the error path, so it may read every collected file again."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from dify_action import refs
from dify_action.bump import tree
from dify_action.bump.find import find_all
from dify_action.bump.model import Skipped, Target
from dify_action.bump.yamlnodes import Parsed, get, label, load, text_of
from dify_action.errors import NotDeployed

_REFERENCE = re.compile(rb"""(?:image|Image|repository|newName|name)["']?\s*[:=]\s*["']?([\w./:@${}-]+)""")
_MAX_LISTED = 8
_IMAGE_KEY = re.compile(r"(?:image|Image|repository)['\"]?\s*:")


def not_deployed(
    root: Path, target: Target, paths: Sequence[str], files: Sequence[tree.SourceFile],
    skipped: Sequence[Skipped],
) -> NotDeployed:
    image = target.image
    needle = image.path.rsplit("/", 1)[-1].encode()
    composed = (load(source) for source in files if needle in source.data)
    loaded = [parsed for parsed in composed if isinstance(parsed, Parsed)]
    lines = [
        f"no file under {', '.join(paths) or 'the GitOps directory'} deploys {image.repository} "
        "(repositories are compared whole, after normalizing docker.io and library/)"
    ]
    mentioned = [skip for skip in skipped if _mentions(root, skip.file, needle, files)]
    variable = _variable_references(image, loaded)
    if mentioned or variable:
        lines.append(f"files that mention {needle.decode()} but were skipped:")
        lines += [f"  {skip.file}: {skip.reason}" for skip in mentioned[:_MAX_LISTED]]
        lines += [f"  {where}" for where in variable[:_MAX_LISTED]]
    unedited = _unedited_mentions(root, paths, image)
    if unedited:
        lines.append(f"files that contain {image.path} but are not a file bump edits (YAML manifests, values, "
                     "kustomizations, compose and env files); edit them by hand or render them to YAML:")
        lines += [f"  {rel}: {why}" for rel, why in unedited[:_MAX_LISTED]]
    elsewhere = _values_elsewhere(loaded, files)
    misses = _near_misses(image, files, loaded)
    lines += elsewhere + misses
    hint = "check --image (registry and path) and --path; the image may be set by a chart default"
    if misses:
        hint = "check --image against the repositories above"
        if any(line.startswith("the same image name") for line in misses):
            hint = ("edit the repository value once to your own registry's (README: \"Switching from the upstream "
                    "image\"), then run bump again")
    elif elsewhere:
        hint = "set the image in the values the HelmRelease reads (valuesFrom), or in spec.values here"
    if any("Helm/Go template" in skip.reason for skip in mentioned):
        hint += "; a chart's templates are not edited: bump the values file that feeds them"
    return NotDeployed("\n".join(lines), hint=hint)


_KINDS = {".jsonnet": "jsonnet", ".libsonnet": "jsonnet", ".cue": "CUE", ".tpl": "a template", ".j2": "a template",
          ".jinja": "a template", ".tmpl": "a template", ".json": "JSON", ".toml": "TOML", ".hcl": "HCL",
          ".tf": "Terraform", ".nix": "Nix", ".dhall": "Dhall", ".ts": "TypeScript", ".py": "Python"}


def _unedited_mentions(root: Path, paths: Sequence[str], image: refs.ImageRef) -> list[tuple[str, str]]:
    """Files under ``paths`` that a bump never reads but that contain the image's path literally."""
    needle = image.path.encode()
    real_root = os.path.realpath(root)
    found: list[tuple[str, str]] = []
    for given in paths or ["."]:
        top = os.path.join(real_root, given)
        walked = [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) else os.walk(top)
        for folder, dirs, names in walked:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                rel = os.path.relpath(os.path.join(folder, name), real_root).replace(os.sep, "/")
                if tree.is_candidate(name) or tree.editable(rel) or len(found) >= _MAX_LISTED:
                    continue
                try:
                    with open(os.path.join(folder, name), "rb") as stream:
                        data = stream.read(tree.MAX_FILE_BYTES)
                except OSError:
                    continue
                if needle in data and b"\0" not in data:
                    kind = _KINDS.get(os.path.splitext(name)[1].lower(), "not YAML")
                    found.append((rel, f"{kind}: not a file bump edits"))
    return found


def _mentions(root: Path, relpath: str, needle: bytes, files: Sequence[tree.SourceFile]) -> bool:
    for source in files:
        if source.relpath == relpath:
            return needle in source.data
    try:  # skipped by the walk (too large, binary...): look without the size limit, in chunks
        with open(os.path.join(root, relpath), "rb") as stream:
            tail = b""
            while chunk := stream.read(1 << 20):
                if needle in tail + chunk:
                    return True
                tail = chunk[-len(needle):]
    except OSError:
        return False
    return False


def _variable_references(image: refs.ImageRef, loaded: Sequence[Parsed]) -> list[str]:
    """Image values built from variables (``${REGISTRY}/acme/dify-api:1.0``) or template expressions
    (``busybox:{{ .Values.tag }}`` in a template that still parses) that name the image."""
    found: list[str] = []
    name = image.path.rsplit("/", 1)[-1]
    for parsed in loaded:
        for number, line in enumerate(parsed.text.splitlines(), 1):
            if name not in line or not _IMAGE_KEY.search(line):
                continue
            if "{{" in line:
                found.append(f"{parsed.source.relpath}:{number}: {line.strip()}: a Helm/Go template expression, "
                             "rendered at deploy time (bump the values that feed it)")
            elif "$" in line:
                found.append(f"{parsed.source.relpath}:{number}: {line.strip()}: a variable the bump cannot resolve "
                             "(only a tag variable can be set, with --env-file)")
    return found


def _values_elsewhere(loaded: Sequence[Parsed], files: Sequence[tree.SourceFile]) -> list[str]:
    """HelmReleases with ``spec.valuesFrom``: the image may be set in a ConfigMap or Secret."""
    found: list[str] = []
    for source in files:
        if b"valuesFrom" not in source.data or b"HelmRelease" not in source.data:
            continue
        parsed = load(source)
        if isinstance(parsed, Skipped):
            continue
        for doc in parsed.docs:
            values_from = get(get(doc, "spec"), "valuesFrom")
            if text_of(get(doc, "kind")) == "HelmRelease" and values_from is not None:
                names = [
                    f"{text_of(get(item, 'kind'))}/{text_of(get(item, 'name'))}"
                    for item in getattr(values_from, "value", [])
                ]
                key_line = next(k.start_mark.line for k, v in get(doc, "spec").value if v is values_from)  # type: ignore[union-attr]
                found.append(
                    f"{source.relpath}:{key_line + 1}: {label(doc).strip()} takes "
                    f"values from {', '.join(names) or 'valuesFrom'}: the image may be set there, outside "
                    "this tree's files"
                )
    return found


def _near_misses(
    image: refs.ImageRef, files: Sequence[tree.SourceFile], loaded: Sequence[Parsed]
) -> list[str]:
    """Repositories in the tree under another registry, or with a name a few letters away."""
    deployed: dict[str, str] = {}
    for parsed in loaded:  # composed: registry keys applied (ghcr.io + acme/dify-api)
        for hit in find_all(parsed):
            deployed.setdefault(hit.current.repository, f"{hit.current.name} ({parsed.source.relpath}:{hit.line})")
    for source in files:
        for match in _REFERENCE.finditer(source.data):
            ref = refs.try_parse(match.group(1).decode("utf-8", "replace").split("$", 1)[0].rstrip(":"))
            if ref is not None and ("/" in ref.path or ref.domain):
                deployed.setdefault(ref.repository, f"{ref.name} ({source.relpath})")
    deployed.pop(image.repository, None)
    same_path = [text for repo, text in deployed.items() if repo.split("/", 1)[1] == image.remote_path]
    close = difflib.get_close_matches(image.repository, list(deployed), n=3, cutoff=0.85)
    lines: list[str] = []
    if same_path:
        lines.append("the same repository under another registry: " + ", ".join(same_path[:_MAX_LISTED]))
    others = [deployed[repo] for repo in close if deployed[repo] not in same_path]
    if others:
        lines.append("near-miss repositories the tree does contain: " + ", ".join(others))
    name = image.path.rsplit("/", 1)[-1]
    renamed = [text for repo, text in deployed.items()
               if repo.rsplit("/", 1)[-1] == name and text not in same_path and text not in others]
    if renamed:  # issue 23: the first switch from upstream (docker.io/langgenius/dify-api) to your registry
        lines.append(f"the same image name from another repository: {', '.join(renamed[:_MAX_LISTED])}; bump "
                     f"changes tags, never repositories: switching to {image.repository} is a one-time edit of that "
                     "repository value (README: \"Switching from the upstream image\"), then bump keeps it current")
    return lines
