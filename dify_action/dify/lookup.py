"""The facts of an image in a registry, best source first: the record, the layers, the label."""

from __future__ import annotations

import tarfile
import zlib

from dify_action import refs
from dify_action.dify.facts import ImageFacts, label_facts, with_note
from dify_action.dify.layers import DEFAULT_BUDGET, read_layers
from dify_action.errors import DifyActionError, RegistryError
from dify_action.registry import RegistryClient


def image_facts(client: RegistryClient, ref: refs.ImageRef, *, budget: int = DEFAULT_BUDGET) -> ImageFacts:
    """What ``ref`` holds: the facts recorded at build (gate record), else read from the layers
    that hold /app/api, else the ``io.dify.base-version`` label (``source == "label"``, noted).

    RegistryError when the image itself is not in the registry.
    """
    from dify_action.gates import base_version, read_facts  # gates imports facts: keep this lazy

    digest = ref.digest or client.resolve_digest(ref)
    pinned = ref.with_version(None, digest)
    why: list[str] = []
    try:
        recorded = read_facts(client, ref.remote_path, digest)
        if recorded is not None:
            return recorded
    except DifyActionError as error:
        why.append(f"recorded facts unreadable: {error.message}")
    try:
        facts = read_layers(client, pinned, budget=budget)
        return with_note(facts, "; ".join(why)) if why else facts
    except (DifyActionError, tarfile.TarError, OSError, EOFError, zlib.error, ValueError, KeyError) as error:
        why.append(error.message if isinstance(error, DifyActionError) else f"{type(error).__name__}: {error}")
    try:
        label = base_version(client, pinned)
    except RegistryError as error:
        why.append(error.message)
        label = None
    return label_facts(label, f"{ref.name}: its migrations could not be read ({'; '.join(why)})")
