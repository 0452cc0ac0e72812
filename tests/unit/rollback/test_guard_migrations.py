"""The exact migration guard on image facts: same history allowed, stranded migrations refused by
name with the restore steps, a merge, the label fallback said, and the escaped Markdown."""

from __future__ import annotations

import pytest
from testbed.difyapi import PATCH, V14_MERGE, history, rev

from dify_action import refs
from dify_action.dify.facts import ImageFacts, facts_from_files, label_facts, parse_dsl_version, parse_project_version
from dify_action.dify.migrations import read_graph
from dify_action.errors import GateFailed, RegistryError
from dify_action.rollback.guard import ImageMove, compare, guard_markdown, guard_moves

IMAGE = "registry.example.com/acme/dify-api"


def facts(version: str, dify: str | None = None) -> ImageFacts:
    graph = read_graph({m.file: m.text() for m in history(version)})
    return ImageFacts("record", dify or version, "0.6.0", graph)


def move(current: str, restored: str) -> ImageMove:
    return ImageMove("api.yaml", 7, "spec.containers[0].image", refs.parse(f"{IMAGE}:{current}"),
                     refs.parse(f"{IMAGE}:{restored}"))


def by_tag(table: dict[str, ImageFacts]):  # type: ignore[no-untyped-def]
    return lambda ref: table[ref.tag]


def test_same_heads_across_versions_is_allowed_without_the_override() -> None:
    notes: list[str] = []
    (check,) = guard_moves([move("b", "a")], by_tag({"b": facts("1.13.3"), "a": facts("1.13.2")}), (None, None),
                           allow=False, notes=notes)
    assert (check.verdict, check.method, check.blocks) == ("ok", "graph", False)
    assert "the same migration history" in check.describe() and not notes


def test_patch_build_adding_a_migration_is_refused_naming_it() -> None:
    table = {"new": facts("1.13.3-acme.1", "1.13.3"), "old": facts("1.13.3")}
    with pytest.raises(GateFailed) as caught:
        guard_moves([move("new", "old")], by_tag(table), (None, None), allow=False, notes=[])
    text = str(caught.value)
    assert f"{rev(PATCH)} ({PATCH})" in text and "1 migration(s) of the running image" in text
    assert "dify_plugin" in text and "restore" in text and "--allow-schema-rollback" in text
    notes: list[str] = []
    (check,) = guard_moves([move("new", "old")], by_tag(table), (None, None), allow=True, notes=notes)
    assert check.verdict == "downgrade" and any("overridden" in n for n in notes)
    assert [r.slug for r in check.stranded] == [PATCH]


def test_rollback_across_a_merge_names_both_branches_and_the_merge() -> None:
    check = compare("api", facts("1.14.0"), facts("1.13.3"))
    assert check.verdict == "downgrade" and len(check.stranded) == 3
    assert check.stranded[-1].slug == V14_MERGE[1] and check.stranded[-1].is_merge
    forward = compare("api", facts("1.13.3"), facts("1.14.0"))
    assert (forward.verdict, forward.blocks, len(forward.forward)) == ("upgrade", False, 3)


def test_unreadable_image_falls_back_to_labels_and_says_so() -> None:
    unreadable = label_facts("1.14.0", "api: its migrations could not be read (no layer)")
    notes: list[str] = []
    with pytest.raises(GateFailed, match=r"Dify 1\.14\.0 -> 1\.13\.3 \(downgrade\) by the io\.dify\.base-version"):
        guard_moves([move("new", "old")], by_tag({"new": unreadable, "old": facts("1.13.3")}), (None, None),
                    allow=False, notes=notes)
    (check,) = guard_moves([move("new", "old")], by_tag({"new": unreadable, "old": facts("1.13.3")}), (None, None),
                           allow=True, notes=notes)
    assert check.method == "label" and any("could not be read" in n for n in notes)


def test_registry_failure_refuses_unless_allowed() -> None:
    def broken(ref: refs.ImageRef) -> ImageFacts:
        raise RegistryError("registry down")

    with pytest.raises(RegistryError, match="cannot read the Dify facts"):
        guard_moves([move("a", "b")], broken, (None, None), allow=False, notes=[])
    notes: list[str] = []
    (check,) = guard_moves([move("a", "b")], broken, ("1.14.0", "1.13.3"), allow=True, notes=notes)
    assert check.verdict == "downgrade" and check.method == "label"  # the PR metadata versions


def test_markdown_lists_the_stranded_revisions_escaped() -> None:
    check = compare("api", facts("1.13.3-acme.1"), facts("1.13.3"))
    text = guard_markdown([check])
    assert f"{rev(PATCH)} acme\\_add\\_audit\\_log" in text and "[!CAUTION]" in text and "dify\\_plugin" in text


def test_facts_from_files() -> None:
    files = {f"migrations/versions/{m.file}": m.text().encode() for m in history("1.13.3")}
    files |= {"constants/dsl_version.py": b'CURRENT_APP_DSL_VERSION = "0.5.0"\n',
              "pyproject.toml": b'[project]\nname = "dify-api"\nversion = "1.13.3"\n'}
    found = facts_from_files(files, "engine")
    assert (found.dify_version, found.dsl_version, len(found.graph or ())) == ("1.13.3", "0.5.0", 14)
    assert not found.notes
    empty = facts_from_files({}, "layers", label="1.13.3")
    assert empty.graph is None and empty.dify_version == "1.13.3" and len(empty.notes) == 3
    assert parse_dsl_version("CURRENT_APP_DSL_VERSION: str = '0.6.0'\n") == "0.6.0"
    assert parse_dsl_version("x = (") is None
    assert parse_project_version('[tool.poetry]\nversion = "0.15.3"\n') == "0.15.3"
    assert parse_project_version("not toml [") is None
