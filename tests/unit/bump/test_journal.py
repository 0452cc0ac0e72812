"""The bump's crash-consistent write (issue #9, item 7): the journal states a kill can leave are
recovered to all old or all new before anything reads the tree; hostile journals move nothing;
symlinks inside the tree stay symlinks."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, apply_plan, journal, plan_bump
from dify_action.errors import TreeWriteError
from dify_action.front.cli import main

OLD = "kind: Deployment\nspec:\n  containers:\n    - name: api\n      image: acme/dify-api:1.0\n"
NEW = OLD.replace(":1.0", ":2.0")
NAMES = [f"env{i % 2}/app{i}.yaml" for i in range(12)]


@pytest.fixture(autouse=True)
def _records_under_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Outside a git checkout a journal's nonce is recorded in the system temp directory; the journals
    these tests leave refused would leave their records there, run after run: keep them in pytest's."""
    folder = str(tmp_path_factory.mktemp("records"))
    monkeypatch.setattr(journal.tempfile, "gettempdir", lambda: folder)


def _tree(root: Path) -> Path:
    for name in NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(OLD)
    return root


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _state(root: Path) -> set[str]:
    return {(root / name).read_text() for name in NAMES}


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.startswith("."))


def _killed_at(root: Path, staged: int, committed: bool, moved: int) -> None:
    """The journal exactly as a kill leaves it: ``staged`` files written, maybe the manifest
    renamed into place, then ``moved`` of them renamed over their targets."""
    folder = root / journal.JOURNAL
    folder.mkdir(mode=0o700)
    nonce = journal.claim(Path(os.path.realpath(root)), folder)  # what the killed bump had recorded
    entries = []
    for index, name in enumerate(sorted(NAMES)[:staged]):
        (folder / str(index)).write_text(NEW)
        entries.append({"temp": str(index), "path": name, "before": _sha(OLD), "after": _sha(NEW)})
    manifest = json.dumps({"version": 1, "files": entries})
    if not committed:
        if staged == len(NAMES):
            (folder / "manifest.pending").write_text(manifest)
        else:  # killed while a process wrote its next file in the root, before moving it into the journal
            for stray in range(staged, min(staged + 2, len(NAMES))):
                (root / f"{journal.JOURNAL}-{nonce}-{stray}").write_text(NEW[: stray * 3])
        return
    (folder / journal.MANIFEST).write_text(manifest)
    for index, name in enumerate(sorted(NAMES)[:moved]):
        os.replace(folder / str(index), root / name)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_state_a_kill_leaves_recovers_to_all_old_or_all_new(tmp_path_factory: pytest.TempPathFactory,
                                                                  data: st.DataObject) -> None:
    root = _tree(tmp_path_factory.mktemp("t"))
    committed = data.draw(st.booleans())
    staged = len(NAMES) if committed else data.draw(st.integers(0, len(NAMES)))
    moved = data.draw(st.integers(0, len(NAMES))) if committed else 0
    _killed_at(root, staged, committed, moved)
    recovery = journal.recover(root)
    assert recovery is not None
    assert _state(root) == ({NEW} if committed else {OLD})
    assert recovery.action == ("rolled forward" if committed else "discarded")
    assert _leftovers(root) == []


def test_the_next_bump_recovers_first_and_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    _killed_at(root, len(NAMES), True, 3)
    assert main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "2.0", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "interrupted bump was found after its commit point: finished (9 file(s)" in err
    assert "nothing to do" in err
    assert _state(root) == {NEW} and _leftovers(root) == []


@pytest.mark.parametrize(
    ("path", "why"),
    [
        (".git/hooks/pre-commit", "not a plain YAML file"),
        ("../outside.yaml", "not a plain YAML file"),
        ("/etc/x.yaml", "not a plain YAML file"),
        ("env0/app0.yaml", "changed since"),
    ],
)
def test_a_hostile_or_stale_journal_moves_nothing(tmp_path: Path, path: str, why: str) -> None:
    root = _tree(tmp_path / "repo")
    folder = root / journal.JOURNAL
    folder.mkdir(mode=0o700)
    journal.claim(Path(os.path.realpath(root)), folder)  # even with this host's nonce, nothing moves
    (folder / "0").write_text("#!/bin/sh\nevil\n")
    (folder / "1").write_text(NEW)
    entries = [{"temp": "1", "path": "env1/app1.yaml", "before": _sha(OLD), "after": _sha(NEW)},
               {"temp": "0", "path": path, "before": _sha(OLD), "after": _sha("#!/bin/sh\nevil\n")}]
    if why == "changed since":
        entries[1]["after"] = _sha("something else")
    (folder / journal.MANIFEST).write_text(json.dumps({"version": 1, "files": entries}))
    with pytest.raises(TreeWriteError, match=why):
        journal.recover(root)
    assert _state(root) == {OLD}
    assert main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "2.0"]) == 1
    assert _state(root) == {OLD}


