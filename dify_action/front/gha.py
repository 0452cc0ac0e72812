"""The GitHub Actions protocol, in one place: inputs, outputs, step summary, masks, annotations.

Only the front end (``front/action.py``) uses this module; the core never reads the environment or
prints ``::`` commands. Everything takes its environment and streams as arguments so it is testable.
Outside Actions (``GITHUB_ACTIONS`` is not ``true``) it degrades to plain messages on stderr and
writes no outputs, summaries or workflow commands.

References: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
(escaping of data and properties, ``add-mask``, ``GITHUB_OUTPUT`` multi-line delimiters) and
actions/toolkit ``packages/core`` (``getInput`` trims; input names keep their hyphens).
"""

from __future__ import annotations

import contextlib
import re
import secrets as _secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dify_action.errors import InputError
from dify_action.text import SafeStream, display, safe_text

TRUE_VALUES = ("true", "True", "TRUE")
FALSE_VALUES = ("false", "False", "FALSE")
SUMMARY_LIMIT = 1024 * 1024  # GitHub rejects step summaries above 1 MiB
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MASK = "***"


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``): data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def input_variables(name: str) -> tuple[str, str]:
    """The two names an input can arrive under: ``INPUT_GITOPS-REPO`` (what the runner sets: upper
    case, spaces to ``_``, hyphens kept) and ``INPUT_GITOPS_REPO`` (what ``docker run -e`` users and
    some runners write)."""
    runner = "INPUT_" + name.replace(" ", "_").upper()
    return runner, runner.replace("-", "_")


def split_list(text: str) -> tuple[str, ...]:
    """A list input: one item per line or comma-separated; blank items and ``#`` lines dropped."""
    items: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        items += [part.strip() for part in line.split(",") if part.strip()]
    return tuple(items)


