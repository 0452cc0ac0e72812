"""The runner bed's supervisor: the first process after ``docker-init`` inside the bed's namespaces.

Run as ``unshare --net --pid --mount-proc --fork --kill-child docker-init -- python nsinit.py
CONFIG``; standard library only. It brings ``lo`` up with the bed's 10.x addresses, binds the bed's
hosts file over /etc/hosts (the public names it stands in for), mounts a private tmpfs on /run (so
``/var/run/docker.sock`` here is this engine's socket, as on a runner, and nothing of the host's
/run or /etc is touched), starts the TLS registry and dockerd (bridge + iptables,
private address pools), relays the configured TCP ports, writes ``ready.json`` and waits. SIGTERM
(forwarded by docker-init) stops dockerd and the registry gracefully; if we die instead, the PID
namespace dies with its init and the kernel ends everything in it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path


def pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _connect(target: dict[str, object]) -> socket.socket:
    if "unix" in target:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(target["unix"]))
    else:
        sock = socket.create_connection((str(target["host"]), int(str(target["port"]))), timeout=10)
        sock.settimeout(None)
    return sock


def _relay(listener: socket.socket, target: dict[str, object]) -> None:
    while True:
        client, _ = listener.accept()
        try:
            upstream = _connect(target)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def _listener(spec: dict[str, object]) -> socket.socket:
    if "fd" in spec:  # a socket the host made in ITS network namespace: host 127.0.0.1 -> here
        return socket.socket(fileno=int(str(spec["fd"])))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((str(spec["host"]), int(str(spec["port"]))))
    sock.listen(64)
    return sock


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    root = Path(config["root"])
    subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    for address in (config["address"], *config.get("more_addresses", ())):
        subprocess.run(["/usr/sbin/ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    # unshare makes our mounts private already; said again, so no mount below can reach the host's tree
    subprocess.run(["/usr/bin/mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"], check=True)
    if "hosts" in config:  # the bed's own resolver for this namespace's processes (dockerd pushing
        # to ghcr.io): a hosts file bound over /etc/hosts in our private mount namespace only
        hosts = root / "hosts"
        hosts.write_text(config["hosts"])
        subprocess.run(["/usr/bin/mount", "--bind", str(hosts), "/etc/hosts"], check=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    children: list[subprocess.Popen[bytes]] = []
    for name, argv in config["processes"]:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **config.get("env", {})}
        log = (root / f"{name}.log").open("ab")
        children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env))
    for relay in config["relays"]:
        threading.Thread(target=_relay, args=(_listener(relay["listen"]), relay["connect"]), daemon=True).start()
    (root / "ready.json").write_text(json.dumps({"pids": [child.pid for child in children]}))
    while not stop.is_set() and all(child.poll() is None for child in children):
        stop.wait(0.5)
    # dockerd first (it stops its containers), then the rest
    for child in children:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
