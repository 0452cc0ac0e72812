"""A stateful GitHub REST API emulator on 127.0.0.1, backed by a real bare repository it also serves
over git smart-http (basic auth). Every response is recorded (method, route template, status, body)
so the test fixture can validate all of them against GitHub's OpenAPI description.

API under ``/api/v3`` (the GitHub Enterprise shape PyGithub's ``base_url`` takes); git under
``/<owner>/<name>.git``. Faults are injected per route template with ``inject``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import objects as o
from .bare import BareRepo
from .githttp import GitHttpConfig, serve_git

API = "/api/v3"
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:0000."
)


@dataclass
class Fault:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    after_apply: bool = False  # do the work, then lose the answer (the client sees only the fault)


@dataclass
class Record:
    method: str
    template: str
    status: int
    body: Any


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def secondary_rate_limit(retry_after: int = 1) -> Fault:
    return Fault(
        403,
        o.error(SECONDARY, "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", 403),
        {"Retry-After": str(retry_after)},
    )


def primary_rate_limit(reset_epoch: int) -> Fault:
    body = o.error("API rate limit exceeded for installation ID 1.", "overview/rate-limits-for-the-rest-api", 403)
    return Fault(
        403,
        body,
        {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-limit": "5000",
            "x-ratelimit-reset": str(reset_epoch),
            "x-ratelimit-resource": "core",
        },
    )


class GitHubEmulator:
    """Start with ``start()``, stop with ``stop()``. ``repo`` is the bare repository."""

    def __init__(
        self,
        root: Path,
        token: str,
        owner: str = "acme",
        name: str = "gitops",
        author: str = "dify-action[bot]",
    ) -> None:
        self.token = token
        self.repo = BareRepo(root, owner, name)
        self.git = GitHttpConfig(root=root, token=token)
        self.author = author
        self.pulls: dict[int, o.Pull] = {}
        self.labels: dict[str, o.Label] = {}
        self.records: list[Record] = []
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.read_only = False
        # callables run once before a route's next request is handled (a race: someone moves a branch)
        self.before: dict[tuple[str, str], list[Callable[[], None]]] = {}
        self.signs = True  # the token is an App installation token: API commits are signed (issue 19)
        self.lock = threading.RLock()
        self._next = 1
        self._server: ThreadingHTTPServer | None = None
        # host:port the emulator's URLs name, when clients reach it through a relay (the runner bed)
        self.advertise: str | None = None
        # the public host it plays (e.g. "github.com": the runner bed resolves github.com and
        # api.github.com to it over TLS): URLs say https://HOST and https://api.HOST, and a request
        # for api.HOST is an API call at the root, as on github.com (issue 23: examples as written)
        self.public: str | None = None
        self._tls_server: ThreadingHTTPServer | None = None
        from .routes import ROUTES

        self.routes: list[tuple[str, re.Pattern[str], str, Callable[..., tuple[int, Any]]]] = ROUTES

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> GitHubEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                emulator._handle(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        self._handler = Handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def serve_tls(self, cert: Path, key: Path) -> int:
        """The same emulator over TLS on another 127.0.0.1 port (returned), with ``cert``/``key``."""
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler, bind_and_activate=False)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.server_bind()
        server.server_activate()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._tls_server = server
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._tls_server is not None:
            self._tls_server.shutdown()
            self._tls_server.server_close()
            self._tls_server = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def urls(self) -> o.Urls:
        if self.public:
            return o.Urls(api=f"https://api.{self.public}", html=f"https://{self.public}")
        where = self.advertise or f"127.0.0.1:{self.port}"
        return o.Urls(api=f"http://{where}{API}", html=f"http://{where}")

    @property
    def local_api_url(self) -> str:
        """The API as the test process reaches it, whatever ``advertise`` says."""
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def api_url(self) -> str:
        return self.urls.api

    @property
    def clone_url(self) -> str:
        return f"{self.urls.html}/{self.repo.owner}/{self.repo.name}.git"

    @property
    def full_name(self) -> str:
        return f"{self.repo.owner}/{self.repo.name}"

    # --- test controls --------------------------------------------------------------------------------
    def inject(self, method: str, template: str, fault: Fault) -> None:
        """Queue ``fault`` for route ``template`` (OpenAPI spelling, e.g. /repos/{owner}/{repo}/pulls)."""
        if not any(t == template and m == method.upper() for m, _, t, _ in self.routes):
            raise ValueError(f"no route {method} {template}")
        with self.lock:
            self.faults.setdefault((method.upper(), template), []).append(fault)

    def api_calls(self, since: int = 0) -> list[Record]:
        return self.records[since:]

    def open_pulls(self, head: str | None = None) -> list[o.Pull]:
        self._sync_closed()
        return [p for p in self.pulls.values() if p.state == "open" and (head is None or p.head == head)]

    # --- internals ---------------------------------------------------------------------------------
    def _sync_closed(self) -> None:
        # GitHub closes a pull request whose head branch is deleted.
        with self.lock:
            for pull in self.pulls.values():
                if pull.state == "open" and self.repo.sha(pull.head) is None:
                    pull.state, pull.closed_at = "closed", o.now_iso()

    def _take_fault(self, method: str, template: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get((method, template)) or []
            while queue:
                fault = queue[0]
                if fault.times <= 0:
                    queue.pop(0)
                    continue
                fault.times -= 1
                return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        if self.public and handler.headers.get("Host", "").split(":")[0] == f"api.{self.public}":
            path = API + path  # api.github.com serves the API at its root
        if not path.startswith(API + "/"):
            if re.match(r"^/[^/]+/[^/]+\.git/", path):
                serve_git(handler, self.git, path, parts.query)
                return
            self._send(handler, "?", 404, o.error("Not Found", "", 404))
            return
        path = path[len(API) :]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        for method, pattern, template, fn in self.routes:
            match = pattern.fullmatch(path)
            if match is None or method != handler.command:
                continue
            self._dispatch(handler, template, fn, match.groupdict(), parts.query, raw)
            return
        self._send(handler, "?", 404, o.error("Not Found", "rest", 404))

    def _dispatch(
        self,
        handler: BaseHTTPRequestHandler,
        template: str,
        fn: Callable[..., tuple[int, Any]],
        params: dict[str, str],
        query: str,
        raw: bytes,
    ) -> None:
        method = handler.command
        auth = handler.headers.get("Authorization", "")
        if auth.split(" ", 1)[-1].strip() != self.token:
            self._send(handler, template, 401, o.error("Bad credentials", "rest", 401))
            return
        with self.lock:
            hooks = self.before.pop((method, template), [])
        for hook in hooks:
            hook()
        fault = self._take_fault(method, template)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.delay and fault.status < 400:
            fault = None  # latency only
        if fault is not None and not fault.after_apply:
            self._send(handler, template, fault.status, fault.body, fault.headers)
            return
        if self.read_only and method != "GET":
            body = o.error("Resource not accessible by integration", "rest", 403)
            self._send(handler, template, 403, body)
            return
        try:
            payload = json.loads(raw) if raw else {}
            with self.lock:
                status, body = fn(self, params, parse_qs(query), payload)
            headers: dict[str, str] = {}
        except ApiError as error:
            status, body, headers = error.status, error.body, error.headers
        if fault is not None:
            status, body, headers = fault.status, fault.body, fault.headers
        self._send(handler, template, status, body, headers)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        template: str,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.records.append(Record(handler.command, template, status, body))
        data = b"" if body is None else json.dumps(body).encode()
        merged = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
        }
        for key, value in (headers or {}).items():
            for existing in [k for k in merged if k.lower() == key.lower()]:
                del merged[existing]
            merged[key] = value
        handler.send_response(status)
        for key, value in merged.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
