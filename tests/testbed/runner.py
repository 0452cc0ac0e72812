"""A GitHub-hosted-runner network in a namespace of our own (../shared/TESTBED.md, issue #10).

GitHub runs a container action on a per-job bridge network ``github_network_<hex>`` with the
docker socket mounted; 127.0.0.1 there is the action container itself, and every job starts on a
fresh machine where only the registry carries images over. The bed reproduces that:

- ``unshare --net --pid --mount-proc --fork --kill-child docker-init`` makes the namespaces;
  ``nsinit.py`` inside brings ``lo`` up with ``ADDRESS`` and a private /run.
- dockerd inside with its bridge and iptables on and private pools (``--bip 10.213.0.1/24
  --default-address-pool base=10.214.0.0/16,size=24``), listening on /var/run/docker.sock there
  (what the action mounts) and on ``ROOT/docker.sock`` (what the tests use from outside).
- a distribution registry on ``ADDRESS:5443`` with htpasswd auth and TLS from a throwaway CA
  (dockerd trusts it through SSL_CERT_FILE); the host reaches it through a relayed 127.0.0.1 port.
- ``new_job`` gives each job a fresh image store (every container and image removed but the
  ones the runner itself would fetch) and its own ``github_network_<hex>``; the registry persists.
- public names stand in the way production sees them (issue 23: the example callers run as
  written): ``ghcr.io`` is the bed registry on ``ADDRESS:443``, ``github.com`` and
  ``api.github.com`` reach what ``expose(..., GITHUB_SOCKET)`` names on the host (the GitHub
  emulator over TLS), each certificate from the bed's CA. The names resolve only inside the bed:
  dockerd reads the namespace's own /etc/hosts, a job container gets the same file
  (``container_hosts``, through act's ``--container-options``); anything without it resolves
  nothing (no route leaves the namespace).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from .nsinit import pump  # the one TCP relay: nsinit runs it inside the bed, expose() on the host
from .procs import TestbedError, pid_alive, stop_pid, wait_until
from .tlsca import make_tls

ADDRESS = "10.215.0.1"  # on lo inside the namespace; outside both docker pools
GITHUB_ADDRESS = "10.215.0.2"  # github.com and api.github.com in the bed (TLS on 443)
STAND_INS = {"ghcr.io": ADDRESS, "github.com": GITHUB_ADDRESS, "api.github.com": GITHUB_ADDRESS}
GITHUB_SOCKET = "github.sock"  # expose(bed, port, GITHUB_SOCKET): the host service that is github.com
REGISTRY_PORT = 5443
HOST_SERVICE_PORT = 8080  # ADDRESS:8080 in the bed reaches what ``expose`` names on the host
POOLS = ("--bip", "10.213.0.1/24", "--default-address-pool", "base=10.214.0.0/16,size=24")
TOOLS = ("/usr/bin/unshare", "/usr/bin/docker-init", "/usr/sbin/dockerd", "/usr/bin/docker-registry",
         "/usr/bin/htpasswd", "/usr/sbin/iptables", "/usr/sbin/ip", "/usr/bin/docker")
DOCKER_CLI = "/usr/bin/docker"


@dataclass(frozen=True)
class RunnerBed:
    root: Path
    pid: int  # the unshare process, in our PID namespace
    username: str
    password: str
    host_port: int  # 127.0.0.1:host_port on the host relays to the registry

    @property
    def docker_host(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def registry(self) -> str:
        """The registry as jobs (dockerd, containers on the job network) address it."""
        return f"{ADDRESS}:{REGISTRY_PORT}"

    @property
    def registry_url(self) -> str:
        """The registry as the test process on the host reaches it (verify with ``ca``)."""
        return f"https://127.0.0.1:{self.host_port}"

    @property
    def ca(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def server_tls(self) -> tuple[Path, Path]:
        """(certificate, key) the bed's CA signed for its addresses and every name in STAND_INS: a
        host service exposed as github.com serves TLS with it."""
        return self.root / "tls" / "server.pem", self.root / "tls" / "server-key.pem"

    @property
    def container_hosts(self) -> str:
        """Docker options giving a container the bed's stand-in names: the bed's hosts file as its
        /etc/hosts (not --add-host: act gives a job's options to its action containers too, which
        join the job's network namespace, and Docker refuses host mappings there)."""
        return f"-v {self.root / 'hosts'}:/etc/hosts:ro"

    def add_user(self, username: str, password: str) -> None:
        """One more registry account (the registry reads its htpasswd file again when it changes)."""
        subprocess.run(["/usr/bin/htpasswd", "-Bb", str(self.root / "htpasswd"), username, password], check=True,
                       capture_output=True)

    def docker(self, *args: str, stdin: int | None = None, timeout: float = 600,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": self.docker_host, "DOCKER_BUILDKIT": "0"}
        proc = subprocess.run([DOCKER_CLI, *args], env=env, stdin=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise TestbedError(f"docker {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc


def start_runner_bed(root: Path, timeout: float = 60.0) -> RunnerBed:
    """Start the namespace, its dockerd and registry under ``root`` (short: unix socket paths)."""
    for tool in TOOLS:
        if not Path(tool).exists():
            raise TestbedError(f"{tool} not found: apt-get install -y util-linux docker.io docker-registry "
                               "apache2-utils iptables iproute2 tini")
    if len(str(root / "docker.sock")) >= 100:
        raise TestbedError(f"state dir {root} too long for a unix socket path")
    root.mkdir(parents=True, exist_ok=True)
    tls = make_tls(root / "tls", (ADDRESS, "127.0.0.1"), tuple(STAND_INS))
    username, password = f"ci-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    subprocess.run(["/usr/bin/htpasswd", "-Bbc", str(root / "htpasswd"), username, password], check=True,
                   capture_output=True)
    registry_config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root / "registry")}, "delete": {"enabled": True}},
        "http": {"addr": f"{ADDRESS}:{REGISTRY_PORT}", "secret": secrets.token_hex(16),
                 "tls": {"certificate": str(tls.cert), "key": str(tls.key)}},
        "auth": {"htpasswd": {"realm": "dify-action-runner-bed", "path": str(root / "htpasswd")}},
    }
    (root / "registry.yml").write_text(json.dumps(registry_config))
    dockerd = ["/usr/sbin/dockerd", *POOLS, "--data-root", str(root / "docker"), "--exec-root", str(root / "exec"),
               "--pidfile", str(root / "docker.pid"), "-H", "unix:///var/run/docker.sock",
               "-H", f"unix://{root / 'docker.sock'}"]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host_port = int(listener.getsockname()[1])
    config = {
        "root": str(root), "address": ADDRESS, "more_addresses": [GITHUB_ADDRESS],
        "hosts": "127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in STAND_INS.items()),
        "processes": [["dockerd", dockerd], ["registry", ["/usr/bin/docker-registry", "serve",
                                                         str(root / "registry.yml")]]],
        "env": {"SSL_CERT_FILE": str(tls.ca)},
        "relays": [{"listen": {"fd": listener.fileno()}, "connect": {"host": ADDRESS, "port": REGISTRY_PORT}},
                   {"listen": {"host": ADDRESS, "port": HOST_SERVICE_PORT},
                    "connect": {"unix": str(root / "host-service.sock")}},
                   # ghcr.io:443 is the registry (TLS passes through); github.com:443 the exposed service
                   {"listen": {"host": ADDRESS, "port": 443}, "connect": {"host": ADDRESS, "port": REGISTRY_PORT}},
                   {"listen": {"host": GITHUB_ADDRESS, "port": 443}, "connect": {"unix": str(root / GITHUB_SOCKET)}}],
    }
    (root / "nsinit.json").write_text(json.dumps(config))
    (root / "nsinit.json").chmod(0o600)
    argv = ["/usr/bin/unshare", "--net", "--pid", "--mount-proc", "--fork", "--kill-child",
            "/usr/bin/docker-init", "--", sys.executable, str(Path(__file__).with_name("nsinit.py")),
            str(root / "nsinit.json")]
    with (root / "nsinit.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                pass_fds=(listener.fileno(),), start_new_session=True)
    listener.close()  # the namespace holds its own copy
    bed = RunnerBed(root, proc.pid, username, password, host_port)
    try:
        wait_until(lambda: bed.docker("version", timeout=10).returncode == 0, timeout, "runner bed dockerd",
                   root / "dockerd.log", proc)
        wait_until(lambda: requests.get(f"{bed.registry_url}/v2/", verify=str(bed.ca), timeout=3).status_code == 401,
                   timeout, "runner bed registry", root / "registry.log", proc)
    except BaseException:
        stop_runner_bed(bed)
        raise
    return bed


def stop_runner_bed(bed: RunnerBed, timeout: float = 45.0) -> None:
    """SIGTERM the namespace's init (it forwards to the supervisor: dockerd stops its containers);
    if that takes too long, end unshare, whose death SIGKILLs the init and so the whole namespace."""
    children = Path(f"/proc/{bed.pid}/task/{bed.pid}/children")
    with contextlib.suppress(OSError, ValueError):
        for child in children.read_text().split():
            os.kill(int(child), 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(bed.pid):
        time.sleep(0.2)
    stop_pid(bed.pid)
    shutil.rmtree(bed.root, ignore_errors=True)


@contextlib.contextmanager
def expose(bed: RunnerBed, port: int, socket_name: str = "host-service.sock") -> Iterator[str]:
    """Make 127.0.0.1:``port`` on the host reachable in the bed as ``ADDRESS:8080`` (a unix socket
    crosses the network namespaces); yields that address. One service at a time per socket; with
    ``GITHUB_SOCKET`` the service is github.com and api.github.com on 443 in the bed instead."""
    path = bed.root / socket_name
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "github.com" if socket_name == GITHUB_SOCKET else f"{ADDRESS}:{HOST_SERVICE_PORT}"
    finally:
        stop.set()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
