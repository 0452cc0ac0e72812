"""A ``v`` appearing on a tag that never had one is warned about (issue 23), in bare tags and in
references, once per image; a tag that had it, or never gets it, is quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.bump.model import Change
from dify_action.bump.vprefix import tag_of, v_prefix_warnings
from dify_action.front import cli

versions = st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)


@given(old=versions, new=versions, old_v=st.booleans(), new_v=st.booleans(), bare=st.booleans(),
       registry=st.sampled_from(["", "127.0.0.1:5000/", "ghcr.io/acme/"]))
def test_warned_exactly_when_the_v_is_new(old: str, new: str, old_v: bool, new_v: bool, bare: bool,
                                          registry: str) -> None:
    o, n = ("v" if old_v else "") + old, ("v" if new_v else "") + new
    image = f"{registry}dify-api"
    values = (o, n) if bare else (f"{image}:{o}", f"{image}:{n}@sha256:{'a' * 64}")
    assert tag_of(values[1]) == n
    warnings = v_prefix_warnings([Change("a.yaml", 3, *values, "x", image)] * 2)
    assert len(warnings) == (1 if new_v and not old_v else 0)


def test_the_cli_bump_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "values.yaml").write_text("image:\n  api:\n    repository: ghcr.io/acme/dify-api\n    tag: 1.13.3\n")
    assert cli.main(["bump", "--gitops-dir", str(tmp_path), "--image", "ghcr.io/acme/dify-api:v1.14.0"]) == 0
    err = capsys.readouterr().err
    assert "warning: ghcr.io/acme/dify-api: the new tag 'v1.14.0' starts with 'v' but the deployed tag '1.13.3'" in err


def test_the_action_bump_warns_as_an_annotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dify_action.front import action

    (tmp_path / "values.yaml").write_text("image:\n  api:\n    repository: ghcr.io/acme/dify-api\n    tag: 1.13.3\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_WORKSPACE": str(tmp_path),
           "INPUT_COMMAND": "bump", "INPUT_GITOPS-DIR": str(tmp_path), "INPUT_IMAGE": "ghcr.io/acme/dify-api:v1.14.0"}
    assert action.main(env) == 0
    out = capsys.readouterr().out
    assert "::warning" in out and "the new tag 'v1.14.0' starts with 'v' but the deployed tag '1.13.3'" in out
