"""Text from outside (repositories, registries, configs, inputs) made safe to print.

Two readers act on what we print. The Actions runner scans every stdout/stderr line for workflow
commands: ``::name ...::data`` after leading whitespace is trimmed (``ActionCommand.TryParseV2``)
and the legacy ``##[name ...]data`` anywhere in a line (``ActionCommand.TryParse``); a file named
``x\\n::set-output name=commit::PWNED`` would otherwise be executed. Terminals act on control
characters (ANSI escapes, carriage returns that overwrite a line, bidi overrides that reorder it).

``safe_text`` is the one neutraliser: every line it returns has no control character (they are
shown as ``\\n``, ``\\u001b``, ``\\u202e`` escapes), never starts with ``::`` after whitespace (a
``\\`` goes in front) and never contains ``##[`` (written ``#\\u0023[``). ``display`` renders one
value on one line the same way. The escapes are JSON's own, so ``json.dumps`` text (ASCII, the
default) passes through still parsing to the same data: ``--json`` output needs nothing more.
``SafeStream`` applies ``safe_text`` to everything written to a stream, so a front end can guard
``sys.stdout``/``sys.stderr`` once (``protected_stdio``). This module prints nothing itself: the
core may use it freely.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator
from typing import TextIO

# C0 and C1 controls, DEL, the Unicode line/paragraph separators, and the bidi/format characters
# that reorder or hide text (Trojan Source, CVE-2021-42574) plus the BOM / zero-width no-break.
# Lone surrogates too: a file name git or the OS could not decode (surrogateescape) cannot be
# written as UTF-8 at all.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LEGACY_COMMAND = "##["


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\u{ord(char):04x}"


def _line(line: str) -> str:
    """One line made safe (a ``\\n`` in it is escaped too); idempotent."""
    line = _UNSAFE.sub(_escape, line)
    line = line.replace(_LEGACY_COMMAND, "#\\u0023[")
    rest = line.lstrip()
    if rest.startswith("::"):
        line = line[: len(line) - len(rest)] + "\\" + rest
    return line


def safe_text(text: object) -> str:
    """``text`` (any number of lines) neutralised line by line for the runner and terminals.

    ``\\n`` and ``\\r\\n`` stay line breaks (as ``\\n``); every other control character becomes a
    visible escape. Idempotent: ``safe_text(safe_text(x)) == safe_text(x)``.
    """
    value = str(text).replace("\r\n", "\n")
    return "\n".join(_line(line) for line in value.split("\n"))


def display(value: object) -> str:
    """``value`` on one line, safe to print anywhere (also alone at the start of a line)."""
    return _line(str(value))


class SafeStream(io.TextIOBase):
    """A text stream that passes only whole, neutralised lines to ``raw``.

    A partial line is held until its newline arrives (or ``close``): only a whole line shows
    whether it starts with ``::`` or holds ``##[`` split over two writes.
    """

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw
        self._pending = ""
        self.broken = False  # the reader went away (``... --json | head -1``): the rest is dropped

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self._pending + text
        head, newline, tail = data.rpartition("\n")
        if newline:
            self._send(safe_text(head) + "\n", flush=False)
        self._pending = tail
        return len(text)

    def flush(self) -> None:
        self._send("", flush=True)

    def close(self) -> None:
        pending, self._pending = self._pending, ""
        self._send(safe_text(pending) + "\n" if pending else "", flush=True)

    def _send(self, text: str, *, flush: bool) -> None:
        """Write ``text`` to ``raw``; a closed reader ends the output, never the run.

        A BrokenPipeError raised from a print would unwind the command between two of its steps
        (or, at the end, print a traceback after it finished): the command runs to its end and
        exits with its own code, only what nobody reads is dropped. The raw descriptor is pointed
        at /dev/null so the interpreter's own flush at exit has nowhere to fail either."""
        if self.broken:
            return
        try:
            if text:
                self.raw.write(text)
            if flush:
                self.raw.flush()
        except BrokenPipeError:
            self.broken = True
            _to_devnull(self.raw)

    def fileno(self) -> int:
        return self.raw.fileno()

    def isatty(self) -> bool:
        return self.raw.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", "utf-8") or "utf-8"


def _to_devnull(stream: TextIO) -> None:
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


@contextlib.contextmanager
def protected_stdio() -> Iterator[tuple[TextIO, TextIO]]:
    """Guard ``sys.stdout``/``sys.stderr`` with ``SafeStream`` for the block (front ends wrap
    their whole run in it); yields the raw streams. ``gha.Actions`` given the guarded streams
    writes its own workflow commands to the raw ones beneath."""
    raw_out, raw_err = sys.stdout, sys.stderr
    out, err = SafeStream(raw_out), SafeStream(raw_err)
    sys.stdout, sys.stderr = out, err
    try:
        yield raw_out, raw_err
    finally:
        sys.stdout, sys.stderr = raw_out, raw_err
        out.close()
        err.close()
