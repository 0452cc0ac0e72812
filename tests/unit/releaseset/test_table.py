"""The pairing table shipped in the package: its own format, a source and confidence on every row, the
facts gathered in ../shared/dify/releases.json (read at test time), and unknown never read as a mismatch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.dify.versions import version_key
from dify_action.errors import DifyActionError
from dify_action.releaseset.compose import merge, row_from_compose
from dify_action.releaseset.table import CONFIDENCE, load, parse

SHARED = Path(__file__).resolve().parents[4] / "shared" / "dify" / "releases.json"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dify-compose"
ROLE = {"langgenius/dify-sandbox": "sandbox", "langgenius/dify-plugin-daemon": "plugin-daemon"}


def test_every_row_names_its_source_and_confidence_and_the_rows_are_ordered() -> None:
    table = load()
    assert table.first == "1.0.0"
    keys = [version_key(r.release) for r in table.releases]
    assert keys == sorted(keys)  # type: ignore[type-var]
    for row in table.releases:
        assert row.source.strip() and row.confidence in CONFIDENCE


def test_the_table_says_what_the_gathered_facts_say() -> None:
    if not SHARED.is_file():  # the facts are read at test time, never copied in; CI must have them
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing (required when CI=true)")
        pytest.skip("../shared/dify/releases.json is not beside this checkout")
    facts = json.loads(SHARED.read_text())["releases"]
    table = {r.release: r for r in load().releases}
    assert set(table) == {f["dify"] for f in facts}
    for fact in facts:
        row = table[fact["dify"]]
        paired = {ROLE[k]: v for k, v in fact["images"].items() if k in ROLE}
        assert row.sandbox == paired.get("sandbox"), fact["dify"]
        assert row.plugin_daemon == paired.get("plugin-daemon"), fact["dify"]
        agents = "langgenius/dify-agent-backend" in fact["images"]
        unconfirmed = "langgenius/dify-agent-backend" in (fact.get("unconfirmed_images") or [])
        assert row.agents == (None if unconfirmed else agents), fact["dify"]
        assert row.confidence == fact["confidence"]


def test_upstream_moved_the_plugin_daemon_back_at_1_13_3() -> None:
    table = load()
    assert table.lookup("1.13.2").pairing.plugin_daemon == "0.5.4-local"  # type: ignore[union-attr]
    assert table.lookup("1.13.3").pairing.plugin_daemon == "0.5.3-local"  # type: ignore[union-attr]


@pytest.mark.parametrize("release", sorted(p.name for p in FIXTURES.iterdir()))
def test_the_compose_files_derive_the_same_rows(release: str) -> None:
    """The refresh script's reader, on compose files written by hand from each release's facts."""
    text = (FIXTURES / release / "docker-compose.yaml").read_text()
    row = row_from_compose(text, release, f"fixture {release}")
    shipped = load().lookup(release).pairing
    assert shipped is not None
    assert (row["sandbox"], row["plugin-daemon"], row["agents"]) == (shipped.sandbox, shipped.plugin_daemon,
                                                                     shipped.agents)


def test_a_compose_file_of_another_release_is_refused() -> None:
    text = (FIXTURES / "1.13.3" / "docker-compose.yaml").read_text()
    with pytest.raises(DifyActionError, match=r"not the release 1\.13\.2"):
        row_from_compose(text, "1.13.2", "fixture")


def test_merge_replaces_a_row_by_the_one_read_at_the_tag_and_says_what_changed() -> None:
    doc = load().as_dict()
    text = (FIXTURES / "1.13.2" / "docker-compose.yaml").read_text().replace("0.5.4-local", "0.5.3-local")
    merged, changes = merge(doc, [row_from_compose(text, "1.13.2", "at tag"), row_from_compose(
        (FIXTURES / "1.16.1" / "docker-compose.yaml").read_text().replace("1.16.1", "1.18.0"), "1.18.0", "new")])
    assert changes[0].startswith("1.13.2: plugin-daemon 0.5.4-local -> 0.5.3-local (was official")
    assert changes[1] == "1.18.0: added"
    assert parse(merged, "merged").last == "1.18.0"


@given(st.integers(0, 3), st.integers(0, 40), st.integers(0, 9))
def test_a_release_the_table_lacks_is_a_gap_older_or_newer_never_a_row(major: int, minor: int, patch: int) -> None:
    table = load()
    release = f"{major}.{minor}.{patch}"
    found = table.lookup(release)
    known = {r.release for r in table.releases}
    if release in known:
        assert found.pairing is not None and found.position == "known"
    else:
        assert found.pairing is None
        key, first, last = version_key(release), version_key(table.first), version_key(table.last)
        assert found.position == ("older" if key < first else "newer" if key > last else "gap")  # type: ignore[operator]
        assert release in found.explain(table)


def test_a_malformed_table_names_the_row() -> None:
    doc = load().as_dict()
    doc["releases"][3]["confidence"] = "rumour"
    with pytest.raises(DifyActionError, match=r"releases\[3\] \(1.3.1\) needs a source and a confidence"):
        parse(doc, "t")
    doc = load().as_dict()
    doc["releases"].reverse()
    with pytest.raises(DifyActionError, match="sorted by version"):
        parse(doc, "t")
