"""Where a change goes: the GitOps target of bump (a tree or a repository), and the promote and
rollback requests, from the inputs and the config's environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from dify_action import refs
from dify_action.bump import Target
from dify_action.config.load import Config, Environment
from dify_action.delivery import DeliveryRequest, Identity
from dify_action.errors import InputError
from dify_action.promote.run import PromoteRequest
from dify_action.resolve.common import DEFAULT_API, required
from dify_action.resolve.request import Secrets, Settings
from dify_action.rollback.run import RollbackRequest


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
    env_file: str | None = None  # the compose env file that sets a tag variable

    def target(self, image: refs.ImageRef | str, tag: str, digest: str | None) -> Target:
        name = image if isinstance(image, str) else image.name
        ref = refs.parse_repository(name, input_name="image")
        helm = self.helm_paths.get(ref.name) or self.helm_paths.get("", ())
        return Target.from_inputs(ref.name, tag, digest, helm, self.env_file)


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
    api = s.github_api_url or s.api_url or DEFAULT_API
    hosts = {urlsplit(_server(s)).netloc, urlsplit(api).netloc}  # github.com, or a GHE / emulator host
    on_github = bool(s.github_api_url or github_repo) or urlsplit(url).netloc in hosts
    return "github" if on_github else "git"


def _push_mode(s: Settings, env: Environment | None) -> str:
    if s.push_mode:
        return s.push_mode
    return "direct" if env is not None and env.mode == "direct" else "branch"


def gitops_target(s: Settings, secrets: Secrets, cfg: Config | None, *, needed: bool) -> GitOps | None:
    if cfg is not None and needed and not s.environment:
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
        return GitOps(s.environment, paths, MappingProxyType(helm), directory=directory, dry_run=s.dry_run,
                      env_file=s.env_file)
    url, github_repo = _repository(s, env)
    if url is None:
        if needed:
            raise InputError("gitops-repo", "", "the GitOps repository (a URL, or owner/name on GitHub), a "
                             "config environment that declares repository, or gitops-dir (a checked-out tree)")
        if s.environment:
            raise InputError("environment", s.environment, "an environment to bump needs gitops-repo, gitops-dir "
                             "or a config environment that declares repository")
        return None
    environment = required(s.environment, "environment", "the environment to bump (it names the branch and "
                            "the pull request), e.g. staging")
    _check_local_repository(url)
    delivery = DeliveryRequest(
        repo_url=url, environment=environment, targets=(), paths=paths,
        base=s.base or (env.branch if env else None), provider=_provider(s, env, url, github_repo),
        push_mode=_push_mode(s, env), token=secrets.token, github_api_url=s.github_api_url or s.api_url or DEFAULT_API,
        github_repo=github_repo, labels=s.labels, reviewers=s.reviewers, draft=s.draft,
        source_sha=s.revision, source_repo=s.source, run_url=s.run_url, **_delivery_extras(s))
    return GitOps(environment, paths, MappingProxyType(helm), delivery=delivery, env_file=s.env_file)


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


def promote_request(s: Settings, secrets: Secrets, cfg: Config | None) -> PromoteRequest:
    source = required(s.from_environment, "from-environment", "the environment to promote from, e.g. staging")
    target = required(s.to_environment, "to-environment", "the environment to promote to, e.g. production")
    src = _environment(s, cfg, source, "from-environment")
    dst = _environment(s, cfg, target, "to-environment")
    url, github_repo = _repository(s, dst)
    url = required(url, "gitops-repo", "the GitOps repository, or a config whose to-environment declares "
                    "repository")
    _check_local_repository(url)
    pin = s.pin_digest or (dst.pin_digest if dst else False) or None
    request = PromoteRequest(
        repo_url=url, source=source, target=target, images=s.promote_images,
        source_paths=s.from_paths or (src.paths if src else ()),
        target_paths=s.to_paths or s.paths or (dst.paths if dst else ()),
        ours=tuple(c.image.name for c in cfg.components) if cfg else (),
        helm_paths=s.helm_paths or (tuple(p for ps in dst.helm_paths.values() for p in ps) if dst else ()),
        base=s.base or (dst.branch if dst else None), provider=_provider(s, dst, url, github_repo),
        push_mode=_push_mode(s, dst), registry_tag=s.registry_tag, require_gates=s.require_gates,
        require_sbom=s.require_sbom, pin_digest=pin,
        require_provenance=s.require_provenance, source_repository=s.source,  # issue 20
        dry_run=s.dry_run, token=secrets.token, github_api_url=s.github_api_url or s.api_url or DEFAULT_API,
        github_repo=github_repo, labels=s.labels, reviewers=s.reviewers, run_url=s.run_url)
    request.validate()
    return request


def rollback_request(s: Settings, secrets: Secrets, cfg: Config | None) -> RollbackRequest:
    if not (s.pr_number or s.commit or s.environment):
        raise InputError("pr-number", "", "the merged bump PR to roll back (or a commit), or environment for its "
                         "last bump")
    env = _environment(s, cfg, s.environment, "environment")
    url, github_repo = _repository(s, env)
    url = required(url, "gitops-repo", "the GitOps repository, or a config whose environment declares repository")
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
