"""The container action's front end: INPUT_* in, the core's pipeline run, outputs and a summary out.

Order matters: secrets are masked before anything else is printed; every input is read and
checked (exit 2, ::error, no side effect) before any stage starts; the stages themselves are
``dify_action.pipeline.run`` (the same core ``dify-action pipeline`` runs), reporting through
``gha.Actions`` (log groups, warnings); failures become ``::error`` annotations (file/line when the
error has them) and exit code 1, bad input exit code 2.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Mapping, MutableMapping

from dify_action import interrupt
from dify_action.choices import COMMANDS, SEVERITIES
from dify_action.errors import DifyActionError, InputError
from dify_action.front import gha
from dify_action.front.common import tool_environ
from dify_action.pipeline.run import Pipeline, Result
from dify_action.pipeline.stages import CoreStages
from dify_action.resolve import Plan, resolve
from dify_action.resolve.request import Secrets, Settings
from dify_action.tags import load_event
from dify_action.text import protected_stdio

SECRET_INPUTS = ("registry-password", "token")
OUTPUTS = ("image", "ref", "tags", "tag-names", "labels", "digest", "imageid", "size", "json", "metadata",
           "pull-request-number", "pull-request-url", "pull-request-operation", "pr-number", "pr-url", "operation",
           "branch", "commit", "dify-set")
PR_OPERATIONS = ("created", "updated", "closed")  # create-pull-request's values; anything else is "none"


def read_secrets(a: gha.Actions) -> Secrets:
    return Secrets(a.input("registry-password") or None, a.input("token") or None, build_secrets(a.input("secrets")))


def build_secrets(text: str) -> tuple[tuple[str, str], ...]:
    """``secrets``: one ID=VALUE per line, as docker/build-push-action takes them."""
    pairs = []
    for line in text.splitlines():
        if line.strip():
            name, sep, value = line.partition("=")
            if not sep:
                raise InputError("secrets", "(hidden)", "ID=VALUE lines (as in docker/build-push-action)")
            pairs.append((name.strip(), value))
    return tuple(pairs)


RENAMED = {"dockerfile": "file", "platform": "platforms", "pr-number": "pull-request-number"}  # old -> new


def _name(a: gha.Actions, new: str) -> str:
    """The input to read for ``new``: itself, or its deprecated old name (with a warning)."""
    old = next(o for o, n in RENAMED.items() if n == new)
    if a.input(old) and a.input(new):
        raise InputError(old, a.input(old), f"either {new} or its deprecated name {old}, not both")
    if a.input(old):
        a.warning(f"input {old} is deprecated: use {new} (the same meaning, named like docker/build-push-action "
                  "and peter-evans/create-pull-request)")
        return old
    return new


def _labels(a: gha.Actions) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(image labels, pull request labels). ``labels`` means image labels, as in build-push-action; a
    ``labels`` without any KEY=VALUE is read as the old pull request labels, with a warning."""
    image = tuple(line.strip() for line in a.input("labels").splitlines() if line.strip())
    pr = a.items("pr-labels")
    if image and not any("=" in line for line in image):
        a.warning("input labels now sets image labels (KEY=VALUE, like docker/build-push-action): use pr-labels "
                  "for pull request labels; read as pull request labels this time")
        return (), pr + image
    bad = next((line for line in image if "=" not in line), None)
    if bad is not None:
        raise InputError("labels", bad, "image labels, one KEY=VALUE per line (pull request labels go to pr-labels)")
    return image, pr


