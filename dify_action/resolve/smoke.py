"""The smoke-test settings of one component: ``smoke.<component>`` of the config, inputs on top."""

from __future__ import annotations

import dataclasses
import re
from types import MappingProxyType

from dify_action.config import load as config_module
from dify_action.config.load import Config, HttpProbe, SmokeSpec
from dify_action.errors import InputError
from dify_action.resolve.request import SmokeInputs

_RUN_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
_URL_RE = re.compile(r"https?://[^\s/]+(/\S*)?")


def smoke_spec(s: SmokeInputs, cfg: Config | None, component: str | None, *, standalone: bool = False) -> SmokeSpec:
    """Raises InputError (exit 2) for any bad smoke input; nothing is started here."""
    spec = SmokeSpec()
    if cfg is not None and component:
        cfg.component(component)
        spec = cfg.smoke_for(component)
    elif component and cfg is None and standalone:
        raise InputError("components", component, "a component of a config: give config too")
    changes: dict[str, object] = {}
    if s.env:
        env = dict(spec.env)
        for item in s.env:
            key, sep, value = item.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
                raise InputError("env", key if sep else item, "K=V with a variable name K, e.g. MODE=api")
            env[key] = value
        changes["env"] = MappingProxyType(env)
    timeout = spec.timeout
    if s.timeout:
        try:
            timeout = config_module.parse_duration(s.timeout)
        except ValueError:
            timeout = 0
        if timeout <= 0:
            raise InputError("timeout", s.timeout, "a positive duration: seconds, or 90s, 5m, 1h")
        changes["timeout"] = timeout
    if s.expect_status is not None and not 100 <= s.expect_status <= 599:
        raise InputError("expect-status", s.expect_status, "an HTTP status 100-599")
    if s.http_probe or s.expect_status is not None:
        url = s.http_probe or (spec.http_probe.url if spec.http_probe else None)
        if not url or not _URL_RE.fullmatch(url):
            raise InputError("http-probe", url or "", "an http:// or https:// URL, e.g. http://127.0.0.1:5001/health")
        status = s.expect_status or (spec.http_probe.status if spec.http_probe else 200)
        probe_timeout = timeout if s.timeout or not spec.http_probe else spec.http_probe.timeout
        changes["http_probe"] = HttpProbe(url, status, probe_timeout)
    if s.commands:
        if any(not c.strip() for c in s.commands):
            raise InputError("smoke-commands", "", "non-empty shell commands, one per line")
        changes["commands"] = tuple(s.commands)
    if s.healthcheck is not None:  # given: wins over the config's, both ways
        changes["healthcheck"] = s.healthcheck
    if s.log_lines is not None:
        if not 1 <= s.log_lines <= 1000:
            raise InputError("log-lines", s.log_lines, "1-1000")
        changes["log_lines"] = s.log_lines
    if s.run_id and not _RUN_ID_RE.fullmatch(s.run_id):
        raise InputError("run-id", s.run_id, "1-63 characters of [A-Za-z0-9_.-]")
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]  # values checked above
