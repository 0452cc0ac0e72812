"""Shared helpers of the delivery tests (requests against the emulator, reading the bare repo)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from requestkit import delivery_request

from dify_action.bump import Target
from dify_action.delivery import DeliveryRequest

from .server import GitHubEmulator

API_IMAGE = "127.0.0.1:5000/acme/dify-api"
STAGING = "environments/staging"


class Sleeps:
    """Injected sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def request(
    em: GitHubEmulator,
    workdir: Path,
    *,
    image: str = API_IMAGE,
    tag: str = "1.13.3-acme.42",
    provider: str = "github",
    sleep: Callable[[float], None] | None = None,
    **extra: Any,
) -> DeliveryRequest:
    fields: dict[str, Any] = {
        "repo_url": em.clone_url,
        "environment": "staging",
        "targets": (Target.from_inputs(image, tag),),
        "paths": (STAGING,),
        "provider": provider,
        "token": em.token,
        "github_api_url": em.api_url,
        "workdir": workdir,
        "sleep": sleep or Sleeps(),
    }
    fields.update(extra)
    return delivery_request(**fields)


def again(req: DeliveryRequest, workdir: Path, **changes: Any) -> DeliveryRequest:
    return dataclasses.replace(req, workdir=workdir, **changes)


def api_file(em: GitHubEmulator, branch: str, path: str = f"{STAGING}/dify-api.yaml") -> str:
    data = em.repo.read(branch, path)
    assert data is not None, f"{path} missing on {branch}"
    return data.decode()
