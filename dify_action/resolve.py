"""One resolver: config + environment + explicit inputs -> the stages' typed requests, once per run.

Precedence, everywhere: an explicit input > the config's environment > the config's defaults >
the built-in default. Everything is read and checked here, before the first side effect: the
config file (once), every input the command uses, the environment the config must declare, the
files a build needs. Any doubt raises InputError/ConfigError (exit 2) and nothing has happened yet.

Built-in defaults that need a rule: ``provider`` is ``github`` when the GitOps repository is on
GitHub (an ``owner/name`` repository, a URL on the server's host, or an explicit github-api-url /
github-repo) and ``git`` otherwise; ``push-mode`` is ``branch``; ``base`` is the config
environment's branch, else the repository's default branch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from dify_action import config as config_module
from dify_action import refs
from dify_action import tags as tag_policy
from dify_action.build import BuildMetadata, BuildSpec, dify_base_version
from dify_action.bump import Target
from dify_action.config import Config, Environment, ScanPolicy, SizeBudget, SmokeSpec
from dify_action.delivery import DeliveryRequest, Identity
from dify_action.errors import InputError
from dify_action.promote import PromoteRequest
from dify_action.registry import Credentials
from dify_action.rollback import RollbackRequest
from dify_action.settings import PASSWORD_ENV, PROVIDERS, PUSH_MODES, SEVERITIES, Secrets, Settings, check_environment
from dify_action.smokespec import smoke_spec

DEFAULT_API = "https://api.github.com"
_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?")
_GITOPS_COMMANDS = ("bump", "promote", "rollback")


@dataclass(frozen=True)
class BuildPlan:
    specs: tuple[BuildSpec, ...]
    meta: BuildMetadata
    push: bool
    builder: Literal["auto", "buildkit", "legacy"]


@dataclass(frozen=True)
class ScanPlan:
    policy: ScanPolicy
    dockerfiles: Mapping[str, tuple[Path, ...]]  # by component ("" without a config)
    trivy_reports: tuple[Path, ...] = ()
    sarif_file: str | None = None
    offline: bool = False
    image_archive: Path | None = None
    today: dt.date | None = None  # allow-list expiry date (None: today, UTC)


@dataclass(frozen=True)
class GitOps:
    """Where a bump goes: a local working tree (``directory``) or a repository (``delivery``, whose
    targets are filled in when the images are known)."""

    environment: str | None
    paths: tuple[str, ...]
    helm_paths: Mapping[str, tuple[str, ...]]  # repository name -> key paths ("" for every image)
    directory: Path | None = None
    delivery: DeliveryRequest | None = None
    dry_run: bool = False

    def target(self, image: refs.ImageRef | str, tag: str, digest: str | None) -> Target:
        name = image if isinstance(image, str) else image.name
        ref = refs.parse_repository(name, input_name="image")
        helm = self.helm_paths.get(ref.name) or self.helm_paths.get("", ())
        return Target.from_inputs(ref.name, tag, digest, helm)


@dataclass(frozen=True)
class Plan:
    """Everything a run will do, resolved and checked; the pipeline only executes it."""

    settings: Settings
    config: Config | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    docker_host: str | None = None
    build: BuildPlan | None = None
    smoke: Mapping[str, SmokeSpec] = field(default_factory=lambda: MappingProxyType({}))
    test_image: str | None = None
    scan: ScanPlan | None = None
    gitops: GitOps | None = None
    bump: tuple[Target, ...] = ()
    promote: PromoteRequest | None = None
    rollback: RollbackRequest | None = None

    @property
    def command(self) -> str:
        return self.settings.command

    def describe(self) -> dict[str, object]:
        """The resolved requests, for ``check`` (no secrets: they are not part of any repr)."""
        out: dict[str, object] = {"command": self.command, "config": self.config.source if self.config else None}
        if self.build:
            out["build"] = [{"component": s.name, "image": s.repository.name, "tags": list(s.tags),
                             "dockerfile": str(s.dockerfile), "context": str(s.context)} for s in self.build.specs]
        if self.smoke:
            out["test"] = {name: {"http_probe": spec.http_probe.url if spec.http_probe else None,
                                  "commands": list(spec.commands), "healthcheck": spec.healthcheck}
                           for name, spec in self.smoke.items()}
        if self.scan:
            out["scan"] = {"severity": self.scan.policy.severity, "offline": self.scan.offline}
        if self.gitops:
            g, d = self.gitops, self.gitops.delivery
            out["bump"] = {"environment": g.environment, "paths": list(g.paths),
                           "directory": str(g.directory) if g.directory else None,
                           "repository": d.repo_url if d else None, "provider": d.provider if d else None,
                           "push_mode": d.push_mode if d else None, "base": d.base if d else None,
                           "images": [f"{t.image.name}:{t.tag}" for t in self.bump]}
        for name, request in (("promote", self.promote), ("rollback", self.rollback)):
            if request is not None:
                out[name] = {"repository": request.repo_url, "provider": request.provider,
                             "push_mode": request.push_mode, "base": request.base}
        return out


def resolve(settings: Settings, secrets: Secrets) -> Plan:
    """Check every input ``settings.command`` uses and build its requests; see the module doc."""
    s = settings
    if s.command == "check" and not (s.revision or s.tags):  # a placeholder commit: check shows the tag shapes
        s = replace(s, revision="0" * 40)
    overrides = _overrides(s)
    cfg = config_module.load(s.config, overrides) if s.config else None
    _check_common(s)
    uses_registry = s.command in ("build", "test", "scan", "promote", "rollback", "pipeline", "check")
    plan = Plan(s, cfg, _credentials(s, secrets, cfg) if uses_registry else None, s.docker_host)
    command = "pipeline" if s.command == "check" else s.command
    if command in ("build", "pipeline"):
        plan = replace(plan, build=_build(s, cfg))
    if command in ("test", "pipeline"):
        names = [spec.name for spec in plan.build.specs] if plan.build else [s.components[0] if s.components else ""]
        plan = replace(plan, smoke=MappingProxyType({n: smoke_spec(s, cfg, n or None) for n in names}))
        if command == "test":
            plan = replace(plan, test_image=_engine_image(_required(s.image, "image", "the image to smoke-test, e.g. "
                                                                    "registry.example.com/acme/dify-api:sha-1234")))
    if command in ("scan", "pipeline"):
        plan = replace(plan, scan=_scan(s, cfg or config_module.load(None, overrides), cfg is not None))
    if command == "scan" and s.image:
        _engine_image(s.image)
    if command in ("bump", "pipeline"):
        plan = replace(plan, gitops=_gitops(s, secrets, cfg, required=command == "bump"))
    if command == "bump":
        assert plan.gitops is not None
        repository, tag, digest = split_image(_required(s.image, "image", "an image repository (with tag)"),
                                              s.tag, s.digest)
        plan = replace(plan, bump=(plan.gitops.target(repository, tag, digest),))
    if command == "promote":
        plan = replace(plan, promote=_promote(s, secrets, cfg))
    if command == "rollback":
        plan = replace(plan, rollback=_rollback(s, secrets, cfg))
    if command in _GITOPS_COMMANDS[1:] or (command == "pipeline" and s.push) or s.command == "gates":
        _need_password(plan, s, secrets)
    return plan


# -- shared checks --------------------------------------------------------------------------------
def _check_common(s: Settings) -> None:
    if s.gitops_dir and s.gitops_repo:
        raise InputError("gitops-dir", s.gitops_dir, "either gitops-dir (a checked-out tree, edited in place) or "
                         "gitops-repo (cloned, committed, pushed), not both")
    if s.provider and s.provider not in PROVIDERS:
        raise InputError("provider", s.provider, " or ".join(PROVIDERS))
    if s.push_mode and s.push_mode not in PUSH_MODES:
        raise InputError("push-mode", s.push_mode, " or ".join(PUSH_MODES))
    for name, value in (("environment", s.environment), ("from-environment", s.from_environment),
                        ("to-environment", s.to_environment)):
        if value is not None:
            check_environment(value, name)
    if s.platform is not None:
        for item in s.platform.split(","):
            if not _PLATFORM_RE.fullmatch(item.strip()):
                raise InputError("platform", s.platform, "os/arch[/variant] in lowercase, e.g. linux/amd64 (comma "
                                 "separated for several)")
    url = s.github_api_url
    if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise InputError("github-api-url", url, "an http(s) URL of the GitHub API, e.g. https://api.github.com or "
                         "https://github.example.com/api/v3")
    for tag in (*s.tags, *((s.tag,) if s.tag else ()), *((s.registry_tag,) if s.registry_tag else ())):
        refs.validate_tag(tag, input_name="tag" if tag != s.registry_tag else "registry-tag")
    if s.dry_run and s.command in ("bump", "pipeline") and not s.gitops_dir:
        raise InputError("dry-run", "true", "bump and pipeline take dry-run only with gitops-dir (a checked-out "
                         "tree); promote and rollback take it with gitops-repo")


def _credentials(s: Settings, secrets: Secrets, cfg: Config | None) -> Credentials | None:
    username = s.registry_username or (cfg.registry.username if cfg else None)
    if secrets.registry_password and not username:
        raise InputError("registry-username", "", "the registry user that goes with registry-password (for GHCR: "
                         "${{ github.actor }}); the password is not used without it")
    return Credentials(username, secrets.registry_password) if username and secrets.registry_password else None


def _need_password(plan: Plan, s: Settings, secrets: Secrets) -> None:
    username = s.registry_username or (plan.config.registry.username if plan.config else None)
    if username and not secrets.registry_password:
        raise InputError("registry-password", "", f"the password or token of registry user {username!r} (the CLI "
                         f"reads it from ${PASSWORD_ENV})")


def _required(value: str | None, name: str, allowed: str) -> str:
    if not value:
        raise InputError(name, "", allowed)
    return value


def _engine_image(image: str) -> str:
    """A reference the Docker engine will accept: refs' grammar, and a lowercase registry host."""
    ref = refs.parse(image, input_name="image")
    if ref.domain and ref.domain != ref.domain.lower():
        raise InputError("image", image, "a reference with a lowercase registry host and path, e.g. "
                         f"{image.lower()}")
    return image


