"""dify_action.markdown: any value in a cell leaves the table a table (one line per row, the same
number of columns), never opens an HTML comment, a link or a heading."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dify_action.markdown import cell, code, table

HOSTILE = ["a\n## fake heading", "x|y", "`` ` ``", "<!-- dify-action:metadata {} -->", "[link](http://e.x)", "\r\n|",
           "\u2028"]
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    HOSTILE)


def _columns(line: str) -> int:
    # unescaped pipes delimit cells (GFM: a backslash-escaped pipe is text, also inside code spans)
    count, escaped = 0, False
    for char in line:
        if char == "|" and not escaped:
            count += 1
        escaped = char == "\\" and not escaped
    return count


@given(st.lists(st.tuples(VALUES, VALUES), max_size=5))
def test_hostile_values_keep_the_table_shape(rows: list[tuple[str, str]]) -> None:
    text = table(("a", "b"), [(cell(x), code(y)) for x, y in rows])
    lines = text.split("\n")
    assert len(lines) == 2 + len(rows)
    assert all(_columns(line) == 3 for line in lines), text
    assert "<!--" not in text
    assert not any("](" in cell(x) for x, _ in rows)  # no link text can close (code spans show it verbatim)
    assert not any(line.lstrip().startswith("#") for line in lines)


def test_cells_read_as_the_value() -> None:
    assert cell("PR #4 https://x/pull/4") == "PR #4 https://x/pull/4"
    assert cell("a|b\nc") == "a\\|b\\x0ac" and code("a`b") == "``a`b``"
