"""The action's inputs (INPUT_*) and the runner's context (GITHUB_*) -> the command's typed request.

Every input is read here, in one place, and only into the request of the command that uses it. A
boolean input left empty stays None ("not given"), so that the config and the built-in defaults
decide in the resolver; ``true``/``false`` are given values, both ways.
"""

from __future__ import annotations

from collections.abc import Mapping

from dify_action.choices import BUILDERS, COMMANDS, PROVIDERS, PUSH_MODES, SEVERITIES
from dify_action.errors import InputError
from dify_action.front import gha
from dify_action.resolve.request import (
    Access,
    BuildCommand,
    BuildInputs,
    BumpCommand,
    BumpInputs,
    CheckCommand,
    Command,
    GitOpsInputs,
    PipelineCommand,
    PromoteCommand,
    RollbackCommand,
    RunContext,
    ScanCommand,
    ScanInputs,
    Secrets,
    SmokeInputs,
    TestCommand,
)
from dify_action.tags import load_event


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


def _opt(a: gha.Actions, name: str) -> str | None:
    return a.input(name) or None


def _lines(a: gha.Actions, name: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in a.input(name).splitlines() if line.strip())


def _choice(a: gha.Actions, name: str, allowed: tuple[str, ...]) -> str | None:
    return a.choice(name, allowed) if a.input(name) else None


def read_context(env: Mapping[str, str]) -> RunContext:
    """What the runner tells every step (GITHUB_*)."""
    server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    source = f"{server}/{repo}" if server and repo else None
    return RunContext(
        source=source, revision=env.get("GITHUB_SHA"), ref=env.get("GITHUB_REF"),
        event=env.get("GITHUB_EVENT_NAME"), run_number=env.get("GITHUB_RUN_NUMBER"),
        run_url=f"{source}/actions/runs/{run}" if source and run else None, api_url=env.get("GITHUB_API_URL"),
        server_url=server,
        event_payload=load_event(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else None,
        base_ref=env.get("GITHUB_BASE_REF") or None,
        pr_head_sha=env.get("DOCKER_METADATA_PR_HEAD_SHA", "").lower() == "true",  # metadata-action's switch
        environ=env)


def _access(a: gha.Actions, env: Mapping[str, str]) -> Access:
    return Access(_opt(a, "registry-username"), _opt(a, "docker-host") or env.get("DOCKER_HOST"))


def _build(a: gha.Actions, env: Mapping[str, str]) -> BuildInputs:
    labels = _lines(a, "labels")
    # the provenance's builder id: the workflow that ran (owner/repo/.github/workflows/x.yml@ref), issue 20
    server, workflow = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_WORKFLOW_REF")
    builder_id = f"{server}/{workflow}" if server and workflow else None
    bad = next((line for line in labels if "=" not in line), None)
    if bad is not None:
        raise InputError("labels", bad, "image labels, one KEY=VALUE per line (pull request labels go to pr-labels)")
    return BuildInputs(
        repository=_opt(a, "repository"), file=_opt(a, "file"), context=_opt(a, "context"), target=_opt(a, "target"),
        tags=a.items("tags"), build_args=_lines(a, "build-args"), push=a.boolean("push"),
        builder=_choice(a, "builder", BUILDERS), platforms=_opt(a, "platforms"), size_budget=_opt(a, "size-budget"),
        image_labels=labels, cache_from=a.items("cache-from"), cache_to=_opt(a, "cache-to"),
        secret_files=_lines(a, "secret-files"), push_by_digest=a.boolean("push-by-digest"),
        builder_id=builder_id)


def _smoke(a: gha.Actions) -> SmokeInputs:
    return SmokeInputs(http_probe=_opt(a, "http-probe"), commands=_lines(a, "smoke-commands"),
                       timeout=_opt(a, "timeout"))


def _scan(a: gha.Actions, *, lint_file: bool) -> ScanInputs:
    file = _opt(a, "file") if lint_file else None
    return ScanInputs(severity=_choice(a, "severity", SEVERITIES), sarif_file=_opt(a, "sarif-file"),
                      trivy_reports=a.items("trivy-reports"), offline=a.boolean("scan-offline"),
                      dockerfiles=(file,) if file else ())


def _gitops(a: gha.Actions) -> GitOpsInputs:
    return GitOpsInputs(
        repo=_opt(a, "gitops-repo"), directory=_opt(a, "gitops-dir"), base=_opt(a, "base"),
        provider=_choice(a, "provider", PROVIDERS), push_mode=_choice(a, "push-mode", PUSH_MODES),
        github_api_url=_opt(a, "github-api-url"), github_repo=_opt(a, "github-repo"), pr_labels=a.items("pr-labels"),
        reviewers=a.items("reviewers"), draft=a.boolean("draft"), dry_run=a.boolean("dry-run"),
        sign_commits=a.boolean("sign-commits"), allow_version_skew=a.boolean("allow-version-skew"))


def _bump(a: gha.Actions, images: tuple[str, ...]) -> BumpInputs:
    return BumpInputs(environment=_opt(a, "environment"), images=images, tag=_opt(a, "tag"), digest=_opt(a, "digest"),
                      paths=a.items("paths"), helm_paths=a.items("helm-paths"), env_file=_opt(a, "env-file"),
                      pin_digest=a.boolean("pin-digest"), dify_release=_opt(a, "dify-release"))


def _one_image(a: gha.Actions, command: str) -> str | None:
    images = _lines(a, "image")
    if len(images) > 1:
        raise InputError("image", " ".join(images), f"one image: {command} works on one image (bump takes several, "
                         "one per line)")
    return images[0] if images else None


def read_request(a: gha.Actions, env: Mapping[str, str], command: str | None = None) -> Command:
    """The request of ``command`` (the one ``inputs.check_inputs`` chose, else the ``command`` input);
    raises InputError naming the first bad input."""
    command = command or a.choice("command", COMMANDS, "pipeline")
    context, access, config, components = read_context(env), _access(a, env), _opt(a, "config"), a.items("components")
    if command == "build":
        return BuildCommand(config, components, access, _build(a, env), context)
    if command == "test":
        return TestCommand(_one_image(a, "test"), config, components, access, _smoke(a))
    if command == "scan":
        return ScanCommand(_one_image(a, "scan"), config, components, access, _scan(a, lint_file=True))
    if command == "bump":
        return BumpCommand(config, _bump(a, _lines(a, "image")), _gitops(a), context, access)
    if command == "promote":
        return PromoteCommand(
            from_environment=_opt(a, "from-environment"), to_environment=_opt(a, "to-environment"), config=config,
            from_paths=a.items("from-paths"), to_paths=a.items("to-paths"), helm_paths=a.items("helm-paths"),
            registry_tag=_opt(a, "registry-tag"), require_gates=a.boolean("require-gates"),
            require_sbom=a.boolean("require-sbom"), require_verified=a.boolean("require-verified"),
            require_provenance=a.boolean("require-provenance"),
            pin_digest=a.boolean("pin-digest"), access=access,
            gitops=_gitops(a), context=context)
    if command == "rollback":
        return RollbackCommand(
            pull_request=a.integer("pull-request-number", minimum=1),
            environment=_opt(a, "environment"), config=config, paths=a.items("paths"),
            allow_schema_rollback=a.boolean("allow-schema-rollback"), access=access, gitops=_gitops(a),
            context=context)
    pipeline = PipelineCommand(config, components, access, _build(a, env), _smoke(a), _scan(a, lint_file=False),
                               _bump(a, ()), _gitops(a), context)
    return CheckCommand(pipeline) if command == "check" else pipeline

