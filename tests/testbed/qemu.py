"""arm64 on this amd64 machine: QEMU user emulation through binfmt_misc, and the offline arm64 base.

``aarch64_emulation()`` registers qemu-aarch64 (Debian's qemu-user-static rule) for the time of a
test and undoes exactly what it did: it unregisters only an entry it registered, and unmounts
binfmt_misc only when it mounted it. ``arm64_busybox()`` is the static arm64 busybox scripts/bootstrap
unpacked from Debian's busybox-static:arm64.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from testbed.procs import TestbedError

BINFMT = Path("/proc/sys/fs/binfmt_misc")
RULE = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
ENTRY = BINFMT / "qemu-aarch64"
ROOT = Path(__file__).resolve().parents[2]


def arm64_busybox() -> Path:
    path = ROOT / ".cache/arm64/root/bin/busybox"
    if not path.is_file():
        raise TestbedError(f"{path} is missing: run scripts/bootstrap as root (it unpacks busybox-static:arm64)")
    return path


@contextlib.contextmanager
def aarch64_emulation() -> Iterator[None]:
    """Run arm64 binaries while inside; TestbedError when the bed cannot register the rule."""
    if not RULE.is_file():
        raise TestbedError(f"{RULE} is missing: apt-get install qemu-user-static (scripts/bootstrap does)")
    mounted = False
    if not (BINFMT / "register").exists():
        done = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise TestbedError(f"cannot mount binfmt_misc: {done.stderr.strip()}")
        mounted = True
    registered = False
    try:
        if not ENTRY.exists():
            (BINFMT / "register").write_text(RULE.read_text().strip().splitlines()[-1] + "\n")
            registered = True
        yield
    finally:
        if registered and ENTRY.exists():
            ENTRY.write_text("-1\n")
        if mounted:
            subprocess.run(["umount", str(BINFMT)], check=False)
