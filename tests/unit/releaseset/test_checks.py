"""The checks on generated sets: a set at a known release's pairing has no finding; moving any one member
off it gives exactly one finding naming that component, its version and the expected one; a release the
table lacks never yields a mismatch; what the set already had is reported, not blocking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dify_action import refs
from dify_action.releaseset import build_set, evaluate, load_table
from dify_action.releaseset.members import PAIRED, RELEASE_TAGGED
from dify_action.releaseset.table import Pairing

TABLE = load_table()
COMPLETE = [r for r in TABLE.releases if r.sandbox and r.plugin_daemon and r.agents is not None]


class Found:
    """A FoundImage-shaped value (file, line, ref, where), as the bump engine's reader returns them."""

    def __init__(self, file: str, line: int, ref: str) -> None:
        self.file, self.line, self.ref, self.where = file, line, refs.parse(ref), "image"


def tree_of(pairing: Pairing, change: dict[str, str] | None = None, drop: str | None = None) -> list[Found]:
    tags = {"api": pairing.release, "web": pairing.release, "sandbox": pairing.sandbox,
            "plugin-daemon": pairing.plugin_daemon}
    if pairing.agents:
        tags |= {"agent-backend": pairing.release, "agent-local-sandbox": pairing.release}
    tags |= change or {}
    return [Found(f"{role}.yaml", 3, f"langgenius/dify-{role}:{tag}") for role, tag in tags.items() if role != drop]


@given(st.sampled_from(COMPLETE))
def test_a_set_at_its_release_pairing_has_no_finding(pairing: Pairing) -> None:
    found = build_set(tree_of(pairing))  # type: ignore[arg-type]
    report = evaluate(found, found, TABLE)
    assert found.release == pairing.release and report.findings == ()


@given(st.sampled_from(COMPLETE), st.sampled_from(["web", "sandbox", "plugin-daemon"]), st.integers(1, 9))
def test_one_member_off_its_pairing_is_one_finding_naming_it(pairing: Pairing, role: str, bump: int) -> None:
    before = build_set(tree_of(pairing))  # type: ignore[arg-type]
    current = pairing.expected(role) or ""
    major, minor, patch = current.split("-")[0].split(".")
    moved = f"{major}.{minor}.{int(patch) + bump}" + ("-local" if role == "plugin-daemon" else "")
    after = build_set(tree_of(pairing, {role: moved}))  # type: ignore[arg-type]
    report = evaluate(before, after, TABLE)
    assert [(f.kind, f.role, f.found, f.expected) for f in report.findings] == [
        ("skew" if role in RELEASE_TAGGED else "unpaired", role, moved, current)]
    assert report.blocking == report.findings and f"{role}.yaml:3" in report.findings[0].text()


@given(st.sampled_from(COMPLETE))
def test_a_missing_member_the_release_needs(pairing: Pairing) -> None:
    before = build_set(tree_of(pairing))  # type: ignore[arg-type]
    after = build_set(tree_of(pairing, drop="web"))  # type: ignore[arg-type]
    report = evaluate(before, after, TABLE)
    assert [(f.kind, f.role, f.expected) for f in report.findings] == [("missing", "web", pairing.release)]


@given(st.sampled_from(["1.15.0", "1.18.0", "2.0.0", "1.9.0"]), st.sampled_from(["0.2.99", "0.2.1"]),
       st.sampled_from(["9.9.9-local", "0.6.10-local-linux-amd64"]))
def test_a_release_the_table_lacks_is_unknown_never_a_mismatch(release: str, sandbox: str, daemon: str) -> None:
    found = build_set([Found("a.yaml", 1, f"langgenius/dify-api:{release}"),  # type: ignore[list-item]
                       Found("a.yaml", 2, f"langgenius/dify-web:{release}"),
                       Found("a.yaml", 3, f"langgenius/dify-sandbox:{sandbox}"),
                       Found("a.yaml", 4, f"langgenius/dify-plugin-daemon:{daemon}")])
    report = evaluate(found, found, TABLE)
    assert not [f for f in report.findings if f.kind in ("unpaired", "skew")]
    assert any(release in note for note in report.notes)
    if release in ("1.18.0", "2.0.0"):
        assert f"the pairing table ends at {TABLE.last}" in report.pairing_note


