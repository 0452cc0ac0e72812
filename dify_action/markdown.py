"""Values from outside (repositories, registries, configs, inputs) made inert in GitHub Markdown.

``escape`` is the one escaping function for PR bodies and step summaries: its result renders as
exactly the value's text, on one line, in a table cell or anywhere inline. Line breaks and other
control characters are shown as escapes (``text.display``), so a value cannot end a table row or
start a heading; ``|`` is ``\\|`` (GFM tables split cells before parsing inlines, even in code);
backslash, backticks, emphasis, strike-through, link brackets and ``$`` (GitHub math) are
backslash-escaped (CommonMark §2.4); ``&``, ``<`` and ``>`` are entities, so no HTML tag, no
``<!--`` comment (and so no fake ``<!-- dify-action:metadata`` block) can come from a value.
``code`` wraps the same text in ``<code>`` for a monospace cell (a Markdown code span could not
hold the entities); GitHub does not turn ``@name`` inside ``<code>`` into a mention, so values
that may hold one use ``code``.

GitHub's autolinker would swallow escapes into a bare ``https://`` or ``www.`` link (changing the
text), so ``:`` and the dot of ``www.`` are entities too; an e-mail address still renders as a
mailto link of the same text.
"""

from __future__ import annotations

import re

from dify_action.text import display

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", ":": "&#58;"}
_BACKSLASHED = re.compile(r"([\\`*_~\[\]|$])")
_WWW = re.compile(r"(?i)(www)\.")
# A URL we print as a bare link: scheme, host, port, path; nothing that could end or extend it.
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%+=-]+)*/?")


def escape(value: object, limit: int | None = None) -> str:
    """``value`` as inert inline Markdown (one line); ``limit`` cuts the text (not the escapes) with ``…``."""
    text = display(value)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    text = _BACKSLASHED.sub(r"\\\1", "".join(_ENTITIES.get(char, char) for char in text))
    return _WWW.sub(r"\1&#46;", text)


def code(value: object, limit: int | None = None) -> str:
    """``value`` escaped, in monospace; empty for an empty value."""
    text = escape(value, limit)
    return f"<code>{text}</code>" if text else ""


def is_url(value: str) -> bool:
    """Is ``value`` a plain http(s) URL, safe to print as itself or as a link target?"""
    return _URL.fullmatch(value) is not None


def url(value: str) -> str:
    """A plain http(s) URL as itself (GitHub links it); anything else as ``code``."""
    return value if is_url(value) else code(value)


def row(*cells: str) -> str:
    """One table row of already escaped cells."""
    return "| " + " | ".join(cells) + " |"

