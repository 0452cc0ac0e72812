"""Typed settings of a run, and the arguments each stage command gets from them.

Every stage is a command of the CLI, so there is one argument surface and one validation; this
module is the only place that knows which setting becomes which flag of which command. Secrets are
not settings: the CLI layer reads them (DIFY_ACTION_REGISTRY_PASSWORD, GITOPS_TOKEN).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """What to run and how: the action's inputs (less secrets) and the run's context."""

    command: str = "pipeline"
    config: str | None = None
    components: tuple[str, ...] = ()
    registry_username: str | None = None
    repository: str | None = None
    dockerfile: str | None = None
    context: str | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    push: bool = True
    builder: str = "auto"
    platform: str | None = None
    size_budget: str | None = None
    image: str | None = None
    http_probe: str | None = None
    smoke_commands: tuple[str, ...] = ()
    timeout: str | None = None
    severity: str | None = None
    sarif_file: str | None = None
    trivy_reports: tuple[str, ...] = ()
    scan_offline: bool = False
    gitops_repo: str | None = None
    gitops_dir: str | None = None
    base: str | None = None
    environment: str | None = None
    provider: str = ""  # "": github for bump (and promote/rollback without a config)
    push_mode: str = ""  # "": the config environment's mode for bump, else branch
    github_api_url: str | None = None
    github_repo: str | None = None
    paths: tuple[str, ...] = ()
    helm_paths: tuple[str, ...] = ()
    tag: str | None = None
    digest: str | None = None
    pin_digest: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False
    dry_run: bool = False
    from_environment: str | None = None
    to_environment: str | None = None
    from_paths: tuple[str, ...] = ()
    to_paths: tuple[str, ...] = ()
    require_gates: bool = True
    registry_tag: str | None = None
    pr_number: int | None = None
    allow_schema_rollback: bool = False
    docker_host: str | None = None
    # the run's context (GITHUB_* in the action, flags in the CLI)
    source: str | None = None  # source repository URL
    revision: str | None = None  # the commit built
    ref: str | None = None
    event: str | None = None
    run_number: str | None = None
    run_url: str | None = None
    api_url: str | None = None  # fallback for github_api_url


def _opts(*pairs: tuple[str, str | None]) -> list[str]:
    """``--flag value`` for each pair with a value."""
    return [x for flag, value in pairs if value for x in (flag, value)]


def _each(flag: str, values: Iterable[str]) -> list[str]:
    return [x for value in values for x in (flag, value)]


class StageArgs:
    """The argv of each stage command for one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def common(self) -> list[str]:
        return ["--config", self.s.config] if self.s.config else []

    def build(self) -> list[str]:
        s = self.s
        argv = self.common() + _each("--component", s.components)
        argv += _opts(("--repository", s.repository), ("--dockerfile", s.dockerfile), ("--context", s.context),
                      ("--target", s.target), ("--platform", s.platform), ("--size-budget", s.size_budget),
                      ("--registry-username", s.registry_username), ("--docker-host", s.docker_host),
                      ("--source", s.source), ("--revision", s.revision), ("--ref", s.ref), ("--event", s.event),
                      ("--run-number", s.run_number))
        argv += _each("--tag", s.tags) + _each("--build-arg", s.build_args)
        return [*argv, "--builder", s.builder, "--push" if s.push else "--no-push"]

    def test(self, image: str, component: str | None) -> list[str]:
        s = self.s
        argv = ["--image", image, *self.common()]
        argv += ["--component", component] if component and s.config else []
        argv += _opts(("--http-probe", s.http_probe), ("--timeout", s.timeout), ("--docker-host", s.docker_host))
        return argv + _each("--command", s.smoke_commands)

    def scan(self, image: str | None, component: str | None) -> list[str]:
        s = self.s
        argv = [*self.common()]
        argv += ["--component", component] if component and s.config else []
        argv += ["--image", image] if image else []
        argv += ["--dockerfile", s.dockerfile] if s.dockerfile and not s.config else []
        argv += _opts(("--severity", s.severity), ("--sarif", s.sarif_file), ("--docker-host", s.docker_host))
        argv += ["--offline"] if s.scan_offline else []
        return argv + _each("--trivy-report", s.trivy_reports)

    def gates(self, image: str, digest: str, results: Sequence[str]) -> list[str]:
        argv = ["--image", image, "--digest", digest, *_each("--result", results)]
        return argv + _opts(("--registry-username", self.s.registry_username))

    def remote(self, command: str) -> list[str]:
        """Flags of the GitOps repository and the forge, for bump (remote mode), promote and rollback."""
        s = self.s
        # a config that declares the environment decides what the user left empty (bump reads it
        # too); otherwise the action's default provider is github
        declared = bool(s.config and s.environment and declares(s.config, s.environment))
        provider = s.provider or ("" if declared else "github" if command == "bump" or not s.config else "")
        argv = ["--gitops-repo", s.gitops_repo or ""]
        mode = s.push_mode or ("" if declared and command == "bump" else "branch")
        argv += ["--push-mode", mode] if mode else []
        argv += ["--provider", provider] if provider else []
        argv += ["--config", s.config] if s.config and declared and command == "bump" else []
        argv += _opts(("--base", s.base), ("--github-api-url", s.github_api_url or s.api_url),
                      ("--github-repo", s.github_repo), ("--run-url", s.run_url))
        return argv + _each("--label", s.labels) + (["--dry-run"] if s.dry_run else [])

    def bump(self, repository: str, tag: str, digest: str | None) -> list[str]:
        s = self.s
        argv = ["--image", repository, "--tag", tag, *_opts(("--digest", digest))]
        argv += _each("--path", s.paths) + _each("--helm-path", s.helm_paths)
        if s.gitops_dir:
            argv += ["--gitops-dir", s.gitops_dir] + (["--dry-run"] if s.dry_run else [])
            if s.config and s.environment and declares(s.config, s.environment):
                argv += ["--config", s.config, "--environment", s.environment]
            return argv
        argv += self.remote("bump") + _opts(("--environment", s.environment)) + _each("--reviewer", s.reviewers)
        argv += ["--draft"] if s.draft else []
        return argv + _opts(("--source-sha", s.revision), ("--source-repo", s.source))

    def promote(self) -> list[str]:
        from dify_action.errors import InputError

        s = self.s
        if not (s.from_environment and s.to_environment):
            raise InputError("to-environment", s.to_environment or "", "promote needs from-environment and "
                             "to-environment, e.g. staging and production")
        argv = ["--from", s.from_environment, "--to", s.to_environment, *self.common(), *self.remote("promote")]
        argv += _each("--path-from", s.from_paths) + _each("--path-to", s.to_paths or s.paths)
        argv += _each("--helm-path", s.helm_paths)
        argv += _opts(("--registry-tag", s.registry_tag), ("--registry-username", s.registry_username))
        argv += ["--pin-digest"] if s.pin_digest else []
        return argv + ([] if s.require_gates else ["--no-require-gates"])

    def rollback(self) -> list[str]:
        from dify_action.errors import InputError

        s = self.s
        if not (s.pr_number or s.environment):
            raise InputError("pr-number", "", "rollback needs pr-number, or environment for its last merged bump")
        argv = [*self.common(), *self.remote("rollback")]
        argv += _opts(("--pr", str(s.pr_number) if s.pr_number else None), ("--environment", s.environment))
        argv += _each("--path", s.paths) + _opts(("--registry-username", s.registry_username))
        return argv + (["--allow-schema-rollback"] if s.allow_schema_rollback else [])


def declares(config_file: str, environment: str) -> bool:
    """Whether the config declares ``environment`` (False when it cannot be read: the stage says why)."""
    from dify_action import config
    from dify_action.errors import DifyActionError

    try:
        return environment in config.load(config_file).environments
    except (DifyActionError, OSError):
        return False
