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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from dify_action import refs
from dify_action.choices import PASSWORD_ENV, check_environment
from dify_action.errors import InputError
from dify_action.lazy import loader
from dify_action.releaseset.policy import SetPolicy
from dify_action.resolve.common import required
from dify_action.resolve.gitops import (
    GitOps,
    check_destination_inputs,
    gitops_target,
    promote_request,
    rollback_request,
)
from dify_action.resolve.releaseset import set_policy
from dify_action.resolve.request import (
    Access,
    BuildCommand,
    BumpCommand,
    BumpInputs,
    CheckCommand,
    Command,
    GitOpsInputs,
    PipelineCommand,
    PromoteCommand,
    RollbackCommand,
    ScanCommand,
    ScanInputs,
    Secrets,
    TestCommand,
)

if TYPE_CHECKING:  # types only; each command imports the stages it runs (a bump loads no build, promote or config)
    from dify_action.bump import Target
    from dify_action.config.load import Config, SmokeSpec
    from dify_action.delivery import Destination
    from dify_action.promote.run import PromoteRequest
    from dify_action.registry import Credentials
    from dify_action.resolve.images import BuildPlan, ScanPlan
    from dify_action.rollback.run import RollbackRequest

__all__ = ["BuildPlan", "GitOps", "Plan", "ScanPlan", "resolve", "split_image"]
__getattr__ = loader(__name__, {"BuildPlan": "images", "ScanPlan": "images"}, globals())

@dataclass(frozen=True)
class Plan:
    """Everything a run will do, resolved and checked; the pipeline only executes it."""

    command: str
    config: Config | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    docker_host: str | None = None
    build: BuildPlan | None = None
    smoke: Mapping[str, SmokeSpec] = field(default_factory=lambda: MappingProxyType({}))
    smoke_run_id: str | None = None  # the smoke container's name suffix
    test_image: str | None = None
    scan: ScanPlan | None = None
    scan_image: str | None = None
    gitops: GitOps | None = None
    bump: tuple[Target, ...] = ()
    promote: PromoteRequest | None = None
    rollback: RollbackRequest | None = None
    apps: tuple[Path, ...] = ()  # the config's app DSL files, checked against the api image built
    apps_root: Path | None = None
    dify_set: SetPolicy = field(default_factory=SetPolicy)  # issue 21: how the Dify release set is checked and moved

    def describe(self) -> dict[str, object]:
        """The resolved requests, for ``check`` (no secrets: they are not part of any repr)."""
        out: dict[str, object] = {"command": self.command, "config": self.config.source if self.config else None}
        if self.build:
            out["build"] = [{"component": s.name, "image": s.repository.name, "tags": list(s.tags),
                             "dockerfile": str(s.dockerfile), "context": str(s.context)} for s in self.build.specs]
            out["push"] = self.build.push
            if self.build.tag_notes:
                out["tag_notes"] = list(self.build.tag_notes)
        if self.smoke:
            out["test"] = {name: {"http_probe": spec.http_probe.url if spec.http_probe else None,
                                  "commands": list(spec.commands), "healthcheck": spec.healthcheck}
                           for name, spec in self.smoke.items()}
        if self.scan:
            out["scan"] = {"severity": self.scan.policy.severity, "offline": self.scan.offline,
                           "ignore_unfixed": self.scan.policy.ignore_unfixed}
        if self.gitops:
            g, d = self.gitops, self.gitops.delivery
            dest = d.destination if d else None
            out["bump"] = {"environment": g.environment, "paths": list(g.paths),
                           "directory": str(g.directory) if g.directory else None,
                           "repository": dest.repo_url if dest else None, "provider": dest.provider if dest else None,
                           "push_mode": dest.push_mode if dest else None, "base": dest.base if dest else None,
                           "draft": dest.draft if dest else None, "dry_run": g.dry_run, "pin_digest": g.pin_digest,
                           "images": [f"{t.image.name}:{t.tag}" for t in self.bump]}
        if self.apps:
            out["apps"] = [str(p) for p in self.apps]
        if self.gitops or self.promote or self.rollback:  # issue 21
            out["dify_set"] = {"release": self.dify_set.release, "allow_version_skew": self.dify_set.allow_skew,
                               "start_migrations": self.dify_set.start_migrations,
                               "customized": dict(self.dify_set.customized)}
        if self.promote is not None:
            p = self.promote
            out["promote"] = _destination(p.destination) | {
                "from": p.source, "to": p.target, "pin_digest": p.pin_digest, "require_gates": p.require_gates,
                "require_sbom": p.require_sbom, "dry_run": p.dry_run}
        if self.rollback is not None:
            r = self.rollback
            out["rollback"] = _destination(r.destination) | {
                "allow_schema_rollback": r.allow_schema_rollback, "dry_run": r.dry_run}
        return out


