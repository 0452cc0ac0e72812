"""Markdown for PR bodies and step summaries: every value from an image, a file or a user is escaped.

CommonMark lets any ASCII punctuation be backslash-escaped, so escaping all of it leaves no way
for a value to open a link, an HTML tag, a table cell, a mention or an emphasis.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def escape(value: object) -> str:
    """``value`` as literal Markdown text on one line."""
    text = " ".join(str(value).split())
    return _PUNCTUATION.sub(r"\\\1", text)


def bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items]
