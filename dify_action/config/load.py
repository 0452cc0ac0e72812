"""The ``dify-action.yaml`` configuration: load, validate against the published schema, override.

The file is composed with PyYAML so every error names the file, the key path
(``components[1].dockerfile``), the value, what is allowed and the line. The JSON schema in
``dify_action/config/schemas/dify-action.schema.json`` is the single source of the structural rules (the
same file editors use); checks the schema cannot express (unique names, image references,
cross references, dates) follow here. Values come back as frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dify_action import refs, tags
from dify_action.config.yamlmarks import Key, Override, compose, key_text, load_value, raise_for, set_override, validate
from dify_action.errors import ConfigError, InputError
from dify_action.tags import Flavor

__all__ = [
    "AllowEntry",
    "AppPattern",
    "Component",
    "Config",
    "DifyRelease",
    "Environment",
    "Flavor",
    "HttpProbe",
    "Override",
    "RegistryConfig",
    "ScanPolicy",
    "Scanners",
    "SizeBudget",
    "SmokeSpec",
    "TagPolicy",
    "load",
    "parse_duration",
    "parse_set",
    "parse_size",
    "schema",
]

DEFAULT_FILE = "dify-action.yaml"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SizeBudget:
    """Uncompressed image size limits in bytes: above ``warn`` a warning, above ``fail`` GateFailed."""

    warn: int | None = None
    fail: int | None = None


@dataclass(frozen=True)
class Component:
    name: str
    image: refs.ImageRef
    dockerfile: str
    context: str = "."
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=_empty)
    size_budget: SizeBudget | None = None


@dataclass(frozen=True)
class TagPolicy:
    """Parsed tag rules and flavor (see dify_action/tags.py); the defaults are tags.DEFAULT_RULES."""

    rules: tuple[tags.TagRule, ...] = tags.DEFAULT_RULES
    flavor: Flavor = field(default_factory=Flavor)


@dataclass(frozen=True)
class HttpProbe:
    url: str
    status: int = 200
    timeout: float = 60.0


@dataclass(frozen=True)
class SmokeSpec:
    env: Mapping[str, str] = field(default_factory=_empty)
    healthcheck: bool = True
    http_probe: HttpProbe | None = None
    commands: tuple[str, ...] = ()
    timeout: float = 120.0
    log_lines: int = 50


@dataclass(frozen=True)
class AllowEntry:
    id: str
    reason: str
    expires: dt.date | None = None
    package: str | None = None


@dataclass(frozen=True)
class Scanners:
    vuln: bool = True
    misconfig: bool = True
    secret: bool = True
    hadolint: bool = True


@dataclass(frozen=True)
class ScanPolicy:
    severity: str = "HIGH"
    ignore_unfixed: bool = False
    hadolint_level: str = "error"
    missing_scanner: str = "fail"
    scanners: Scanners = Scanners()
    allow: tuple[AllowEntry, ...] = ()


@dataclass(frozen=True)
class Environment:
    name: str
    paths: tuple[str, ...]
    repository: str | None = None
    branch: str = "main"
    helm_paths: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    provider: str = "github"
    push_mode: str = "branch"  # the push-mode input's values: branch (+ a PR with github) or direct
    pin_digest: bool | None = None  # None: not in the file (promote: as the source does; bump: no)
    sign_commits: bool | None = None  # issue 19: commit through GitHub's API; None: not in the file
    # issue 18: the schema-checked ``verify:`` section, read by dify_action.verify.spec (its own model)
    verify: Mapping[str, Any] | None = None
    start_migrations: str = "warn"  # issue 21: refuse a Dify upgrade whose api migrates at start in several containers


@dataclass(frozen=True)
class DifyRelease:
    """``dify:`` (issue 21): the release the pipeline moves the official images to, and the skew override."""

    release: str | None = None
    allow_version_skew: bool = False


@dataclass(frozen=True)
class AppPattern:
    """One entry of ``apps:``: a path or glob of DSL files, and its line in the config file."""

    pattern: str
    line: int | None = None


@dataclass(frozen=True)
class RegistryConfig:
    host: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``source`` is the file it came from (or ``<defaults>``)."""

    source: str = "<defaults>"
    components: tuple[Component, ...] = ()
    tags: TagPolicy = TagPolicy()
    smoke: Mapping[str, SmokeSpec] = field(default_factory=lambda: MappingProxyType({}))
    scan: ScanPolicy = ScanPolicy()
    environments: Mapping[str, Environment] = field(default_factory=lambda: MappingProxyType({}))
    registry: RegistryConfig = RegistryConfig()
    apps: tuple[AppPattern, ...] = ()
    official: tuple[str, ...] = ()  # promote.official: upstream repositories promote moves ungated

    dify: DifyRelease = DifyRelease()  # issue 21

    @property
    def root(self) -> Path:
        """The repository root the config's paths are relative to (as the schema says): the config's
        folder, or the folder holding ``.github/`` for a config kept there (``.github/dify-action.yaml``)."""
        folder = Path(self.source).resolve().parent
        for parent in (folder, *folder.parents):
            if parent.name == ".github":
                return parent.parent
        return folder

    def component(self, name: str, *, input_name: str = "component") -> Component:
        """The component called ``name``; InputError listing the declared ones otherwise."""
        for component in self.components:
            if component.name == name:
                return component
        declared = ", ".join(c.name for c in self.components) or "none declared"
        raise InputError(input_name, name, f"a component declared in {self.source} ({declared})")

    def smoke_for(self, name: str) -> SmokeSpec:
        return self.smoke.get(name, SmokeSpec())

    def environment(self, name: str, *, input_name: str = "environment") -> Environment:
        if name in self.environments:
            return self.environments[name]
        declared = ", ".join(self.environments) or "none declared"
        raise InputError(input_name, name, f"an environment declared in {self.source} ({declared})")


