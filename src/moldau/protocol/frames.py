"""Length-prefixed framing, sans-IO.

Every Kafka request and response is an INT32 size followed by that many bytes. ``FrameReader``
accumulates received bytes and hands out whole frames. The size is checked against the limit
(``socket.request.max.bytes``) as soon as the 4-byte prefix is known, before any buffer for the
frame is grown, so a hostile length prefix costs nothing.
"""

from __future__ import annotations

import struct

_SIZE = struct.Struct(">i")


class FrameError(ValueError):
    """The peer sent an impossible frame; the connection must be closed."""


class FrameTooLarge(FrameError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds socket.request.max.bytes={limit}")
        self.size = size
        self.limit = limit


class FrameReader:
    """Feed bytes with ``feed()``; take frames with ``next_frame()`` until it returns None."""

    __slots__ = ("_buf", "_limit", "_pos")

    def __init__(self, max_size: int) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._limit = max_size

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data
        # Check the next size prefix at once so an oversized frame is refused before we wait
        # (and buffer) for its body.
        self._check_size()

    def _check_size(self) -> int | None:
        if len(self._buf) - self._pos < 4:
            return None
        size = int(_SIZE.unpack_from(self._buf, self._pos)[0])
        if size < 0:
            raise FrameError(f"negative frame size {size}")
        if size > self._limit:
            raise FrameTooLarge(size, self._limit)
        return size

    def next_frame(self) -> bytes | None:
        """The next whole frame's payload (without the size prefix), or None."""
        size = self._check_size()
        if size is None:
            return None
        start = self._pos + 4
        end = start + size
        if end > len(self._buf):
            return None
        frame = bytes(self._buf[start:end])
        self._pos = end
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return frame

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos


def frame(payload: bytes | bytearray) -> bytes:
    return _SIZE.pack(len(payload)) + payload
