"""BuildKit secrets through DockerEngine.build on the real dockerd: the value reaches
`RUN --mount=type=secret` and nothing else; the legacy builder and bad ids are refused up front."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dify_action.engine.docker import BuildRequest, DockerEngine, Throttle
from dify_action.errors import InputError

pytestmark = pytest.mark.integration

DOCKERFILE = """\
FROM {base}
RUN --mount=type=secret,id=pip_index wc -c < /run/secrets/pip_index > /app/api/secret-length
RUN test ! -e /run/secrets/pip_index
"""


def request(tmp_path: Path, base: str, secrets: dict[str, str], tag: str = "secrets/test:1") -> BuildRequest:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    return BuildRequest(tmp_path / "Dockerfile", tmp_path, (tag,), secrets=secrets)


def test_a_secret_reaches_the_run_step_only(docker_host: str, docker_client: Any, base_image: str,
                                           tmp_path: Path) -> None:
    value = "s3cr3t-index-token-" + "x" * 13
    engine = DockerEngine(docker_host)
    lines: list[str] = []
    try:
        engine.build(request(tmp_path, base_image, {"pip_index": value}), "buildkit", Throttle(lines.append, 0))
    finally:
        engine.close()
    out = docker_client.containers.run("secrets/test:1", ["cat", "/app/api/secret-length"], remove=True,
                                       network_mode="host")
    assert out.decode().strip() == str(len(value))
    history = docker_client.api.history("secrets/test:1")
    assert value not in str(history) and not any(value in line for line in lines)
    assert value not in repr(request(tmp_path, base_image, {"pip_index": value}))


@pytest.mark.parametrize(("builder", "secret_id", "message"), [
    ("legacy", "pip_index", "build secrets (RUN --mount=type=secret) need BuildKit"),
    ("buildkit", "bad id!", "an id of letters, digits"),
])
def test_refused_before_anything_runs(docker_host: str, base_image: str, tmp_path: Path, builder: str,
                                      secret_id: str, message: str) -> None:
    engine = DockerEngine(docker_host)
    try:
        with pytest.raises(InputError, match=re.escape(message)):
            engine.build(request(tmp_path, base_image, {secret_id: "v" * 8}, tag="secrets/refused:1"),
                         builder, Throttle(None))  # type: ignore[arg-type]
        assert not engine.exists("secrets/refused:1")
    finally:
        engine.close()