def test_a_symlink_inside_the_tree_stays_a_symlink_and_its_target_is_edited_once(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    os.symlink("app0.yaml", root / "env0" / "link.yaml")  # target walked too
    (root / "shared").mkdir()
    (root / "shared" / "values.yaml").write_text(OLD)
    os.symlink("../shared/values.yaml", root / "env1" / "values.yaml")  # target outside --path
    plan = plan_bump(root, [Target.from_inputs("acme/dify-api", "2.0")], ["env0", "env1"])
    assert [s.file for s in plan.skipped] == ["env0/link.yaml"]
    assert "edited once as env0/app0.yaml" in plan.skipped[0].reason
    assert len([c for c in plan.changes if c.file in {"env0/app0.yaml", "env0/link.yaml"}]) == 1
    apply_plan(plan)
    assert os.readlink(root / "env0" / "link.yaml") == "app0.yaml"
    assert os.readlink(root / "env1" / "values.yaml") == "../shared/values.yaml"
    assert (root / "shared" / "values.yaml").read_text() == NEW
    assert _state(root) == {NEW} and _leftovers(root) == []


def test_modes_are_kept(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    os.chmod(root / NAMES[0], 0o640)
    apply_plan(plan_bump(root, [Target.from_inputs("acme/dify-api", "2.0")]))
    assert (root / NAMES[0]).stat().st_mode & 0o777 == 0o640


def test_a_locked_journal_is_another_bump_at_work(tmp_path: Path) -> None:
    import fcntl

    root = _tree(tmp_path)
    (root / journal.JOURNAL).mkdir(mode=0o700)
    fd = os.open(root / journal.JOURNAL, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(TreeWriteError, match="another dify-action bump is writing"):
            journal.recover(root)
    finally:
        os.close(fd)
    assert (root / journal.JOURNAL).is_dir()


def test_a_journal_committed_into_a_repository_is_refused(tmp_path: Path) -> None:
    """A checkout makes directories 0755: such a journal was not written by dify-action."""
    root = _tree(tmp_path)
    _killed_at(root, len(NAMES), True, 0)
    os.chmod(root / journal.JOURNAL, 0o755)
    with pytest.raises(TreeWriteError, match="not a journal this dify-action wrote"):
        journal.recover(root)
    assert _state(root) == {OLD}


@pytest.mark.parametrize("target", [".hidden/values.yaml", "values.txt"])
def test_a_symlink_to_a_file_the_walk_would_not_edit_is_skipped(tmp_path: Path, target: str) -> None:
    root = _tree(tmp_path)
    (root / target).parent.mkdir(exist_ok=True)
    (root / target).write_text(OLD)
    os.symlink(os.path.relpath(root / target, root / "env0"), root / "env0" / "link.yaml")
    plan = plan_bump(root, [Target.from_inputs("acme/dify-api", "2.0")])
    assert [(s.file, "not a YAML file a bump edits" in s.reason) for s in plan.skipped] == [("env0/link.yaml", True)]
    apply_plan(plan)
    assert (root / target).read_text() == OLD and (root / "env0" / "link.yaml").is_symlink()


@settings(max_examples=20, deadline=None)
@given(nonce=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)),
       copied_record=st.booleans())
def test_a_tracked_journal_is_refused_named_whatever_its_mode_or_nonce(
        tmp_path_factory: pytest.TempPathFactory, nonce: str | None, copied_record: bool) -> None:
    """Issue 22: under umask 077 a committed ``.dify-action-journal`` checks out as a 0700 directory
    of this user; only a nonce recorded outside the work tree makes a journal ours."""
    import subprocess

    root = _tree(tmp_path_factory.mktemp("repo"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    folder = root / journal.JOURNAL
    folder.mkdir(mode=0o700)
    sidecar = "kind: Deployment\nspec:\n  containers:\n    - name: evil\n      image: evil/sidecar:1\n"
    (folder / "0").write_text(sidecar)
    entries = [{"temp": "0", "path": NAMES[0], "before": _sha(OLD), "after": _sha(sidecar)}]
    (folder / journal.MANIFEST).write_text(json.dumps({"version": 1, "files": entries}))
    if nonce is not None:
        (folder / journal.NONCE).write_text(nonce)
    if copied_record:  # a record for another checkout (or forged) does not match this root's key
        record = journal.record_path(Path(os.path.realpath(root)))
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"root": "/elsewhere", "nonce": nonce or "x"}))
    with pytest.raises(TreeWriteError, match=r"\.dify-action-journal is not a journal this dify-action wrote"):
        journal.recover(root)
    assert _state(root) == {OLD}
    assert main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "2.0"]) == 1
    assert _state(root) == {OLD}