def split_image(image: str, tag: str | None, digest: str | None) -> tuple[str, str, str | None]:
    """``repo[:tag][@digest]``, or a repository plus tag/digest -> (repository, tag, digest); a tag (or
    digest) given both ways must agree: which one was meant is a doubt, and doubts stop the run."""
    ref = refs.parse(image, input_name="image")
    for name, inline, explicit in (("tag", ref.tag, tag), ("digest", ref.digest, digest)):
        if inline and explicit and inline != explicit:
            raise InputError("image", image, f"a repository without a {name} when {name} ({explicit}) is given, "
                             f"or the same {name}")
    final_tag = tag or ref.tag
    if not final_tag:
        raise InputError("tag", "", "give tag, or an image input with a tag (repository:tag)")
    return ref.repository, final_tag, digest or ref.digest


# -- build ----------------------------------------------------------------------------------------
def _build(s: Settings, cfg: Config | None) -> BuildPlan:
    from dify_action.build import validate_spec

    args = dict(_pair(item) for item in s.build_args)
    budget = _budget(s.size_budget, s.size_warn)
    specs: list[BuildSpec] = []
    if cfg is not None:
        root = Path(cfg.source).resolve().parent
        for name in s.components or tuple(c.name for c in cfg.components):
            c = cfg.component(name)
            merged = {**c.build_args, **args}
            dockerfile = root / (s.dockerfile or c.dockerfile)
            cbudget = budget or c.size_budget
            specs.append(BuildSpec(c.name, dockerfile, root / (s.context or c.context), c.image,
                                   _tags(s, cfg, dockerfile, merged), s.target or c.target, merged, {},
                                   s.cache_from, s.platform, cbudget))
        if not specs:
            raise InputError("config", cfg.source, "a config with at least one component to build")
    else:
        if s.components:
            raise InputError("components", s.components[0], "components of a config: give config too")
        repository = refs.parse_repository(_required(s.repository, "repository", "the image repository to build, "
                                                     "e.g. ghcr.io/acme/dify-api (or a config)"),
                                           input_name="repository")
        context = Path(s.context or ".")
        dockerfile = Path(s.dockerfile) if s.dockerfile else context / "Dockerfile"
        specs.append(BuildSpec(s.name or repository.path.rsplit("/", 1)[-1], dockerfile, context, repository,
                               _tags(s, None, dockerfile, args), s.target, args, {}, s.cache_from, s.platform,
                               budget))
    for spec in specs:
        validate_spec(spec)
    builder = s.builder or "auto"
    if builder not in ("auto", "buildkit", "legacy"):
        raise InputError("builder", builder, "auto, buildkit or legacy")
    return BuildPlan(tuple(specs), BuildMetadata(s.source, s.revision, s.version), s.push,
                     cast(Literal["auto", "buildkit", "legacy"], builder))


