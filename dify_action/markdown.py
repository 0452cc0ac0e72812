"""Markdown for step summaries and PR bodies: values from repositories, registries and inputs are
data, so a value can never end a table cell, start a heading, open a link or an HTML comment."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
# inline specials; ``#``/``+``/``-`` only matter at a line's start, which a cell never is
_SPECIAL = re.compile(r"([\\`*_{}\[\]()|~])")


def cell(value: object) -> str:
    """``value`` as inline text in a table cell: Markdown and HTML punctuation is backslash-escaped,
    newlines and other control characters become visible escapes (``\\x0a``)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # no HTML, no <!--
    text = _SPECIAL.sub(r"\\\1", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                        f"\\u{ord(m.group()):04x}", text)


def code(value: object) -> str:
    """``value`` as an inline code span that stays one span whatever it holds; a value with HTML or
    control characters is escaped text instead (a code span would keep ``<!--`` verbatim)."""
    text = str(value)
    if _CONTROL.search(text) or "<" in text or ">" in text:
        return cell(text)
    text = text.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of cells that are already Markdown (escape values with ``cell``/``code`` first)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_one_line(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")
