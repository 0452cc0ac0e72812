"""Which files of a GitOps tree a bump may read (``SourceFile``): inside the root, YAML, text, not
too large. A leaf of the bump engine: it imports only ``model``."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dify_action.bump.model import Skipped
from dify_action.errors import InputError

MAX_FILE_BYTES = 2 * 1024 * 1024
# Argo CD Image Updater's git write-back file, one per Application, beside its sources:
# https://argocd-image-updater.readthedocs.io/en/stable/basics/update-methods/#git-write-back
WRITEBACK = re.compile(r"\.argocd-source(?:-[^/]+)?\.ya?ml")
# CI pipeline definitions name images for jobs, not deployments: never rewritten, skipped with a
# note (named with --path: refused). Their usual folders (.github/workflows, .gitea/workflows,
# .circleci, .buildkite, .woodpecker, .tekton) are hidden and never walked, as every hidden folder.
CI_FILES = {
    ".gitlab-ci.yml": "GitLab CI", ".gitlab-ci.yaml": "GitLab CI", "bitbucket-pipelines.yml": "Bitbucket Pipelines",
    "azure-pipelines.yml": "Azure Pipelines", "azure-pipelines.yaml": "Azure Pipelines", ".travis.yml": "Travis CI",
    ".drone.yml": "Drone", ".drone.yaml": "Drone", ".woodpecker.yml": "Woodpecker", ".woodpecker.yaml": "Woodpecker",
    "cloudbuild.yaml": "Cloud Build", "cloudbuild.yml": "Cloud Build", "codefresh.yml": "Codefresh",
    "appveyor.yml": "AppVeyor", ".cirrus.yml": "Cirrus CI", "buildspec.yml": "AWS CodeBuild",
    "buildspec.yaml": "AWS CodeBuild", ".gitlab-ci-local.yml": "GitLab CI",
}
CI_FOLDERS = {".github": "GitHub Actions", ".gitea": "Gitea Actions", ".forgejo": "Forgejo Actions",
              ".circleci": "CircleCI", ".buildkite": "Buildkite", ".woodpecker": "Woodpecker", ".tekton": "Tekton",
              ".gitlab": "GitLab CI", ".azure-pipelines": "Azure Pipelines"}

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class SourceFile:
    root: Path
    relpath: str
    data: bytes
    explicit: bool

    @property
    def path(self) -> Path:
        return self.root / self.relpath


def is_candidate(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES) or name in KUSTOMIZATION_NAMES


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


def collect(root: Path, paths: Sequence[str]) -> tuple[list[SourceFile], list[Skipped]]:
    """Read the candidate files under ``paths`` (relative to ``root``; default the whole root).

    Bad paths are InputError (exit 2) before anything is read. Walked files that cannot be
    used are returned as Skipped; a file named explicitly that cannot be used is an error.
    """
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
            walk_dirs.append(os.path.normpath(os.path.join(real_root, str(pure))))
        elif os.path.isfile(real):
            explicit_files.append(str(pure))
        else:
            raise InputError("path", given, "no such file or directory under the GitOps directory")

    skipped: list[Skipped] = []
    chosen: dict[str, tuple[bool, bool]] = {}  # relpath -> (named explicitly, may be a symlink)
    for rel in explicit_files:
        normal = os.path.normpath(rel).replace(os.sep, "/")
        system = ci_system(normal)
        if system is not None:
            raise InputError("path", rel, f"is a CI pipeline definition ({system}), not a deployment file; "
                                          "bump never rewrites CI files")
        chosen[normal] = (True, True)
    prefix_len = len(real_root) + 1
    for top in walk_dirs:
        for entry in _walk(top):
            chosen.setdefault(entry.path[prefix_len:].replace(os.sep, "/"), (False, entry.is_symlink()))

    files: list[SourceFile] = []
    # a symlink stays a symlink: the file it points at is read (and written) once, under one name
    real_of = {rel: _real_rel(real_root, rel) if maybe_link else rel for rel, (_, maybe_link) in chosen.items()}
    edited_as = {rel: rel for rel, real in real_of.items() if real == rel}
    for rel in sorted(chosen):
        explicit, maybe_link = chosen[rel]
        system = None if explicit else ci_system(rel)
        if system is not None:
            skipped.append(Skipped(rel, f"a CI pipeline definition ({system}): not a deployment, never rewritten"))
            continue
        other = edited_as.setdefault(real_of[rel], rel)
        if other != rel:
            skipped.append(Skipped(rel, f"symlink to {real_of[rel]}, edited once as {other}"))
            continue
        data, reason = _read(os.path.join(real_root, rel), real_root, maybe_link)
        if data is not None and real_of[rel] != rel and not editable(real_of[rel]):
            data, reason = None, f"symlink to {real_of[rel]}, which is not a YAML file a bump edits"
        elif data is not None and b"\0" in data:
            reason = "binary file (contains NUL bytes)"
        elif data is not None:
            files.append(SourceFile(root, rel, data, explicit))
            continue
        if explicit:
            raise InputError("path", rel, f"cannot be edited: {reason}")
        skipped.append(Skipped(rel, reason or "unreadable"))
    return files, skipped


_ENV_FILE = re.compile(r"(?:[\w.-]+\.)?env|\.env(?:\.[\w-]+)*")  # .env, .env.production, prod.env


def editable(rel: str) -> bool:
    """A path a bump may write: a YAML name, or a compose env file (``--env-file``: ``.env``,
    ``.env.production``, ``prod.env``), with no hidden directory (.git) and no ``..`` on the way."""
    parts = PurePosixPath(rel).parts
    if not parts or any(part.startswith(".") for part in parts[:-1]) or ".." in parts:
        return False
    name = parts[-1]
    if ci_system(rel) is not None:
        return False
    return (is_candidate(name) and (not name.startswith(".") or WRITEBACK.fullmatch(name) is not None)) \
        or _ENV_FILE.fullmatch(name) is not None


def ci_system(rel: str) -> str | None:
    """The CI system whose pipeline definition ``rel`` is, or None (a deployment file)."""
    parts = [part for part in rel.split("/") if part not in ("", ".")]  # PurePosixPath's parts, for CI names
    if not parts:
        return None
    return CI_FILES.get(parts[-1]) or next((CI_FOLDERS[part] for part in parts[:-1] if part in CI_FOLDERS), None)


def is_writeback(rel: str) -> bool:
    """Argo CD Image Updater's write-back file (``.argocd-source-<app>.yaml``)."""
    return WRITEBACK.fullmatch(PurePosixPath(rel).name) is not None