def _tags(s: Settings, cfg: Config | None, dockerfile: Path, build_args: Mapping[str, str]) -> tuple[str, ...]:
    if s.tags:
        return s.tags
    if not s.revision:
        raise InputError("tags", "", "tags to push, or a revision (the commit sha) for the config's tag policy")
    version = None
    if dockerfile.is_file():
        version = dify_base_version(dockerfile.read_text(encoding="utf-8", errors="replace"), build_args)
    run_number = int(s.run_number) if s.run_number and s.run_number.isdigit() else None
    context = tag_policy.GitContext(sha=s.revision, ref=s.ref or "refs/heads/main", event=s.event or "push",
                                    run_number=run_number, dify_version=version)
    computed = tag_policy.compute_tags(cfg.tags.rules if cfg else None, context,
                                       cfg.tags.flavor if cfg else None).tags
    if not computed:
        raise InputError("tags", "", "the tag policy made no tag for this ref and event; give tags")
    return computed


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise InputError("build-args", text, "KEY=VALUE lines with a variable name KEY")
    return key, value


def _budget(fail: str | None, warn: str | None) -> SizeBudget | None:
    values: dict[str, int | None] = {"fail": None, "warn": None}
    for key, name, text in (("fail", "size-budget", fail), ("warn", "size-warn", warn)):
        if text:
            try:
                values[key] = config_module.parse_size(text)
            except ValueError:
                raise InputError(name, text, "a size like 2GB, 800MB, 1.5GiB or bytes") from None
    return SizeBudget(values["warn"], values["fail"]) if any(values.values()) else None


