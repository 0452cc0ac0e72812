"""What a run was asked to do: one typed request per command, built by each front end at its edge.

A request holds only what its command uses, in sections shared by the commands that use them
(``BuildInputs`` for build and pipeline, ``Destination`` inputs for bump, promote and rollback...).
A value the user did not give stays ``None`` (``()`` for lists): the front ends never pick a
default, so that ``--no-pin-digest`` (False) and "not given" (None) stay distinct until the
resolver applies the one precedence: input > the config's environment > the config > built-in.
Secrets travel beside the request, in ``Secrets``, never inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Secrets:
    """Credentials, passed as values (never through the environment); never in repr or logs."""

    registry_password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    build_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (id, value): BuildKit secrets


@dataclass(frozen=True)
class RunContext:
    """The run's context: GITHUB_* in the action, flags in the CLI."""

    source: str | None = None  # source repository URL
    revision: str | None = None  # the commit built
    ref: str | None = None
    event: str | None = None
    run_number: str | None = None
    run_url: str | None = None
    api_url: str | None = None  # the GitHub API of the run: the fallback of github-api-url
    server_url: str | None = None  # e.g. https://github.com: owner/name repositories live there
    event_payload: Mapping[str, Any] | None = field(default=None, repr=False)  # GITHUB_EVENT_PATH's JSON
    base_ref: str | None = None  # GITHUB_BASE_REF
    pr_head_sha: bool = False  # tag pull requests with the head commit, not the merge commit
    # the process environment git inherits (each adapter keeps an allow-listed part: PATH, HOME,
    # proxies, CA bundles, the workspace's GIT_CONFIG_*); read by the front end, never by the core
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Access:
    """How to reach the registry and the Docker engine (the password is a secret)."""

    registry_username: str | None = None
    docker_host: str | None = None


@dataclass(frozen=True)
class BuildInputs:
    repository: str | None = None  # one component without a config
    name: str | None = None  # its component name
    file: str | None = None  # the Dockerfile
    context: str | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    push: bool | None = None  # built-in: True
    builder: str | None = None  # built-in: auto
    platforms: str | None = None
    size_budget: str | None = None
    size_warn: str | None = None
    image_labels: tuple[str, ...] = ()  # KEY=VALUE, on the built images
    secret_files: tuple[str, ...] = ()  # ID=PATH: BuildKit secrets read from files
    cache_from: tuple[str, ...] = ()
    cache_to: str | None = None  # only type=inline (BuildKit's inline cache)
    version: str | None = None  # org.opencontainers.image.version
    push_by_digest: bool | None = None  # one platform of a matrix, no tag (then `merge`); built-in: False
    builder_id: str | None = None  # who builds, for the provenance (e.g. the workflow ref)


@dataclass(frozen=True)
class SmokeInputs:
    http_probe: str | None = None
    expect_status: int | None = None
    commands: tuple[str, ...] = ()
    timeout: str | None = None
    env: tuple[str, ...] = ()  # K=V
    healthcheck: bool | None = None  # config, else built-in: True
    log_lines: int | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class ScanInputs:
    severity: str | None = None
    ignore_unfixed: bool | None = None  # config, else built-in: False
    hadolint_level: str | None = None
    missing_scanner: str | None = None
    disable: tuple[str, ...] = ()
    set: tuple[str, ...] = ()  # KEY.PATH=VALUE overrides of the config
    dockerfiles: tuple[str, ...] = ()  # more Dockerfiles to lint
    trivy_reports: tuple[str, ...] = ()
    image_archive: str | None = None
    sarif_file: str | None = None
    offline: bool | None = None  # built-in: False
    today: str | None = None  # allow-list expiry date, YYYY-MM-DD
    trivy_db: str | None = None  # REPO@sha256:...: the only vulnerability DB accepted


@dataclass(frozen=True)
class GitOpsInputs:
    """Where a change goes and how (the inputs of a ``delivery.Destination``), for bump, promote, rollback."""

    repo: str | None = None  # gitops-repo: cloned, committed, pushed
    directory: str | None = None  # gitops-dir: a checked-out tree edited in place (bump, pipeline)
    base: str | None = None
    provider: str | None = None  # config environment's, else derived from the repository
    push_mode: str | None = None  # config environment's, else branch
    github_api_url: str | None = None
    github_repo: str | None = None
    pr_labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool | None = None  # built-in: False
    sign_commits: bool | None = None  # config environment's sign-commits, else False (issue 19)
    dry_run: bool | None = None  # built-in: False
    author_name: str | None = None
    author_email: str | None = None
    title_template: str | None = None
    commit_message: str | None = None
    group: str | None = None  # component group in the branch name
    max_attempts: int | None = None
    allow_version_skew: bool | None = None  # config's dify.allow-version-skew, else False (issue 21)


