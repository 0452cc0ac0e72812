"""Which inputs each command of the action takes, and the check that refuses the others.

There is one action per command (``build/action.yml`` ... ``check/action.yml``, each declaring only
its command's inputs and outputs, the command passed as the container's argument) and the
top-level ``action.yml``, which runs ``pipeline`` by default and any command through its ``command``
input. The container has no ``action.yml`` at run time, so this table is the one place that says
which input belongs to which command; ``tests/unit/front/test_inputs.py`` checks every
``action.yml`` against it (names, defaults and outputs).

Why refuse: an input another command uses used to be ignored silently (``gitops-dir`` given to
promote, ``image`` given to build). The runner hands every *declared* input to the container with
its default (``INPUT_PUSH=true`` although nobody wrote ``push``), so "given" means a value other
than the declared default; and it also hands over inputs the action does not declare (with only a
warning in the log), which is how a retired name like ``dockerfile`` arrives: refused too, naming
the input that replaced it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dify_action.choices import COMMANDS
from dify_action.errors import DifyActionError, InputError

# every input of the action and its declared default (the same in every action.yml that declares it);
# booleans and builder default to "": not given, so that the config and the built-in default decide
# (a declared "false" would reach the container as a given false: --no-pin-digest where none was meant)
DEFAULTS: Mapping[str, str] = {
    "config": "", "components": "",
    # build
    "repository": "", "file": "", "context": "", "target": "", "tags": "", "build-args": "", "push": "",
    "builder": "", "platforms": "", "labels": "", "secrets": "", "secret-files": "", "cache-from": "",
    "cache-to": "", "size-budget": "", "registry-username": "", "registry-password": "", "docker-host": "",
    # test, scan
    "image": "", "http-probe": "", "smoke-commands": "", "timeout": "", "severity": "", "sarif-file": "",
    "trivy-reports": "", "scan-offline": "",
    # bump, promote, rollback
    "env-file": "", "gitops-repo": "", "gitops-dir": "", "base": "", "environment": "", "provider": "",
    "push-mode": "", "token": "${{ github.token }}", "github-api-url": "", "github-repo": "", "paths": "",
    "helm-paths": "", "tag": "", "digest": "", "pin-digest": "", "pr-labels": "", "reviewers": "",
    "draft": "", "dry-run": "", "from-environment": "", "to-environment": "", "from-paths": "",
    "to-paths": "", "require-gates": "", "require-sbom": "", "require-verified": "", "require-provenance": "",
    "push-by-digest": "", "results": "", "registry-tag": "",
    "pull-request-number": "", "allow-schema-rollback": "",
    "sign-commits": "", "allow-version-skew": "", "dify-release": "",
}

# The default of ``token`` is the job's own token, a value the container cannot tell apart from one
# a workflow wrote: it never counts as given (a command without a GitOps step never reads it).
UNDETECTABLE = frozenset({"token"})

_REGISTRY = ("registry-username", "registry-password")
_BUILD = ("config", "components", "repository", "file", "context", "target", "tags", "build-args", "push",
          "builder", "platforms", "push-by-digest", "labels", "secrets", "secret-files", "cache-from", "cache-to",
          "size-budget",
          *_REGISTRY, "docker-host")
_SMOKE = ("http-probe", "smoke-commands", "timeout")
_SCAN = ("severity", "sarif-file", "trivy-reports", "scan-offline")
_REMOTE = ("gitops-repo", "base", "provider", "push-mode", "token", "github-api-url", "github-repo", "pr-labels",
           "sign-commits", "allow-version-skew")
_DELIVERY = (*_REMOTE, "gitops-dir", "environment", "paths", "helm-paths", "env-file", "reviewers", "draft",
             "dry-run")
_PIPELINE = (*_BUILD, *_SMOKE, *_SCAN, *_DELIVERY, "pin-digest")

COMMAND_INPUTS: Mapping[str, frozenset[str]] = {
    "build": frozenset(_BUILD),
    "test": frozenset(("config", "components", "image", *_SMOKE, *_REGISTRY, "docker-host")),
    "scan": frozenset(("config", "components", "image", "file", *_SCAN, *_REGISTRY, "docker-host")),
    "bump": frozenset(("config", "image", "tag", "digest", "dify-release", *_DELIVERY, *_REGISTRY)),
    "promote": frozenset(("config", *_REMOTE, "from-environment", "to-environment", "from-paths", "to-paths",
                          "paths", "helm-paths", "reviewers", "dry-run", "require-gates", "require-sbom",
                          "require-verified", "require-provenance", "pin-digest", "registry-tag", *_REGISTRY)),
    "rollback": frozenset(("config", *_REMOTE, "environment", "paths", "pull-request-number",
                           "allow-schema-rollback", "dry-run", *_REGISTRY)),
    "pipeline": frozenset(_PIPELINE),
    # check resolves what pipeline would run (and the environment's Dify release set), and changes nothing
    "check": frozenset((*_PIPELINE, "dify-release")),
    # the platform matrix's merge job (issue 20): the platform jobs' results -> one index, tagged
    "merge": frozenset(("results", "platforms", "tags", *_REGISTRY)),
}

_IMAGE_OUTPUTS = ("image", "ref", "tags", "tag-names", "labels", "digest", "imageid", "size")
_DELIVERY_OUTPUTS = ("image", "pull-request-number", "pull-request-url", "pull-request-operation", "operation",
                     "branch", "commit", "pull-request-commits-verified", "dify-set")
_DOCUMENT = ("json", "metadata")
# the outputs each command sets (front/action.py ``outputs``); check logs its plan and sets none
COMMAND_OUTPUTS: Mapping[str, tuple[str, ...]] = {
    "build": (*_IMAGE_OUTPUTS, *_DOCUMENT),
    "test": _DOCUMENT,
    "scan": _DOCUMENT,
    "bump": (*_DELIVERY_OUTPUTS, *_DOCUMENT),
    "promote": (*_DELIVERY_OUTPUTS, *_DOCUMENT),
    "rollback": (*_DELIVERY_OUTPUTS, *_DOCUMENT),
    "pipeline": tuple(dict.fromkeys((*_IMAGE_OUTPUTS, *_DELIVERY_OUTPUTS, *_DOCUMENT))),
    "check": ("dify-set",),
    "merge": ("image", "ref", "digest", "tags", "tag-names", "images", *_DOCUMENT),
}

# names that were renamed before any release: the error points at the name to use
RETIRED: Mapping[str, str] = {"dockerfile": "file", "platform": "platforms", "pr-number": "pull-request-number"}

_BOOLEANS = frozenset(name for name, default in DEFAULTS.items() if default in ("true", "false"))


def _variable_name(variable: str) -> str:
    """``INPUT_GITOPS-REPO`` or ``INPUT_GITOPS_REPO`` -> ``gitops-repo`` (the runner's form keeps hyphens)."""
    return variable.removeprefix("INPUT_").lower().replace("_", "-")


def given_inputs(env: Mapping[str, str]) -> dict[str, str]:
    """The inputs given a value other than their declared default, by name (``command`` aside)."""
    given: dict[str, str] = {}
    for variable, raw in env.items():
        if not variable.startswith("INPUT_"):
            continue
        name, value = _variable_name(variable), raw.strip()
        if name == "command" or not value or name in UNDETECTABLE:
            continue
        default = DEFAULTS.get(name, "")
        same = value.lower() == default if name in _BOOLEANS else value == default
        if not same:
            given[name] = value
    return given


def command_of(env: Mapping[str, str], argv: Sequence[str]) -> str:
    """The command to run: the argument a per-command action passes (``runs.args``), else the
    top-level action's ``command`` input (default ``pipeline``)."""
    chosen = env.get("INPUT_COMMAND", "").strip()  # one spelling: the name has no hyphen
    if argv:
        if argv[0] not in COMMANDS or len(argv) > 1:
            raise InputError("args", " ".join(argv), f"one command: {', '.join(COMMANDS)}")
        if chosen and chosen != argv[0]:
            raise InputError("command", chosen, f"nothing: the {argv[0]} action runs {argv[0]} (use the top-level "
                             "action to choose a command)")
        return argv[0]
    command = chosen or "pipeline"
    if command not in COMMANDS:
        raise InputError("command", command, f"one of {', '.join(COMMANDS)}")
    return command


def check_inputs(env: Mapping[str, str], argv: Sequence[str]) -> str:
    """The command, once every given input is one it takes; else exit 2 naming the inputs, the
    command and what it takes (before anything runs)."""
    command = command_of(env, argv)
    takes = COMMAND_INPUTS[command]
    foreign = sorted(name for name in given_inputs(env) if name not in takes)
    if foreign:
        raise ForeignInputs(command, tuple(foreign))
    return command


class ForeignInputs(InputError):
    """Inputs given to a command that does not take them (exit 2). Names the inputs, never their
    values (one may be a password meant for another command)."""

    def __init__(self, command: str, names: tuple[str, ...]) -> None:
        takes = ", ".join(sorted(COMMAND_INPUTS[command]))
        retired = [f"{name} is now {RETIRED[name]}" for name in names if name in RETIRED]
        unknown = [name for name in names if name not in DEFAULTS and name not in RETIRED]
        notes = "".join(f" ({note})" for note in (
            "; ".join(retired), f"not inputs of dify-action: {', '.join(unknown)}" if unknown else ""
        ) if note)
        listed = ", ".join(names)
        DifyActionError.__init__(  # not InputError's "invalid NAME 'VALUE'": several names, no values
            self, f"dify-action {command} does not take the input{'s' if len(names) > 1 else ''} {listed}"
            f"{notes}: it would ignore {'them' if len(names) > 1 else 'it'}. {command} takes: {takes or 'none'}")
        self.name, self.value, self.allowed = listed, "", takes
