"""``dify-action apps check`` through the CLI: exit codes, JSON, the summary file, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dify_action.front.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dsl"


def repo(tmp_path: Path, *names: str) -> Path:
    (tmp_path / "apps").mkdir()
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / "apps" / name)
    (tmp_path / "dify-action.yaml").write_text("version: 1\napps:\n  - apps/*.yml\n")
    return tmp_path


def test_warnings_pass_and_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path, "workflow-completed.yml", "chat-warnings.yml")
    summary = tmp_path / "summary.md"
    code = main(["apps", "check", "--config", str(root / "dify-action.yaml"), "--root", str(root),
                 "--dsl-version", "0.6.0", "--summary", str(summary), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert [a["verdict"] for a in data["apps"]] == ["completed-with-warnings", "completed"]
    assert "warning: apps/chat-warnings.yml:" in err
    assert "Dify app DSL" in summary.read_text()


def test_pending_stops_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path, "advanced-chat-pending-newer.yml")
    code = main(["apps", "check", str(root / "apps" / "advanced-chat-pending-newer.yml"), "--root", str(root),
                 "--dsl-version", "0.6.0"])
    out, err = capsys.readouterr()
    assert code == 1 and "pending" in out and "app DSL check failed" in err


@pytest.mark.parametrize(("argv", "name"), [
    (["apps", "check", "--dsl-version", "0.6.0"], "files"),
    (["apps", "check", "nowhere.yml", "--dsl-version", "0.6.0"], "file"),
    (["apps", "check", "x.yml", "--root", "/nonexistent-root"], "--root"),
])
def test_bad_input_exit_2(argv: list[str], name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert f"invalid {name}" in capsys.readouterr().err


def test_no_version_source_and_an_empty_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path, "workflow-completed.yml")
    assert main(["apps", "check", "--config", str(root / "dify-action.yaml"), "--root", str(root)]) == 2
    assert "invalid --dsl-version" in capsys.readouterr().err
    (root / "dify-action.yaml").write_text("version: 1\napps:\n  - apps/*.yml\n  - other/*.yaml\n")
    assert main(["apps", "check", "--config", str(root / "dify-action.yaml"), "--root", str(root),
                 "--dsl-version", "0.6.0"]) == 2
    assert "invalid apps[1]" in capsys.readouterr().err
