"""Start and stop the whole test bed under one state dir, and find it again from ``state.json``."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .dockerd import Dockerd, start_dockerd, stop_dockerd
from .images import BASE_IMAGE, build_base_image
from .registry import Registry, start_registry, stop_registry

STATE = "state.json"


@dataclass(frozen=True)
class Testbed:
    root: Path
    dockerd: Dockerd | None
    registry: Registry | None
    token_registry: Registry | None
    base_image: str | None

    def env(self) -> dict[str, str]:
        """Shell variables a demo script can source (passwords included: it is a throwaway bed)."""
        env = {"DA_TESTBED": str(self.root)}
        if self.dockerd:
            env["DOCKER_HOST"] = self.dockerd.host
        if self.base_image:
            env["DA_BASE_IMAGE"] = self.base_image
        for prefix, registry in (("DA_REGISTRY", self.registry), ("DA_TOKEN_REGISTRY", self.token_registry)):
            if registry:
                env[prefix] = registry.host
                env[f"{prefix}_USERNAME"] = registry.username
                env[f"{prefix}_PASSWORD"] = registry.password
        return env


def start_testbed(root: Path | None = None, *, docker: bool = True, registry: bool = True,
                  token_registry: bool = True, base_image: bool = True) -> Testbed:
    """Start the chosen components under ``root`` (default: a new /tmp/da-XXXX); all or nothing."""
    root = root or Path(tempfile.mkdtemp(prefix="da-", dir="/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    bed = Testbed(root, None, None, None, None)
    try:
        if registry:
            bed = _with(bed, registry=start_registry(root / "reg", "basic"))
        if token_registry:
            bed = _with(bed, token_registry=start_registry(root / "treg", "token"))
        if docker:
            bed = _with(bed, dockerd=start_dockerd(root))
            if base_image:
                import docker as sdk

                client = sdk.DockerClient(base_url=bed.dockerd.host if bed.dockerd else "", timeout=300)
                try:
                    bed = _with(bed, base_image=build_base_image(client, BASE_IMAGE))
                finally:
                    client.close()
        _save(bed)
    except BaseException:
        stop_testbed(bed)
        raise
    return bed


def _with(bed: Testbed, **changes: object) -> Testbed:
    from dataclasses import replace

    bed = replace(bed, **changes)  # type: ignore[arg-type]
    _save(bed)  # so `down` can stop what is already running if a later step fails
    return bed


def _save(bed: Testbed) -> None:
    state = {
        "root": str(bed.root),
        "dockerd": {"root": str(bed.dockerd.root), "pid": bed.dockerd.pid} if bed.dockerd else None,
        "registry": bed.registry.as_dict() if bed.registry else None,
        "token_registry": bed.token_registry.as_dict() if bed.token_registry else None,
        "base_image": bed.base_image,
    }
    path = bed.root / STATE
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def load_testbed(root: Path) -> Testbed:
    state = json.loads((root / STATE).read_text())

    def registry(data: dict[str, object] | None) -> Registry | None:
        if not data:
            return None
        data = dict(data)
        data["root"] = Path(str(data["root"]))
        return Registry(**data)  # type: ignore[arg-type]

    dockerd = state["dockerd"]
    return Testbed(
        Path(state["root"]),
        Dockerd(Path(dockerd["root"]), int(dockerd["pid"])) if dockerd else None,
        registry(state["registry"]),
        registry(state["token_registry"]),
        state["base_image"],
    )


def stop_testbed(bed: Testbed, *, remove: bool = True) -> None:
    """Stop every component by pid (dockerd last to first is irrelevant: they are independent)."""
    if bed.dockerd:
        stop_dockerd(bed.dockerd)
    for registry in (bed.registry, bed.token_registry):
        if registry:
            stop_registry(registry)
    if remove:
        with contextlib.suppress(OSError):
            shutil.rmtree(bed.root)