@dataclass(frozen=True)
class BumpInputs:
    environment: str | None = None
    images: tuple[str, ...] = ()  # repo:tag[@digest], one change (or one repository with tag/digest)
    tag: str | None = None
    digest: str | None = None
    paths: tuple[str, ...] = ()
    helm_paths: tuple[str, ...] = ()
    env_file: str | None = None  # the compose env file that sets a tag variable
    pin_digest: bool | None = None  # config environment's, else built-in: False
    dify_version_old: str | None = None
    dify_version_new: str | None = None
    dify_release: str | None = None  # bump only: move every official Dify image to this release (issue 21)


@dataclass(frozen=True)
class BuildCommand:
    command: ClassVar[str] = "build"
    config: str | None = None
    components: tuple[str, ...] = ()
    access: Access = Access()
    build: BuildInputs = BuildInputs()
    context: RunContext = RunContext()


@dataclass(frozen=True)
class TestCommand:
    command: ClassVar[str] = "test"
    image: str | None = None
    config: str | None = None
    components: tuple[str, ...] = ()
    access: Access = Access()
    smoke: SmokeInputs = SmokeInputs()


@dataclass(frozen=True)
class ScanCommand:
    command: ClassVar[str] = "scan"
    image: str | None = None
    config: str | None = None
    components: tuple[str, ...] = ()
    access: Access = Access()
    scan: ScanInputs = ScanInputs()


@dataclass(frozen=True)
class BumpCommand:
    command: ClassVar[str] = "bump"
    config: str | None = None
    bump: BumpInputs = BumpInputs()
    gitops: GitOpsInputs = GitOpsInputs()
    context: RunContext = RunContext()
    access: Access = Access()  # reads only: the images' recorded Dify facts (PR body, release set)


@dataclass(frozen=True)
class PipelineCommand:
    """build -> test -> scan -> gates -> bump (when a GitOps target is given)."""

    command: ClassVar[str] = "pipeline"
    config: str | None = None
    components: tuple[str, ...] = ()
    access: Access = Access()
    build: BuildInputs = BuildInputs()
    smoke: SmokeInputs = SmokeInputs()
    scan: ScanInputs = ScanInputs()
    bump: BumpInputs = BumpInputs()
    gitops: GitOpsInputs = GitOpsInputs()
    context: RunContext = RunContext()


@dataclass(frozen=True)
class PromoteCommand:
    command: ClassVar[str] = "promote"
    from_environment: str | None = None
    to_environment: str | None = None
    config: str | None = None
    from_paths: tuple[str, ...] = ()
    to_paths: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # only these repositories
    helm_paths: tuple[str, ...] = ()
    registry_tag: str | None = None
    require_gates: bool | None = None  # built-in: True
    require_sbom: bool | None = None  # built-in: False
    require_verified: bool | None = None  # built-in: True (a passed verify record in from-environment)
    require_provenance: bool | None = None  # built-in: False (SLSA provenance on every platform)
    source_repository: str | None = None  # the repository the provenance must name (default: the run's)
    pin_digest: bool | None = None  # config's to-environment, else as the from-environment does
    access: Access = Access()
    gitops: GitOpsInputs = GitOpsInputs()
    context: RunContext = RunContext()


@dataclass(frozen=True)
class RollbackCommand:
    command: ClassVar[str] = "rollback"
    pull_request: int | None = None
    commit: str | None = None
    environment: str | None = None
    config: str | None = None
    paths: tuple[str, ...] = ()
    allow_schema_rollback: bool | None = None  # built-in: False
    access: Access = Access()
    gitops: GitOpsInputs = GitOpsInputs()
    context: RunContext = RunContext()


@dataclass(frozen=True)
class CheckCommand:
    """Resolve ``checked``'s request (every check of a run), change nothing."""

    command: ClassVar[str] = "check"
    checked: BuildCommand | BumpCommand | PipelineCommand = PipelineCommand()


Command = (BuildCommand | TestCommand | ScanCommand | BumpCommand | PipelineCommand | PromoteCommand
           | RollbackCommand | CheckCommand)
