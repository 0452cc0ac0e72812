"""The set check on real GitOps layouts: the golden trees (compose, the community charts, Kustomize) and
the real-world cases of ../shared/realworld, read at test time. For every tree that deploys a Dify set,
moving it to a release (--dify-release) plans one change; the set the check predicts is the set read
back from the tree once the planned bytes are written; and the moved set is consistent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dify_action.bump import apply_plan, plan_bump
from dify_action.releaseset import SetPolicy, SetRefused, check_change, enforce, load_table, read_set
from dify_action.releaseset.move import check_release
from dify_action.releaseset.upgrade import migration_mode

TESTS = Path(__file__).resolve().parents[2]
REALWORLD = TESTS.parents[1] / "shared" / "realworld"
TREES = sorted([p / "input" for p in (TESTS / "golden").iterdir() if (p / "input").is_dir()] +
               ([p / "in" for p in REALWORLD.iterdir() if (p / "in").is_dir()] if REALWORLD.is_dir() else []))
DIFY_TREES = [t for t in TREES if read_set(t, ()).members]
RELEASES = ("1.13.3", "1.16.1", "1.18.0")


def test_the_real_layouts_are_read() -> None:
    assert len(DIFY_TREES) >= 20, [t.parent.name for t in DIFY_TREES]
    if os.environ.get("CI") == "true":  # the real-world cases are read at test time: CI must have them
        assert any(REALWORLD in t.parents for t in DIFY_TREES), f"{REALWORLD} is missing (required when CI=true)"


@pytest.mark.parametrize("tree", DIFY_TREES, ids=lambda t: t.parent.name)
@pytest.mark.parametrize("release", RELEASES)
def test_moving_a_real_set_to_a_release_is_one_change_and_the_prediction_holds(tree: Path, release: str,
                                                                               tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(tree, root, symlinks=True)
    check = check_change(root, (), (), SetPolicy(release=release, allow_skew=True))
    official = [m for m in check.report.before.members if m.official]
    if not check.targets:
        assert not official or all(m.role not in ("api", "web") for m in official)
        return
    try:
        plan = plan_bump(root, check.targets)
    except Exception as error:  # a refusal of the bump engine (a shared anchor, a variable): said, nothing moved
        assert getattr(error, "exit_code", 0) == 2, error
        return
    apply_plan(plan)
    read_back = read_set(root, ())
    assert [(m.place, m.role, str(m.ref.with_version(m.ref.tag))) for m in read_back.members] == \
        [(m.place, m.role, str(m.ref.with_version(m.ref.tag))) for m in check.report.after.members]
    moved = {m.version for m in read_back.members if m.official and m.role in ("api", "web") and m.ref.tag}
    assert moved <= {release}
    assert not [f for f in check.report.findings if f.kind in ("unpaired", "downgrade") and f.blocking
                and load_table().lookup(release).pairing is None]


def test_a_half_moved_set_is_refused_naming_each_component(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(TESTS / "golden" / "compose-shared-env" / "input", root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    from dify_action.bump import Target

    check = check_change(root, (), [Target.from_reference("langgenius/dify-api:1.13.2")], SetPolicy())
    with pytest.raises(SetRefused) as refused:
        enforce(check)
    assert "web runs Dify" in refused.value.message and "allow-version-skew" in (refused.value.hint or "")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    allowed = check_change(root, (), [Target.from_reference("langgenius/dify-api:1.13.2")], SetPolicy(allow_skew=True))
    assert any("overridden (allow-version-skew)" in w for w in enforce(allowed))
    assert "Overridden with `allow-version-skew`" in allowed.markdown()


def test_migrations_at_start_with_several_containers_refuse_when_the_environment_says_so(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(TESTS / "fixtures" / "dify-compose" / "1.13.2", root)
    mode = migration_mode(root, ["docker-compose.yaml"], {"langgenius/dify-api"})
    assert (mode.mode, mode.migrators, mode.risky) == ("start", 3, True)  # api, worker, beat share the env
    check = check_change(root, (), (), SetPolicy(release="1.13.3", start_migrations="refuse", allow_skew=False))
    blocking = [f.kind for f in check.report.blocking]
    assert "start-migrations" in blocking and "downgrade" in blocking
    assert "MODE=migration" in check.markdown() and "#### Upgrade" in check.markdown()


def test_a_job_migration_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: dify-migrate}\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: m\n        image: langgenius/dify-api:1.13.3\n"
        "        env:\n        - {name: MODE, value: migration}\n")
    mode = migration_mode(tmp_path, ["job.yaml"], {"langgenius/dify-api"})
    assert (mode.mode, mode.risky) == ("job", False) and "Job/dify-migrate" in mode.places[0]


@pytest.mark.parametrize("bad", ["latest", "1.17", "1.17.1-acme.7", "v1", ""])
def test_a_release_that_is_not_a_dify_version_is_bad_input(bad: str) -> None:
    with pytest.raises(Exception, match="invalid dify-release") as error:
        check_release(bad)
    assert getattr(error.value, "exit_code", 0) == 2


def test_the_set_checks_early_path_and_the_bump_read_each_file_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 class 7: a bump of a Dify image whose tree holds no other member reads every file's
    bytes once (the set check's scan, then the bump's plan from the same bytes), and writes the change."""
    from collections import Counter

    from dify_action.bump import tree
    from dify_action.front.cli import main

    old = "kind: Deployment\nspec:\n  containers:\n    - name: api\n      image: acme/dify-api:1.0\n"
    for i in range(6):
        (tmp_path / f"env{i % 2}").mkdir(exist_ok=True)
        (tmp_path / f"env{i % 2}" / f"app{i}.yaml").write_text(old + ("# langgenius\n" if i else ""))
    reads: Counter[str] = Counter()
    real_read = tree._read

    def counted(path: str, real_root: str, maybe_link: bool) -> tuple[bytes | None, str | None]:
        reads[path] += 1
        return real_read(path, real_root, maybe_link)

    monkeypatch.setattr(tree, "_read", counted)
    assert main(["bump", "--gitops-dir", str(tmp_path), "--image", "acme/dify-api", "--tag", "2.0"]) == 0
    assert len(reads) == 6 and set(reads.values()) == {1}, reads
    assert {p.read_text().split("\n")[4] for p in tmp_path.rglob("*.yaml")} == {"      image: acme/dify-api:2.0"}
