"""Where a change goes: the GitOps target of bump (a tree or a repository), and the promote and
rollback requests, from the inputs and the config's environment. One ``Destination`` builder for the
three, with one precedence: input > the config's environment > built-in."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dify_action import refs
from dify_action.bump import Target
from dify_action.choices import GITHUB_API, PROVIDERS, PUSH_MODES, check_environment
from dify_action.errors import InputError
from dify_action.resolve.common import given, required
from dify_action.resolve.request import (
    BumpInputs,
    GitOpsInputs,
    PromoteCommand,
    RollbackCommand,
    RunContext,
    Secrets,
)

if TYPE_CHECKING:  # types only: a bump loads neither the config reader nor promote's or rollback's stage
    from dify_action.config.load import Config, Environment
    from dify_action.delivery import DeliveryRequest, Destination
    from dify_action.promote.run import PromoteRequest
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
    pin_digest: bool = False  # the pipeline's bump writes tag@digest

    def target(self, image: refs.ImageRef | str, tag: str, digest: str | None) -> Target:
        name = image if isinstance(image, str) else image.name
        ref = refs.parse_repository(name, input_name="image")
        helm = self.helm_paths.get(ref.name) or self.helm_paths.get("", ())
        return Target.from_inputs(ref.name, tag, digest, helm, self.env_file)


def check_destination_inputs(g: GitOpsInputs) -> None:
    """The allowed values of the destination inputs, before the config or a repository is read."""
    if g.provider is not None and g.provider not in PROVIDERS:
        raise InputError("provider", g.provider, " or ".join(PROVIDERS))
    if g.push_mode is not None and g.push_mode not in PUSH_MODES:
        raise InputError("push-mode", g.push_mode, " or ".join(PUSH_MODES))
    if g.github_api_url is not None:
        from dify_action.delivery.github_address import check_api_url  # delivery loads for a repository only

        check_api_url(g.github_api_url)


def _environment(cfg: Config | None, name: str | None, input_name: str) -> Environment | None:
    """The config's environment ``name``. A config that declares environments must declare this one (a
    typo is an error, never "every path"); in one that declares none, the name only labels the change."""
    if name is not None:
        check_environment(name, input_name)
    if cfg is None or name is None or not cfg.environments:
        return None
    return cfg.environment(name, input_name=input_name)


def _api(g: GitOpsInputs, ctx: RunContext) -> str:
    return g.github_api_url or ctx.api_url or GITHUB_API


def _server(g: GitOpsInputs, ctx: RunContext) -> str:
    if ctx.server_url:
        return ctx.server_url.rstrip("/")
    api = _api(g, ctx).rstrip("/")
    if api == GITHUB_API:
        return "https://github.com"
    return api.removesuffix("/api/v3")


def _is_path_or_url(repository: str) -> bool:
    return "://" in repository or repository.startswith(("/", "."))


_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")


def _repository(g: GitOpsInputs, ctx: RunContext, env: Environment | None) -> tuple[str | None, str | None]:
    """(clone URL, owner/name for the API) from the inputs or the config's environment."""
    declared = env.repository if env else None
    github_repo = g.github_repo or (declared if declared and not _is_path_or_url(declared) else None)
    if g.repo:
        if not _is_path_or_url(g.repo) and _OWNER_NAME.fullmatch(g.repo):  # owner/name, as the config takes it
            return f"{_server(g, ctx)}/{g.repo}.git", g.github_repo or g.repo
        return g.repo, github_repo
    if declared:
        return (declared if _is_path_or_url(declared) else f"{_server(g, ctx)}/{declared}.git"), github_repo
    return None, github_repo


def _provider(g: GitOpsInputs, ctx: RunContext, env: Environment | None, url: str, github_repo: str | None) -> str:
    if g.provider is not None:
        return g.provider
    if env is not None:
        return env.provider
    hosts = {urlsplit(_server(g, ctx)).netloc, urlsplit(_api(g, ctx)).netloc}  # github.com, or a GHE / emulator
    on_github = bool(g.github_api_url or github_repo) or urlsplit(url).netloc in hosts
    return "github" if on_github else "git"


