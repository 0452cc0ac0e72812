"""Offline stand-in base images: busybox-static on scratch plays ``langgenius/dify-api``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from .procs import TestbedError

BUSYBOX = "/bin/busybox"
BASE_IMAGE = "dify-base-standin:1.13.3"
# The same image under the name a user's Dockerfile really uses: FROM langgenius/dify-api:1.13.3
# resolves locally (nothing can be pulled here).
BASE_ALIASES = ("langgenius/dify-api:1.13.3",)

BASE_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /app/api /tmp && chmod 1777 /tmp
ENV PATH=/bin DIFY_STANDIN=1
WORKDIR /app/api
"""


def busybox_context(directory: Path, dockerfile: str) -> Path:
    """A build context with the static busybox binary and the given Dockerfile."""
    if not Path(BUSYBOX).exists():
        raise TestbedError(f"{BUSYBOX} not found: apt-get install -y busybox-static")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, directory / "busybox")
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


def build_base_image(client: Any, tag: str = BASE_IMAGE, aliases: tuple[str, ...] = BASE_ALIASES) -> str:
    """Build the stand-in base image in the daemon behind ``client`` (docker SDK); return its tag."""
    with tempfile.TemporaryDirectory(prefix="da-base-") as temp:
        context = busybox_context(Path(temp), BASE_DOCKERFILE)
        image, _ = client.images.build(path=str(context), tag=tag, network_mode="host", rm=True)
    for alias in aliases:
        repository, _, alias_tag = alias.rpartition(":")
        image.tag(repository, alias_tag)
    return tag
