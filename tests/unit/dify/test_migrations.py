"""The Alembic revision graph: both file-name styles, merge revisions, heads, diffs, bad histories."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testbed.difyapi import PATCH, V14_LEFT, V14_MERGE, V14_RIGHT, Migration, history, rev

from dify_action.dify.facts import ImageFacts
from dify_action.dify.migrations import Revision, build_graph, diff, parse_revision, read_graph, slug_of
from dify_action.errors import DifyActionError


def graph_of(version: str):  # type: ignore[no-untyped-def]
    return read_graph({m.file: m.text() for m in history(version)})


def test_both_file_name_styles_and_the_annotated_template() -> None:
    old = parse_revision("64b051264f32_init.py", 'revision = "64b051264f32"\ndown_revision = None\n')
    assert old == Revision("64b051264f32", None, "init", "64b051264f32_init.py")
    new = parse_revision("2024_08_09_0801-1787fbae959a_update_tools_original_url_length.py",
                         "revision: str = '1787fbae959a'\ndown_revision: Union[str, None] = 'eeb2e349e6ac'\n")
    assert new is not None and (new.slug, new.parents) == ("update_tools_original_url_length", ("eeb2e349e6ac",))
    merge = parse_revision("a_merge.py", "revision = 'a'\ndown_revision = ('b', 'c')\n")
    assert merge is not None and merge.is_merge and merge.parents == ("b", "c")
    assert parse_revision("env.py", "from alembic import context\n") is None
    assert slug_of("2025_01_01_0000-other_x.py", "abc") == "other_x"  # the name does not carry the id


def test_stand_in_releases() -> None:
    v132, v133, patch, v140 = (graph_of(v) for v in ("1.13.2", "1.13.3", "1.13.3-acme.1", "1.14.0"))
    assert len(v133) == 14 and v132.heads == v133.heads
    assert diff(v133, v132).same
    assert patch.heads == (rev(PATCH),)
    change = diff(patch, v133)
    assert [r.label() for r in change.only_old] == [f"{rev(PATCH)} ({PATCH})"] and not change.only_new
    assert v140.heads == (rev(V14_MERGE[1]),)
    across = diff(v140, v133)
    assert [r.slug for r in across.only_old] == [V14_LEFT[1], V14_RIGHT[1], V14_MERGE[1]]  # the merge last
    forward = diff(v133, v140)
    assert not forward.only_old and [r.revision for r in forward.only_new] == [r.revision for r in across.only_old]


@pytest.mark.parametrize(("files", "message"), [
    ({"a_x.py": "revision = 'a'\ndown_revision = None\n", "b_x.py": "revision = 'a'\ndown_revision = None\n"},
     "both define revision a"),
    ({"a_x.py": "revision = 'a'\ndown_revision = 'zz'\n"}, "down_revision zz is not in the history"),
    ({"a_x.py": "revision = 'a'\ndown_revision = 'b'\n", "b_x.py": "revision = 'b'\ndown_revision = 'a'\n"},
     "cycle"),
    ({"a_x.py": "revision = make()\ndown_revision = None\n"}, "not a literal"),
    ({"a_x.py": "revision = 'a b'\ndown_revision = None\n"}, "not an Alembic revision id"),
    ({"a_x.py": "revision = 'a'\n"}, "has no down_revision"),
    ({"a_x.py": "revision = 'a'\ndown_revision = 3\n"}, "not a revision id"),
    ({"a_x.py": "revision = ("}, "not valid Python"),
])
def test_bad_histories_are_refused_naming_the_file(files: dict[str, str], message: str) -> None:
    with pytest.raises(DifyActionError, match=message):
        read_graph(files)


@st.composite
def dags(draw: st.DrawFn) -> list[Migration]:
    count = draw(st.integers(1, 25))
    out: list[Migration] = []
    for index in range(count):
        parents = sorted(draw(st.sets(st.integers(0, index - 1), max_size=min(index, 3)))) if index else []
        if index and not parents:
            parents = [index - 1]
        down: str | tuple[str, ...] | None = None if not parents else (
            out[parents[0]].revision if len(parents) == 1 else tuple(out[p].revision for p in parents))
        revision = rev(f"n{index}")
        dated = draw(st.booleans())
        stem = f"{revision}_step_{index}.py"
        name = f"2025_01_{index % 28 + 1:02d}_0000-{stem}" if dated else stem
        out.append(Migration(name, revision, down, f"step_{index}", annotated=draw(st.booleans())))
    return out


@settings(max_examples=60, deadline=None)
@given(dags())
def test_generated_histories(migrations: list[Migration]) -> None:
    graph = read_graph({m.file: m.text() for m in migrations})
    parents = {p for m in migrations for p in (m.down if isinstance(m.down, tuple) else (m.down,)) if p}
    assert set(graph.heads) == {m.revision for m in migrations} - parents
    order = [r.revision for r in graph.ordered()]
    assert sorted(order) == sorted(m.revision for m in migrations)
    for position, revision in enumerate(order):
        assert all(order.index(p) < position for p in graph.revisions[revision].parents)
    assert all(graph.revisions[m.revision].slug == m.slug for m in migrations)
    again = build_graph(Revision.from_dict(item) for item in graph.as_list())
    assert again == graph
    facts = ImageFacts("engine", "1.13.3", "0.6.0", graph)
    assert ImageFacts.from_json(facts.to_json()) == ImageFacts("record", "1.13.3", "0.6.0", graph)
    older = read_graph({m.file: m.text() for m in migrations[: len(migrations) // 2 + 1]})
    change = diff(graph, older)
    assert {r.revision for r in change.only_old} == set(graph.revisions) - set(older.revisions)
    assert not change.only_new
