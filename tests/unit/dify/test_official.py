"""``promote.official``: repositories, or ``dify`` for Dify's own images, normalized as the bump
finds them; anything else names the config key (issue 23)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dify_action.config.load import load
from dify_action.dify.official import DIFY, expand
from dify_action.errors import ConfigError


def test_dify_and_repositories_normalize_once() -> None:
    assert expand(["dify", "langgenius/dify-web", "ghcr.io/acme/x"]) == (*DIFY, "ghcr.io/acme/x")


@pytest.mark.parametrize("bad", ["langgenius/dify-web:1.13.4", "Not A Ref", "x@sha256:" + "a" * 64])
def test_a_tag_or_not_a_repository_is_a_config_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "dify-action.yaml"
    path.write_text(f"version: 1\npromote:\n  official:\n    - dify\n    - '{bad}'\n")
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert "promote.official[1]" in caught.value.message and ":5" in caught.value.message
