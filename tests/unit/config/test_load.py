"""dify-action.yaml: the loader, its errors (file, key, value, allowed, line), overrides, the schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dify_action.config import load as config
from dify_action.errors import ConfigError, InputError

GOOD = """\
version: 1
registry:
  host: registry.example.com:5000
  username: ci-bot
components:
  - name: api
    image: registry.example.com:5000/acme/dify-api
    context: api
    target: runtime
    build-args:
      DIFY_VERSION: "1.13.3"
    size-budget: {warn: 2GB, fail: 2.5GiB}
  - name: web
    image: registry.example.com:5000/acme/dify-web
    dockerfile: web/Dockerfile.custom
    size-budget: 800MB
  - name: my-worker
    image: ghcr.io/acme/dify-worker
tags:
  rules:
    - type=sha,format=short
    - type=semver,pattern={{version}}
  flavor:
    latest: false
    prefix: v
smoke:
  api:
    env: {MODE: api, PORT: 5001, DEBUG: false}
    http-probe: {url: "http://127.0.0.1:5001/health", status: 204, timeout: 90s}
    commands: ["python -c 'import boto3'"]
    timeout: 5m
    log-lines: 20
  web:
    healthcheck: false
scan:
  severity: MEDIUM
  ignore-unfixed: true
  missing-scanner: skip
  hadolint-level: warning
  scanners: {vuln: false}
  allow:
    - id: CVE-2023-45853
      reason: zlib minizip is not used
      expires: 2099-01-31
      package: zlib1g
    - id: DS-0002
      reason: the base image needs root
environments:
  staging:
    repository: acme/gitops
    paths: [envs/staging]
    helm-paths: {api: [image.api.tag]}
  production:
    repository: https://git.example.com/acme/gitops.git
    branch: release
    paths: [envs/production, charts/dify/values-prod.yaml]
    provider: git
    push-mode: direct
    pin-digest: true
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dify-action.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.file == str(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_good_file_loads_into_frozen_values(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, GOOD))
    api, web, worker = cfg.components
    assert (api.name, api.image.name, api.context, api.dockerfile, api.target) == (
        "api",
        "registry.example.com:5000/acme/dify-api",
        "api",
        "api/Dockerfile",
        "runtime",
    )
    assert dict(api.build_args) == {"DIFY_VERSION": "1.13.3"}
    assert api.size_budget == config.SizeBudget(warn=2_000_000_000, fail=int(2.5 * 1024**3))
    assert web.dockerfile == "web/Dockerfile.custom"
    assert web.size_budget == config.SizeBudget(warn=None, fail=800_000_000)
    assert (worker.dockerfile, worker.context, worker.size_budget) == ("Dockerfile", ".", None)
    assert [rule.source for rule in cfg.tags.rules] == ["type=sha,format=short", "type=semver,pattern={{version}}"]
    assert cfg.tags.flavor == config.Flavor(latest="false", prefix="v", suffix="")
    smoke = cfg.smoke_for("api")
    assert dict(smoke.env) == {"MODE": "api", "PORT": "5001", "DEBUG": "false"}
    assert smoke.http_probe == config.HttpProbe("http://127.0.0.1:5001/health", 204, 90.0)
    assert (smoke.commands, smoke.timeout, smoke.log_lines) == (("python -c 'import boto3'",), 300.0, 20)
    assert cfg.smoke_for("web").healthcheck is False
    assert cfg.smoke_for("my-worker") == config.SmokeSpec()
    assert cfg.scan.severity == "MEDIUM" and cfg.scan.ignore_unfixed
    assert cfg.scan.scanners == config.Scanners(vuln=False, misconfig=True, secret=True, hadolint=True)
    assert cfg.scan.allow[0] == config.AllowEntry(
        "CVE-2023-45853", "zlib minizip is not used", dt.date(2099, 1, 31), "zlib1g"
    )
    assert cfg.scan.allow[1].expires is None
    staging, production = cfg.environments["staging"], cfg.environment("production")
    assert (staging.branch, staging.provider, staging.push_mode, staging.pin_digest) == (
        "main",
        "github",
        "branch",
        None,  # not in the file: promote pins as the source does, a pipeline bump does not
    )
    assert dict(staging.helm_paths) == {"api": ("image.api.tag",)}
    assert production.paths == ("envs/production", "charts/dify/values-prod.yaml")
    assert (production.provider, production.push_mode, production.pin_digest) == ("git", "direct", True)
    assert cfg.registry == config.RegistryConfig("registry.example.com:5000", "ci-bot")
    with pytest.raises(AttributeError):
        api.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        api.build_args["X"] = "1"  # type: ignore[index]