def test_the_nonce_record_lives_outside_the_tree_and_is_gone_after_a_bump(tmp_path: Path) -> None:
    import subprocess

    root = _tree(tmp_path / "repo")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    record = journal.record_path(Path(os.path.realpath(root)))
    assert root / ".git" in record.parents
    assert main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "2.0"]) == 0
    assert _state(root) == {NEW} and not record.exists() and _leftovers(root) == [".git"]


@pytest.mark.parametrize("count", [1, 12])
def test_syncs_are_batched_and_every_staged_byte_precedes_the_commit_point(tmp_path: Path, count: int,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Two filesystem syncs per write whatever the number of files (one fsync per file cost seconds on
    3,000 files): every staged file is written before the first, the manifest's rename (the commit
    point) comes after it, and the files move into place before the second."""
    root = _tree(tmp_path)
    events: list[str] = []
    real_stage, real_sync, real_replace = journal._stage, journal._sync_filesystem, os.replace

    def stage(folder: Path, real_root: Path, nonce: str, index: int, target: Path,
              entry: journal.Write) -> dict[str, object]:
        events.append("stage")
        return real_stage(folder, real_root, nonce, index, target, entry)

    def sync(path: Path) -> None:
        events.append("sync")
        real_sync(path)

    def replace(src: object, dst: object) -> None:
        name = Path(str(dst)).name
        events.append("record" if name.startswith("journal-") else "commit" if name == journal.MANIFEST
                      else "staged" if Path(str(dst)).parent.name == journal.JOURNAL else "move")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(journal, "_stage", stage)
    monkeypatch.setattr(journal, "_sync_filesystem", sync)
    monkeypatch.setattr(journal.os, "replace", replace)
    writes = [journal.Write(name, OLD.encode(), NEW.encode()) for name in sorted(NAMES)[:count]]
    journal.commit(root, writes)
    monkeypatch.undo()
    assert events == ["record"] + ["stage", "staged"] * count + ["sync", "commit"] + ["move"] * count + ["sync"]
    assert {(root / w.relpath).read_text() for w in writes} == {NEW} and _leftovers(root) == []


def test_a_file_named_like_a_staged_one_with_another_nonce_is_left_alone(tmp_path: Path) -> None:
    """Recovery removes the root files of its own journal's nonce only: a repository may hold any
    other name, and a hostile one cannot guess the nonce (it is recorded outside the tree)."""
    root = _tree(tmp_path)
    foreign = root / f"{journal.JOURNAL}-{'0' * 32}-0"
    foreign.write_text("tracked: yes\n")
    _killed_at(root, 3, False, 0)
    assert journal.recover(root) is not None
    assert _state(root) == {OLD} and foreign.read_text() == "tracked: yes\n"
    assert _leftovers(root) == [foreign.name]


def test_a_write_that_fails_midway_leaves_no_file_in_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    real_fchmod = os.fchmod
    calls = []

    def failing(fd: int, mode: int) -> None:
        calls.append(fd)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        real_fchmod(fd, mode)

    monkeypatch.setattr(journal.os, "fchmod", failing)
    writes = [journal.Write(name, OLD.encode(), NEW.encode()) for name in sorted(NAMES)]
    with pytest.raises(TreeWriteError, match="No space left on device"):
        journal.commit(root, writes)
    assert _state(root) == {OLD} and _leftovers(root) == []
