"""A reverse proxy in front of a registry that counts traffic and injects faults.

Tests use it to (a) count the bytes a tag copy moves, (b) make the registry answer 5xx/429 for
the next N requests (with Retry-After) so retries are exercised against the real registry.
The Host header is passed through, so the registry's Location headers point back at the proxy.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .procs import free_port

_FAULT_BODY = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}'
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: str | None
    match: str | None


@dataclass
class FaultProxy:
    """``FaultProxy(upstream_port).start()``; ``host`` is what a client uses instead of the registry."""

    upstream_port: int
    port: int = 0
    bytes_in: int = 0  # client -> proxy (requests)
    bytes_out: int = 0  # proxy -> client (responses)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _corrupt: list[list[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None,
                  match: str | None = None) -> None:
        """Answer the next ``count`` requests (whose path contains ``match``) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(count, status, retry_after, match))

    def corrupt_next(self, count: int, match: str) -> None:
        """Flip one byte in the body of the next ``count`` responses whose path contains ``match``."""
        with self._lock:
            self._corrupt.append([count, match])

    def _take_corrupt(self, path: str) -> bool:
        with self._lock:
            for item in self._corrupt:
                if item[0] > 0 and item[1] in path:
                    item[0] -= 1
                    return True
        return False

    def reset(self) -> None:
        with self._lock:
            self.bytes_in = self.bytes_out = 0
            self.requests.clear()
            self._faults.clear()

    def start(self) -> FaultProxy:
        self.port = self.port or free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.match is None or fault.match in path):
                    fault.remaining -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self._read_body()
                with proxy._lock:
                    proxy.bytes_in += len(self.requestline) + len(str(self.headers)) + len(body)
                fault = proxy._take_fault(self.path)
                if fault is not None:
                    headers = {"Content-Type": "application/json"}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                    self._answer(fault.status, headers, _FAULT_BODY, head=self.command == "HEAD")
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=300)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    if body or self.command in ("PUT", "POST", "PATCH"):
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    if data and proxy._take_corrupt(self.path):
                        data = data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:]
                    out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP}
                    self._answer(response.status, out, data, head=self.command == "HEAD")
                finally:
                    upstream.close()

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _answer(self, status: int, headers: dict[str, str], data: bytes, head: bool = False) -> None:
                # recorded before the answer leaves: once a client has it, a test can count it (no race)
                with proxy._lock:
                    proxy.bytes_out += len(data) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 20
                    proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "date", "server"):
                        self.send_header(key, value)
                length = next((v for k, v in headers.items() if k.lower() == "content-length"), None)
                self.send_header("Content-Length", length if head and length is not None else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _relay

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