def _destination(d: Destination) -> dict[str, object]:
    return {"repository": d.repo_url, "provider": d.provider, "push_mode": d.push_mode, "base": d.base}


def resolve(request: Command, secrets: Secrets) -> Plan:
    """Check every input ``request`` holds and build its command's plan; see the module doc."""
    if isinstance(request, CheckCommand):
        checked = request.checked
        if not checked.context.revision and not (isinstance(checked, BuildCommand | PipelineCommand)
                                                  and checked.build.tags):
            checked = replace(checked, context=replace(checked.context, revision="0" * 40))  # shows the tag shapes
        # check changes nothing: it asks for no password and no token (issue 23), it says what a run will need
        return replace(_with_set_policy(_resolve(checked, secrets), checked, check=True), command="check")
    return _need_credentials(_with_set_policy(_resolve(request, secrets), request), request, secrets)


def _with_set_policy(plan: Plan, request: Command, *, check: bool = False) -> Plan:
    """Issue 21: the Dify release-set policy (one precedence), into the plan and the promote / rollback
    requests: allow-version-skew, the release bump moves to, the target environment's start-migrations."""
    gitops, bump = getattr(request, "gitops", None), getattr(request, "bump", None)
    environment = (request.to_environment if isinstance(request, PromoteCommand)
                   else request.environment if isinstance(request, RollbackCommand)
                   else bump.environment if isinstance(bump, BumpInputs) else None)
    policy = set_policy(gitops.allow_version_skew if isinstance(gitops, GitOpsInputs) else None,
                        bump.dify_release if isinstance(bump, BumpInputs) else None, plan.config, environment,
                        command=plan.command, check=check)
    plan = replace(plan, dify_set=policy)
    if plan.promote is not None:
        plan = replace(plan, promote=replace(plan.promote, set_policy=policy))
    if plan.rollback is not None:
        plan = replace(plan, rollback=replace(plan.rollback, set_policy=policy))
    return plan


def _need_credentials(plan: Plan, request: Command, secrets: Secrets) -> Plan:
    """The secrets a run will use, checked before its first side effect (a missing token used to be
    found by a 404 halfway): the registry password of a user that writes, the token of a forge API."""
    access = getattr(request, "access", None)
    writes = plan.command in ("promote", "rollback") or (plan.build is not None and plan.build.push)
    if writes and isinstance(access, Access):
        _need_password(plan, access, secrets)
    destinations = [plan.gitops.delivery.destination] if plan.gitops and plan.gitops.delivery else []
    destinations += [r.destination for r in (plan.promote, plan.rollback) if r is not None]
    dry = any(bool(r and r.dry_run) for r in (plan.promote, plan.rollback, plan.gitops))
    for dest in destinations:
        if dest.provider == "github" and not secrets.token and not dry:
            raise InputError("token", "", f"a token for {dest.github_repo or dest.repo_url} on GitHub (contents and "
                             "pull-requests write; the CLI reads $GITOPS_TOKEN, then $GITHUB_TOKEN), or provider "
                             "git to push a branch with git's own credentials")
    return plan


