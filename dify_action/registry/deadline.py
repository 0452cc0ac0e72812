"""A total deadline per registry request, not a timeout per socket read.

``requests``' timeout bounds each ``recv``: a registry (or a proxy) that dribbles one byte a
second holds a run forever. Here every request runs under a :class:`Deadline`: the connections
it uses (TLS handshake, headers, body) register their socket; when the deadline passes, a timer
shuts those sockets down, the blocked read returns, and the request fails with a RegistryError
naming the deadline. A socket belongs to one deadline at a time (a pooled connection moves to the
next request), so a late timer never touches another request's socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

_local = threading.local()
_owners: dict[int, Deadline] = {}  # socket fd -> the deadline that may shut it down
_owners_lock = threading.Lock()


class Deadline:
    """Arm with ``with Deadline(seconds):``; ``expired`` says whether it fired."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._outer: Deadline | None = None

    def __enter__(self) -> Deadline:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Disarm: the timer stops and this deadline lets go of its sockets."""
        self._timer.cancel()
        with _owners_lock:
            for fd in [fd for fd, owner in _owners.items() if owner is self]:
                del _owners[fd]
        if getattr(_local, "deadline", None) is self:
            _local.deadline = self._outer

    def watch(self, fd: int) -> None:
        with _owners_lock:
            _owners[fd] = self
            if self.expired:
                _shutdown(fd)

    def _fire(self) -> None:
        with _owners_lock:
            self.expired = True
            for fd, owner in _owners.items():
                if owner is self:
                    _shutdown(fd)


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


def _shutdown(fd: int) -> None:
    """Shut a socket down by its descriptor without closing it (its owner still does that)."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()


class _Watched:
    """Mixed into urllib3's connections: the socket joins the deadline of the request using it."""

    _da_fd: int | None = None

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._da_fd = sock.fileno()  # before TLS: the handshake can dribble too
        self._da_watch()
        return sock

    def _da_watch(self) -> None:
        deadline = current()
        if deadline is not None and self._da_fd is not None:
            deadline.watch(self._da_fd)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._da_watch()
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        self._da_watch()
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]

    def close(self) -> None:
        fd, self._da_fd = self._da_fd, None
        if fd is not None:
            with _owners_lock:
                _owners.pop(fd, None)
        super().close()  # type: ignore[misc]


class _Connection(_Watched, HTTPConnection):
    pass


class _TLSConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


def adapter() -> Any:
    """A requests adapter whose connections honour the deadline of the request using them."""
    from requests.adapters import HTTPAdapter

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    return _Adapter()
