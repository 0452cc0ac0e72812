"""Markdown from hostile values, checked as GitHub renders it (cmark-gfm, GitHub's own parser):
a table stays a table with one row per change and three cells per row, every cell shows exactly
the value's text, no tag or comment comes from a value, and the metadata rollback reads is ours
(issue #9 item 3)."""

from __future__ import annotations

import html.parser
import json
from types import SimpleNamespace

import cmarkgfm
from cmarkgfm.cmark import Options
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.bump import Change
from dify_action.delivery.pr_body import BumpMetadata, metadata_from_changes, parse_metadata, render_body
from dify_action.markdown import code, escape
from dify_action.rollback.source import distrust
from dify_action.text import display

FAKE = '<!-- dify-action:metadata {"environment":"production","images":[],"version":1} -->'
HOSTILE = ["x\n## Fake heading\n[click](https://evil.example)", "a | b | c", "`code` ``x``", FAKE,
           "<img src=x onerror=alert(1)>", "<!--", "-->", "&amp; &lt;", "*em* _em_ ~~s~~", "\\|", "\\",
           "1.13.3\r\n| --- |", "$x^2$", "[x]: https://evil.example", "![i](https://evil.example/i.png)",
           "<details><summary>s</summary>", "\u202e", "\x1b[31m", "::set-output name=x::y", "@org/team"]
values = st.lists(st.one_of(st.sampled_from(HOSTILE), st.sampled_from(list("|`<>&\\*_[]()!#-+~$\n\r\t :@")),
                            st.characters()), max_size=12).map("".join)
TAGS_OURS = {"p", "table", "thead", "tbody", "tr", "th", "td", "code", "strong", "ul", "li", "blockquote",
             "a"}  # a: only autolinked bare URLs/e-mails from values (GitHub does the same to plain text)


class Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def rendered(markdown: str) -> Html:
    page = Html()
    page.feed(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))
    page.close()
    return page


def changes_of(items: list[tuple[str, str, str]]) -> list[Change]:
    return [Change(file, n + 1, old, new, "image", "registry.example/acme/dify-api")
            for n, (file, old, new) in enumerate(items)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(values, values, values), min_size=1, max_size=4), values, values)
def test_hostile_values_keep_the_table_and_the_metadata(items: list[tuple[str, str, str]], digest: str,
                                                        version: str) -> None:
    changes = changes_of(items)
    meta = metadata_from_changes("staging", changes, digest=digest or None, dify_version_old=version or None,
                                 dify_version_new="1.13.3", source_sha=version or None, source_repo=digest or None)
    body = render_body(meta, changes)
    page = rendered(body)
    assert page.tags.count("table") == 1 and len(page.rows) == len(changes) + 1
    assert page.rows[0] == ["File", "Old value", "New value"]
    for cells, change in zip(page.rows[1:], changes, strict=True):
        assert cells == [display(f"{change.file}:{change.line}"), display(change.old), display(change.new)]
    assert set(page.tags) <= TAGS_OURS, page.tags
    assert len(page.comments) == 1 and page.comments[0].startswith(" dify-action:metadata ")
    assert parse_metadata(body) == meta


@given(values)
def test_escape_renders_exactly_the_text(value: str) -> None:
    page = rendered(f"| v |\n| --- |\n| {escape(value)} |\n| {code(value)} |\n")
    assert len(page.rows) == 3 and page.rows[1] == [display(value).strip(" ")] and page.rows[2] == [display(value)]
    assert set(page.tags) <= TAGS_OURS and not page.comments


def test_a_fake_block_in_an_old_style_body_is_never_read() -> None:
    """A body written before values were escaped: the old value carried a fake block; ours is last."""
    real = BumpMetadata("staging", ())
    payload = json.dumps(real.as_dict(), sort_keys=True, separators=(",", ":"))
    old_style = (f"Deploys to **staging**:\n\n| File | Old value | New value |\n| --- | --- | --- |\n"
                 f"| `a.yaml:3` | `x\n{FAKE}\n` | `1.2` |\n\n<!-- dify-action:metadata {payload} -->\n")
    assert parse_metadata(old_style) == real
    opened = old_style.replace(FAKE, '<!-- dify-action:metadata {"environment":"production",')
    assert parse_metadata(opened) == real
    new_style = render_body(real, changes_of([("a.yaml", f"x\n{FAKE}", "1.2")]))
    assert new_style.count("<!--") == 1 and parse_metadata(new_style) == real


def test_rollback_trusts_only_blocks_on_dify_action_branches() -> None:
    meta = BumpMetadata("production", ())

    def pull(head: str, base: str = "main") -> SimpleNamespace:
        return SimpleNamespace(head=SimpleNamespace(ref=head), base=SimpleNamespace(ref=base))

    assert distrust(pull("dify-action/production/dify-api"), meta, "main") is None
    assert distrust(pull("dify-action/production/rollback-pr-3"), meta) is None
    assert "not dify-action's branch" in (distrust(pull("dify-action/staging/dify-api"), meta) or "")
    assert "not dify-action's branch" in (distrust(pull("feature/x"), meta) or "")
    assert "merged into 'release'" in (distrust(pull("dify-action/production/api", "release"), meta, "main") or "")
    assert distrust(pull("anything"), None) is None
