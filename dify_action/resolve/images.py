"""The build and scan requests: components from the config or the inputs, tags from the tag
policy, build arguments, size budgets, the scan policy with the inputs set into the config."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, cast

from dify_action import refs
from dify_action import tags as tag_policy
from dify_action.build.component import BuildMetadata, BuildSpec, dify_base_version
from dify_action.build.platforms import LOCAL_BUILDER, Provenance
from dify_action.choices import SEVERITIES
from dify_action.config import load as config_module
from dify_action.config.load import Config, ScanPolicy, SizeBudget
from dify_action.errors import InputError
from dify_action.resolve.common import given, required
from dify_action.resolve.request import BuildInputs, RunContext, ScanInputs, Secrets


@dataclass(frozen=True)
class BuildPlan:
    specs: tuple[BuildSpec, ...]
    meta: BuildMetadata
    push: bool
    builder: Literal["auto", "buildkit", "legacy"]
    by_digest: bool = False  # issue 20: push each platform by digest only (a matrix job; merge tags)
    provenance: Provenance = field(default_factory=Provenance)
    tag_notes: tuple[str, ...] = ()  # the tag rules that made no tag, and why


@dataclass(frozen=True)
class ScanPlan:
    policy: ScanPolicy
    dockerfiles: Mapping[str, tuple[Path, ...]]  # by component ("" without a config)
    trivy_reports: tuple[Path, ...] = ()
    sarif_file: str | None = None
    offline: bool = False
    image_archive: Path | None = None
    today: dt.date | None = None  # allow-list expiry date (None: today, UTC)
    trivy_db: str | None = None  # issue 20: the vulnerability DB pinned by digest


_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?")


def build_plan(components: tuple[str, ...], s: BuildInputs, ctx: RunContext, cfg: Config | None,
               secrets: Secrets, *, multi_platform: bool = False) -> BuildPlan:
    from dify_action.build.component import validate_spec

    for tag in s.tags:
        refs.validate_tag(tag, input_name="tags")
    if s.platforms is not None:
        for item in s.platforms.split(","):
            if not _PLATFORM_RE.fullmatch(item.strip()):
                raise InputError("platforms", s.platforms, "os/arch[/variant] in lowercase, e.g. linux/amd64")
    args = dict(_pair(item) for item in s.build_args)
    labels = dict(_pair(item, "labels", r"[A-Za-z0-9][A-Za-z0-9._/-]*") for item in s.image_labels)
    if s.cache_to is not None and s.cache_to.replace(" ", "") not in ("type=inline", "inline"):
        raise InputError("cache-to", s.cache_to, "type=inline (BuildKit's inline cache, written by every BuildKit "
                         "build; registry and gha cache exporters need buildx, which is not bundled)")
    values, files = _build_secrets(s, secrets)
    # several platforms build in `build` (one engine) and in the workflow matrix (issue 20); a one-job
    # pipeline would smoke-test one platform and record verdicts for all of them
    if s.platforms and "," in s.platforms and not multi_platform:
        raise InputError("platforms", s.platforms, "one platform per pipeline job (the reusable pipeline's platform "
                         "matrix runs one job per platform, then merges), or several with the build command")
    push = given(s.push, default=True)
    by_digest = given(s.push_by_digest, default=False)
    if by_digest and not push:
        raise InputError("push-by-digest", "true", "push true: a push by digest is a push")
    budget = _budget(s.size_budget, s.size_warn)
    specs: list[BuildSpec] = []
    notes: list[str] = []
    if cfg is not None:
        root = cfg.root
        for name in components or tuple(c.name for c in cfg.components):
            c = cfg.component(name)
            merged = {**c.build_args, **args}
            dockerfile = root / (s.file or c.dockerfile)
            cbudget = budget or c.size_budget
            specs.append(BuildSpec(c.name, dockerfile, root / (s.context or c.context), c.image,
                                   _tags(s, ctx, cfg, dockerfile, merged, notes), s.target or c.target, merged, labels,
                                   s.cache_from, s.platforms, cbudget, values, files))
        if not specs:
            raise InputError("config", cfg.source, "a config with at least one component to build")
    else:
        if components:
            raise InputError("components", components[0], "components of a config: give config too")
        repository = refs.parse_repository(required(s.repository, "repository", "the image repository to build, "
                                                     "e.g. ghcr.io/acme/dify-api (or a config)"),
                                           input_name="repository")
        context = Path(s.context or ".")
        dockerfile = Path(s.file) if s.file else context / "Dockerfile"
        specs.append(BuildSpec(s.name or repository.path.rsplit("/", 1)[-1], dockerfile, context, repository,
                               _tags(s, ctx, None, dockerfile, args, notes), s.target, args, labels, s.cache_from,
                               s.platforms, budget, values, files))
    for spec in specs:
        validate_spec(spec)
    builder = s.builder or "auto"
    if builder not in ("auto", "buildkit", "legacy"):
        raise InputError("builder", builder, "auto, buildkit or legacy")
    if by_digest and len({p.strip() for p in (s.platforms or "linux/amd64").split(",")}) != 1:
        raise InputError("platforms", s.platforms or "", "one platform with push-by-digest (one matrix job per "
                         "platform; several build and merge in one run with push)")
    who = Provenance(s.builder_id or LOCAL_BUILDER, ctx.run_url)
    return BuildPlan(tuple(specs), BuildMetadata(ctx.source, ctx.revision, s.version), push,
                     cast(Literal["auto", "buildkit", "legacy"], builder), by_digest, who,
                     tuple(dict.fromkeys(notes)))


def _tags(b: BuildInputs, s: RunContext, cfg: Config | None, dockerfile: Path,
          build_args: Mapping[str, str], notes: list[str]) -> tuple[str, ...]:
    if b.tags:
        return b.tags
    if not s.revision:
        raise InputError("tags", "", "tags to push, or a revision (the commit sha) for the config's tag policy")
    version = None
    if dockerfile.is_file():
        version = dify_base_version(dockerfile.read_text(encoding="utf-8", errors="replace"), build_args)
    if s.event_payload is not None:  # the real event: PR number, default branch, base ref, commit date
        github = {"GITHUB_SHA": s.revision, "GITHUB_REF": s.ref or "", "GITHUB_RUN_NUMBER": s.run_number or "",
                  "GITHUB_BASE_REF": s.base_ref or ""}
        context = tag_policy.context_from_event(s.event or "push", s.event_payload, github, dify_version=version,
                                                pr_head_sha=s.pr_head_sha)
    else:
        run_number = int(s.run_number) if s.run_number and s.run_number.isdigit() else None
        context = tag_policy.GitContext(sha=s.revision, ref=s.ref or "refs/heads/main", event=s.event or "push",
                                        run_number=run_number, dify_version=version)
    result = tag_policy.compute_tags(cfg.tags.rules if cfg else None, context, cfg.tags.flavor if cfg else None)
    notes += [f"tag rule {rule!r} made no tag: {why}" for rule, why in result.skipped]
    if not result.tags:
        raise InputError("tags", "", "tags to push: the tag policy made no tag for this ref and event ("
                         + "; ".join(f"{rule!r}: {why}" for rule, why in result.skipped) + ")")
    return result.tags


_SECRET_ID = r"[A-Za-z0-9_.-]{1,128}"  # noqa: S105 - the pattern of a secret id, not a secret


def _build_secrets(s: BuildInputs, secrets: Secrets) -> tuple[dict[str, str], dict[str, Path]]:
    """BuildKit secrets: ids are names (what ``RUN --mount=type=secret,id=ID`` asks for), files exist,
    each id given once; the values never appear in an error."""
    values: dict[str, str] = {}
    for name, value in secrets.build_secrets:
        if not re.fullmatch(_SECRET_ID, name):
            raise InputError("secrets", name, "ID=VALUE lines with an id of [A-Za-z0-9_.-] (the value is hidden)")
        if name in values:
            raise InputError("secrets", name, "each secret id once")
        values[name] = value
    files: dict[str, Path] = {}
    for item in s.secret_files:
        name, path = _pair(item, "secret-files", _SECRET_ID)
        if name in values or name in files:
            raise InputError("secret-files", name, "each secret id once (in secrets or secret-files)")
        if not Path(path).is_file():
            raise InputError("secret-files", item, "ID=PATH lines naming existing files")
        files[name] = Path(path)
    return values, files


def _pair(text: str, name: str = "build-args", key_pattern: str = r"[A-Za-z_][A-Za-z0-9_]*") -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(key_pattern, key):
        raise InputError(name, text, "KEY=VALUE lines" + (" with a variable name KEY" if name == "build-args" else ""))
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


def overrides(s: ScanInputs) -> list[config_module.Override]:
    """Inputs that set config keys (the scan policy): set before validation, so a bad one names the input."""
    Override = config_module.Override
    out = [config_module.parse_set(text) for text in s.set]
    if s.severity:
        if s.severity not in SEVERITIES:
            raise InputError("severity", s.severity, ", ".join(SEVERITIES))
        out.append(Override(("scan", "severity"), s.severity, "severity"))
    for key, value in (("hadolint-level", s.hadolint_level), ("missing-scanner", s.missing_scanner),
                       ("ignore-unfixed", s.ignore_unfixed)):
        if value is not None:
            out.append(Override(("scan", key), value, key))
    out += [Override(("scan", "scanners", name), False, "disable") for name in s.disable]
    return out


def scan_plan(components: tuple[str, ...], image: str | None, s: ScanInputs, cfg: Config,
              from_file: bool) -> ScanPlan:
    dockerfiles: dict[str, tuple[Path, ...]] = {}
    if from_file:
        root = cfg.root
        for name in components or tuple(c.name for c in cfg.components):
            dockerfiles[name] = (root / cfg.component(name).dockerfile,)
    elif components:
        raise InputError("components", components[0], "components of a config: give config too")
    extra = s.dockerfiles
    if extra:
        dockerfiles[""] = tuple(Path(p) for p in extra)
    reports = tuple(Path(p) for p in s.trivy_reports)
    for report in reports:
        if not report.is_file():
            raise InputError("trivy-reports", str(report), "existing Trivy JSON report files")
    if image and s.image_archive:
        raise InputError("image-archive", s.image_archive, "either image or image-archive, not both")
    today = None
    if s.today:
        try:
            today = dt.date.fromisoformat(s.today)
        except ValueError:
            raise InputError("today", s.today, "a date YYYY-MM-DD") from None
    if s.trivy_db:  # issue 20: checked before anything runs
        from dify_action.scan.dbpin import parse_pin

        parse_pin(s.trivy_db)
    return ScanPlan(cfg.scan, MappingProxyType(dockerfiles), reports, s.sarif_file, given(s.offline, default=False),
                    Path(s.image_archive) if s.image_archive else None, today, s.trivy_db)