def test_defaults_without_a_file() -> None:
    cfg = config.load()
    assert cfg.components == () and cfg.scan == config.ScanPolicy()
    assert cfg.scan.severity == "HIGH" and cfg.scan.missing_scanner == "fail"


def test_unknown_component_and_environment_name_what_is_declared(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, GOOD))
    with pytest.raises(InputError, match=r"api, web, my-worker"):
        cfg.component("sandbox")
    with pytest.raises(InputError, match=r"staging, production"):
        cfg.environment("qa")


@pytest.mark.parametrize(
    ("text", "key", "value", "allowed", "line"),
    [
        (
            "components:\n  - name: api\n    image: a/b\n    dockerfile: 3\n",
            "components[0].dockerfile",
            3,
            "Dockerfile path",
            4,
        ),
        (
            "components:\n  - name: api\n    image: a/b\n  - name: API\n    image: a/c\n",
            "components[1].name",
            "API",
            "lowercase letters",
            4,
        ),
        ("scan:\n  severity: high\n", "scan.severity", "high", '"CRITICAL"', 2),
        (
            "components:\n  - name: a\n    image: a/b\n  - name: a\n    image: a/c\n",
            "components[1].name",
            "a",
            "not used by another component",
            4,
        ),
        (
            "components:\n  - name: a\n    image: a/b:1.0\n",
            "components[0].image",
            "a/b:1.0",
            "without tag or digest",
            3,
        ),
        (
            "components:\n  - name: a\n    image: a/b\n    build-args:\n      DIFY_VERSION: 1.10\n",
            "components[0].build-args.DIFY_VERSION",
            1.1,
            "quote numbers",
            5,
        ),
        ("smoke:\n  api:\n    timeout: 5 minutes\n", "smoke.api.timeout", "5 minutes", "duration", 3),
        (
            "scan:\n  allow:\n    - id: X\n      reason: r\n      expires: 2025-02-30\n",
            "scan.allow[0].expires",
            "2025-02-30",
            "real date",
            5,
        ),
        (
            "scan:\n  allow:\n    - id: X\n      expires: 2025-02-03\n",
            "scan.allow[0].reason",
            "(missing)",
            "required",
            3,
        ),
        ("version: 1\nfoo: 1\n", "foo", 1, "one of the keys apps, components, dify, environments", 2),
        (
            "components:\n  - name: a\n    image: a/b\n    size-budget: big\n",
            "components[0].size-budget",
            "big",
            "size",
            4,
        ),
        (
            "components:\n  - name: a\n    image: a/b\nenvironments:\n  s:\n    paths: [x]\n    helm-paths:\n"
            "      api: [image.tag]\n",
            "environments.s.helm-paths.api",
            "api",
            "declared component (a)",
            8,
        ),
        ("smoke:\n  api: {}\n", "smoke.api", "api", "declared component (none declared)", 2),
        ("tags:\n  rules: ['type=nope']\n", "tags.rules[0]", "type=nope", "unknown type 'nope'", 2),
        ("tags:\n  rules: ['']\n", "tags.rules[0]", "", "should be non-empty", 2),
        ("tags:\n  rules: ['type=sha,colour=red']\n", "tags.rules[0]", "type=sha,colour=red", "colour", 2),
        ("version: 1\nscan: {}\nscan: {}\n", "scan", "scan", "duplicate key", 3),
        ("components:\n  - name: a\n", "components[0].image", "(missing)", "required", 2),
        ('smoke:\n  "Bad Name": {}\n', "smoke.Bad Name", "Bad Name", "component name", 2),
        (
            "smoke:\n  api:\n    http-probe: {url: 'ftp://x/', status: 200}\n",
            "smoke.api.http-probe.url",
            "ftp://x/",
            "http://",
            3,
        ),
        (
            "smoke:\n  api:\n    http-probe: {url: 'http://127.0.0.1/', status: 99}\n",
            "smoke.api.http-probe.status",
            99,
            "HTTP status",
            3,
        ),
        (
            "environments:\n  prod:\n    paths: [a]\n    push-mode: push\n",
            "environments.prod.push-mode",
            "push",
            '"branch", "direct"',
            4,
        ),
        (  # one vocabulary with the push-mode input (issue 23): the old key points at the new one
            "environments:\n  prod:\n    paths: [a]\n    mode: pull-request\n",
            "environments.prod.mode",
            "pull-request",
            "did you mean push-mode: branch (was pull-request) or direct",
            4,
        ),
        ("environments:\n  prod:\n    branch: main\n", "environments.prod.paths", "(missing)", "required", 2),
        ("scan:\n  missing-scanner: ignore\n", "scan.missing-scanner", "ignore", '"fail", "skip"', 2),
        (
            "components:\n  - name: a\n    image: a/b\n    size-budget: {warn: 3GB, fail: 2GB}\n",
            "components[0].size-budget.warn",
            "3GB",
            "not above the fail size",
            4,
        ),
        ("- a\n- b\n", "(document)", "list", "mapping at the top level", 1),
        ("1: a\n", "1", 1, "string key", 1),
        ("components: [\n", "(document)", None, "valid YAML", 2),
        ("a: b\n---\nc: d\n", "(document)", None, "valid YAML", 2),
    ],
)
def test_every_kind_of_error_names_file_key_value_allowed_and_line(
    tmp_path: Path, text: str, key: str, value: object, allowed: str, line: int
) -> None:
    error = _error(tmp_path, text)
    assert error.key.endswith(key) and key in error.name
    if value is not None:
        assert error.value == value
    assert allowed in error.allowed
    assert error.line == line
    assert error.exit_code == 2


