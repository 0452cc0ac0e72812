"""The BuildKit DOCKER_CONFIG (issue #9, item 7): config.json is a pipe, never a file."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from dify_action.engine.credentials import DockerConfig, docker_config
from dify_action.registry import Credentials


def test_config_json_is_a_pipe_served_on_every_open_until_closed() -> None:
    creds = {"127.0.0.1:5000": Credentials("ci", "s3cret")}
    with docker_config(creds) as config:
        folder = config.path
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        fifo = folder / "config.json"
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        for _ in range(3):  # the docker CLI 20.10 opens it twice
            served = json.loads(fifo.read_text())
            assert base64.b64decode(served["auths"]["127.0.0.1:5000"]["auth"]) == b"ci:s3cret"
        config.close()
        assert not folder.exists()
    assert not folder.exists()


def test_closed_without_a_reader_and_on_an_exception() -> None:
    with pytest.raises(RuntimeError), docker_config({"r": Credentials("u", "p")}) as config:
        folder = config.path
        raise RuntimeError("interrupted")
    assert not folder.exists()


def test_no_credentials_no_config_file(tmp_path: Path) -> None:
    config = DockerConfig({})
    try:
        assert list(config.path.iterdir()) == []
    finally:
        config.close()
    assert not config.path.exists()
    assert not os.path.exists(config.path / "config.json")