def _real_rel(real_root: str, rel: str) -> str:
    return os.path.relpath(os.path.realpath(os.path.join(real_root, rel)), real_root).replace(os.sep, "/")


def _walk(top: str) -> Iterator[os.DirEntry[str]]:
    """Candidate files under ``top``; hidden directories (.git) skipped, directory symlinks not followed."""
    with os.scandir(top) as entries:
        ordered = sorted(entries, key=lambda entry: entry.name)
    for entry in ordered:
        if entry.is_dir(follow_symlinks=False):
            if not entry.name.startswith("."):
                yield from _walk(entry.path)
        elif is_candidate(entry.name):
            yield entry


def _read(path: str, real_root: str, maybe_link: bool) -> tuple[bytes | None, str | None]:
    """The file's bytes, or the reason it is refused. Only symlinks need the costly realpath
    (the walk never follows directory symlinks)."""
    if maybe_link:
        real = os.path.realpath(path)
        if not _inside(real, real_root):
            return None, "symlink pointing outside the GitOps directory"
    # os.open/os.read: about twice as fast as buffered open() for many small files
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang the bump
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None, "not a regular file"
            if info.st_size > MAX_FILE_BYTES:
                return None, f"file of {info.st_size} bytes is over the {MAX_FILE_BYTES} byte limit"
            data = os.read(fd, info.st_size + 1)
            if len(data) != info.st_size:  # it grew or shrank since fstat: read to its end, up to the limit
                chunks = [data]
                while chunks[-1] and sum(map(len, chunks)) <= MAX_FILE_BYTES:
                    chunks.append(os.read(fd, 65536))
                data = b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as error:
        return None, f"cannot be read: {error.strerror}"
    if len(data) > MAX_FILE_BYTES:
        return None, f"file is over the {MAX_FILE_BYTES} byte limit"
    return data, None
