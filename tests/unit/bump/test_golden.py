"""Golden tests: run the real CLI on each case's input tree and compare whole files byte for byte.

case.json: ``image``/``tag``/``digest``/``paths``/``helm_paths``/``env_file``/``allow_version_skew``, or ``args`` (the
arguments after ``--gitops-dir``); ``expect``: ``ok`` (default: the tree becomes expected/) or
``refuse`` (exit 2, nothing changed, stderr contains every ``mentions`` and no ``not_mentions``); an
``ok`` case's ``mentions`` are notes its output must show.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dify_action.front.cli import main

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
ALL = sorted(path.name for path in GOLDEN.iterdir() if (path / "case.json").is_file())
CASES = [name for name in ALL if json.loads((GOLDEN / name / "case.json").read_text()).get("expect", "ok") == "ok"]
REFUSALS = [name for name in ALL if name not in CASES]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _argv(case: dict[str, object], tree: Path) -> list[str]:
    if "args" in case:
        return ["bump", "--gitops-dir", str(tree), *case["args"]]  # type: ignore[misc]
    argv = ["bump", "--gitops-dir", str(tree), "--image", str(case["image"]), "--tag", str(case["tag"])]
    if case.get("env_file"):
        argv += ["--env-file", str(case["env_file"])]
    if case.get("digest"):
        argv += ["--digest", str(case["digest"])]
    for path in case.get("paths", []):  # type: ignore[attr-defined]
        argv += ["--path", path]
    for key in case.get("helm_paths", []):  # type: ignore[attr-defined]
        argv += ["--helm-path", key]
    if case.get("allow_version_skew"):  # a case about the bytes of half a Dify set (releaseset refuses it)
        argv += ["--allow-version-skew"]
    return argv


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    tree = tmp_path / "tree"
    shutil.copytree(GOLDEN / name / "input", tree)
    assert main(_argv(case, tree)) == 0
    assert _files(tree) == _files(GOLDEN / name / "expected")
    expected_changed = _files(GOLDEN / name / "expected") != _files(GOLDEN / name / "input")
    shown = capsys.readouterr()
    assert ("nothing to do" in shown.out) is not expected_changed
    for text in case.get("mentions", []):  # notes of a successful bump (files skipped and why)
        assert text in shown.out + shown.err


@pytest.mark.parametrize("name", CASES)
def test_golden_rerun_is_nothing_to_do(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    tree = tmp_path / "tree"
    shutil.copytree(GOLDEN / name / "expected", tree)
    before = _files(tree)
    assert main([*_argv(case, tree), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["bump"]
    assert result["changes"] == []
    assert result["nothing_to_do"] is True
    assert _files(tree) == before


@pytest.mark.parametrize("name", CASES)
def test_golden_dry_run_writes_nothing_and_prints_the_diff(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    tree = tmp_path / "tree"
    shutil.copytree(GOLDEN / name / "input", tree)
    before = _files(tree)
    assert main([*_argv(case, tree), "--dry-run"]) == 0
    diff = capsys.readouterr().out
    assert _files(tree) == before
    changed = [rel for rel, data in _files(GOLDEN / name / "expected").items() if before[rel] != data]
    for rel in changed:
        assert f"+++ b/{rel}" in diff
    assert bool(diff) is bool(changed)


@pytest.mark.parametrize("name", REFUSALS)
def test_golden_refusal_exits_2_says_why_and_changes_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    tree = tmp_path / "tree"
    shutil.copytree(GOLDEN / name / "input", tree)
    assert _files(GOLDEN / name / "expected") == _files(GOLDEN / name / "input"), "a refusal changes nothing"
    assert main(_argv(case, tree)) == 2
    err = capsys.readouterr().err
    for word in case["mentions"]:
        assert word in err
    for word in case.get("not_mentions", []):
        assert word not in err
    assert _files(tree) == _files(GOLDEN / name / "input")