def _destination(g: GitOpsInputs, ctx: RunContext, secrets: Secrets, env: Environment | None, url: str,
                 github_repo: str | None, provider: str | None = None) -> Destination:
    """The one way every command turns its inputs and the config's environment into a Destination."""
    from dify_action.delivery import Destination, Identity

    _check_local_repository(url)
    who: dict[str, Identity] = {}
    if g.author_name or g.author_email:
        default = Identity()
        person = Identity(g.author_name or default.name, g.author_email or default.email)
        who = {"author": person, "committer": person}
    mode = given(g.push_mode, env.push_mode if env is not None else None, default="branch")
    return Destination(
        url, base=g.base or (env.branch if env else None),
        provider=provider or _provider(g, ctx, env, url, github_repo), push_mode=mode,
        token=secrets.token, github_api_url=_api(g, ctx), github_repo=github_repo, labels=g.pr_labels,
        reviewers=g.reviewers, draft=given(g.draft, default=False), environ=ctx.environ,
        sign_commits=given(g.sign_commits, env.sign_commits if env else None, default=False), **who)


def gitops_target(b: BumpInputs, g: GitOpsInputs, ctx: RunContext, secrets: Secrets, cfg: Config | None, *,
                  needed: bool) -> GitOps | None:
    if cfg is not None and needed and not b.environment:
        raise InputError("environment", "", f"the environment of {cfg.source} to bump (declared: "
                         f"{', '.join(cfg.environments) or 'none'})")
    env = _environment(cfg, b.environment, "environment")
    paths = b.paths or (env.paths if env else ())
    helm: dict[str, tuple[str, ...]] = {"": b.helm_paths} if b.helm_paths else {}
    if env is not None and cfg is not None and not b.helm_paths:
        helm = {c.image.name: env.helm_paths[c.name] for c in cfg.components if c.name in env.helm_paths}
    pin = given(b.pin_digest, env.pin_digest if env else None, default=False)
    if g.directory:
        directory = Path(g.directory)
        if not directory.is_dir():
            raise InputError("gitops-dir", g.directory, "an existing directory (a checked-out GitOps tree)")
        if b.environment:
            environment_paths(b.environment, paths, cfg)
        return GitOps(b.environment, paths, MappingProxyType(helm), directory=directory,
                      dry_run=given(g.dry_run, default=False), env_file=b.env_file, pin_digest=pin)
    url, github_repo = _repository(g, ctx, env)
    if url is None:
        if needed:
            raise InputError("gitops-repo", "", "the GitOps repository (a URL, or owner/name on GitHub), a "
                             "config environment that declares repository, or gitops-dir (a checked-out tree)")
        if b.environment:
            raise InputError("environment", b.environment, "an environment to bump needs gitops-repo, gitops-dir "
                             "or a config environment that declares repository")
        return None
    environment = required(b.environment, "environment", "the environment to bump (it names the branch and "
                           "the pull request), e.g. staging")
    from dify_action.delivery import DeliveryRequest

    destination = _destination(g, ctx, secrets, env, url, github_repo)
    environment_paths(environment, paths, cfg)  # after the repository's own checks: the first doubt is named
    delivery = DeliveryRequest(
        destination=destination, environment=environment, targets=(),
        paths=paths, source_sha=ctx.revision, source_repo=ctx.source, run_url=ctx.run_url,
        **_delivery_extras(g, b))
    return GitOps(environment, paths, MappingProxyType(helm), delivery=delivery, env_file=b.env_file,
                  pin_digest=pin, dry_run=given(g.dry_run, default=False))