def read_inputs(a: gha.Actions) -> Settings:
    """Parse and check every input; raises InputError naming the first bad one."""
    def opt(name: str) -> str | None:
        return a.input(name) or None

    command = a.choice("command", COMMANDS)
    image_labels, pr_labels = _labels(a)
    images = tuple(line.strip() for line in a.input("image").splitlines() if line.strip())
    return Settings(
        command=command, config=opt("config"), components=a.items("components"),
        registry_username=opt("registry-username"),
        repository=opt("repository"), dockerfile=opt(_name(a, "file")), context=opt("context"),
        target=opt("target"), tags=a.items("tags"), build_args=tuple(
            line.strip() for line in a.input("build-args").splitlines() if line.strip()),
        push=a.boolean("push", default=True), builder=a.choice("builder", ("auto", "buildkit", "legacy"), "auto"),
        platform=opt(_name(a, "platforms")), size_budget=opt("size-budget"), image_labels=image_labels,
        cache_from=a.items("cache-from"), cache_to=opt("cache-to"),
        secret_files=tuple(line.strip() for line in a.input("secret-files").splitlines() if line.strip()),
        image=images[0] if len(images) == 1 else None, images=images if len(images) > 1 else (),
        env_file=opt("env-file"), http_probe=opt("http-probe"), smoke_commands=tuple(
            line.strip() for line in a.input("smoke-commands").splitlines() if line.strip()),
        timeout=opt("timeout"),
        severity=(a.choice("severity", SEVERITIES) if a.input("severity")
                  else None),
        sarif_file=opt("sarif-file"), trivy_reports=a.items("trivy-reports"), scan_offline=a.boolean("scan-offline"),
        gitops_repo=opt("gitops-repo"), gitops_dir=opt("gitops-dir"), base=opt("base"),
        environment=opt("environment"),
        provider=a.choice("provider", ("github", "git")) if a.input("provider") else "",
        push_mode=a.choice("push-mode", ("branch", "direct")) if a.input("push-mode") else "",
        github_api_url=opt("github-api-url"), github_repo=opt("github-repo"), paths=a.items("paths"),
        helm_paths=a.items("helm-paths"), tag=opt("tag"), digest=opt("digest"),
        pin_digest=a.boolean("pin-digest"), labels=pr_labels, reviewers=a.items("reviewers"),
        draft=a.boolean("draft"), dry_run=a.boolean("dry-run"), from_environment=opt("from-environment"),
        to_environment=opt("to-environment"), from_paths=a.items("from-paths"), to_paths=a.items("to-paths"),
        require_gates=a.boolean("require-gates", default=True), require_sbom=a.boolean("require-sbom"),
        registry_tag=opt("registry-tag"),
        pr_number=a.integer(_name(a, "pull-request-number"), minimum=1),
        allow_schema_rollback=a.boolean("allow-schema-rollback"),
        allow_version_skew=a.boolean("allow-version-skew"), dify_release=opt("dify-release"),  # issue 21
        docker_host=opt("docker-host"),
    )


