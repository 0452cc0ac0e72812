"""The container action's front end: INPUT_* in, the CLI's commands run, outputs and a summary out.

Order matters: secrets are masked before anything else is printed; every input is read and
checked (exit 2, ::error, no side effect) before any stage starts; each stage runs the same
command module the CLI runs (one argument surface, one validation) with ``--json`` so its result
comes back structured; failures become ``::error`` annotations (file/line when the error has them)
and exit code 1, bad input exit code 2. ``pipeline`` is build -> test -> scan -> bump, each stage
gated on the previous one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dify_action import gha
from dify_action.errors import DifyActionError, GateFailed, InputError

COMMANDS = ("build", "test", "scan", "bump", "promote", "rollback", "pipeline")
SECRET_INPUTS = ("registry-password", "token")
OUTPUTS = ("image", "ref", "tags", "digest", "size", "pr-number", "pr-url", "operation", "branch", "commit")


@dataclass(frozen=True)
class Inputs:
    """Every action input, parsed. Secrets are kept out of repr."""

    command: str
    config: str | None
    components: tuple[str, ...]
    registry_username: str | None
    registry_password: str | None = field(repr=False)
    repository: str | None
    dockerfile: str | None
    context: str | None
    target: str | None
    tags: tuple[str, ...]
    build_args: tuple[str, ...]
    push: bool
    builder: str
    platform: str | None
    size_budget: str | None
    image: str | None
    http_probe: str | None
    smoke_commands: tuple[str, ...]
    timeout: str | None
    severity: str | None
    sarif_file: str | None
    trivy_reports: tuple[str, ...]
    scan_offline: bool
    gitops_repo: str | None
    gitops_dir: str | None
    base: str | None
    environment: str | None
    provider: str
    push_mode: str
    token: str | None = field(repr=False)
    github_api_url: str | None
    github_repo: str | None
    paths: tuple[str, ...]
    helm_paths: tuple[str, ...]
    tag: str | None
    digest: str | None
    pin_digest: bool
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    draft: bool
    dry_run: bool
    from_environment: str | None
    to_environment: str | None
    from_paths: tuple[str, ...]
    to_paths: tuple[str, ...]
    require_gates: bool
    registry_tag: str | None
    pr_number: int | None
    allow_schema_rollback: bool
    docker_host: str | None


def read_inputs(a: gha.Actions) -> Inputs:
    """Parse and check every input; raises InputError naming the first bad one."""
    def opt(name: str) -> str | None:
        return a.input(name) or None

    command = a.choice("command", COMMANDS)
    return Inputs(
        command=command, config=opt("config"), components=a.items("components"),
        registry_username=opt("registry-username"), registry_password=opt("registry-password"),
        repository=opt("repository"), dockerfile=opt("dockerfile"), context=opt("context"),
        target=opt("target"), tags=a.items("tags"), build_args=tuple(
            line.strip() for line in a.input("build-args").splitlines() if line.strip()),
        push=a.boolean("push", default=True), builder=a.choice("builder", ("auto", "buildkit", "legacy"), "auto"),
        platform=opt("platform"), size_budget=opt("size-budget"),
        image=opt("image"), http_probe=opt("http-probe"), smoke_commands=tuple(
            line.strip() for line in a.input("smoke-commands").splitlines() if line.strip()),
        timeout=opt("timeout"),
        severity=(a.choice("severity", ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")) if a.input("severity")
                  else None),
        sarif_file=opt("sarif-file"), trivy_reports=a.items("trivy-reports"), scan_offline=a.boolean("scan-offline"),
        gitops_repo=opt("gitops-repo"), gitops_dir=opt("gitops-dir"), base=opt("base"),
        environment=opt("environment"),
        provider=a.choice("provider", ("github", "git")) if a.input("provider") else "",
        push_mode=a.choice("push-mode", ("branch", "direct"), "branch"), token=opt("token"),
        github_api_url=opt("github-api-url"), github_repo=opt("github-repo"), paths=a.items("paths"),
        helm_paths=a.items("helm-paths"), tag=opt("tag"), digest=opt("digest"),
        pin_digest=a.boolean("pin-digest"), labels=a.items("labels"), reviewers=a.items("reviewers"),
        draft=a.boolean("draft"), dry_run=a.boolean("dry-run"), from_environment=opt("from-environment"),
        to_environment=opt("to-environment"), from_paths=a.items("from-paths"), to_paths=a.items("to-paths"),
        require_gates=a.boolean("require-gates", default=True), registry_tag=opt("registry-tag"),
        pr_number=a.integer("pr-number", minimum=1), allow_schema_rollback=a.boolean("allow-schema-rollback"),
        docker_host=opt("docker-host"),
    )


@dataclass(frozen=True)
class Context:
    """What the runner tells every step (GITHUB_*), read once by the front end."""

    workspace: str | None
    sha: str | None
    ref: str | None
    event: str | None
    run_number: str | None
    source: str | None
    run_url: str | None
    api_url: str | None
    summary_dir: Path

    @classmethod
    def from_environ(cls, env: Mapping[str, str], summary_dir: Path) -> Context:
        server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
        source = f"{server}/{repo}" if server and repo else None
        return cls(env.get("GITHUB_WORKSPACE"), env.get("GITHUB_SHA"), env.get("GITHUB_REF"),
                   env.get("GITHUB_EVENT_NAME"), env.get("GITHUB_RUN_NUMBER"), source,
                   f"{source}/actions/runs/{run}" if source and run else None, env.get("GITHUB_API_URL"), summary_dir)


class Runner:
    """Runs stages through the CLI's command modules and collects outputs and summary fragments."""

    def __init__(self, actions: gha.Actions, inputs: Inputs, ctx: Context) -> None:
        from dify_action import cli

        self.a, self.i, self.ctx = actions, inputs, ctx
        self.parser = cli.build_parser()
        self.outputs: dict[str, str] = {}
        self.rows: list[tuple[str, str, str]] = []
        self.fragments: list[str] = []

    # -- plumbing ---------------------------------------------------------------------------------
    def cli(self, command: str, argv: Sequence[str], stage: str, positionals: Sequence[str] = ()) -> dict[str, Any]:
        """Run ``dify-action COMMAND ARGV --json``; return its JSON; failed gates raise GateFailed."""
        sub = _subparser(self.parser, command)
        if sub is None:
            raise DifyActionError(f"the {command} command is not part of this dify-action build",
                                  hint="use a newer dify-action release")
        known = {s: action.nargs != 0 for action in sub._actions for s in action.option_strings}
        argv = _known_only(list(argv), known, self.a, command)
        summary = self.ctx.summary_dir / f"{stage}.md"
        if "--summary" in known:
            argv += ["--summary", str(summary)]
        captured = io.StringIO()
        with self.a.group(f"dify-action {command} ({stage})"):
            try:
                args = self.parser.parse_args([command, *positionals, *argv, "--json"])
            except SystemExit:
                raise InputError(command, " ".join(argv), "arguments the CLI accepts (see the log above)") from None
            with contextlib.redirect_stdout(captured):
                code = int(args._run(args))
        if summary.exists():
            self.fragments.append(summary.read_text(encoding="utf-8"))
        text = captured.getvalue().strip()
        try:
            data: dict[str, Any] = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = {"output": text}
        if code != 0:
            self.rows.append((stage, "failed", ""))
            raise GateFailed(f"{stage} failed (exit {code}): the gate did not pass",
                             hint="see the step summary and the log group above")
        return data

    def common(self) -> list[str]:
        return ["--config", self.i.config] if self.i.config else []

    # -- stages -----------------------------------------------------------------------------------
    def build(self) -> list[dict[str, Any]]:
        i = self.i
        argv = self.common()
        for name in i.components:
            argv += ["--component", name]
        for flag, value in (("--repository", i.repository), ("--dockerfile", i.dockerfile),
                            ("--context", i.context), ("--target", i.target), ("--platform", i.platform),
                            ("--size-budget", i.size_budget), ("--registry-username", i.registry_username),
                            ("--docker-host", i.docker_host), ("--source", self.ctx.source),
                            ("--revision", self.ctx.sha), ("--ref", self.ctx.ref), ("--event", self.ctx.event),
                            ("--run-number", self.ctx.run_number)):
            argv += [flag, value] if value else []
        argv += [x for tag in i.tags for x in ("--tag", tag)]
        argv += [x for arg in i.build_args for x in ("--build-arg", arg)]
        argv += ["--builder", i.builder, "--push" if i.push else "--no-push"]
        components: list[dict[str, Any]] = self.cli("build", argv, "build").get("components", [])
        for c in components:
            self.rows.append(("build", "passed", f"`{c['image']}:{','.join(c['tags'])}` "
                              f"{c.get('digest') or 'not pushed'}, {int(c.get('size') or 0) / 1e6:.1f} MB"))
        if components:
            first = components[0]
            self.outputs.update(image=first["image"], ref=f"{first['image']}:{_deploy_tag(first['tags'])}",
                                tags="\n".join(first["tags"]),
                                digest=first.get("digest") or "", size=str(first.get("size") or ""))
        return components

    def test(self, image: str, component: str | None) -> None:
        i = self.i
        argv = ["--image", image, *self.common()]
        argv += ["--component", component] if component and i.config else []
        argv += ["--http-probe", i.http_probe] if i.http_probe else []
        argv += ["--timeout", i.timeout] if i.timeout else []
        argv += ["--docker-host", i.docker_host] if i.docker_host else []
        argv += [x for cmd in i.smoke_commands for x in ("--command", cmd)]
        self.cli("test", argv, f"test-{component or 'image'}")
        self.rows.append(("test", "passed", f"`{image}`"))

    def scan(self, image: str | None, component: str | None) -> None:
        i = self.i
        argv = [*self.common()]
        argv += ["--component", component] if component and i.config else []
        argv += ["--image", image] if image else []
        argv += ["--dockerfile", i.dockerfile] if i.dockerfile and not i.config else []
        argv += ["--severity", i.severity] if i.severity else []
        argv += ["--sarif", i.sarif_file] if i.sarif_file else []
        argv += ["--docker-host", i.docker_host] if i.docker_host else []
        argv += ["--offline"] if i.scan_offline else []
        argv += [x for report in i.trivy_reports for x in ("--trivy-report", report)]
        self.cli("scan", argv, f"scan-{component or 'image'}")
        self.rows.append(("scan", "passed", f"`{image or 'dockerfiles'}`"))

    def remote_argv(self, command: str) -> list[str]:
        """Flags of the GitOps repository and the forge, for bump (remote mode), promote and rollback."""
        i = self.i
        provider = i.provider or ("github" if command == "bump" or not i.config else "")
        argv = ["--gitops-repo", i.gitops_repo or "", "--push-mode", i.push_mode]
        argv += ["--provider", provider] if provider else []
        for flag, value in (("--base", i.base), ("--github-api-url", i.github_api_url or self.ctx.api_url),
                            ("--github-repo", i.github_repo), ("--run-url", self.ctx.run_url)):
            argv += [flag, value] if value else []
        argv += [x for label in i.labels for x in ("--label", label)]
        argv += ["--dry-run"] if i.dry_run else []
        return argv

    def bump(self, repository: str, tag: str, digest: str | None) -> None:
        i = self.i
        argv = ["--image", repository, "--tag", tag]
        argv += ["--digest", digest] if digest else []
        argv += [x for path in i.paths for x in ("--path", path)]
        argv += [x for key in i.helm_paths for x in ("--helm-path", key)]
        if i.gitops_dir:
            argv += ["--gitops-dir", i.gitops_dir] + (["--dry-run"] if i.dry_run else [])
        else:
            argv += self.remote_argv("bump") + (["--environment", i.environment] if i.environment else [])
            argv += [x for who in i.reviewers for x in ("--reviewer", who)]
            argv += ["--draft"] if i.draft else []
            for flag, value in (("--source-sha", self.ctx.sha), ("--source-repo", self.ctx.source)):
                argv += [flag, value] if value else []
        self.delivered("bump", self.cli("bump", argv, "bump"))

    def delivered(self, stage: str, data: Mapping[str, Any]) -> None:
        changes = data.get("changes") or data.get("images") or []
        operation = data.get("operation") or ("none" if not changes else "dry-run" if self.i.dry_run else "edited")
        for key, value in (("operation", operation), ("pr-number", data.get("pr_number")),
                           ("pr-url", data.get("pr_url")), ("branch", data.get("branch")),
                           ("commit", data.get("commit"))):
            self.outputs[key] = "" if value is None else str(value)
        where = f"PR #{data['pr_number']} {data.get('pr_url')}" if data.get("pr_number") else data.get("branch") or ""
        self.rows.append((stage, str(operation), f"{len(changes)} value(s) {where}".strip()))
        rows = [c for c in changes if {"file", "line", "old", "new"} <= set(c)]
        if rows:
            lines = ["| file | before | after |", "| --- | --- | --- |"]
            lines += [f"| `{c['file']}:{c['line']}` | `{c['old']}` | `{c['new']}` |" for c in rows]
            self.fragments.append(f"### {stage}: changed values\n\n" + "\n".join(lines))

    def promote(self) -> None:
        i = self.i
        if not (i.from_environment and i.to_environment):
            raise InputError("to-environment", i.to_environment or "", "promote needs from-environment and "
                             "to-environment, e.g. staging and production")
        argv = ["--from", i.from_environment, "--to", i.to_environment, *self.common(), *self.remote_argv("promote")]
        argv += [x for path in i.from_paths for x in ("--path-from", path)]
        argv += [x for path in i.to_paths or i.paths for x in ("--path-to", path)]
        argv += [x for key in i.helm_paths for x in ("--helm-path", key)]
        argv += ["--registry-tag", i.registry_tag] if i.registry_tag else []
        argv += ["--registry-username", i.registry_username] if i.registry_username else []
        argv += ["--pin-digest"] if i.pin_digest else []
        argv += [] if i.require_gates else ["--no-require-gates"]
        self.delivered("promote", self.cli("promote", argv, "promote"))

    def rollback(self) -> None:
        i = self.i
        if not (i.pr_number or i.environment):
            raise InputError("pr-number", "", "rollback needs pr-number, or environment for its last merged bump")
        argv = [*self.common(), *self.remote_argv("rollback")]
        argv += ["--pr", str(i.pr_number)] if i.pr_number else []
        argv += ["--environment", i.environment] if i.environment else []
        argv += [x for path in i.paths for x in ("--path", path)]
        argv += ["--registry-username", i.registry_username] if i.registry_username else []
        argv += ["--allow-schema-rollback"] if i.allow_schema_rollback else []
        self.delivered("rollback", self.cli("rollback", argv, "rollback"))

    def gates(self, components: Sequence[Mapping[str, Any]], results: Sequence[str]) -> None:
        """Record gate verdicts next to each pushed digest, where promote reads them."""
        for c in components:
            if not c.get("digest"):
                continue
            argv = ["--image", c["image"], "--digest", c["digest"]]
            argv += [x for result in results for x in ("--result", result)]
            argv += ["--registry-username", self.i.registry_username] if self.i.registry_username else []
            self.cli("gates", argv, "gates", positionals=["record"])
        if any(c.get("digest") for c in components):
            self.rows.append(("gates", "recorded", ", ".join(results)))

    def run(self) -> None:
        i, command = self.i, self.i.command
        if command in ("bump", "promote", "rollback") and not (i.gitops_repo or (command == "bump" and i.gitops_dir)):
            raise InputError("gitops-repo", "", f"{command} needs gitops-repo" + (
                " (or gitops-dir, a checked-out tree)" if command == "bump" else ""))
        if command in ("bump", "pipeline") and i.dry_run and i.gitops_repo and not i.gitops_dir:
            raise InputError("dry-run", "true", "bump and pipeline take dry-run only with gitops-dir (a checked-out "
                             "tree); promote and rollback take it with gitops-repo")
        if command == "build":
            self.build()
        elif command == "test":
            self.test(_required(i.image, "image", "the image to smoke-test, e.g. registry/acme/dify-api:sha-1234"),
                      i.components[0] if i.components else None)
        elif command == "scan":
            names = i.components or (None,)
            for name in names:
                self.scan(i.image, name)
        elif command == "bump":
            repository, tag, digest = _split_image(_required(i.image, "image", "an image repository (with tag)"),
                                                   i.tag, i.digest)
            self.bump(repository, tag, digest)
            self.outputs.setdefault("image", repository)
        elif command == "promote":
            self.promote()
        elif command == "rollback":
            self.rollback()
        else:
            self.pipeline()

    def pipeline(self) -> None:
        """build -> test -> scan -> (gate record) -> bump when a GitOps repo or tree is given."""
        components = self.build()
        refs = [(c, f"{c['image']}:{_deploy_tag(c['tags'])}") for c in components]
        stage = "smoke"
        try:
            for c, ref in refs:
                self.test(ref, c.get("component"))
            stage = "scan"
            for c, ref in refs:
                self.scan(ref, c.get("component"))
        except GateFailed:
            # promote must refuse these digests: record the verdicts before failing the step
            with contextlib.suppress(DifyActionError):
                self.gates(components, ["smoke=failed"] if stage == "smoke" else ["smoke=passed", "scan=failed"])
            raise
        self.gates(components, ["smoke=passed", "scan=passed"])
        if self.i.gitops_repo or self.i.gitops_dir:
            for c, _ in refs:
                self.bump(c["image"], _deploy_tag(c["tags"]), c.get("digest") if self.i.pin_digest else None)

    def report(self, status: str) -> str:
        lines = [f"## dify-action {self.i.command}: {status}", "", "| stage | result | details |",
                 "| --- | --- | --- |"]
        lines += [f"| {stage} | {result} | {details} |" for stage, result, details in self.rows]
        return "\n".join(lines) + "\n\n" + "\n\n".join(f.strip() for f in self.fragments if f.strip())


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(command)
            return found if isinstance(found, argparse.ArgumentParser) else None
    return None