def environment_paths(environment: str, paths: tuple[str, ...], cfg: Config | None) -> None:
    """An environment's change stays in its files: without paths the bump would walk the whole
    tree and change every environment in it (issue 23), and a path that takes in the files another
    environment of the config declares would change that one too. ``.`` is the whole tree, said."""
    if not paths:
        raise InputError("paths", "", f"the files of environment {environment!r} in the GitOps tree: give paths "
                         "(the CLI's --path), or a config (config, the CLI's --config) whose environment "
                         f"{environment} declares paths; without them the bump would change every environment in "
                         "the tree (paths: . says the whole tree)")
    if cfg is None:
        return
    ours = [_norm(p) for p in paths]
    for name, other in cfg.environments.items():
        if name == environment:
            continue
        for theirs in map(_norm, other.paths):
            for mine in ours:
                if _within(theirs, mine) or _within(mine, theirs):
                    raise InputError("paths", mine, f"files of environment {environment!r} only: {mine} overlaps "
                                     f"{theirs}, a path of environment {name!r} in {cfg.source}, so the change "
                                     f"would deploy to {name} too (name the files of {environment} alone)")


def _norm(path: str) -> str:
    return posixpath.normpath(path.strip().lstrip("/")) if path.strip().lstrip("/") else "."


def _within(inner: str, outer: str) -> bool:
    return outer == "." or inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _delivery_extras(g: GitOpsInputs, b: BumpInputs) -> dict[str, Any]:
    """The CLI's refinements of a delivery (templates, attempts, versions), where given."""
    extras: dict[str, Any] = {}
    for key, value in (("group", g.group), ("title_template", g.title_template),
                       ("message_template", g.commit_message), ("max_attempts", g.max_attempts),
                       ("dify_version_old", b.dify_version_old), ("dify_version_new", b.dify_version_new)):
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


def promote_request(r: PromoteCommand, secrets: Secrets, cfg: Config | None) -> PromoteRequest:
    from dify_action.promote.run import PromoteRequest

    check_destination_inputs(r.gitops)
    source = required(r.from_environment, "from-environment", "the environment to promote from, e.g. staging")
    target = required(r.to_environment, "to-environment", "the environment to promote to, e.g. production")
    src = _environment(cfg, source, "from-environment")
    dst = _environment(cfg, target, "to-environment")
    url, github_repo = _repository(r.gitops, r.context, dst)
    url = required(url, "gitops-repo", "the GitOps repository, or a config whose to-environment declares "
                   "repository")
    request = PromoteRequest(
        destination=_destination(r.gitops, r.context, secrets, dst, url, github_repo),
        source=source, target=target, images=r.images,
        source_paths=r.from_paths or (src.paths if src else ()),
        target_paths=r.to_paths or (dst.paths if dst else ()),
        ours=tuple(c.image.name for c in cfg.components) if cfg else (), official=cfg.official if cfg else (),
        helm_paths=r.helm_paths or (tuple(p for ps in dst.helm_paths.values() for p in ps) if dst else ()),
        registry_tag=r.registry_tag, require_gates=given(r.require_gates, default=True),
        require_verified=given(r.require_verified, default=True),
        require_sbom=given(r.require_sbom, default=False),
        pin_digest=given(r.pin_digest, dst.pin_digest if dst else None, default=None),
        require_provenance=given(r.require_provenance, default=False),
        source_repository=r.source_repository or r.context.source,
        dry_run=given(r.gitops.dry_run, default=False), run_url=r.context.run_url)
    request.validate()
    return request


def rollback_request(r: RollbackCommand, secrets: Secrets, cfg: Config | None) -> RollbackRequest:
    from dify_action.rollback.run import RollbackRequest

    check_destination_inputs(r.gitops)
    if not (r.pull_request or r.commit or r.environment):
        raise InputError("pull-request-number", "", "the merged bump PR to roll back (or a commit), or environment "
                         "for its last bump")
    env = _environment(cfg, r.environment, "environment")
    url, github_repo = _repository(r.gitops, r.context, env)
    url = required(url, "gitops-repo", "the GitOps repository, or a config whose environment declares repository")
    provider = r.gitops.provider or (env.provider if env else "github" if r.pull_request else
                                     _provider(r.gitops, r.context, None, url, github_repo))
    request = RollbackRequest(
        destination=_destination(r.gitops, r.context, secrets, env, url, github_repo, provider),
        pr=r.pull_request, commit=r.commit, environment=r.environment, paths=r.paths or (env.paths if env else ()),
        allow_schema_rollback=given(r.allow_schema_rollback, default=False),
        dry_run=given(r.gitops.dry_run, default=False))
    request.validate()
    return request