def test_password_in_the_file_is_refused_and_never_echoed(tmp_path: Path) -> None:
    error = _error(tmp_path, "registry:\n  host: r.example.com\n  password: hunter2-secret\n")
    assert error.key == "registry.password" and error.line == 3
    assert "hunter2-secret" not in str(error) and "secret" in error.allowed
    error = _error(tmp_path, "registry:\n  Token: abc-xyz-123\n")
    assert "abc-xyz-123" not in str(error)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"an existing dify-action\.yaml"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"version: 1\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        config.load(bad)


def test_overrides_from_flags_win_and_are_validated(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    cfg = config.load(
        path,
        [
            config.parse_set("scan.severity=CRITICAL"),
            config.parse_set("components.api.build-args.DIFY_VERSION=1.14.0"),
            config.parse_set("components.api.target=slim"),
            config.Override(("smoke", "api", "commands"), ["true", "id"], "--smoke-command"),
            config.parse_set("scan.ignore-unfixed=false"),
            config.parse_set("components.sandbox.image=r.example.com/acme/dify-sandbox"),
            config.parse_set("scan.allow=[]"),
        ],
    )
    api = cfg.component("api")
    assert cfg.scan.severity == "CRITICAL" and cfg.scan.ignore_unfixed is False
    assert dict(api.build_args) == {"DIFY_VERSION": "1.14.0"} and api.target == "slim"
    assert cfg.smoke_for("api").commands == ("true", "id")
    assert cfg.component("sandbox").image.path == "acme/dify-sandbox"
    assert cfg.scan.allow == ()
    # A bad override names the flag, not the file.
    with pytest.raises(InputError) as caught:
        config.load(path, [config.Override(("scan", "severity"), "loud", "--severity")])
    assert not isinstance(caught.value, ConfigError)
    assert caught.value.name == "--severity" and "scan.severity" in caught.value.allowed
    with pytest.raises(InputError) as caught:
        config.load(path, [config.parse_set("registry.password=s3cr3t-value")])
    assert "s3cr3t-value" not in str(caught.value)
    # Overrides without a file build a config from flags alone.
    alone = config.load(overrides=[config.parse_set("components.api.image=r.example.com/a/api")])
    assert alone.component("api").dockerfile == "Dockerfile" and alone.source == "<defaults>"


@pytest.mark.parametrize("text", ["severity", "=x", "a..b=1", ".a=1", "a b=1"])
def test_parse_set_rejects_malformed(text: str) -> None:
    with pytest.raises(InputError, match=r"KEY\.PATH=VALUE"):
        config.parse_set(text)


def test_parse_set_reads_yaml_scalars() -> None:
    assert config.parse_set("scan.ignore-unfixed=true").value is True
    assert config.parse_set("smoke.api.log-lines=10").value == 10
    assert config.parse_set("a.b=").value == ""
    assert config.parse_set("scan.allow.0.expires=2030-01-02").value == "2030-01-02"


@pytest.mark.parametrize(
    ("raw", "seconds"), [(5, 5.0), (2.5, 2.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25)]
)
def test_parse_duration(raw: float | str, seconds: float) -> None:
    assert config.parse_duration(raw) == seconds


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (1024, 1024),
        ("800MB", 800_000_000),
        ("2.5GB", 2_500_000_000),
        ("1GiB", 1024**3),
        ("10 KiB", 10240),
        ("7", 7),
        ("3B", 3),
    ],
)
def test_parse_size(raw: int | str, size: int) -> None:
    assert config.parse_size(raw) == size


