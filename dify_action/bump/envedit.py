"""Compose tag variables met by a bump: refuse them (saying where the value comes from), or set
the ``NAME=value`` literal of ``--env-file`` -- unless another image's tag uses the same variable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dify_action.bump import variables
from dify_action.bump.model import Change, FileEdit, Target
from dify_action.bump.yamlnodes import Hit
from dify_action.errors import EditRefused, InputError


@dataclass(frozen=True)
class EnvUse:
    """A target whose tag, at ``file``, is the compose variable of ``hit``."""

    target: Target
    file: str
    hit: Hit


def check_variable(
    root: Path, rel: str, hit: Hit, target: Target, targets: Sequence[Target],
    uses: list[tuple[str, Hit]],
) -> None:
    assert hit.variable is not None
    name = hit.variable.name
    others = [
        (file, other) for file, other in uses
        if other.variable is not None and other.variable.name == name
        and not any(t.image.same_repository(other.current) and (t.tag, t.digest) == (target.tag, target.digest)
                    for t in targets)
    ]
    if target.env_file is None:
        error = variables.refusal(root, rel, hit.line, target.image.name, hit.variable, target.tag)
        if others:
            file, other = others[0]
            error.message += f" ({name} is also the tag of {other.current.name} at {file}:{other.line})"
        raise error
    if others:
        file, other = others[0]
        raise EditRefused(
            f"{rel}:{hit.line}: the compose variable {name} is the tag of {target.image.name} and also of "
            f"{other.current.name} ({file}:{other.line}); setting it would move {other.current.name} too",
            hint=f"bump {other.current.name} in the same change (--image {other.current.name}:{target.tag}), "
                 "or give each image its own variable",
            file=rel, line=hit.line,
        )



def env_edits(root: Path, uses: list[EnvUse]) -> tuple[list[FileEdit], list[Change]]:
    by_file: dict[str, list[EnvUse]] = {}
    for use in uses:
        assert use.target.env_file is not None
        by_file.setdefault(use.target.env_file, []).append(use)
    edits: list[FileEdit] = []
    changes: list[Change] = []
    for given, items in by_file.items():
        real, rel = variables.env_path(root, given)
        data = real.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("env-file", given, "must be UTF-8 text") from None
        planned: dict[int, tuple[variables.Assignment, str]] = {}
        for use in items:
            assert use.hit.variable is not None
            name, target = use.hit.variable.name, use.target
            found = variables.find_assignment(text, name)
            if found is None:
                raise EditRefused(
                    f"{rel} does not set {name}, the tag of {target.image.name} at {use.file}:{use.hit.line}",
                    hint=f"add {name}={target.tag} to {rel}, or pass the env file that sets it with --env-file",
                    file=rel,
                )
            new = f"{target.tag}@{target.digest}" if target.digest else target.tag
            if found.value == new or (target.digest is None and found.value.startswith(f"{target.tag}@")):
                continue
            if found.start in planned and planned[found.start][1] != new:
                raise EditRefused(f"{rel}:{found.line}: two images set {name} to different tags",
                                  hint="give each image its own variable", file=rel, line=found.line)
            if found.start not in planned:
                planned[found.start] = (found, new)
                changes.append(Change(rel, found.line, found.value, new,
                                      f"{name} (the tag of {use.hit.where}, {use.file}:{use.hit.line})",
                                      target.image.name))
        after = text
        for found, new in sorted(planned.values(), key=lambda item: item[0].start, reverse=True):
            after = after[: found.start] + new + after[found.end :]
        if planned:
            edits.append(FileEdit(root / rel, rel, data, after.encode("utf-8")))
    return edits, changes
