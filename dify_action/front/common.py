"""What both front ends (the action and the CLI) do around the core: the scanners' minimal
environment, the CLI's secrets, access and context, and the CLI's one path through the core
(``run_cli``). Front-end code only: the core never imports this module."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from dify_action.choices import PASSWORD_ENV, TOKEN_ENV, USERNAME_ENV
from dify_action.errors import DifyActionError, InputError
from dify_action.resolve.request import Access, Command, RunContext, Secrets

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


def append_summary(path: str | None, markdown: str) -> None:
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n")


def cli_access(username: str | None, docker_host: str | None, environ: Mapping[str, str]) -> Access:
    """The registry user (flag, else $DIFY_ACTION_REGISTRY_USERNAME) and the engine (flag, else $DOCKER_HOST)."""
    return Access(username or environ.get(USERNAME_ENV) or None, docker_host or environ.get("DOCKER_HOST") or None)


def cli_context(*, source: str | None = None, revision: str | None = None, ref: str | None = None,
                event: str | None = None, run_number: int | None = None, run_url: str | None = None,
                event_path: str | None = None, pr_head_sha: bool = False) -> RunContext:
    """The run's context from the CLI's flags (the action reads GITHUB_* instead)."""
    payload = None
    if event_path:  # the tag policy's package loads only for a command that reads an event
        from dify_action.tags import load_event

        payload = load_event(event_path, input_name="event-path")
    return RunContext(source=source, revision=revision, ref=ref, event=event,
                      run_number=str(run_number) if run_number is not None else None, run_url=run_url,
                      event_payload=payload, pr_head_sha=pr_head_sha, environ=os.environ)


def error_document(error: DifyActionError) -> dict[str, object]:
    """A failure as data: what --json prints beside (or instead of) the result."""
    doc: dict[str, object] = {"message": error.message, "hint": error.hint, "exit_code": error.exit_code}
    if isinstance(error, InputError):
        doc["input"] = error.name
    return doc


def run_cli(request: Command, secrets: Secrets, environ: Mapping[str, str], *, as_json: bool,
            summary: str | None = None) -> int:
    """Every CLI command's one path: resolve (every check, before any side effect), run the core's
    pipeline, render the one ``Result`` (``--json``: the action's ``json`` output), also after a failure."""
    from dify_action.front import render
    from dify_action.pipeline.run import Pipeline
    from dify_action.pipeline.stages import CoreStages
    from dify_action.resolve import resolve

    try:
        plan = resolve(request, secrets)
    except DifyActionError as error:
        if as_json:  # --json means one JSON document on stdout, a refusal too
            print(json.dumps({"command": request.command, "error": error_document(error)}, sort_keys=True, indent=2))
        raise
    pipeline = Pipeline(plan, CoreStages(tool_environ(environ)), StderrReporter())
    try:
        result = pipeline.run()
    except DifyActionError as error:
        partial = pipeline.result()
        append_summary(summary, partial.markdown(f"failed ({error.message})"))
        if as_json:
            document = json.loads(render.document(partial)) | {"error": error_document(error)}
            print(json.dumps(document, sort_keys=True, indent=2))
        else:
            render.print_text(partial, sys.stdout, sys.stderr)
        raise
    append_summary(summary, result.markdown("passed"))
    if as_json:
        print(render.document(result))
    else:
        render.print_text(result, sys.stdout, sys.stderr)
    return 0