def schema() -> dict[str, Any]:
    """The published JSON schema (draft 2020-12) of ``dify-action.yaml``."""
    text = resources.files("dify_action.config").joinpath("schemas/dify-action.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def parse_set(text: str, *, input_name: str = "--set") -> Override:
    """Parse ``KEY.PATH=VALUE`` (the value read as a YAML scalar) into an Override."""
    key, sep, raw = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", key) or key.startswith(".") or ".." in key:
        raise InputError(input_name, text, "KEY.PATH=VALUE, e.g. scan.severity=CRITICAL")
    try:
        value = load_value(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dt.date):
        value = value.isoformat()
    return Override(tuple(key.split(".")), value, input_name)


def load(path: str | Path | None = None, overrides: Sequence[Override] = (), *, text: str | None = None) -> Config:
    """Load and validate ``path`` (or ``text``; neither: defaults), then apply ``overrides``.

    ``overrides`` (from CLI flags or action inputs) are set into the document before validation,
    so a bad override is an InputError naming the flag, never the file.
    """
    source = str(path) if path is not None else "<defaults>"
    if path is not None and text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("config", str(path), "an existing dify-action.yaml file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(source, "(file)", str(path), f"a readable UTF-8 YAML file ({error})") from None
    data, lines = compose(text or "", source)
    _refuse_secrets(data, lines, source)
    overridden: dict[Key, Override] = {}
    for override in overrides:
        if override.key[:1] == ("registry",) and override.key[-1].lower() in _SECRET_KEYS:
            raise InputError(override.source, "(hidden)", _CREDENTIALS_ADVICE)
        overridden[set_override(data, override)] = override
    validate(data, schema(), lines, source, overridden)
    return _Builder(data, lines, source, overridden).build()


_SECRET_KEYS = frozenset({"password", "token", "secret", "password-stdin", "auth", "identitytoken"})
_CREDENTIALS_ADVICE = (
    "no password or token in the config file: pass it at run time from a secret "
    "(the action's registry-password input, or the CLI's registry password option)"
)


def _refuse_secrets(data: dict[str, Any], lines: Mapping[Key, int], source: str) -> None:
    registry = data.get("registry")
    if not isinstance(registry, dict):
        return
    for name in registry:
        if name.lower() in _SECRET_KEYS:
            key = ("registry", name)
            raise ConfigError(source, key_text(key), "(hidden)", _CREDENTIALS_ADVICE, line=lines.get(key))


class _Builder:
    """Schema-valid data -> dataclasses, plus the checks a schema cannot express."""

    def __init__(
        self, data: dict[str, Any], lines: Mapping[Key, int], source: str, overridden: Mapping[Key, Override]
    ) -> None:
        self.data, self.lines, self.source, self.overridden = data, lines, source, overridden

    def fail(self, key: Key, value: object, allowed: str) -> None:
        raise_for(self.source, key, value, allowed, self.lines, self.overridden)

    def build(self) -> Config:
        components = tuple(self.component(i, c) for i, c in enumerate(self.data.get("components", [])))
        names = [c.name for c in components]
        for index, name in enumerate(names):
            if name in names[:index]:
                self.fail(("components", index, "name"), name, "a name not used by another component")
        smoke = {name: self.smoke(name, spec) for name, spec in self.data.get("smoke", {}).items()}
        environments = {n: self.environment(n, e) for n, e in self.data.get("environments", {}).items()}
        for key_path, name in [(("smoke", n), n) for n in smoke] + [
            (("environments", e, "helm-paths", n), n) for e in environments for n in environments[e].helm_paths
        ]:
            if name not in names:
                self.fail(key_path, name, f"a declared component ({', '.join(names) or 'none declared'})")
        registry = self.data.get("registry", {})
        return Config(
            source=self.source,
            components=components,
            tags=self.tags(self.data.get("tags", {})),
            smoke=MappingProxyType(smoke),
            scan=self.scan(self.data.get("scan", {})),
            environments=MappingProxyType(environments),
            registry=RegistryConfig(registry.get("host"), registry.get("username")),
            apps=tuple(AppPattern(p, self.lines.get(("apps", i))) for i, p in enumerate(self.data.get("apps", []))),
            official=self.official(self.data.get("promote", {}).get("official", [])),
            dify=DifyRelease(self.data.get("dify", {}).get("release"),  # issue 21
                             self.data.get("dify", {}).get("allow-version-skew", False)),
        )

    def official(self, raw: list[str]) -> tuple[str, ...]:
        from dify_action.dify.official import expand

        try:
            return expand(raw)
        except ValueError as error:
            index = raw.index(str(error))
            self.fail(("promote", "official", index), raw[index], "an image repository without tag or digest "
                      "(e.g. langgenius/dify-web), or dify (Dify's own images)")
            raise

    def component(self, index: int, raw: dict[str, Any]) -> Component:
        key: Key = ("components", index)
        image = refs.try_parse(raw["image"])
        if image is None or image.tag or image.digest:
            self.fail(
                (*key, "image"),
                raw["image"],
                "an image repository without tag or digest (e.g. registry.example.com/acme/dify-api)",
            )
        assert image is not None
        context = raw.get("context", ".")
        budget = raw.get("size-budget")
        size_budget = None
        if budget is not None:
            warn, fail = (budget.get("warn"), budget.get("fail")) if isinstance(budget, dict) else (None, budget)
            size_budget = SizeBudget(
                parse_size(warn) if warn is not None else None, parse_size(fail) if fail is not None else None
            )
            if size_budget.warn and size_budget.fail and size_budget.warn > size_budget.fail:
                self.fail((*key, "size-budget", "warn"), warn, "a warn size not above the fail size")
        return Component(
            name=raw["name"],
            image=image,
            dockerfile=raw.get("dockerfile", f"{context.rstrip('/')}/Dockerfile" if context != "." else "Dockerfile"),
            context=context,
            target=raw.get("target"),
            build_args=MappingProxyType(dict(raw.get("build-args", {}))),
            size_budget=size_budget,
        )

    def tags(self, raw: dict[str, Any]) -> TagPolicy:
        rules: list[tags.TagRule] = []
        for index, text in enumerate(raw.get("rules", [])):
            try:
                rules.append(tags.parse_rule(text))
            except InputError as error:
                self.fail(("tags", "rules", index), text, error.allowed)
        flavor = raw.get("flavor", {})
        latest = str(flavor.get("latest", "auto")).lower()
        return TagPolicy(
            rules=tuple(rules) or tags.DEFAULT_RULES,
            flavor=Flavor(flavor.get("prefix", ""), flavor.get("suffix", ""), latest,  # type: ignore[arg-type]
                          prefix_latest=flavor.get("prefix-onlatest", False),
                          suffix_latest=flavor.get("suffix-onlatest", False)),
        )

    def smoke(self, name: str, raw: dict[str, Any]) -> SmokeSpec:
        probe = raw.get("http-probe")
        env = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.get("env", {}).items()}
        return SmokeSpec(
            env=MappingProxyType(env),
            healthcheck=raw.get("healthcheck", True),
            http_probe=HttpProbe(probe["url"], probe.get("status", 200), parse_duration(probe.get("timeout", 60)))
            if probe
            else None,
            commands=tuple(raw.get("commands", ())),
            timeout=parse_duration(raw.get("timeout", 120)),
            log_lines=raw.get("log-lines", 50),
        )

    def scan(self, raw: dict[str, Any]) -> ScanPolicy:
        allow = []
        for index, entry in enumerate(raw.get("allow", [])):
            expires = None
            if "expires" in entry:
                try:
                    expires = dt.date.fromisoformat(entry["expires"])
                except ValueError:
                    self.fail(("scan", "allow", index, "expires"), entry["expires"], "a real date YYYY-MM-DD")
            allow.append(AllowEntry(entry["id"], entry["reason"], expires, entry.get("package")))
        scanners = raw.get("scanners", {})
        return ScanPolicy(
            severity=raw.get("severity", "HIGH"),
            ignore_unfixed=raw.get("ignore-unfixed", False),
            hadolint_level=raw.get("hadolint-level", "error"),
            missing_scanner=raw.get("missing-scanner", "fail"),
            scanners=Scanners(**{k: scanners.get(k, True) for k in ("vuln", "misconfig", "secret", "hadolint")}),
            allow=tuple(allow),
        )

    def environment(self, name: str, raw: dict[str, Any]) -> Environment:
        return Environment(
            name=name,
            paths=tuple(raw["paths"]),
            repository=raw.get("repository"),
            branch=raw.get("branch", "main"),
            helm_paths=MappingProxyType({k: tuple(v) for k, v in raw.get("helm-paths", {}).items()}),
            provider=raw.get("provider", "github"),
            push_mode=raw.get("push-mode", "branch"),
            pin_digest=raw.get("pin-digest"),
            sign_commits=raw.get("sign-commits"),
            verify=MappingProxyType(raw["verify"]) if "verify" in raw else None,  # issue 18
            start_migrations=raw.get("start-migrations", "warn"),  # issue 21
        )


def parse_duration(value: float | str) -> float:
    """Seconds from a number or ``90s``/``5m``/``1h``/``500ms`` (the schema checked the shape)."""
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?", value.strip())
    if not match:
        raise ValueError(value)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    return float(match.group(1)) * scale


def parse_size(value: int | str) -> int:
    """Bytes from an integer or ``800MB``/``2.5GB``/``1GiB`` (decimal KB/MB/GB, binary KiB/MiB/GiB)."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?) ?([KMGT]i?B|B)?", value.strip())
    if not match:
        raise ValueError(value)
    unit = match.group(2) or "B"
    power = "BKMGT".index(unit[0])
    base = 1024 if "i" in unit else 1000
    return int(float(match.group(1)) * base**power)
