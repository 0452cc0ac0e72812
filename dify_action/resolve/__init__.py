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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from dify_action import refs
from dify_action.bump import Target
from dify_action.choices import PASSWORD_ENV, PROVIDERS, PUSH_MODES, check_environment
from dify_action.config import load as config_module
from dify_action.config.load import Config, SmokeSpec
from dify_action.dify.dsl import expand
from dify_action.errors import InputError
from dify_action.promote.run import PromoteRequest
from dify_action.registry import Credentials
from dify_action.releaseset import SetPolicy
from dify_action.resolve.common import required
from dify_action.resolve.gitops import GitOps, gitops_target, promote_request, rollback_request
from dify_action.resolve.images import BuildPlan, ScanPlan, build_plan, overrides, scan_plan
from dify_action.resolve.releaseset import set_policy
from dify_action.resolve.request import Secrets, Settings
from dify_action.resolve.smoke import smoke_spec
from dify_action.rollback.run import RollbackRequest

__all__ = ["BuildPlan", "GitOps", "Plan", "ScanPlan", "resolve", "split_image"]

_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?")


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
    apps: tuple[Path, ...] = ()  # the config's app DSL files, checked against the api image built
    apps_root: Path | None = None
    dify_set: SetPolicy = field(default_factory=SetPolicy)  # issue 21: how the Dify release set is checked and moved

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
        if self.apps:
            out["apps"] = [str(p) for p in self.apps]
        if self.gitops or self.promote or self.rollback:  # issue 21
            out["dify_set"] = {"release": self.dify_set.release, "allow_version_skew": self.dify_set.allow_skew,
                               "start_migrations": self.dify_set.start_migrations,
                               "customized": dict(self.dify_set.customized)}
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
    config_overrides = overrides(s)
    cfg = config_module.load(s.config, config_overrides) if s.config else None
    _check_common(s)
    uses_registry = s.command in ("build", "test", "scan", "promote", "rollback", "pipeline", "check")
    plan = Plan(s, cfg, _credentials(s, secrets, cfg) if uses_registry else None, s.docker_host)
    command = "pipeline" if s.command == "check" else s.command
    if command in ("build", "pipeline"):
        plan = replace(plan, build=build_plan(s, cfg, secrets))
    if command in ("test", "pipeline"):
        names = [spec.name for spec in plan.build.specs] if plan.build else [s.components[0] if s.components else ""]
        plan = replace(plan, smoke=MappingProxyType({n: smoke_spec(s, cfg, n or None) for n in names}))
        if command == "test":
            plan = replace(plan, test_image=_engine_image(required(s.image, "image", "the image to smoke-test, e.g. "
                                                                    "registry.example.com/acme/dify-api:sha-1234")))
    if command == "pipeline" and cfg is not None and cfg.apps:
        root = Path(cfg.source).resolve().parent
        files = expand([a.pattern for a in cfg.apps], root, source=cfg.source, lines=[a.line for a in cfg.apps])
        plan = replace(plan, apps=files, apps_root=root)
    if command in ("scan", "pipeline"):
        plan = replace(plan, scan=scan_plan(s, cfg or config_module.load(None, config_overrides), cfg is not None))
    if command == "scan" and s.image:
        _engine_image(s.image)
    if command in ("bump", "pipeline"):
        plan = replace(plan, gitops=gitops_target(s, secrets, cfg, needed=command == "bump"))
    if command == "bump":
        assert plan.gitops is not None
        plan = replace(plan, bump=bump_targets(s, plan.gitops))
    if command == "promote":
        plan = replace(plan, promote=promote_request(s, secrets, cfg))
    if command == "rollback":
        plan = replace(plan, rollback=rollback_request(s, secrets, cfg))
    plan = _with_set_policy(plan, s, cfg, command)  # issue 21
    if command in ("promote", "rollback") or (command in ("build", "pipeline") and s.push):
        _need_password(plan, s, secrets)  # a user without a password would fail at the first registry write
    return plan


def _with_set_policy(plan: Plan, s: Settings, cfg: Config | None, command: str) -> Plan:
    """Issue 21: the release-set policy, into the plan and the promote / rollback requests."""
    environment = s.to_environment if command == "promote" else s.environment
    policy = set_policy(s, cfg, environment, pipeline=command == "pipeline")
    plan = replace(plan, dify_set=policy)
    if plan.promote is not None:
        plan = replace(plan, promote=replace(plan.promote, set_policy=policy))
    if plan.rollback is not None:
        plan = replace(plan, rollback=replace(plan.rollback, set_policy=policy))
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


def _engine_image(image: str) -> str:
    """A reference the Docker engine will accept: refs' grammar, and a lowercase registry host."""
    ref = refs.parse(image, input_name="image")
    if ref.domain and ref.domain != ref.domain.lower():
        raise InputError("image", image, "a reference with a lowercase registry host and path, e.g. "
                         f"{image.lower()}")
    return image


def bump_targets(s: Settings, gitops: GitOps) -> tuple[Target, ...]:
    """The images of a bump: several ``repo:tag[@digest]`` (one change), or one image with tag/digest."""
    images = s.images or ((s.image,) if s.image else ())
    if not images and s.dify_release:  # issue 21: --dify-release alone moves the official images
        return ()
    if not images:
        raise InputError("image", "", "the image to deploy, repository:tag (several, one per line, make one change)")
    if len(images) > 1 and (s.tag or s.digest):
        raise InputError("tag", s.tag or s.digest or "", "with several images, write each as repository:tag[@digest]")
    targets = tuple(gitops.target(*split_image(image, s.tag, s.digest)) for image in images)
    if s.helm_paths and len({(t.tag, t.digest) for t in targets}) > 1:
        raise InputError("helm-paths", s.helm_paths[0], "names one tag key: with several images it sets all of "
                         "them, so they must have the same tag and digest (bump images with different tags without "
                         "helm-paths)")
    return targets


def split_image(image: str, tag: str | None, digest: str | None) -> tuple[str, str, str | None]:
    """``repo[:tag][@digest]``, or a repository plus tag/digest -> (repository, tag, digest); a tag (or
    digest) given both ways must agree: which one was meant is a doubt, and doubts stop the run."""
    ref = refs.parse(image, input_name="image")
    for name, inline, explicit in (("tag", ref.tag, tag), ("digest", ref.digest, digest)):
        if inline and explicit and inline != explicit:
            raise InputError("image", image, f"a repository without a {name} when {name} ({explicit}) is given, "
                             f"or the same {name}")
    final_tag = tag or ref.tag
    if not final_tag and (digest or ref.digest):
        raise InputError("digest", digest or ref.digest or "", "a digest goes with a tag: give the tag too "
                         "(repository:tag@sha256:...)")
    if not final_tag:
        raise InputError("image", image, "a reference with its tag, repository:tag (or give the tag separately); "
                         "give the tag to deploy")
    return ref.repository, final_tag, digest or ref.digest
