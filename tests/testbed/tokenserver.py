"""A small Docker token server (https://distribution.github.io/distribution/spec/auth/token/).

``GET /token?service=S&scope=repository:NAME:pull,push`` with basic auth answers a JWT signed with
an EC P-256 key whose certificate the token registry trusts (``rootcertbundle``). The key id is
libtrust's fingerprint of the public key, which is how distribution 2.8 finds the signing key.
Run as ``python -m testbed.tokenserver CONFIG.json`` (or ``tests.testbed.tokenserver``).
Every request is appended to ``<config>.log`` (one JSON per line) so tests can count them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_signing_material(directory: Path) -> tuple[Path, Path]:
    """Write an EC key and its self-signed certificate; return (key.pem, cert.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dify-action test token issuer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "token-key.pem", directory / "token-cert.pem"
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def libtrust_kid(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust key id: base32(sha256(DER SubjectPublicKeyInfo)[:30]) in groups of 4 joined by ':'."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


class TokenServer:
    """Issue tokens for ``users`` (name -> password); every valid user gets what it asks for."""

    def __init__(self, key_pem: bytes, issuer: str, service: str, users: dict[str, str], log: Path | None):
        self.key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        self.kid = libtrust_kid(self.key.public_key())
        self.issuer, self.service, self.users, self.log = issuer, service, users, log
        self._lock = threading.Lock()

    def issue(self, account: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": account, "aud": self.service, "exp": now + 300, "nbf": now - 10,
            "iat": now, "jti": secrets.token_hex(8), "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def record(self, entry: dict[str, object]) -> None:
        if self.log is None:
            return
        with self._lock, self.log.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
                account = self._account()
                server.record({"path": url.path, "scopes": scopes, "account": account})
                if url.path != "/token":
                    self._send(404, {"errors": [{"code": "NOT_FOUND"}]})
                elif account is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="token"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif query.get("service", [server.service])[0] != server.service:
                    self._send(400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]})
                else:
                    token = server.issue(account, scopes)
                    self._send(200, {"token": token, "access_token": token, "expires_in": 300,
                                     "issued_at": dt.datetime.now(dt.UTC).isoformat()})

            def _account(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return None
                ok = user in server.users and secrets.compare_digest(server.users[user], password)
                return user if ok else None

            def _send(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    server = TokenServer(Path(config["key"]).read_bytes(), config["issuer"], config["service"],
                         config["users"], Path(config_path + ".log"))
    httpd = ThreadingHTTPServer(("127.0.0.1", int(config["port"])), server.handler())
    httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
