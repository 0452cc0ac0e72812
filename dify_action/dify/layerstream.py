"""A layer blob read as a stream, every byte counted: compressed bytes (what the registry sends)
and inflated bytes (what the tar reader walks) are charged to one :class:`Meter` as they pass,
so the work done is bounded by the budget, not by the sizes a manifest declares.

gzip is inflated here (``zlib``, concatenated members allowed) rather than by ``tarfile``, so
that the inflated bytes can be counted; an uncompressed tar passes through as it is.
"""

from __future__ import annotations

import zlib
from typing import IO

from dify_action.errors import DifyActionError
from dify_action.registry.model import hasher

INFLATED = 4  # inflated bytes allowed per compressed byte of the budget (Dify's api layers: ~3x)
_CHUNK = 1 << 16
_MAX_OUT = 1 << 20  # inflated bytes per step: a bomb never lands in memory at once


class Meter:
    """Compressed and inflated bytes read so far, across the layers of one image."""

    def __init__(self, budget: int, what: str) -> None:
        self.budget, self.what = budget, what
        self.compressed = self.inflated = 0

    def charge(self, compressed: int, inflated: int) -> None:
        self.compressed += compressed
        self.inflated += inflated
        if self.compressed > self.budget:
            raise DifyActionError(f"{self.what}: over the read budget of {self.budget >> 20} MiB "
                                  f"(counted as streamed, whatever the manifest declares)")
        if self.inflated > INFLATED * self.budget:
            raise DifyActionError(f"{self.what}: inflate to over {INFLATED * self.budget >> 20} MiB "
                                  f"(a compression bomb, or not a Dify api image)")


class LayerStream:
    """``read`` gives the tar bytes of a layer blob; the blob's bytes are hashed and counted."""

    def __init__(self, raw: IO[bytes], algorithm: str, meter: Meter) -> None:
        self.raw, self.meter = raw, meter
        self.hasher = hasher(algorithm)
        self.algorithm = algorithm
        self.inflater: zlib._Decompress | None = None
        self.started = False
        self.pending = bytearray()
        self.ended = False

    def _blob(self) -> bytes:
        data = self.raw.read(_CHUNK)
        if data:
            self.hasher.update(data)
        return data

    def _inflate(self, data: bytes) -> bytes:
        assert self.inflater is not None
        if self.inflater.eof:  # a new gzip member starts (concatenated gzip is valid)
            data = self.inflater.unused_data + data
            self.inflater = zlib.decompressobj(31)
        return self.inflater.decompress(data, _MAX_OUT)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` tar bytes; ``pending`` never holds more than ``size`` + 1 MiB."""
        want = _CHUNK if size is None or size < 0 else size
        while len(self.pending) < want and not self.ended:
            inflater = self.inflater
            if inflater is not None and (inflater.unconsumed_tail or (inflater.eof and inflater.unused_data)):
                tail = inflater.unconsumed_tail
                out = inflater.decompress(tail, _MAX_OUT) if tail else self._inflate(b"")
                self.meter.charge(0, len(out))
                self.pending += out
                continue
            data = self._blob()
            if not self.started and data:
                self.started = True
                if data[:2] == b"\x1f\x8b":
                    self.inflater = zlib.decompressobj(31)
            out = self._inflate(data) if self.inflater is not None and data else data
            self.ended = not data
            self.meter.charge(len(data), len(out))
            self.pending += out
        chunk = bytes(self.pending[:want])
        del self.pending[:want]  # O(1) at the front of a bytearray
        return chunk

    def drain(self) -> None:
        """Read the rest of the blob (the hash covers every byte), still counted."""
        while self.read(_CHUNK):
            pass

    def digest(self) -> str:
        return f"{self.algorithm}:{self.hasher.hexdigest()}"