# -- scan -----------------------------------------------------------------------------------------
def _overrides(s: Settings) -> list[config_module.Override]:
    """Inputs that set config keys (the scan policy): set before validation, so a bad one names the input."""
    Override = config_module.Override
    out = [config_module.parse_set(text) for text in s.scan_set]
    if s.severity:
        if s.severity not in SEVERITIES:
            raise InputError("severity", s.severity, ", ".join(SEVERITIES))
        out.append(Override(("scan", "severity"), s.severity, "severity"))
    for key, value in (("hadolint-level", s.hadolint_level), ("missing-scanner", s.missing_scanner),
                       ("ignore-unfixed", s.ignore_unfixed)):
        if value is not None:
            out.append(Override(("scan", key), value, key))
    out += [Override(("scan", "scanners", name), False, "disable") for name in s.scan_disable]
    return out


def _scan(s: Settings, cfg: Config, from_file: bool) -> ScanPlan:
    dockerfiles: dict[str, tuple[Path, ...]] = {}
    if from_file:
        root = Path(cfg.source).resolve().parent
        for name in s.components or tuple(c.name for c in cfg.components):
            dockerfiles[name] = (root / cfg.component(name).dockerfile,)
    elif s.components:
        raise InputError("components", s.components[0], "components of a config: give config too")
    extra = s.scan_dockerfiles or ((s.dockerfile,) if s.dockerfile and not from_file else ())
    if extra:
        dockerfiles[""] = tuple(Path(p) for p in extra)
    reports = tuple(Path(p) for p in s.trivy_reports)
    for report in reports:
        if not report.is_file():
            raise InputError("trivy-reports", str(report), "existing Trivy JSON report files")
    if s.image and s.image_archive:
        raise InputError("image-archive", s.image_archive, "either image or image-archive, not both")
    today = None
    if s.today:
        try:
            today = dt.date.fromisoformat(s.today)
        except ValueError:
            raise InputError("today", s.today, "a date YYYY-MM-DD") from None
    return ScanPlan(cfg.scan, MappingProxyType(dockerfiles), reports, s.sarif_file, s.scan_offline,
                    Path(s.image_archive) if s.image_archive else None, today)


