"""The CNCF distribution registry (apt ``docker-registry``) with htpasswd or token auth.

Both modes log every request (gorilla access log) to ``registry.log``; ``requests_since`` parses
that log so tests can prove what the registry was asked (e.g. no blob upload for a tag copy).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import requests

from .procs import TestbedError, free_port, spawn, stop_pid, wait_until
from .tokenserver import make_signing_material

REGISTRY = "/usr/bin/docker-registry"
HTPASSWD = "/usr/bin/htpasswd"
SERVICE = "dify-action-test-registry"
ISSUER = "dify-action-test-issuer"

_ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE|OPTIONS) (\S+) HTTP/[\d.]+" (\d{3}) (\d+|-)')


class Request(NamedTuple):
    method: str
    path: str
    status: int
    size: int


@dataclass(frozen=True)
class Registry:
    """A running registry. ``host`` is ``127.0.0.1:PORT``; credentials are the generated user's."""

    mode: str  # "basic" | "token"
    root: Path
    port: int
    username: str
    password: str
    pid: int
    token_pid: int | None = None
    token_port: int | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def token_realm(self) -> str | None:
        return f"http://127.0.0.1:{self.token_port}/token" if self.token_port else None

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    @property
    def token_log(self) -> Path:
        return self.root / "token.json.log"

    def log_offset(self) -> int:
        """Mark the log's end now; pass it to ``requests_since``."""
        return self.log.stat().st_size if self.log.exists() else 0

    def requests_since(self, offset: int) -> list[Request]:
        """Every request the registry logged after ``offset`` (access log lines)."""
        with self.log.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode(errors="replace")
        found = []
        for match in _ACCESS.finditer(text):
            size = 0 if match.group(4) == "-" else int(match.group(4))
            found.append(Request(match.group(1), match.group(2), int(match.group(3)), size))
        return found

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "root": str(self.root), "port": self.port, "username": self.username,
                "password": self.password, "pid": self.pid, "token_pid": self.token_pid,
                "token_port": self.token_port}


def start_registry(root: Path, mode: str = "basic", timeout: float = 30.0) -> Registry:
    """Start a registry on a free 127.0.0.1 port; ``mode`` is "basic" (htpasswd) or "token"."""
    for tool in (REGISTRY, HTPASSWD):
        if not Path(tool).exists():
            raise TestbedError(f"{tool} not found: apt-get install -y docker-registry apache2-utils")
    root.mkdir(parents=True, exist_ok=True)
    username, password = f"ci-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    port = free_port()
    token_pid = token_port = None
    if mode == "basic":
        subprocess.run([HTPASSWD, "-Bbc", str(root / "htpasswd"), username, password],
                       check=True, capture_output=True)
        auth = {"htpasswd": {"realm": "dify-action-test", "path": str(root / "htpasswd")}}
    elif mode == "token":
        key, cert = make_signing_material(root)
        token_port = free_port()
        config = {"port": token_port, "key": str(key), "issuer": ISSUER, "service": SERVICE,
                  "users": {username: password}}
        (root / "token.json").write_text(json.dumps(config))
        (root / "token.json").chmod(0o600)
        script = Path(__file__).with_name("tokenserver.py")
        proc = spawn([sys.executable, str(script), str(root / "token.json")], root / "token-server.log")
        token_pid = proc.pid
        realm = f"http://127.0.0.1:{token_port}/token"
        wait_until(lambda: requests.get(realm, timeout=2).status_code == 401, timeout, "token server",
                   root / "token-server.log", proc)
        auth = {"token": {"realm": realm, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(cert)}}
    else:
        raise ValueError(f"unknown registry mode {mode!r}")
    config_doc = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True},
                    "cache": {"blobdescriptor": "inmemory"}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        "auth": auth,
    }
    # JSON is YAML: no YAML dependency in the test bed
    (root / "config.yml").write_text(json.dumps(config_doc, indent=2))
    proc = spawn([REGISTRY, "serve", str(root / "config.yml")], root / "registry.log")
    registry = Registry(mode, root, port, username, password, proc.pid, token_pid, token_port)
    try:
        wait_until(lambda: requests.get(f"{registry.url}/v2/", timeout=2).status_code == 401, timeout,
                   f"registry ({mode})", registry.log, proc)
    except BaseException:
        stop_registry(registry)
        raise
    return registry


def stop_registry(registry: Registry) -> None:
    stop_pid(registry.pid)
    if registry.token_pid:
        stop_pid(registry.token_pid)