# --- the published schema itself ---------------------------------------------------------------


def _validator() -> jsonschema.Draft202012Validator:
    schema = config.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_valid_and_shipped_as_package_data() -> None:
    root = Path(config.__file__).parent / "schemas" / "dify-action.schema.json"
    assert json.loads(root.read_text(encoding="utf-8")) == config.schema()
    assert config.schema()["$schema"].endswith("2020-12/schema")


def test_schema_accepts_the_example_configs() -> None:
    validator = _validator()
    examples = [yaml.safe_load(GOOD), {}, {"components": [{"name": "api", "image": "a/b"}]}]
    for example in examples:
        # YAML dates are strings in the schema's eyes (an editor sees text).
        if "scan" in example:
            for entry in example["scan"]["allow"]:
                if "expires" in entry:
                    entry["expires"] = str(entry["expires"])
        assert list(validator.iter_errors(example)) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"registry": {"password": "x"}},
        {"components": []},
        {"components": [{"name": "api"}]},
        {"components": [{"name": "api", "image": "a/b", "build-args": {"V": 1}}]},
        {"scan": {"severity": "SEVERE"}},
        {"scan": {"allow": [{"id": "CVE-1"}]}},
        {"scan": {"allow": [{"id": "CVE-1", "reason": "r", "expires": "tomorrow"}]}},
        {"smoke": {"api": {"http-probe": {"status": 200}}}},
        {"environments": {"prod": {"paths": []}}},
        {"tags": {"flavor": {"latest": "sometimes"}}},
        {"version": 2},
        {"unknown": True},
    ],
)
def test_schema_rejects_bad_configs(bad: dict[str, object]) -> None:
    assert list(_validator().iter_errors(bad)) != []


def test_loader_and_schema_agree_on_the_rejections(tmp_path: Path) -> None:
    # Everything the schema rejects, the loader rejects too (the loader validates with it).
    for index, bad in enumerate([{"scan": {"severity": "SEVERE"}}, {"components": [{"name": "api"}]}, {"version": 2}]):
        path = tmp_path / f"c{index}.yaml"
        path.write_text(yaml.safe_dump(bad), encoding="utf-8")
        with pytest.raises(ConfigError):
            config.load(path)


def test_yaml_syntax_errors_carry_line_and_column_and_unknown_keys_a_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load("c.yaml", text="version: 1\ncomponents:\n  - name: api\n   image: x\n")
    assert "in c.yaml:4:4" in str(caught.value) and caught.value.line == 4
    with pytest.raises(ConfigError) as caught:
        config.load("c.yaml", text="version: 1\ncomponets: []\n")
    assert "in c.yaml:2" in str(caught.value) and "did you mean components?" in str(caught.value)


def test_tag_policy_takes_metadata_action_rules_and_onlatest(tmp_path: Path) -> None:
    path = tmp_path / "dify-action.yaml"
    path.write_text(
        "tags:\n  rules:\n    - type=ref,event=branch\n    - 'type=match,\"pattern=^v(\\d+)$\",group=1'\n"
        "    - nightly-extra\n  flavor:\n    suffix: -slim\n    suffix-onlatest: true\n"
    )
    policy = config.load(str(path)).tags
    assert [rule.type for rule in policy.rules] == ["branch", "match", "raw"]
    assert policy.flavor == config.Flavor(suffix="-slim", suffix_latest=True)
