"""The container action's front end: INPUT_* in, the core's pipeline run, outputs and a summary out.

Order matters: secrets are masked before anything else is printed; every input is read and
checked (exit 2, ::error, no side effect) before any stage starts; the stages themselves are
``dify_action.pipeline.run`` (the same core ``dify-action pipeline`` runs), reporting through
``gha.Actions`` (log groups, warnings); failures become ``::error`` annotations (file/line when the
error has them) and exit code 1, bad input exit code 2.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import traceback
from collections.abc import MutableMapping

from dify_action import interrupt
from dify_action.errors import DifyActionError
from dify_action.front import gha, render
from dify_action.front.action_request import read_request, read_secrets
from dify_action.front.common import tool_environ
from dify_action.front.inputs import check_inputs
from dify_action.pipeline.model import Result
from dify_action.pipeline.run import Pipeline
from dify_action.pipeline.stages import CoreStages
from dify_action.resolve import resolve
from dify_action.text import protected_stdio

SECRET_INPUTS = ("registry-password", "token")


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


def _write_outputs(a: gha.Actions, result: Result) -> None:
    values = render.outputs(result)
    for name in render.OUTPUTS:
        if name in values:
            a.set_output(name, values[name])


def main(environ: dict[str, str] | None = None, argv: list[str] | None = None) -> int:
    """Run the step; every line printed, ours or a library's, is neutralised for the runner's command
    channel (``text.protected_stdio``): only ``gha.Actions`` writes workflow commands. ``argv``: the
    container's arguments, the command of a per-command action (``bump/action.yml``: ``args: [bump]``);
    by default the process's own, unless ``environ`` is given (a test's step has no arguments)."""
    if argv is None:
        argv = sys.argv[1:] if environ is None else []
    with protected_stdio():
        return _main(os.environ if environ is None else environ, argv)


def _main(env: MutableMapping[str, str], argv: list[str]) -> int:
    interrupt.install()  # a cancelled job sends SIGTERM: unwind like Ctrl-C (python is PID 1 in the image)
    a = gha.Actions(env, sys.stdout, sys.stderr)
    if argv[:1] == ["verify"] or a.input("command") == "verify":  # verify/action.yml: its own inputs, outputs
        from dify_action.front.verify_action import run_verify

        return run_verify(a, env)
    for name in SECRET_INPUTS:  # first of all, before any other line is printed
        a.mask(a.input(name))
    for line in a.input("secrets").splitlines():  # each build secret's value on its own, too
        a.mask(line.partition("=")[2])
    if a.input("token"):  # the form git sends it in (Basic auth header), should any tool log it
        a.mask(base64.b64encode(f"x-access-token:{a.input('token')}".encode()).decode())
    pipeline: Pipeline | None = None
    workspace = env.get("GITHUB_WORKSPACE")
    try:
        trust_workspace(env, workspace)  # in this process's environment only: git's, read into the request
        command = check_inputs(env, argv)  # inputs foreign to the command: exit 2, before anything runs
        if command == "merge":  # the platform matrix's merge job (issue 20; front/merge_action.py)
            from dify_action.front.merge_action import run_merge

            run_merge(a, workspace)
            return 0
        plan = resolve(read_request(a, env, command), read_secrets(a))  # every check, before any side effect
        if plan.command == "check":
            with a.group("dify-action check: the resolved requests"):
                a.info(json.dumps(plan.describe(), indent=2))
            checked = Pipeline(plan, CoreStages(tool_environ(env)), a).check_set()  # issue 21: the Dify set
            if checked is not None:
                a.set_output("dify-set", json.dumps(checked.as_dict(), sort_keys=True))
            a.summary("## dify-action check: passed\n\nThe inputs and the config are valid; the log shows the "
                      "resolved requests." + (f"\n\n{checked.markdown()}" if checked is not None else ""))
            return 0
        pipeline = Pipeline(plan, CoreStages(tool_environ(env)), a)
        result = pipeline.run()
        _write_outputs(a, result)
        a.summary(result.markdown("passed"))
        return 0
    except DifyActionError as error:
        title = f"dify-action {argv[0] if argv else a.input('command', 'pipeline')}"
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