# -- GitOps ---------------------------------------------------------------------------------------
def _environment(s: Settings, cfg: Config | None, name: str | None, input_name: str) -> Environment | None:
    """The config's environment ``name``. A config that declares environments must declare this one (a
    typo is an error, never "every path"); in one that declares none, the name only labels the change."""
    if cfg is None or name is None or not cfg.environments:
        return None
    return cfg.environment(name, input_name=input_name)


def _server(s: Settings) -> str:
    if s.server_url:
        return s.server_url.rstrip("/")
    api = (s.github_api_url or s.api_url or DEFAULT_API).rstrip("/")
    if api == DEFAULT_API:
        return "https://github.com"
    return api.removesuffix("/api/v3")


def _is_path_or_url(repository: str) -> bool:
    return "://" in repository or repository.startswith(("/", "."))


def _repository(s: Settings, env: Environment | None) -> tuple[str | None, str | None]:
    """(clone URL, owner/name for the API) from the inputs or the config's environment."""
    declared = env.repository if env else None
    github_repo = s.github_repo or (declared if declared and not _is_path_or_url(declared) else None)
    if s.gitops_repo:
        return s.gitops_repo, github_repo
    if declared:
        return (declared if _is_path_or_url(declared) else f"{_server(s)}/{declared}.git"), github_repo
    return None, github_repo


def _provider(s: Settings, env: Environment | None, url: str, github_repo: str | None) -> str:
    if s.provider:
        return s.provider
    if env is not None:
        return env.provider
    on_github = bool(s.github_api_url or github_repo) or urlsplit(url).netloc == urlsplit(_server(s)).netloc
    return "github" if on_github else "git"


def _push_mode(s: Settings, env: Environment | None) -> str:
    if s.push_mode:
        return s.push_mode
    return "direct" if env is not None and env.mode == "direct" else "branch"


def _gitops(s: Settings, secrets: Secrets, cfg: Config | None, *, required: bool) -> GitOps | None:
    if cfg is not None and required and not s.environment:
        raise InputError("environment", "", f"the environment of {cfg.source} to bump (declared: "
                         f"{', '.join(cfg.environments) or 'none'})")
    env = _environment(s, cfg, s.environment, "environment")
    paths = s.paths or (env.paths if env else ())
    helm: dict[str, tuple[str, ...]] = {"": s.helm_paths} if s.helm_paths else {}
    if env is not None and cfg is not None and not s.helm_paths:
        helm = {c.image.name: env.helm_paths[c.name] for c in cfg.components if c.name in env.helm_paths}
    if s.gitops_dir:
        directory = Path(s.gitops_dir)
        if not directory.is_dir():
            raise InputError("gitops-dir", s.gitops_dir, "an existing directory (a checked-out GitOps tree)")
        return GitOps(s.environment, paths, MappingProxyType(helm), directory=directory, dry_run=s.dry_run)
    url, github_repo = _repository(s, env)
    if url is None:
        if required:
            raise InputError("gitops-repo", "", "the GitOps repository (a URL, or owner/name on GitHub), a "
                             "config environment that declares repository, or gitops-dir (a checked-out tree)")
        if s.environment:
            raise InputError("environment", s.environment, "an environment to bump needs gitops-repo, gitops-dir "
                             "or a config environment that declares repository")
        return None
    environment = _required(s.environment, "environment", "the environment to bump (it names the branch and "
                            "the pull request), e.g. staging")
    _check_local_repository(url)
    delivery = DeliveryRequest(
        repo_url=url, environment=environment, targets=(), paths=paths,
        base=s.base or (env.branch if env else None), provider=_provider(s, env, url, github_repo),
        push_mode=_push_mode(s, env), token=secrets.token, github_api_url=s.github_api_url or s.api_url or DEFAULT_API,
        github_repo=github_repo, labels=s.labels, reviewers=s.reviewers, draft=s.draft,
        source_sha=s.revision, source_repo=s.source, run_url=s.run_url, **_delivery_extras(s))
    return GitOps(environment, paths, MappingProxyType(helm), delivery=delivery)


