"""A private dockerd: no bridge (only loopback traffic is allowed here), its own state dir.

See ../shared/TESTBED.md: dockerd 20.10 from Debian, every build/container on the host network.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .procs import TestbedError, spawn, stop_pid, wait_until

DOCKERD = "/usr/sbin/dockerd"


@dataclass(frozen=True)
class Dockerd:
    root: Path
    pid: int

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"


def start_dockerd(root: Path, timeout: float = 60.0) -> Dockerd:
    """Start dockerd with its state under ``root`` (keep it short: the socket path must be < 108)."""
    if len(str(root / "docker.sock")) >= 100:
        raise TestbedError(f"state dir {root} too long for a unix socket path")
    if not Path(DOCKERD).exists():
        raise TestbedError(f"{DOCKERD} not found: apt-get install -y docker.io")
    root.mkdir(parents=True, exist_ok=True)
    argv = [
        DOCKERD, "--bridge=none", "--iptables=false", "--ip6tables=false",
        "--data-root", str(root / "docker"), "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "docker.pid"), "-H", f"unix://{root / 'docker.sock'}",
    ]
    proc = spawn(argv, root / "dockerd.log")
    daemon = Dockerd(root, proc.pid)

    def ready() -> bool:
        import docker  # lazy: the CLI "down" path needs no SDK

        client = docker.DockerClient(base_url=daemon.host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()

    try:
        wait_until(ready, timeout, "dockerd", daemon.log, proc)
    except BaseException:
        stop_dockerd(daemon)
        raise
    return daemon


def stop_dockerd(daemon: Dockerd) -> None:
    """SIGTERM by pid, wait, unmount the netns it leaves behind, remove the state dir."""
    stop_pid(daemon.pid, timeout=30)
    netns = daemon.root / "exec" / "netns" / "default"
    if netns.exists():
        with contextlib.suppress(OSError):
            subprocess.run(["umount", str(netns)], check=False, capture_output=True)
    # overlay mounts may linger if dockerd was killed hard
    with contextlib.suppress(OSError):
        mounts = Path("/proc/mounts").read_text().splitlines()
        for line in reversed(mounts):
            target = line.split()[1]
            if target.startswith(str(daemon.root) + "/"):
                subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    shutil.rmtree(daemon.root / "docker", ignore_errors=True)
    shutil.rmtree(daemon.root / "exec", ignore_errors=True)
