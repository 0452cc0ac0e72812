"""Registry transport against real local HTTP servers (issue 22, classes 2 and 3): a total deadline
per request whatever the registry dribbles, answer size caps, credentials bound to their origin,
registry text scrubbed of secrets."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dify_action.errors import RegistryError
from dify_action.registry import Credentials, RegistryClient
from dify_action.retry import RetryPolicy

SECRET = "hunter2-very-secret"
CREDS = Credentials("bot", SECRET)
BASIC = base64.b64encode(f"bot:{SECRET}".encode()).decode()
NO_RETRY = RetryPolicy(attempts=1, sleep=lambda _: None)

Reply = tuple[int, dict[str, str], bytes]


@contextmanager
def server(answer: Callable[[BaseHTTPRequestHandler], Reply]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP server on loopback; yields ``host:port`` and the headers of every request."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()} | {":path": self.path})
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = answer(self)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def dribbler(payload: bytes, every: float) -> Iterator[str]:
    """A registry that sends ``payload`` one byte every ``every`` seconds, forever if need be."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                for byte in payload:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(every)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_registry_dribbling_one_byte_at_a_time_hits_the_total_deadline(part: str) -> None:
    body = b'{"tags": [' + b'"x",' * 5000 + b'"y"]}'
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    # one byte per 50 ms: every socket read is well within its 1 s timeout, the whole never is
    payload = head + body if part == "body" else b"HTTP/1.1 200 OK\r\n" + b"X-Slow: a\r\n" * 90
    with dribbler(payload, 0.05) as host:
        client = RegistryClient(host, timeout=1.0, deadline=1.5, retry=NO_RETRY)
        start = time.monotonic()
        with pytest.raises(RegistryError, match=r"did not finish .* within 2 s"):
            client.tags("acme/api")
        assert time.monotonic() - start < 4.0  # the deadline, not 1 s per byte for ever


def test_a_huge_answer_is_refused_at_its_cap_not_read_whole() -> None:
    big = b'{"tags": ["' + b"a" * (5 << 20) + b'"]}'
    answer = (200, {"Content-Type": "application/json"}, big)
    with server(lambda _: answer) as (host, _), pytest.raises(RegistryError, match="over"):
        RegistryClient(host, retry=NO_RETRY).tags("acme/api")


def basic_registry(upload_to: str) -> Callable[[BaseHTTPRequestHandler], Reply]:
    def answer(request: BaseHTTPRequestHandler) -> Reply:
        if request.headers.get("Authorization") != f"Basic {BASIC}":
            return 401, {"WWW-Authenticate": 'Basic realm="r"'}, b""
        if request.command == "HEAD":
            return 404, {}, b""
        if request.command == "POST":
            return 202, {"Location": upload_to}, b""
        return 201, {}, b""
    return answer


def test_an_upload_location_on_another_origin_never_receives_the_credentials() -> None:
    with server(lambda _: (201, {}, b"")) as (other, seen_other), \
            server(basic_registry(f"http://{other}/upload/1")) as (host, seen):
        RegistryClient(host, CREDS, retry=NO_RETRY).push_blob("acme/api", b"data")
    assert any(h.get("authorization") == f"Basic {BASIC}" for h in seen)  # the registry got them
    assert seen_other and not any("authorization" in h for h in seen_other)


def test_a_relative_location_stays_on_the_registry_with_its_credentials() -> None:
    with server(basic_registry("/v2/acme/api/blobs/uploads/1")) as (host, seen):
        RegistryClient(host, CREDS, retry=NO_RETRY).push_blob("acme/api", b"data")
    put = [h for h in seen if h[":path"].startswith("/v2/acme/api/blobs/uploads/1")]
    assert put and put[-1].get("authorization") == f"Basic {BASIC}"


@pytest.mark.parametrize("realm", ["http://auth.example.com/token", "ftp://auth.example.com/token"])
def test_a_plain_http_realm_off_loopback_never_gets_the_password(realm: str) -> None:
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="r"'}
    with server(lambda _: (401, challenge, b"")) as (host, _), pytest.raises(RegistryError, match="realm"):
        RegistryClient(host, CREDS, retry=NO_RETRY).ping()


def test_a_realm_on_another_loopback_origin_gets_the_token_request() -> None:
    def token(_: BaseHTTPRequestHandler) -> Reply:
        return 200, {}, b'{"token": "tok-123456789"}'

    with server(token) as (auth, seen_auth):
        def registry(request: BaseHTTPRequestHandler) -> Reply:
            if request.headers.get("Authorization") == "Bearer tok-123456789":
                return 200, {}, b"{}"
            return 401, {"WWW-Authenticate": f'Bearer realm="http://{auth}/token",service="r"'}, b""

        with server(registry) as (host, _):
            RegistryClient(host, CREDS, retry=NO_RETRY).ping()
    assert seen_auth[0].get("authorization") == f"Basic {BASIC}"


def test_registry_error_text_is_scrubbed_of_the_password_its_base64_and_tokens() -> None:
    def echo(request: BaseHTTPRequestHandler) -> Reply:
        if request.headers.get("Authorization") is None:
            return 401, {"WWW-Authenticate": 'Basic realm="r"'}, b""
        text = f"bad auth {request.headers.get('Authorization')} for bot:{SECRET} Bearer abcdefghijklmnop"
        return 500, {"Content-Type": "application/json"}, (
            f'{{"errors": [{{"code": "DENIED", "message": "{text}"}}]}}').encode()

    with server(echo) as (host, _), pytest.raises(RegistryError) as raised:
        RegistryClient(host, CREDS, retry=NO_RETRY).ping()
    shown = str(raised.value)
    assert "DENIED" in shown
    for secret in (SECRET, BASIC, "abcdefghijklmnop"):
        assert secret not in shown