@dataclass(frozen=True)
class Annotation:
    """An ``::error``/``::warning``/``::notice`` line, optionally anchored at file:line."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None

    def command(self) -> str:
        """The workflow command; message, title and file are neutralised (``text.safe_text``) first,
        so what the runner shows holds no control character or nested command."""
        props = []
        if self.title:
            props.append(f"title={escape_property(display(self.title))}")
        if self.file:
            props.append(f"file={escape_property(display(self.file))}")
            if self.line:
                props.append(f"line={int(self.line)}")
        head = f"::{self.level}" + (" " + ",".join(props) if props else "")
        return f"{head}::{escape_data(safe_text(self.message))}"

    def plain(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else f"{self.file}: " if self.file else ""
        return safe_text(f"{self.level}: {where}{self.message}")


class Actions:
    """One step's view of the Actions protocol. ``environ`` is the step's environment."""

    def __init__(self, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> None:
        self._env = dict(environ)
        # Under text.protected_stdio the streams neutralise every line; this object's own workflow
        # commands go to the raw stream beneath, and its plain lines are neutralised here.
        self._out = stdout.raw if isinstance(stdout, SafeStream) else stdout
        self._err = stderr.raw if isinstance(stderr, SafeStream) else stderr
        self._secrets: list[str] = []
        self.enabled = self._env.get("GITHUB_ACTIONS") == "true"
        self.printed = False  # has anything but add-mask been written? (masks must come first)

    # ---- inputs -------------------------------------------------------------------------------
    def input(self, name: str, default: str = "") -> str:
        """The trimmed value of input ``name``; ``default`` when unset or blank."""
        for variable in input_variables(name):
            value = self._env.get(variable)
            if value is not None and value.strip():
                return value.strip()
        return default

    def boolean(self, name: str) -> bool | None:
        """``true``/``false`` (any of True/TRUE...), or None when empty: not given, so that the config
        and the built-in default decide; anything else is an error."""
        value = self.input(name)
        if not value:
            return None
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
        raise InputError(name, value, "true or false (or empty: not given)")

    def choice(self, name: str, allowed: Iterable[str], default: str = "") -> str:
        values = tuple(allowed)
        value = self.input(name, default)
        if value not in values:
            raise InputError(name, value, f"one of {', '.join(values)}")
        return value

    def integer(self, name: str, minimum: int = 0) -> int | None:
        value = self.input(name)
        if not value:
            return None
        if not re.fullmatch(r"[0-9]+", value) or int(value) < minimum:
            raise InputError(name, value, f"a whole number >= {minimum}")
        return int(value)

    def items(self, name: str) -> tuple[str, ...]:
        return split_list(self.input(name))

    # ---- masking and messages -----------------------------------------------------------------
    def mask(self, secret: str | None) -> None:
        """Register a secret: the runner hides it in logs, and this object redacts it everywhere."""
        if not secret or not secret.strip():
            return
        parts = [secret, *(line for line in secret.splitlines() if line.strip())]
        for part in dict.fromkeys(parts):
            if part not in self._secrets:
                self._secrets.append(part)
                if self.enabled and "\n" not in part and "\r" not in part:
                    self._write(self._out, f"::add-mask::{escape_data(part)}", counts=False)
        self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def info(self, message: str) -> None:
        """Plain log lines: neutralised, so no line of ``message`` can act as a workflow command."""
        self._write(self._out if self.enabled else self._err, safe_text(self.redact(message)))

    def annotate(self, level: str, message: str, *, file: str | None = None, line: int | None = None,
                 title: str | None = None) -> None:
        note = Annotation(level, self.redact(message), file, line, self.redact(title) if title else None)
        if self.enabled:
            self._write(self._out, note.command())
        else:
            self._write(self._err, note.plain())

    def error(self, message: str, **where: object) -> None:
        self.annotate("error", message, **where)  # type: ignore[arg-type]

    def warning(self, message: str, **where: object) -> None:
        self.annotate("warning", message, **where)  # type: ignore[arg-type]

    def notice(self, message: str, **where: object) -> None:
        self.annotate("notice", message, **where)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group (``::group::``); plain heading outside Actions."""
        if self.enabled:
            self._write(self._out, f"::group::{escape_data(display(self.redact(title)))}")
        else:
            self._write(self._err, f"== {display(self.redact(title))}")
        try:
            yield
        finally:
            if self.enabled:
                self._write(self._out, "::endgroup::")

    # ---- files: outputs and summary -----------------------------------------------------------
    def set_output(self, name: str, value: str | int | None) -> None:
        """Append ``name`` to ``$GITHUB_OUTPUT``; multi-line values use a fresh heredoc delimiter."""
        if not _OUTPUT_NAME.fullmatch(name):
            raise ValueError(f"bad output name {name!r}")
        text = "" if value is None else self.redact(str(value))
        path = self._env.get("GITHUB_OUTPUT")
        if not self.enabled or not path:
            shown = f"output {name}={text}" if "\n" not in text else f"output {name}:\n{text}"
            self._write(self._err, safe_text(shown))
            return
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(format_output(name, text))

    def summary(self, markdown: str) -> None:
        """Append Markdown to ``$GITHUB_STEP_SUMMARY`` (trimmed to GitHub's 1 MiB limit)."""
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if not self.enabled or not path:
            return
        text = self.redact(markdown).rstrip("\n") + "\n"
        target = Path(path)
        used = target.stat().st_size if target.exists() else 0
        room = SUMMARY_LIMIT - used
        data = text.encode()
        if len(data) > room:
            note = b"\n\n_(summary truncated: GitHub keeps at most 1 MiB per step)_\n"
            data = data[: max(0, room - len(note))].decode(errors="ignore").encode() + note
        with target.open("ab") as handle:
            handle.write(data)

    def _write(self, stream: TextIO, line: str, *, counts: bool = True) -> None:
        if counts:
            self.printed = True
        stream.write(line + "\n")
        stream.flush()


def format_output(name: str, value: str) -> str:
    """One ``$GITHUB_OUTPUT`` record: ``name=value`` or a heredoc with a delimiter not in ``value``."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    while True:
        delimiter = f"ghadelimiter_{_secrets.token_hex(16)}"
        if delimiter not in value:
            break
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