def _known_only(argv: list[str], known: Mapping[str, bool], a: gha.Actions, command: str) -> list[str]:
    """Drop flags this build's command does not have (inputs meant for other commands or newer
    versions) with a warning, instead of failing on an argparse usage error."""
    kept: list[str] = []
    index = 0
    while index < len(argv):
        flag = argv[index]
        guess = index + 1 < len(argv) and not argv[index + 1].startswith("--")
        takes_value = known.get(flag, guess)
        if flag in known:
            kept += argv[index:index + 2] if takes_value else [flag]
        else:
            a.warning(f"{command}: this dify-action build has no {flag} option; ignored")
        index += 2 if takes_value else 1
    return kept


def _deploy_tag(tags: Sequence[str]) -> str:
    """The tag a GitOps repo should deploy: the first one the policy made that is not ``latest``."""
    return next((tag for tag in tags if tag != "latest"), tags[0])


def _required(value: str | None, name: str, allowed: str) -> str:
    if not value:
        raise InputError(name, "", allowed)
    return value


def _split_image(image: str, tag: str | None, digest: str | None) -> tuple[str, str, str | None]:
    from dify_action import refs

    ref = refs.parse(image, input_name="image")
    final_tag = tag or ref.tag
    if not final_tag:
        raise InputError("tag", "", "give tag, or an image input with a tag (repository:tag)")
    return ref.repository, final_tag, digest or ref.digest