def with_context(inputs: Settings, env: Mapping[str, str]) -> Settings:
    """Add what the runner tells every step (GITHUB_*)."""
    server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    source = f"{server}/{repo}" if server and repo else None
    return dataclasses.replace(
        inputs, source=source, revision=env.get("GITHUB_SHA"), ref=env.get("GITHUB_REF"),
        event=env.get("GITHUB_EVENT_NAME"), run_number=env.get("GITHUB_RUN_NUMBER"),
        run_url=f"{source}/actions/runs/{run}" if source and run else None, api_url=env.get("GITHUB_API_URL"),
        server_url=server, docker_host=inputs.docker_host or env.get("DOCKER_HOST"),
        event_payload=load_event(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else None,
        base_ref=env.get("GITHUB_BASE_REF") or None,
        pr_head_sha=env.get("DOCKER_METADATA_PR_HEAD_SHA", "").lower() == "true")  # metadata-action's switch


def trust_workspace(env: MutableMapping[str, str], workspace: str | None) -> None:
    """Trust the workspace for git (``GIT_CONFIG_*``: command scope, honoured for safe.directory since
    git 2.39; no file written). The runner owns the checkout, the container runs as root."""
    if workspace:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
        env[f"GIT_CONFIG_VALUE_{count}"] = workspace
        env["GIT_CONFIG_COUNT"] = str(count + 1)


def _relative(file: str | None, workspace: str | None) -> str | None:
    if file and workspace and file.startswith(workspace.rstrip("/") + "/"):
        return file[len(workspace.rstrip("/")) + 1:]
    return file


def outputs(result: Result) -> dict[str, str]:
    """The action's outputs, named like docker/metadata-action's, build-push-action's and
    create-pull-request's: the first built image, the last delivery (bump, promote, rollback), and
    ``json``/``metadata`` with everything (every component), the document ``--json`` prints too."""
    values: dict[str, str] = {}
    if result.images:
        first = result.images[0]
        values.update(image=first.image, ref=first.ref, tags="\n".join(first.references),
                      **{"tag-names": "\n".join(first.tags)}, digest=first.digest or "", imageid=first.build.image_id,
                      size=str(first.size), labels="\n".join(f"{k}={v}" for k, v in first.build.labels.items()))
    if result.deliveries:
        last = result.deliveries[-1]
        for key, value in (("operation", last.operation), ("pull-request-number", last.pr_number),
                           ("pull-request-url", last.pr_url), ("branch", last.branch), ("commit", last.commit)):
            values[key] = "" if value is None else str(value)
        values["pull-request-operation"] = last.operation if last.operation in PR_OPERATIONS else "none"
        values["pr-number"], values["pr-url"] = values["pull-request-number"], values["pull-request-url"]  # old names
        if last.images:
            values.setdefault("image", last.images[0])
        if last.dify_set is not None:  # issue 21
            values["dify-set"] = json.dumps(last.dify_set, sort_keys=True)
    values["json"] = values["metadata"] = json.dumps(result.as_dict(), sort_keys=True)
    return values


def _check_set(a: gha.Actions, plan: Plan, env: Mapping[str, str]) -> str:
    """Issue 21: ``check`` with an environment: its Dify release set, refused like a change would be."""
    from dify_action.releaseset import enforce

    if plan.gitops is None or not plan.gitops.environment:
        return ""
    checked = CoreStages(tool_environ(env)).release_set(plan, plan.gitops, ())
    for line in checked.lines():
        a.info(line)
    for warning in enforce(checked):
        a.warning(warning)
    a.set_output("dify-set", json.dumps(checked.as_dict(), sort_keys=True))
    return checked.markdown()


def _write_outputs(a: gha.Actions, result: Result) -> None:
    values = outputs(result)
    for name in OUTPUTS:
        if name in values:
            a.set_output(name, values[name])


def main(environ: dict[str, str] | None = None) -> int:
    """Run the step; every line printed, ours or a library's, is neutralised for the runner's command
    channel (``text.protected_stdio``): only ``gha.Actions`` writes workflow commands."""
    with protected_stdio():
        return _main(os.environ if environ is None else environ)


def _main(env: MutableMapping[str, str]) -> int:
    interrupt.install()  # a cancelled job sends SIGTERM: unwind like Ctrl-C (python is PID 1 in the image)
    a = gha.Actions(env, sys.stdout, sys.stderr)
    for name in SECRET_INPUTS:  # first of all, before any other line is printed
        a.mask(a.input(name))
    for line in a.input("secrets").splitlines():  # each build secret's value on its own, too
        a.mask(line.partition("=")[2])
    if a.input("token"):  # the form git sends it in (Basic auth header), should any tool log it
        a.mask(base64.b64encode(f"x-access-token:{a.input('token')}".encode()).decode())
    pipeline: Pipeline | None = None
    workspace = env.get("GITHUB_WORKSPACE")
    try:
        plan = resolve(with_context(read_inputs(a), env), read_secrets(a))  # every check, before any side effect
        if plan.command == "check":
            with a.group("dify-action check: the resolved requests"):
                a.info(json.dumps(plan.describe(), indent=2))
            section = _check_set(a, plan, env)  # issue 21: the environment's Dify release set
            a.summary("## dify-action check: passed\n\nThe inputs and the config are valid; the log shows the "
                      "resolved requests." + (f"\n\n{section}" if section else ""))
            return 0
        trust_workspace(env, workspace)
        pipeline = Pipeline(plan, CoreStages(tool_environ(env)), a)
        result = pipeline.run()
        _write_outputs(a, result)
        a.summary(result.markdown("passed"))
        return 0
    except DifyActionError as error:
        title = f"dify-action {a.input('command')}".strip()
        message = error.message + (f" (hint: {error.hint})" if error.hint else "")
        a.error(message, file=_relative(error.file, workspace), line=error.line, title=title)
        if pipeline is not None:  # what was done before the failure (e.g. the digest of a failed gate)
            _write_outputs(a, pipeline.result())
            a.summary(pipeline.result().markdown(f"failed ({error.message})"))
        return error.exit_code
    except KeyboardInterrupt as stop:  # SIGTERM or Ctrl-C: every cleanup above has run
        a.error("interrupted (job cancelled): what was started is cleaned up", title="dify-action")
        return interrupt.exit_code(stop)
    except Exception as error:  # a bug: say so, with the traceback in the log
        traceback.print_exc(file=sys.stderr)
        a.error(f"unexpected {type(error).__name__}: {error}", title="dify-action internal error")
        return 1

