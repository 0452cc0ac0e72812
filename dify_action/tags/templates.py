"""Templates in tag rules: ``{{name}}`` and ``{{date 'FORMAT' tz='Zone'}}``, parsed once, rendered per build.

The syntax is the subset of Handlebars that docker/metadata-action documents
(https://github.com/docker/metadata-action#global-expressions): a placeholder is a name, and the
two date helpers take a quoted moment.js format and an optional ``tz=`` (UTC by default). The
format tokens are moment's (https://momentjs.com/docs/#/displaying/format/); ``[text]`` is literal.

Every value a placeholder renders is made tag-safe (runs of characters outside
``[A-Za-z0-9._-]`` become ``-``), like metadata-action's sanitizing; the literal text around the
placeholders is the user's own and is checked, never rewritten, by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dify_action.errors import InputError

DATE_HELPERS = frozenset({"date", "commit_date"})
_EXPR_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARG_RE = re.compile(r"""\s*(?:(?P<key>[A-Za-z_]+)=)?(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>\S+))""")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def tag_safe(text: str) -> str:
    """Runs of characters a tag may not hold become one ``-`` (metadata-action's sanitizing)."""
    return _UNSAFE_RE.sub("-", text)


@dataclass(frozen=True)
class Placeholder:
    name: str
    format: str | None = None  # date helpers only
    tz: str = "UTC"


Part = str | Placeholder


@dataclass(frozen=True)
class Template:
    """A parsed template: literal strings and placeholders, in order."""

    parts: tuple[Part, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Placeholder))

    @property
    def literal(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))

    def is_only(self, name: str) -> bool:
        """The whole template is the one placeholder ``name`` (``{{ raw }}``, not ``v{{raw}}``)."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Placeholder) and self.parts[0].name == name

    def render(self, values: Mapping[str, str | None], dates: Mapping[str, datetime | None]) -> str | None:
        """The text, or None when a placeholder's value is unknown in this build."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name in DATE_HELPERS:
                moment = dates.get(part.name)
                if moment is None:
                    return None
                out.append(tag_safe(format_moment(moment.astimezone(_zone(part.tz)), part.format or "")))
                continue
            value = values.get(part.name)
            if value is None:
                return None
            out.append(tag_safe(value))
        return "".join(out)


def parse_template(text: str, allowed: frozenset[str] | tuple[str, ...], input_name: str, source: str) -> Template:
    """Parse ``text``; an unknown name, a bad helper call or a stray brace is an InputError."""
    parts: list[Part] = []
    position = 0
    for match in _EXPR_RE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_placeholder(match.group(1), allowed, input_name, source))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    literal = "".join(p for p in parts if isinstance(p, str))
    if "{{" in literal or "}}" in literal:
        raise InputError(input_name, source, "unbalanced '{{' or '}}' in a template")
    return Template(tuple(parts))


def _placeholder(inner: str, allowed: frozenset[str] | tuple[str, ...], input_name: str, source: str) -> Placeholder:
    inner = inner.strip()
    name_match = _NAME_RE.match(inner)
    name = name_match.group(0) if name_match else inner
    if not name_match or name not in allowed:
        raise InputError(input_name, source, f"unknown template {{{{{name}}}}}; allowed: " + ", ".join(sorted(allowed)))
    rest = inner[name_match.end() :]
    if name not in DATE_HELPERS:
        if rest.strip():
            raise InputError(input_name, source, f"{{{{{name}}}}} takes no arguments")
        return Placeholder(name)
    fmt: str | None = None
    tz = "UTC"
    for arg in _ARG_RE.finditer(rest):
        value = arg.group("sq") if arg.group("sq") is not None else arg.group("dq")
        if value is None:
            raise InputError(input_name, source, f"quote the {name} format: {{{{{name} 'YYYYMMDD'}}}}")
        key = arg.group("key")
        if key is None and fmt is None:
            fmt = value
        elif key == "tz":
            _zone(value, input_name, source)
            tz = value
        else:
            raise InputError(input_name, source, f"{{{{{name}}}}} takes a quoted format and tz='Zone/Name'")
    if fmt is None:
        raise InputError(input_name, source, f"{{{{{name}}}}} needs a quoted format, e.g. {{{{{name} 'YYYYMMDD'}}}}")
    return Placeholder(name, fmt, tz)


def _zone(name: str, input_name: str = "tz", source: str = "") -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(input_name, source or name, f"unknown time zone {name!r}: an IANA name like "
                         "'Asia/Tokyo' or 'UTC' (the tz database must be installed)") from None


# moment.js format tokens, longest first; each maps a datetime to text.
def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _offset(moment: datetime, sep: str) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{sep}{mins:02d}"


_TOKENS: dict[str, Callable[[datetime], str]] = {
    "YYYY": lambda m: f"{m.year:04d}",
    "YY": lambda m: f"{m.year % 100:02d}",
    "Q": lambda m: str((m.month - 1) // 3 + 1),
    "MMMM": lambda m: m.strftime("%B"),
    "MMM": lambda m: m.strftime("%b"),
    "MM": lambda m: f"{m.month:02d}",
    "M": lambda m: str(m.month),
    "DDDD": lambda m: f"{m.timetuple().tm_yday:03d}",
    "DDD": lambda m: str(m.timetuple().tm_yday),
    "DD": lambda m: f"{m.day:02d}",
    "Do": lambda m: _ordinal(m.day),
    "D": lambda m: str(m.day),
    "dddd": lambda m: m.strftime("%A"),
    "ddd": lambda m: m.strftime("%a"),
    "d": lambda m: str(m.isoweekday() % 7),
    "E": lambda m: str(m.isoweekday()),
    "WW": lambda m: f"{m.isocalendar()[1]:02d}",
    "W": lambda m: str(m.isocalendar()[1]),
    "GGGG": lambda m: f"{m.isocalendar()[0]:04d}",
    "HH": lambda m: f"{m.hour:02d}",
    "H": lambda m: str(m.hour),
    "hh": lambda m: f"{(m.hour % 12) or 12:02d}",
    "h": lambda m: str((m.hour % 12) or 12),
    "kk": lambda m: f"{m.hour or 24:02d}",
    "k": lambda m: str(m.hour or 24),
    "mm": lambda m: f"{m.minute:02d}",
    "m": lambda m: str(m.minute),
    "ss": lambda m: f"{m.second:02d}",
    "s": lambda m: str(m.second),
    "SSS": lambda m: f"{m.microsecond // 1000:03d}",
    "SS": lambda m: f"{m.microsecond // 10000:02d}",
    "S": lambda m: str(m.microsecond // 100000),
    "A": lambda m: "AM" if m.hour < 12 else "PM",
    "a": lambda m: "am" if m.hour < 12 else "pm",
    "ZZ": lambda m: _offset(m, ""),
    "Z": lambda m: _offset(m, ":"),
    "X": lambda m: str(int(m.timestamp())),
    "x": lambda m: str(int(m.timestamp() * 1000)),
}
_TOKEN_RE = re.compile(r"\[[^\]]*\]|" + "|".join(sorted(map(re.escape, _TOKENS), key=len, reverse=True)))


def format_moment(moment: datetime, fmt: str) -> str:
    """``moment(date).format(fmt)`` for the tokens above; other characters are kept as they are."""
    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        return text[1:-1] if text.startswith("[") else _TOKENS[text](moment)

    return _TOKEN_RE.sub(token, fmt)
