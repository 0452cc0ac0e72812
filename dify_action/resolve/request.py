"""What a run was asked to do, as typed values: the front ends' inputs, the run's context, the secrets.

The action (``front/action.py``) and the CLI both fill a ``Settings`` and a ``Secrets``, then hand them
to ``dify_action.resolve``, which turns them (with the config file) into the stages' requests. Empty
or ``None`` means "not given", so that the config and the built-in defaults decide (see
``resolve/__init__.py`` for the one precedence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Secrets:
    """Credentials, passed as values (never through the environment); never in repr or logs."""

    registry_password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    build_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (id, value): BuildKit secrets


@dataclass(frozen=True)
class Settings:
    """What to run and how: every input of the action (less secrets) and the run's context."""

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
    provider: str = ""  # "": the config environment's, else derived from the repository (resolve.py)
    push_mode: str = ""  # "": the config environment's mode, else branch
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
    require_sbom: bool = False
    registry_tag: str | None = None
    pr_number: int | None = None
    allow_schema_rollback: bool = False
    # issue 21: the Dify release set (dify_action/releaseset)
    allow_version_skew: bool = False  # warn instead of refusing a mismatched set
    dify_release: str | None = None  # bump: move every official member of the set to this release
    docker_host: str | None = None
    # CLI-only refinements of the stages (the action leaves them at their defaults)
    image_labels: tuple[str, ...] = ()  # KEY=VALUE, on the built images
    secret_files: tuple[str, ...] = ()  # ID=PATH: BuildKit secrets read from files
    cache_to: str | None = None  # only type=inline (BuildKit's inline cache)
    name: str | None = None  # build: component name without a config
    size_warn: str | None = None
    cache_from: tuple[str, ...] = ()
    version: str | None = None  # org.opencontainers.image.version
    smoke_env: tuple[str, ...] = ()  # K=V
    expect_status: int | None = None
    healthcheck: bool = True
    log_lines: int | None = None
    run_id: str | None = None
    image_archive: str | None = None
    scan_dockerfiles: tuple[str, ...] = ()  # more Dockerfiles to lint
    scan_disable: tuple[str, ...] = ()
    scan_set: tuple[str, ...] = ()  # KEY.PATH=VALUE overrides of the config
    ignore_unfixed: bool | None = None
    hadolint_level: str | None = None
    missing_scanner: str | None = None
    today: str | None = None  # allow-list expiry date, YYYY-MM-DD
    commit: str | None = None  # rollback: the commit to revert
    promote_images: tuple[str, ...] = ()  # promote: only these repositories
    images: tuple[str, ...] = ()  # bump: several repo:tag[@digest] in one change (else image + tag)
    env_file: str | None = None  # bump: the compose env file that sets a tag variable
    group: str | None = None  # bump: component group in the branch name
    title_template: str | None = None
    commit_message: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    max_attempts: int | None = None
    dify_version_old: str | None = None
    dify_version_new: str | None = None
    # the run's context (GITHUB_* in the action, flags in the CLI)
    source: str | None = None  # source repository URL
    revision: str | None = None  # the commit built
    ref: str | None = None
    event: str | None = None
    run_number: str | None = None
    run_url: str | None = None
    api_url: str | None = None  # fallback for github_api_url
    event_payload: Mapping[str, Any] | None = field(default=None, repr=False)  # GITHUB_EVENT_PATH's JSON
    base_ref: str | None = None  # GITHUB_BASE_REF
    pr_head_sha: bool = False  # tag pull requests with the head commit, not the merge commit
    server_url: str | None = None  # e.g. https://github.com: owner/name repositories live there
