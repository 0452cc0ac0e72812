"""The Alembic guard reads the images that hold an Alembic graph: the api (official or ours) and our own
images, never Dify's official web, sandbox, plugin-daemon or agent images that a rollback of a whole
release set also moves (issue 21): their registry is upstream's, often unreachable from a runner."""

from __future__ import annotations

import pytest

from dify_action import refs
from dify_action.delivery import Destination
from dify_action.errors import RegistryError
from dify_action.rollback.guard import ImageMove
from dify_action.rollback.run import RollbackRequest, check_guard

OFFICIAL = ("web", "sandbox", "plugin-daemon", "agent-backend", "agent-local-sandbox")


def move(current: str, restored: str, line: int) -> ImageMove:
    return ImageMove("prod/values.yaml", line, "image", refs.parse(current), refs.parse(restored))


@pytest.mark.parametrize("mirror", ["", "docker.io/", "mirror.example.com/"])
@pytest.mark.parametrize("api", ["langgenius/dify-api", "registry.example.com/acme/dify-api"])
def test_only_images_with_an_alembic_graph_are_read(mirror: str, api: str) -> None:
    moves = (move(f"{api}:1.13.3", f"{api}:1.13.2", 1),
             *(move(f"{mirror}langgenius/dify-{role}:1.13.3", f"{mirror}langgenius/dify-{role}:1.13.2", 2 + i)
               for i, role in enumerate(OFFICIAL)),
             move("registry.example.com/acme/ingress-sidecar:2", "registry.example.com/acme/ingress-sidecar:1", 9))
    asked: list[str] = []

    class Unreachable:
        def __getattr__(self, name: str) -> object:
            def call(*args: object, **kwargs: object) -> object:
                asked.append(str(args[0]) if args else name)
                raise RegistryError("unreachable")
            return call

    request = RollbackRequest(Destination("file:///g.git"), commit="a" * 40, allow_schema_rollback=True)
    notes: list[str] = []
    checks = check_guard(request, moves, None, lambda host: Unreachable(), notes)  # type: ignore[arg-type,return-value]
    ours = [refs.parse(api).name, "registry.example.com/acme/ingress-sidecar"]
    assert sorted(c.image for c in checks) == sorted(ours)
    assert not any("dify-" + role in " ".join(asked) for role in OFFICIAL), asked