def _resolve(request: Command, secrets: Secrets) -> Plan:
    assert not isinstance(request, CheckCommand)  # resolve unwraps it
    cfg = _load_config(request)
    if isinstance(request, PromoteCommand):
        return Plan("promote", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host,
                    promote=promote_request(request, secrets, cfg))
    if isinstance(request, RollbackCommand):
        return Plan("rollback", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host,
                    rollback=rollback_request(request, secrets, cfg))
    if isinstance(request, BumpCommand):
        _check_gitops(request.gitops, request.bump, "bump")
        gitops = gitops_target(request.bump, request.gitops, request.context, secrets, cfg, needed=True)
        assert gitops is not None
        return Plan("bump", cfg, _credentials(request.access, secrets, cfg), gitops=gitops,
                    bump=bump_targets(request.bump, gitops))
    from dify_action.config import load as config_module
    from dify_action.resolve.images import build_plan, overrides, scan_plan
    from dify_action.resolve.smoke import smoke_spec

    if isinstance(request, TestCommand):
        image = _engine_image(required(request.image, "image", "the image to smoke-test, e.g. "
                                       "registry.example.com/acme/dify-api:sha-1234"))
        if len(request.components) > 1:
            raise InputError("components", ",".join(request.components), "one component: test runs one image")
        name = request.components[0] if request.components else _component_of(image, cfg)
        return Plan("test", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host,
                    smoke=MappingProxyType({name or "": smoke_spec(request.smoke, cfg, name, standalone=True)}),
                    smoke_run_id=request.smoke.run_id, test_image=image)
    if isinstance(request, ScanCommand):
        if request.image:
            _engine_image(request.image)
        scan = scan_plan(request.components, request.image, request.scan,
                         cfg or config_module.load(None, overrides(request.scan)), cfg is not None)
        if not (request.image or scan.image_archive or any(scan.dockerfiles.values()) or scan.trivy_reports):
            raise InputError("image", "", "something to scan: an image, an image archive, a Dockerfile, a Trivy "
                             "report or a config with components (a scan that checks nothing never passes)")
        return Plan("scan", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host, scan=scan,
                    scan_image=request.image)
    if isinstance(request, BuildCommand):
        plan = Plan("build", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host,
                    build=build_plan(request.components, request.build, request.context, cfg, secrets,
                                     multi_platform=True))
        return _need_password(plan, request.access, secrets) if plan.build and plan.build.push else plan
    return _pipeline(request, cfg, secrets)


def _pipeline(request: PipelineCommand, cfg: Config | None, secrets: Secrets) -> Plan:
    from dify_action.config import load as config_module
    from dify_action.dify.dsl import expand
    from dify_action.resolve.images import build_plan, overrides, scan_plan
    from dify_action.resolve.smoke import smoke_spec

    _check_gitops(request.gitops, request.bump, "pipeline")
    build = build_plan(request.components, request.build, request.context, cfg, secrets)
    names = [spec.name for spec in build.specs]
    smoke = MappingProxyType({n: smoke_spec(request.smoke, cfg, n or None) for n in names})
    apps: tuple[Path, ...] = ()
    root = None
    if cfg is not None and cfg.apps:
        root = cfg.root
        apps = expand([a.pattern for a in cfg.apps], root, source=cfg.source, lines=[a.line for a in cfg.apps])
    scan = scan_plan(request.components, None, request.scan, cfg or config_module.load(None, overrides(request.scan)),
                     cfg is not None)
    gitops = gitops_target(request.bump, request.gitops, request.context, secrets, cfg, needed=False)
    if gitops is not None and not build.push:  # never deploy an image the registry does not have (issue 23)
        raise InputError("push", "false", f"push to deploy: the pipeline bumps environment {gitops.environment or ''!r}"
                         f" ({'gitops-dir' if gitops.directory else 'gitops-repo or the config environment'}), and "
                         "an image that was not pushed cannot be pulled there; push, or drop environment, "
                         "gitops-repo and gitops-dir to stop after the gates")
    plan = Plan("pipeline", cfg, _credentials(request.access, secrets, cfg), request.access.docker_host,
                build=build, smoke=smoke, smoke_run_id=request.smoke.run_id, scan=scan, gitops=gitops, apps=apps,
                apps_root=root)
    return plan