def _delivery_extras(s: Settings) -> dict[str, Any]:
    """The CLI's refinements of a delivery (templates, identity, attempts), where given."""
    extras: dict[str, Any] = {}
    if s.author_name or s.author_email:
        default = Identity()
        who = Identity(s.author_name or default.name, s.author_email or default.email)
        extras.update(author=who, committer=who)
    for key, value in (("group", s.group), ("title_template", s.title_template),
                       ("message_template", s.commit_message), ("max_attempts", s.max_attempts),
                       ("dify_version_old", s.dify_version_old), ("dify_version_new", s.dify_version_new)):
        if value is not None:
            extras[key] = value
    return extras


def _check_local_repository(url: str) -> None:
    local = url.removeprefix("file://") if url.startswith("file://") else url if _is_path_or_url(url) and \
        "://" not in url else None
    if local is not None:
        path = Path(local)
        if not path.is_dir() or not ((path / "HEAD").is_file() or (path / ".git").exists()):
            raise InputError("gitops-repo", url, "a git repository (a bare repository or a working tree with .git): "
                             "this path is not a git repository")


def _promote(s: Settings, secrets: Secrets, cfg: Config | None) -> PromoteRequest:
    source = _required(s.from_environment, "from-environment", "the environment to promote from, e.g. staging")
    target = _required(s.to_environment, "to-environment", "the environment to promote to, e.g. production")
    src = _environment(s, cfg, source, "from-environment")
    dst = _environment(s, cfg, target, "to-environment")
    url, github_repo = _repository(s, dst)
    url = _required(url, "gitops-repo", "the GitOps repository, or a config whose to-environment declares "
                    "repository")
    _check_local_repository(url)
    pin = s.pin_digest or (dst.pin_digest if dst else False) or None
    request = PromoteRequest(
        repo_url=url, source=source, target=target, images=s.images,
        source_paths=s.from_paths or (src.paths if src else ()),
        target_paths=s.to_paths or s.paths or (dst.paths if dst else ()),
        ours=tuple(c.image.name for c in cfg.components) if cfg else (),
        helm_paths=s.helm_paths or (tuple(p for ps in dst.helm_paths.values() for p in ps) if dst else ()),
        base=s.base or (dst.branch if dst else None), provider=_provider(s, dst, url, github_repo),
        push_mode=_push_mode(s, dst), registry_tag=s.registry_tag, require_gates=s.require_gates, pin_digest=pin,
        dry_run=s.dry_run, token=secrets.token, github_api_url=s.github_api_url or s.api_url or DEFAULT_API,
        github_repo=github_repo, labels=s.labels, reviewers=s.reviewers, run_url=s.run_url)
    request.validate()
    return request


def _rollback(s: Settings, secrets: Secrets, cfg: Config | None) -> RollbackRequest:
    if not (s.pr_number or s.commit or s.environment):
        raise InputError("pr-number", "", "the merged bump PR to roll back (or a commit), or environment for its "
                         "last bump")
    env = _environment(s, cfg, s.environment, "environment")
    url, github_repo = _repository(s, env)
    url = _required(url, "gitops-repo", "the GitOps repository, or a config whose environment declares repository")
    _check_local_repository(url)
    provider = s.provider or (env.provider if env else "github" if s.pr_number else
                              _provider(s, None, url, github_repo))
    request = RollbackRequest(
        repo_url=url, pr=s.pr_number, commit=s.commit, environment=s.environment,
        paths=s.paths or (env.paths if env else ()),
        base=s.base or (env.branch if env else None), provider=provider, push_mode=_push_mode(s, env),
        allow_schema_rollback=s.allow_schema_rollback, dry_run=s.dry_run, token=secrets.token,
        github_api_url=s.github_api_url or s.api_url or DEFAULT_API, github_repo=github_repo, labels=s.labels)
    request.validate()
    return request
