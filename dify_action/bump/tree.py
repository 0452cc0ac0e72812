"""Which files of a GitOps tree a bump may read: inside the root, YAML, text, not too large."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dify_action.errors import InputError

if TYPE_CHECKING:
    from dify_action.bump.engine import Skipped

MAX_FILE_BYTES = 2 * 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relpath: str
    data: bytes
    explicit: bool


def _is_candidate(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES) or name in KUSTOMIZATION_NAMES


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


def collect(root: Path, paths: Sequence[str]) -> tuple[list[SourceFile], list[Skipped]]:
    """Read the candidate files under ``paths`` (relative to ``root``; default the whole root).

    Bad paths are InputError (exit 2) before anything is read. Walked files that cannot be
    used are returned as Skipped; a file named explicitly that cannot be used is an error.
    """
    from dify_action.bump.engine import Skipped

    if not root.is_dir():
        raise InputError("gitops-dir", str(root), "must be an existing directory")
    real_root = os.path.realpath(root)
    explicit_files: list[str] = []
    walk_dirs: list[str] = []
    for given in paths or ["."]:
        pure = PurePosixPath(given.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts:
            raise InputError(
                "path", given, "must be relative to the GitOps directory and must not contain '..'"
            )
        real = os.path.realpath(root / pure)
        if not _inside(real, real_root):
            raise InputError("path", given, "resolves outside the GitOps directory (through a symlink)")
        if os.path.isdir(real):
            walk_dirs.append(os.path.join(real_root, str(pure)))
        elif os.path.isfile(real):
            explicit_files.append(str(pure))
        else:
            raise InputError("path", given, "no such file or directory under the GitOps directory")

    skipped: list[Skipped] = []
    chosen: dict[str, bool] = {}
    for rel in explicit_files:
        chosen[os.path.normpath(rel).replace(os.sep, "/")] = True
    for top in walk_dirs:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if _is_candidate(name):
                    rel = os.path.relpath(os.path.join(dirpath, name), real_root).replace(os.sep, "/")
                    chosen.setdefault(rel, False)

    files: list[SourceFile] = []
    for rel in sorted(chosen):
        explicit = chosen[rel]
        path = root / rel
        reason = _refusal(path, real_root)
        if reason is None:
            data = path.read_bytes()
            if b"\0" in data:
                reason = "binary file (contains NUL bytes)"
            else:
                files.append(SourceFile(path, rel, data, explicit))
                continue
        if explicit:
            raise InputError("path", rel, f"cannot be edited: {reason}")
        skipped.append(Skipped(rel, reason))
    return files, skipped


def _refusal(path: Path, real_root: str) -> str | None:
    real = os.path.realpath(path)
    if not _inside(real, real_root):
        return "symlink pointing outside the GitOps directory"
    if not os.path.isfile(real):
        return "not a regular file"
    size = os.path.getsize(real)
    if size > MAX_FILE_BYTES:
        return f"file of {size} bytes is over the {MAX_FILE_BYTES} byte limit"
    return None