def _load_config(request: Command) -> Config | None:
    config = getattr(request, "config", None)
    if not config:
        return None
    from dify_action.config import load as config_module
    from dify_action.resolve.images import overrides

    scan = getattr(request, "scan", None)
    return config_module.load(config, overrides(scan) if isinstance(scan, ScanInputs) else [])


# -- shared checks --------------------------------------------------------------------------------
def _check_gitops(g: GitOpsInputs, b: BumpInputs, command: str) -> None:
    if g.directory and g.repo:
        raise InputError("gitops-dir", g.directory, "either gitops-dir (a checked-out tree, edited in place) or "
                         "gitops-repo (cloned, committed, pushed), not both")
    check_destination_inputs(g)
    if b.environment is not None:
        check_environment(b.environment, "environment")
    if b.tag:
        refs.validate_tag(b.tag, input_name="tag")


def _credentials(access: Access, secrets: Secrets, cfg: Config | None) -> Credentials | None:
    username = access.registry_username or (cfg.registry.username if cfg else None)
    if secrets.registry_password and not username:
        raise InputError("registry-username", "", "the registry user that goes with registry-password (for GHCR: "
                         "${{ github.actor }}); the password is not used without it")
    if not (username and secrets.registry_password):
        return None
    from dify_action.registry import Credentials  # the client's package: only when there is something to sign in

    return Credentials(username, secrets.registry_password)


def _need_password(plan: Plan, access: Access, secrets: Secrets) -> Plan:
    """A user without a password would fail at the first registry write: stop before anything runs."""
    username = access.registry_username or (plan.config.registry.username if plan.config else None)
    if username and not secrets.registry_password:
        raise InputError("registry-password", "", f"the password or token of registry user {username!r} (the CLI "
                         f"reads it from ${PASSWORD_ENV})")
    return plan


def _component_of(image: str, cfg: Config | None) -> str | None:
    """The config component whose smoke settings test an image given without ``components``: the one
    building that repository, else the config's only one. A config whose settings would be ignored
    is refused (issue 23: an input a command cannot use as given is an error, not a silent skip)."""
    if cfg is None:
        return None
    repository = refs.parse(image, input_name="image").repository
    named = [c.name for c in cfg.components if c.image.repository == repository]
    if len(named) == 1 or len(cfg.components) == 1:
        return named[0] if named else cfg.components[0].name
    raise InputError("components", "", f"the component of {cfg.source} whose smoke settings test {image} (declared: "
                     f"{', '.join(c.name for c in cfg.components) or 'none'}); test reads one component's settings")


def _engine_image(image: str) -> str:
    """A reference the Docker engine will accept: refs' grammar, and a lowercase registry host."""
    ref = refs.parse(image, input_name="image")
    if ref.domain and ref.domain != ref.domain.lower():
        raise InputError("image", image, "a reference with a lowercase registry host and path, e.g. "
                         f"{image.lower()}")
    return image


def bump_targets(b: BumpInputs, gitops: GitOps) -> tuple[Target, ...]:
    """The images of a bump: several ``repo:tag[@digest]`` (one change), or one image with tag/digest."""
    if not b.images and b.dify_release:  # issue 21: --dify-release alone moves the official images
        return ()
    if not b.images:
        raise InputError("image", "", "the image to deploy, repository:tag (several, one per line, make one change)")
    if len(b.images) > 1 and (b.tag or b.digest):
        raise InputError("tag", b.tag or b.digest or "", "with several images, write each as repository:tag[@digest]")
    targets = tuple(gitops.target(*split_image(image, b.tag, b.digest)) for image in b.images)
    if b.helm_paths and len({(t.tag, t.digest) for t in targets}) > 1:
        raise InputError("helm-paths", b.helm_paths[0], "names one tag key: with several images it sets all of "
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
