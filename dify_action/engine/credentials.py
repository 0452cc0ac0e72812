"""Registry credentials for the docker CLI without a credential file on disk.

``$DOCKER_CONFIG/config.json`` is a named pipe in a fresh 0700 directory; a thread writes the JSON
into it each time it is opened (each open gets a fresh pipe, so two readers never share one).
The docker CLI 20.10 opens it twice while it starts (once to initialise, once more for the
BuildKit session's auth provider) and keeps the result in memory, so once the build prints its
first line the pipe and its directory are removed (:meth:`DockerConfig.close`, also run on every
exit path). The credentials are only ever in the pipe's kernel buffer and the CLI's memory, never
in a file: not after SIGTERM, and not after SIGKILL either (what can be left then is a 0700
directory holding an empty pipe).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from dify_action.registry import Credentials


def _auths(credentials: Mapping[str, Credentials]) -> bytes:
    auths = {
        host: {"auth": base64.b64encode(f"{c.username}:{c.password}".encode()).decode()}
        for host, c in credentials.items()
    }
    return json.dumps({"auths": auths}).encode()


class DockerConfig:
    """A DOCKER_CONFIG directory (``path``) serving ``credentials`` until :meth:`close`."""

    def __init__(self, credentials: Mapping[str, Credentials]) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="dify-action-docker-"))  # mode 0700
        self._fifo = self.path / "config.json"
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        if credentials:
            os.mkfifo(self._fifo, 0o600)
            self._feeder = threading.Thread(target=self._serve, args=(_auths(credentials),), daemon=True,
                                            name="docker-config")
            self._feeder.start()

    def _serve(self, data: bytes) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self._fifo, os.O_WRONLY)  # blocks until a reader opens the pipe
            except OSError:
                return
            try:
                if self._stop.is_set():  # the reader is close() unblocking us
                    return
                with contextlib.suppress(OSError):  # the next open gets a pipe of its own, not this one
                    self._fifo.unlink()
                    os.mkfifo(self._fifo, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except BrokenPipeError:
                pass
            finally:
                os.close(fd)

    def close(self) -> None:
        """Stop serving and remove the pipe and the directory (idempotent)."""
        self._stop.set()
        if self._feeder is not None and self._feeder.is_alive():
            with contextlib.suppress(OSError):
                reader = os.open(self._fifo, os.O_RDONLY | os.O_NONBLOCK)  # unblocks the writer's open
                self._feeder.join(timeout=5)
                os.close(reader)
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def docker_config(credentials: Mapping[str, Credentials]) -> Iterator[DockerConfig]:
    """A :class:`DockerConfig`, closed when the block ends however it ends."""
    config = DockerConfig(credentials)
    try:
        yield config
    finally:
        config.close()
