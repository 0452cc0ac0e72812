"""The verify command's typed request, resolved once from the front end's inputs and the config.

Precedence, as everywhere: an explicit input (flag or action input), then the tool's own
environment variable (``ARGOCD_SERVER``, ``ARGOCD_AUTH_TOKEN``, ``KUBECONFIG``: the names the
argocd CLI and every kubeconfig client read; the front end reads them and passes them here as
values), then the config's environment, then the built-in default. Every check runs here, before
anything is cloned or contacted: a bad value is an InputError (exit 2) naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dify_action import refs
from dify_action.choices import GITHUB_API, check_environment
from dify_action.config.load import Config, parse_duration
from dify_action.errors import InputError
from dify_action.verify.model import Timing

ON_FAILURE = ("none", "rollback")
WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset")
_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


@dataclass(frozen=True)
class VerifyInputs:
    """What a front end was given (None or empty: not given). Secrets are values, never in repr."""

    environment: str
    config: Config | None = None
    gitops_repo: str | None = None
    gitops_dir: str | None = None
    base: str | None = None
    commit: str | None = None
    timeout: str | None = None
    soak: str | None = None
    interval: str | None = None
    on_failure: str | None = None
    argocd_server: str | None = None  # the flag / input
    argocd_server_env: str | None = None  # ARGOCD_SERVER
    argocd_token: str | None = field(default=None, repr=False)  # the input, else ARGOCD_AUTH_TOKEN
    kubeconfig: str | None = None  # a path: --kubeconfig, the action's written input, else KUBECONFIG's file
    docker_host: str | None = None
    gitops_token: str | None = field(default=None, repr=False)
    registry_username: str | None = None
    registry_password: str | None = field(default=None, repr=False)
    github_api_url: str | None = None
    github_repo: str | None = None
    provider: str | None = None
    labels: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # what git inherits


@dataclass(frozen=True)
class ArgoCd:
    server: str  # https://host[:port] (or http:// as given)
    applications: tuple[str, ...]
    token: str = field(repr=False)
    insecure: bool = False


@dataclass(frozen=True)
class Flux:
    kustomizations: tuple[tuple[str, str], ...]  # (namespace, name)
    helmreleases: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Kubernetes:
    namespace: str
    workloads: tuple[tuple[str, str], ...]  # (kind, name)


@dataclass(frozen=True)
class VerifyRequest:
    """Everything a verification does, checked. ``kubeconfig`` is needed by flux and kubernetes."""

    environment: str
    repo_url: str | None
    directory: Path | None
    base: str | None
    paths: tuple[str, ...]
    ours: tuple[str, ...]
    commit: str | None
    timing: Timing
    on_failure: str = "none"
    argocd: ArgoCd | None = None
    flux: Flux | None = None
    kubernetes: Kubernetes | None = None
    kubeconfig: str | None = None
    docker_project: str | None = None
    docker_host: str | None = None
    dify_url: str | None = None
    dify_checks: tuple[str, ...] = ()
    gitops_token: str | None = field(default=None, repr=False)
    provider: str = "git"
    github_api_url: str = GITHUB_API
    github_repo: str | None = None
    labels: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # what git inherits

    @property
    def sources(self) -> tuple[str, ...]:
        named = (("argocd", self.argocd), ("flux", self.flux), ("kubernetes", self.kubernetes),
                 ("docker", self.docker_project), ("dify", self.dify_url))
        return tuple(name for name, value in named if value)


def argocd_url(server: str, input_name: str = "argocd-server") -> str:
    """A URL, or ``host[:port]`` as the argocd CLI takes it (https)."""
    text = server.strip().rstrip("/")
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or "@" in parts.netloc:
        raise InputError(input_name, server, "the Argo CD API server as https://HOST[:PORT] or HOST[:PORT]")
    return url


def _duration(value: object, name: str, *, zero: bool = False) -> float:
    try:
        seconds = parse_duration(value if isinstance(value, int | float) else str(value))
    except ValueError:
        seconds = -1.0
    if seconds < 0 or (seconds == 0 and not zero):
        raise InputError(name, value, "a duration: seconds, or 90s, 15m, 1h" + (" (0: none)" if zero else ""))
    return seconds


def _entries(items: object, name: str, default_namespace: str,
             kinds: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items or ():  # type: ignore[attr-defined]
        first, sep, second = str(item).partition("/")
        pair = (first if sep else default_namespace, second if sep else first)
        if kinds:
            pair = (pair[0].lower(), pair[1])
            if pair[0] not in kinds:
                raise InputError(name, item, f"KIND/NAME with KIND one of {', '.join(kinds)}")
        if not all(_NAME_RE.fullmatch(part) for part in pair):
            raise InputError(name, item, "NAMESPACE/NAME (Kubernetes names: lowercase letters, digits, - and .)")
        out.append(pair)
    return tuple(out)


def resolve_request(inputs: VerifyInputs) -> VerifyRequest:
    """The one resolution of a verification (see the module doc); InputError before any contact."""
    i = inputs
    check_environment(i.environment)
    cfg = i.config
    if cfg is None:
        raise InputError("config", "", "the dify-action.yaml whose environment declares a verify section")
    env = cfg.environment(i.environment)
    raw: Mapping[str, Any] | None = env.verify
    if not raw:
        raise InputError("environment", i.environment, f"an environment of {cfg.source} with a verify section "
                         "(argocd, flux, kubernetes, docker and/or dify): this one has none")
    if i.commit is not None and not re.fullmatch(r"[0-9a-f]{7,40}", i.commit):
        raise InputError("commit", i.commit, "a commit sha of the GitOps repository (7 to 40 lowercase hex digits)")
    if i.gitops_dir and i.gitops_repo:
        raise InputError("gitops-dir", i.gitops_dir, "either gitops-dir (a clone with history) or gitops-repo")
    repo_url, directory = _repository(i, env.repository)
    on_failure = i.on_failure or str(raw.get("on-failure", "none"))
    if on_failure not in ON_FAILURE:
        raise InputError("on-failure", on_failure, " or ".join(ON_FAILURE))
    if on_failure == "rollback" and repo_url is None:
        raise InputError("on-failure", on_failure, "rollback opens a revert in the GitOps repository: give "
                         "gitops-repo (or the environment's repository), not only gitops-dir")
    timing = Timing(
        timeout=_duration(i.timeout or raw.get("timeout", "15m"), "timeout"),
        soak=_duration(i.soak if i.soak is not None else raw.get("soak", 0), "soak", zero=True),
        degraded_grace=_duration(raw.get("degraded-grace", "2m"), "degraded-grace"),
        interval=_duration(i.interval or raw.get("interval", "5s"), "interval"))
    argocd = _argocd(i, raw.get("argocd"))
    flux_raw, kube_raw = raw.get("flux"), raw.get("kubernetes")
    flux = Flux(_entries(flux_raw.get("kustomizations"), "flux.kustomizations", "flux-system"),
                _entries(flux_raw.get("helmreleases"), "flux.helmreleases", "flux-system")) if flux_raw else None
    if flux is not None and not (flux.kustomizations or flux.helmreleases):
        raise InputError("flux", "{}", "kustomizations and/or helmreleases, as namespace/name")
    kube = Kubernetes(str(kube_raw.get("namespace", "default")),
                      _entries(kube_raw["workloads"], "kubernetes.workloads", "deployment", WORKLOAD_KINDS)) \
        if kube_raw else None
    if kube is not None and not _NAME_RE.fullmatch(kube.namespace):
        raise InputError("kubernetes.namespace", kube.namespace, "a Kubernetes namespace name")
    if (flux or kube) and not (i.kubeconfig and Path(i.kubeconfig).is_file()):
        raise InputError("kubeconfig", i.kubeconfig or "", "a kubeconfig file for the flux/kubernetes sources "
                         "(--kubeconfig, the action's kubeconfig input, or KUBECONFIG)")
    docker = raw.get("docker") or {}
    dify = raw.get("dify") or {}
    for url in (dify.get("url"), *dify.get("checks", ())):
        if url is not None and not (urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname):
            raise InputError("dify.url", url, "an http(s) URL")
    return VerifyRequest(
        environment=i.environment, repo_url=repo_url, directory=directory, base=i.base or env.branch,
        paths=env.paths, ours=tuple(c.image.name for c in cfg.components), commit=i.commit, timing=timing,
        on_failure=on_failure, argocd=argocd, flux=flux, kubernetes=kube, kubeconfig=i.kubeconfig if flux or kube
        else None, docker_project=docker.get("project"), docker_host=docker.get("host") or i.docker_host,
        dify_url=str(dify["url"]).rstrip("/") if dify.get("url") else None, dify_checks=tuple(dify.get("checks", ())),
        gitops_token=i.gitops_token, provider=i.provider or env.provider,
        github_api_url=i.github_api_url or GITHUB_API, github_repo=i.github_repo or (
            env.repository if env.repository and "://" not in env.repository and not env.repository.startswith(
                ("/", ".")) else None), labels=i.labels, environ=i.environ)


def _repository(i: VerifyInputs, declared: str | None) -> tuple[str | None, Path | None]:
    if i.gitops_dir:
        directory = Path(i.gitops_dir)
        if not (directory / ".git").exists():
            raise InputError("gitops-dir", i.gitops_dir, "a git working tree (verify reads the branch's history)")
        return None, directory
    url = i.gitops_repo or declared
    if url is None:
        raise InputError("gitops-repo", "", "the GitOps repository (a URL or path), or an environment that declares "
                         "repository")
    if "://" not in url and not url.startswith(("/", ".")):
        url = f"https://github.com/{url}.git"
    return url, None


def _argocd(i: VerifyInputs, raw: Mapping[str, Any] | None) -> ArgoCd | None:
    if raw is None and not i.argocd_server:
        return None
    if raw is None:
        raise InputError("argocd-server", i.argocd_server, "an environment whose verify section lists argocd "
                         "applications")
    given = i.argocd_server or i.argocd_server_env or raw.get("server")
    name = "argocd-server" if i.argocd_server else "ARGOCD_SERVER" if i.argocd_server_env else "verify.argocd.server"
    if not given:
        raise InputError("argocd-server", "", "the Argo CD API server (argocd-server, ARGOCD_SERVER or "
                         "verify.argocd.server)")
    if not i.argocd_token:
        raise InputError("argocd-token", "", "an Argo CD API token (the argocd-token input or ARGOCD_AUTH_TOKEN): "
                         "read-only access to the applications is enough")
    apps = tuple(str(a) for a in raw["applications"])
    for app in apps:
        if not _NAME_RE.fullmatch(app.rpartition("/")[2]):
            raise InputError("argocd.applications", app, "Argo CD application names")
    return ArgoCd(argocd_url(given, name), apps, i.argocd_token, bool(raw.get("insecure", False)))


def ours_filter(ours: tuple[str, ...]) -> frozenset[str]:
    return frozenset(refs.parse_repository(o, input_name="component image").match_key for o in ours)
