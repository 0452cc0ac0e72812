"""What both front ends (the action and the CLI) do around the core: the scanners' minimal
environment, the CLI's secrets, plain-text rendering of a result. Front-end code only: the core
never imports this module."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from dify_action.choices import PASSWORD_ENV, TOKEN_ENV
from dify_action.errors import InputError
from dify_action.pipeline.run import Result
from dify_action.resolve.request import Secrets

# what a scanner subprocess may see of ours: no token, no password, no GITHUB_* of the job
_TOOL_VARIABLES = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR",
                   "REQUESTS_CA_BUNDLE", "XDG_CACHE_HOME", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                   "http_proxy", "https_proxy", "no_proxy")


def tool_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment scanner subprocesses get: a few variables by name, and Trivy's own."""
    return {k: v for k, v in environ.items() if k in _TOOL_VARIABLES or k.startswith("TRIVY_")}


def cli_secrets(environ: Mapping[str, str], build: Sequence[str] = ()) -> Secrets:
    """The CLI's secrets: the registry password and the GitOps token, read once, here; and the
    build secrets ``--secret id=ID,env=VAR`` take from the environment (never from a flag's value)."""
    token = next((environ[name].strip() for name in TOKEN_ENV if environ.get(name, "").strip()), None)
    values = []
    for spec in build:
        fields = secret_spec(spec)
        if "env" in fields:
            if fields["env"] not in environ:
                raise InputError("secret", spec, f"an environment variable {fields['env']} that is set")
            values.append((fields["id"], environ[fields["env"]]))
    return Secrets(environ.get(PASSWORD_ENV) or None, token, tuple(values))


def secret_files(build: Sequence[str]) -> tuple[str, ...]:
    """``ID=PATH`` of every ``--secret id=ID,src=PATH``."""
    return tuple(f"{f['id']}={f['src']}" for f in map(secret_spec, build) if "src" in f)


def secret_spec(spec: str) -> dict[str, str]:
    """docker build's ``--secret`` syntax: ``id=ID,src=PATH`` or ``id=ID,env=VARIABLE``."""
    fields = dict(item.partition("=")[::2] for item in spec.split(",") if item)
    if set(fields) not in ({"id", "src"}, {"id", "env"}) or not all(fields.values()):
        raise InputError("secret", spec, "id=ID,src=FILE or id=ID,env=VARIABLE (docker build's syntax)")
    return fields


class StderrReporter:
    """Progress as plain lines on stderr (the CLI's reporter)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stderr, flush=True)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._print(f"== {title}")
        yield

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        self._print(f"warning: {where}{message}")

    def info(self, message: str) -> None:
        self._print(message)


def report_gate(summary: str | None, markdown: str, document: dict[str, object] | None, failure: str | None) -> int:
    """A single gate's CLI result (test, scan): the Markdown appended to ``summary``, the Markdown or
    the ``--json`` document on stdout, the failure on stderr; exit 1 when it failed."""
    append_summary(summary, markdown)
    print(json.dumps(document, indent=2) if document is not None else markdown)
    if failure:
        print(failure, file=sys.stderr)
        return 1
    return 0


def append_summary(path: str | None, markdown: str) -> None:
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n")


def text_lines(result: Result) -> list[str]:
    """The plain-text account of a run: one line per stage, then each changed value."""
    lines = [f"{row.stage}: {row.result} {row.details}".rstrip() for row in result.rows]
    for d in result.deliveries:
        lines += [f"  {c.file}:{c.line}  {c.old} -> {c.new}" for c in d.changes]
    return lines
