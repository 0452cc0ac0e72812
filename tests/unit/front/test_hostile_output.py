"""A GitOps tree whose file names and values carry workflow commands, run through the real CLI and
the real action front end (which run under ``text.protected_stdio``): no printed
line is a workflow command we did not write, none holds a raw control character, and the outputs
are ours (issue #9 item 2)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from testbed.outputs import parse_output_file

from dify_action.front import action as entrypoint
from dify_action.front import cli
from dify_action.text import safe_text

IMAGE = "127.0.0.1:5000/acme/dify-api"
HOSTILE_NAMES = ["x\n::set-output name=commit::PWNED.yaml", "y\r\n::add-mask::1.0.yaml",
                 "z \x1b[2J##[set-output name=commit;]PWNED.yaml", "w\u2028::warning::fake.yaml"]


def tree(root: Path) -> Path:
    staging = root / "envs" / "staging"
    staging.mkdir(parents=True)
    (staging / "ok.yaml").write_text(f'image: "{IMAGE}:1.0"\n')
    for name in HOSTILE_NAMES:
        (staging / name).write_text(f"image: {IMAGE}:1.0\n")
    (staging / "broken\n::error::x.yaml").write_text(f"image: {IMAGE}:1.0\na: [\n")  # skipped: not YAML
    return root


def acts(line: str) -> bool:
    return line.lstrip().startswith("::") or "##[" in line


def raw_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\n" for c in text)


@pytest.mark.parametrize("extra", [["--dry-run"], [], ["--json"]])
def test_cli_bump_prints_hostile_names_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              extra: list[str]) -> None:
    root = tree(tmp_path / "gitops")
    code = cli.main(["bump", "--gitops-dir", str(root), "--path", "envs/staging", "--image", IMAGE,
                     "--tag", "2.0", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert not [line for line in (out + err).split("\n") if acts(line)]
    assert not raw_control(out + err)
    if "--json" in extra:
        files = {c["file"] for c in json.loads(out)["bump"]["changes"]}  # JSON still parses to the real names
        assert {f"envs/staging/{name}" for name in HOSTILE_NAMES} <= files
    else:
        assert "\\::set-output name=commit::PWNED.yaml" in out


def test_action_bump_writes_only_its_own_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tree(tmp_path / "gitops")
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
           "INPUT_COMMAND": "bump", "INPUT_GITOPS-DIR": str(root), "INPUT_PATHS": "envs/staging",
           "INPUT_IMAGE": IMAGE, "INPUT_TAG": "2.0", "INPUT_TOKEN": "tok-secret-1"}
    code = entrypoint.main(env)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    commands = [line.split("::")[1].split(" ")[0] for line in (out + err).split("\n") if acts(line)]
    assert set(commands) <= {"add-mask", "group", "endgroup", "warning", "notice"}, out + err
    assert not raw_control(out + err)
    outputs = parse_output_file(output.read_text())
    assert "PWNED" not in outputs.get("commit", "")
    assert (root / "envs/staging" / HOSTILE_NAMES[0]).read_text() == f"image: {IMAGE}:2.0\n"
    # the skip warning: an annotation on the file, whose hostile name is an escaped property
    assert "::warning file=envs/staging/broken\\n%3A%3Aerror%3A%3Ax.yaml::skipped: not valid YAML" in out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.sampled_from(list("#[]:\\\"\n\x7f\x85\u2028 a")) |
                                                       st.characters()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@given(json_values)
def test_json_output_still_parses_after_neutralising(data: object) -> None:
    for indent in (None, 2):
        text = safe_text(json.dumps(data, indent=indent))
        assert json.loads(text) == data
        assert not [line for line in text.split("\n") if acts(line)]
