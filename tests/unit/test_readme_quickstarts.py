"""README's Helm and Kustomize quickstarts are tested snippets (issue 23): for each
``<!-- quickstart:NAME:... -->`` block, the input files are written as shown, the command is run as
shown (the CLI in-process), and the files must then equal the output blocks byte for byte; a
``refused`` block must exit 2 with the lines its comments quote."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from dify_action.front import cli

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- quickstart:(?P<name>[a-z-]+):(?P<kind>input|output|run|refused)(?::(?P<file>[^ ]+))? -->\n"
                   r"```[a-z]*\n(?P<body>.*?)```", re.S)


def quickstarts() -> dict[str, list[re.Match[str]]]:
    found: dict[str, list[re.Match[str]]] = {}
    for match in BLOCK.finditer((ROOT / "README.md").read_text()):
        found.setdefault(match["name"], []).append(match)
    return found


def command(body: str) -> list[str]:
    line = next(line for line in body.splitlines() if line.startswith("dify-action "))
    return shlex.split(line)[1:]


def test_the_readme_has_the_quickstarts() -> None:
    assert set(quickstarts()) >= {"boris", "douban", "kustomize", "switch"}


@pytest.mark.parametrize("name", sorted(quickstarts()))
def test_a_quickstart_does_what_it_shows(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = quickstarts()[name]
    for block in blocks:
        if block["kind"] == "input":
            path = tmp_path / block["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block["body"])
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        if block["kind"] in ("run", "refused"):
            code = cli.main(command(block["body"]))
            err = capsys.readouterr().err
            if block["kind"] == "run":
                assert code == 0, err
                continue
            assert code == 2, err
            for quoted in re.findall(r"^# (?:exit 2: )?(.*)$", block["body"], re.M):
                for piece in quoted.split("(...)")[0].split("..."):
                    assert piece.strip() in err, (piece, err)
    for block in blocks:
        if block["kind"] == "output":
            assert (tmp_path / block["file"]).read_text() == block["body"], block["file"]
    assert os.getcwd() == str(tmp_path)
