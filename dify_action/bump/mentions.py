"""The cheap filter before composing: does a file (or one of its documents) mention an image where a
reference could hold it? A leaf of the bump engine: bytes only, no YAML."""

from __future__ import annotations

_BEFORE = frozenset(b"\n:=-\"'[{,")  # what may precede a reference (after spaces)
_AFTER = frozenset(b":@\"' \t\r\n,]}")  # what may follow its last path component


def _starts_value(data: bytes, index: int) -> bool:
    """``data[index]`` ends what precedes a value: spaces, then ``&anchor``/``!tag`` properties, then
    an indicator or a line start."""
    while True:
        while index >= 0 and data[index] in (0x20, 0x09):
            index -= 1
        if index < 0 or data[index] in _BEFORE:
            return True
        token = index
        while token >= 0 and data[token] not in (0x20, 0x09, 0x0A):
            token -= 1
        if data[token + 1] not in (0x26, 0x21) or token == index:  # "&", "!"
            return False
        index = token


def may_reference(data: bytes, names: set[bytes]) -> bool:
    """Cheap filter before composing: the image's last path component occurs where a reference can
    hold it (after ``/``, or starting a value: ``: ``, ``- ``, ``=``, a quote, a flow bracket, a line)
    and ends like one. A name only in prose or comments ("runs dify-api") leaves the file uncomposed.
    bytes.find, not a regex: a regex without a literal prefix scans every position of 200 KB files."""
    for name in names:
        start = data.find(name)
        while start != -1:
            end = start + len(name)
            if end == len(data) or data[end] in _AFTER:
                index = start - 1
                if index < 0 or data[index] == 0x2F:  # "/"
                    return True
                if _starts_value(data, index):
                    return True
            start = data.find(name, end)
    return False
