"""Git smart-http with basic auth: a CGI bridge to ``git http-backend`` for a stdlib HTTP handler.

Pushes are real pushes (``http.receivepack=true``); blob filters are allowed unless turned off, so
the client's partial/sparse clone is exercised. Chunked request bodies (git uses them for packs
over ``http.postBuffer``) and gzip-encoded bodies are passed through as git expects.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path


@dataclass
class GitFault:
    """Answer the next ``times`` requests of ``service`` (upload-pack | receive-pack) with ``status``."""

    service: str
    status: int
    times: int = 1
    message: str = "injected failure"


@dataclass
class GitHttpConfig:
    root: Path
    token: str
    allow_filter: bool = True
    read_only: bool = False
    faults: list[GitFault] = field(default_factory=list)
    # called once before a receive-pack is processed: lets a test move the base under a push
    before_receive_pack: list[Callable[[], None]] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, service: str) -> GitFault | None:
        with self.lock:
            for fault in self.faults:
                if fault.service == service and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def authorized(handler: BaseHTTPRequestHandler, token: str) -> bool:
    value = handler.headers.get("Authorization", "")
    if not value.lower().startswith("basic "):
        return False
    try:
        _, _, password = base64.b64decode(value[6:].strip()).decode().partition(":")
    except ValueError:
        return False
    return password == token


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve_git(handler: BaseHTTPRequestHandler, config: GitHttpConfig, path: str, query: str) -> None:
    """Handle one smart-http request for ``path`` (``/<owner>/<name>.git/...``)."""
    service = "receive-pack" if ("git-receive-pack" in path or "service=git-receive-pack" in query) else "upload-pack"
    body = read_body(handler) if handler.command == "POST" else b""
    if not authorized(handler, config.token):
        config.requests.append((handler.command, path, 401))
        send(
            handler,
            401,
            b"authentication required\n",
            {"WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain"},
        )
        return
    if service == "receive-pack" and config.read_only:
        config.requests.append((handler.command, path, 403))
        send(handler, 403, b"write access to repository not granted\n", {"Content-Type": "text/plain"})
        return
    fault = config.take_fault(service)
    if fault is not None:
        config.requests.append((handler.command, path, fault.status))
        send(handler, fault.status, fault.message.encode() + b"\n", {"Content-Type": "text/plain"})
        return
    if service == "receive-pack" and handler.command == "POST":
        with config.lock:
            hooks, config.before_receive_pack[:] = list(config.before_receive_pack), []
        for hook in hooks:
            hook()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config.root),
        "GIT_PROJECT_ROOT": str(config.root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "REQUEST_METHOD": handler.command,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": "x-access-token",
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
    }
    args = [
        "git",
        "-c",
        "http.receivepack=true",
        "-c",
        f"uploadpack.allowFilter={str(config.allow_filter).lower()}",
        "-c",
        "uploadpack.allowAnySHA1InWant=true",
        "http-backend",
    ]
    proc = subprocess.run(args, input=body, capture_output=True, env=env, check=False)
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    if not _ and b"\n\n" in proc.stdout:
        head, _, payload = proc.stdout.partition(b"\n\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    if proc.returncode != 0 and not proc.stdout:
        status, payload = 500, proc.stderr
    config.requests.append((handler.command, path, status))
    send(handler, status, payload, headers)