def test_the_agent_images_are_missing_for_a_1_16_api() -> None:
    old = TABLE.lookup("1.14.2").pairing
    assert old is not None
    before = build_set(tree_of(old))  # type: ignore[arg-type]
    moved = {"api": "1.16.1", "web": "1.16.1", "sandbox": "0.2.15", "plugin-daemon": "0.6.3-local"}
    report = evaluate(before, build_set(tree_of(old, moved)), TABLE)  # type: ignore[arg-type]
    assert sorted(f.role for f in report.blocking) == ["agent-backend", "agent-local-sandbox"]
    assert all(f.kind == "missing" and f.expected == "1.16.1" for f in report.blocking)


def test_what_the_set_already_had_is_reported_not_blocking() -> None:
    pairing = TABLE.lookup("1.13.2").pairing
    assert pairing is not None
    skewed = build_set(tree_of(pairing, {"web": "1.13.1"}))  # type: ignore[arg-type]
    after = build_set(tree_of(pairing, {"web": "1.13.1", "sandbox": "0.2.12"}))  # type: ignore[arg-type]
    report = evaluate(skewed, after, TABLE)
    assert [(f.kind, f.blocking, f.preexisting) for f in report.findings] == [("skew", False, True)]
    assert "already so before this change" in report.findings[0].text()


def test_the_1_13_3_plugin_daemon_downgrade_is_said_to_be_upstreams_own() -> None:
    old, new = TABLE.lookup("1.13.2").pairing, TABLE.lookup("1.13.3").pairing
    assert old is not None and new is not None
    report = evaluate(build_set(tree_of(old)), build_set(tree_of(new)), TABLE)  # type: ignore[arg-type]
    assert [(f.kind, f.found, f.expected) for f in report.findings] == [("downgrade", "0.5.3-local", "0.5.4-local")]
    text = report.findings[0].text()
    assert "Dify 1.13.3's own pairing" in text and "dify_plugin" in text and "GORM AutoMigrate" in text


@given(st.sampled_from(COMPLETE), st.sampled_from(PAIRED))
def test_an_unknown_member_version_is_a_note(pairing: Pairing, role: str) -> None:
    found = build_set(tree_of(pairing, {role: "main"}))  # type: ignore[arg-type]
    report = evaluate(found, found, TABLE)
    assert report.findings == () and any(f"not an upstream {role} tag" in n for n in report.notes)


@given(st.sampled_from(COMPLETE))
def test_a_customized_api_takes_its_version_from_the_facts_not_its_tag(pairing: Pairing) -> None:
    items = [f for f in tree_of(pairing) if "dify-api" not in str(f.ref)]
    items.append(Found("api.yaml", 3, "registry.example/acme/dify-api:sha-1234567"))
    facts = {"1.16.1": ("1.17.1", "facts")}.get(pairing.release, ("0.9.0", "label"))
    found = build_set(items, versions=lambda ref: facts if "acme" in ref.path else None)  # type: ignore[arg-type]
    api = found.role("api")[0]
    assert (api.version, api.source, api.official) == (facts[0], facts[1], False)
    report = evaluate(found, found, TABLE)
    assert {f.role for f in report.findings if f.kind == "skew"} >= {"web"}


@given(st.integers(min_value=1, max_value=40))
def test_a_downgrade_is_seen_wherever_the_edit_moved_its_line(shift: int) -> None:
    """Lines move when an edit above adds one (a digest pinned under another image's tag, in the same
    file): a member is the same reference by its file and key path, never by its line number."""
    old, new = TABLE.lookup("1.13.2").pairing, TABLE.lookup("1.13.3").pairing
    assert old is not None and new is not None
    before = [Found("kustomization.yaml", 3, f.ref.__str__()) for f in tree_of(old)]
    after = [Found("kustomization.yaml", 3 + shift, f.ref.__str__()) for f in tree_of(new)]
    for found in (*before, *after):
        found.where = f"images[{found.ref.with_version(None)}].newTag"
    report = evaluate(build_set(before), build_set(after), TABLE)  # type: ignore[arg-type]
    assert [(f.kind, f.found, f.expected) for f in report.blocking] == [("downgrade", "0.5.3-local", "0.5.4-local")]
