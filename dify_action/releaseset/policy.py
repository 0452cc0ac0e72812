"""How a run checks and moves the Dify release set (issue 21): a plain value the resolver builds
once (resolve/releaseset.py), kept apart from the checks so that resolving a run loads none of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SetPolicy:
    """How the set is checked. ``customized``: repository -> role of the config's components;
    ``start_migrations``: refuse makes migrations at api start with several replicas a refusal."""

    allow_skew: bool = False
    release: str | None = None
    start_migrations: str = "warn"
    customized: Mapping[str, str] = field(default_factory=dict)
    follow_api: bool = False  # the pipeline: a built api at another Dify version moves the set to it
    known: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # view.version_key_for -> (version, source)
