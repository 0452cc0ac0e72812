"""An offline Debian 12 + Python 3.11 + git image: act's job image and the action Dockerfile's base.

Nothing can be pulled here, so the image is made from scratch: ``debootstrap --variant=minbase``
with the Debian mirror apt is already configured with (read from /etc/apt/sources.list*, never
hard-coded), ``docker import``, then one ``apt-get install`` on the host network. debootstrap takes
about 35 s, so the finished image is cached as a ``docker save`` tarball keyed by ``VERSION``
(``$DIFY_ACTION_CACHE`` or ~/.cache/dify-action) and later sessions only ``docker load`` it.

``python -m tests.testbed.jobimage DOCKER_HOST`` builds it (or loads it) outside pytest.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from .procs import TestbedError

VERSION = "bookworm-py311-git-2"  # bump when the recipe below changes
JOB_IMAGE = f"dify-action-job:{VERSION}"
DOCKER_CLI = "/usr/bin/docker"  # the 20.10 client that matches the Debian dockerd
PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")

# The package list is given on one line so the image has no layer per package.
_RECIPE = """\
FROM {rootfs}
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends {packages} >/dev/null \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* \\
 && ln -sf /usr/bin/python3 /usr/local/bin/python
"""


def cache_dir() -> Path:
    return Path(os.environ.get("DIFY_ACTION_CACHE") or Path.home() / ".cache" / "dify-action")


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first plain Debian archive URI apt is configured with (deb822 or one-line format)."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file() or not (path.name.endswith(".sources") or path.name.endswith(".list")):
            continue
        text = path.read_text(errors="replace")
        uris = re.findall(r"^URIs:\s*(\S+)", text, re.M)
        uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M)
        for uri in uris:
            if "security" not in uri and re.match(r"https?://", uri):
                return uri
    raise TestbedError("no Debian mirror found in /etc/apt/sources.list*: debootstrap needs one")


def _docker(docker_host: str, *args: str, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": docker_host, "DOCKER_BUILDKIT": "0"}
    proc = subprocess.run([DOCKER_CLI, *args], env=env, stdin=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace")[-2000:]
        raise TestbedError(f"docker {args[0]} failed ({proc.returncode}): {detail}")
    return proc


def _has_image(docker_host: str, name: str) -> bool:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    return subprocess.run([DOCKER_CLI, "image", "inspect", name], env=env, capture_output=True,
                          check=False).returncode == 0


def _rootfs_tar(cache: Path) -> Path:
    tar = cache / f"rootfs-{VERSION}.tar"
    if tar.exists():
        return tar
    if not Path("/usr/sbin/debootstrap").exists():
        raise TestbedError("/usr/sbin/debootstrap not found: apt-get install -y debootstrap")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="da-rootfs-", dir="/var/tmp") as temp:
        root = Path(temp) / "root"
        proc = subprocess.run(
            ["/usr/sbin/debootstrap", "--variant=minbase", "bookworm", str(root), debian_mirror()],
            capture_output=True, check=False,
        )
        if proc.returncode != 0:
            raise TestbedError(f"debootstrap failed: {proc.stdout.decode(errors='replace')[-2000:]}")
        # debootstrap leaves etc/apt/sources.list pointing at the same mirror: apt works inside
        partial = tar.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tar)
    return tar


def ensure_job_image(docker_host: str, name: str = JOB_IMAGE) -> str:
    """Make sure ``name`` exists in the daemon at ``docker_host``: load it, or build and cache it."""
    if _has_image(docker_host, name):
        return name
    cache = cache_dir()
    saved = cache / f"jobimage-{VERSION}.tar"
    if saved.exists():
        with saved.open("rb") as handle:
            _docker(docker_host, "load", "-q", stdin=handle)
        if _has_image(docker_host, name):
            return name
    rootfs_name = f"dify-action-rootfs:{VERSION}"
    with _rootfs_tar(cache).open("rb") as handle:
        _docker(docker_host, "import", "-", rootfs_name, stdin=handle)
    with tempfile.TemporaryDirectory(prefix="da-job-") as temp:
        Path(temp, "Dockerfile").write_text(_RECIPE.format(rootfs=rootfs_name, packages=" ".join(PACKAGES)))
        _docker(docker_host, "build", "-q", "--network", "host", "-t", name, temp)
    with contextlib.suppress(TestbedError):
        _docker(docker_host, "rmi", rootfs_name)
    partial = saved.with_suffix(".partial")
    _docker(docker_host, "save", "-o", str(partial), name)
    partial.rename(saved)
    return name


if __name__ == "__main__":
    print(ensure_job_image(sys.argv[1]))