def prepare_environment(env: MutableMapping[str, str], inputs: Inputs, workspace: str | None) -> None:
    """Hand secrets to the CLI layer the way it reads them, and trust the workspace for git
    (``GIT_CONFIG_*``: command scope, honoured for safe.directory since git 2.39; no file written)."""
    if inputs.registry_password:
        env["DIFY_ACTION_REGISTRY_PASSWORD"] = inputs.registry_password
    if inputs.registry_username:
        env["DIFY_ACTION_REGISTRY_USERNAME"] = inputs.registry_username
    if inputs.token:
        env["GITOPS_TOKEN"] = inputs.token
    if inputs.docker_host:
        env["DOCKER_HOST"] = inputs.docker_host
    if workspace:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
        env[f"GIT_CONFIG_VALUE_{count}"] = workspace
        env["GIT_CONFIG_COUNT"] = str(count + 1)


def _relative(file: str | None, workspace: str | None) -> str | None:
    if file and workspace and file.startswith(workspace.rstrip("/") + "/"):
        return file[len(workspace.rstrip("/")) + 1:]
    return file


def _write_outputs(a: gha.Actions, outputs: Mapping[str, str]) -> None:
    for name in OUTPUTS:
        if name in outputs:
            a.set_output(name, outputs[name])


def main(environ: dict[str, str] | None = None) -> int:
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    a = gha.Actions(env, sys.stdout, sys.stderr)
    for name in SECRET_INPUTS:  # first of all, before any other line is printed
        a.mask(a.input(name))
    if a.input("token"):  # the form git sends it in (Basic auth header), should any tool log it
        a.mask(base64.b64encode(f"x-access-token:{a.input('token')}".encode()).decode())
    runner: Runner | None = None
    workspace = env.get("GITHUB_WORKSPACE")
    try:
        inputs = read_inputs(a)
        prepare_environment(env, inputs, workspace)
        with tempfile.TemporaryDirectory(prefix="dify-action-summary-") as temp:
            runner = Runner(a, inputs, Context.from_environ(env, Path(temp)))
            runner.run()
            _write_outputs(a, runner.outputs)
            a.summary(runner.report("passed"))
        return 0
    except DifyActionError as error:
        title = f"dify-action {a.input('command')}".strip()
        message = error.message + (f" (hint: {error.hint})" if error.hint else "")
        a.error(message, file=_relative(error.file, workspace), line=error.line, title=title)
        if runner is not None:  # what was done before the failure (e.g. the digest of a failed gate)
            _write_outputs(a, runner.outputs)
            a.summary(runner.report(f"failed ({error.message})"))
        return error.exit_code
    except Exception as error:  # a bug: say so, with the traceback in the log
        traceback.print_exc(file=sys.stderr)
        a.error(f"unexpected {type(error).__name__}: {error}", title="dify-action internal error")
        return 1


if __name__ == "__main__":
    sys.exit(main())
