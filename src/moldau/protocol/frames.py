"""Length-prefixed framing, sans-IO.

Every Kafka request and response is an INT32 size followed by that many bytes. ``FrameReader``
collects received bytes and hands out whole frames, each in a ``bytearray`` of its own, so
a decoder may return (writable) views of a frame and a handler may rewrite a frame in place
(Produce assigns offsets inside the request's own buffer) without any other frame noticing.

Bytes come in one of two ways. ``feed(data)`` copies bytes received elsewhere. The
``get_buffer()`` / ``buffer_updated(n)`` pair matches ``asyncio.BufferedProtocol``: the
transport receives straight into the buffer the reader hands out, and:

* small frames (and the size prefixes) land in a receive buffer of ``RECEIVE_BUFFER``
  bytes, from which each whole frame is copied once into its own ``bytearray``. The
  buffers come from a ``ReceiveBuffers`` that a server shares among all its connections
  (one event loop serves them one read at a time). While no partial frame waits, a read
  goes into the shared buffer, and everything it brought is framed and copied out before
  ``buffer_updated`` returns. A partial frame left at the end of a read moves into a buffer
  taken from the pool, where the following reads land until a read ends on a frame
  boundary; then the buffer goes back to the pool. An idle connection holds no receive
  buffer at all, and a busy one reads up to ``RECEIVE_BUFFER`` bytes at a time;
* once the prefix of a frame larger than ``RECEIVE_BUFFER // 2`` is known, a ``bytearray``
  for that frame alone is allocated, what already arrived is moved into it, and the rest of
  the frame is received directly into it: the body of a large Produce request is never
  copied by the framing at all.

The size is checked against the limit (``socket.request.max.bytes``) as soon as the 4-byte
prefix is known, before any buffer for the frame exists. A frame's own buffer starts at no
more than ``FIRST_ALLOCATION`` bytes and doubles as its bytes arrive, so a hostile length
prefix costs at most that much memory until the bytes themselves are sent.
"""

from __future__ import annotations

import struct
from collections import deque

_SIZE = struct.Struct(">i")

RECEIVE_BUFFER = 64 * 1024
FIRST_ALLOCATION = 1024 * 1024


class FrameError(ValueError):
    """The peer sent an impossible frame; the connection must be closed."""


class FrameTooLarge(FrameError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds socket.request.max.bytes={limit}")
        self.size = size
        self.limit = limit


class ReceiveBuffers:
    """The receive buffers of the readers one event loop serves: ``shared`` for reads that
    leave nothing behind, and a pool of buffers for readers holding a partial frame (at most
    ``keep`` spare ones are kept)."""

    __slots__ = ("_free", "_keep", "shared")

    def __init__(self, keep: int = 64) -> None:
        self.shared = bytearray(RECEIVE_BUFFER)
        self._free: list[bytearray] = []
        self._keep = keep

    def take(self) -> bytearray:
        return self._free.pop() if self._free else bytearray(RECEIVE_BUFFER)

    def give(self, buf: bytearray) -> None:
        if len(self._free) < self._keep:
            self._free.append(buf)


class FrameReader:
    """Bytes in (``feed``, or ``get_buffer`` + ``buffer_updated``); whole frames out with
    ``next_frame_buffer()`` (or ``next_frame()``, as ``bytes``) until it returns None.

    State: ``_buf[_start:_end]`` holds received bytes not yet framed (at most one partial
    small frame, or a prefix) in a buffer taken from ``_buffers``; ``_buf`` is empty when
    there are none. ``_in_shared`` says the last ``get_buffer`` handed out the shared
    buffer. While a large frame is being received, ``_body`` is its buffer (possibly still
    shorter than ``_body_size``) and ``_filled`` the bytes in it so far; ``_buf`` is then
    empty. ``_frames`` holds whole frames not yet taken.
    """

    __slots__ = (
        "_body",
        "_body_size",
        "_buf",
        "_buffers",
        "_end",
        "_error",
        "_filled",
        "_frames",
        "_in_shared",
        "_limit",
        "_queued",
        "_start",
    )

    def __init__(self, max_size: int, buffers: ReceiveBuffers | None = None) -> None:
        """``buffers``: the receive buffers shared with the other readers of one event loop;
        None: buffers of this reader's own, made at the first read."""
        self._limit = max_size
        self._buffers = buffers
        self._in_shared = False
        self._buf = bytearray()
        self._start = 0
        self._end = 0
        self._body: bytearray | None = None
        self._body_size = 0
        self._filled = 0
        self._frames: deque[bytearray] = deque()
        self._queued = 0  # bytes in _frames
        self._error: FrameError | None = None  # a bad prefix behind frames not yet taken

    # -- input ---------------------------------------------------------------------------------

    def get_buffer(self) -> memoryview:
        """Where the next received bytes go (``BufferedProtocol.get_buffer``); never empty.
        Report how many were written with ``buffer_updated`` before asking again."""
        body = self._body
        if body is not None:
            if self._filled == len(body):  # grow a large frame's buffer as its bytes arrive
                grown = bytearray(min(self._body_size, 2 * len(body)))
                grown[: self._filled] = body
                self._body = body = grown
            return memoryview(body)[self._filled :]
        if self._start == self._end or self._error is not None:
            # Nothing waits (bytes behind a bad prefix are never framed): the shared buffer.
            self._release()
            if self._buffers is None:
                self._buffers = ReceiveBuffers(keep=1)
            self._in_shared = True
            return memoryview(self._buffers.shared)
        buf = self._buf
        if len(buf) - self._end < 4096 or self._pending_size() > len(buf) - self._start:
            # Too little room after the partial frame (or not room for all of it): move it to
            # the front. It is smaller than half the buffer, so this copies little.
            n = self._end - self._start
            buf[:n] = buf[self._start : self._end]
            self._start, self._end = 0, n
        return memoryview(buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were written into the last buffer from ``get_buffer``. Raises
        ``FrameError`` for an impossible or oversized size prefix, at once when it is the
        next frame's, otherwise from ``next_frame`` once the frames before it are taken."""
        if self._body is not None:
            self._filled += nbytes
            if self._filled == self._body_size:
                self._queue(self._body)
                self._body = None
            return
        if self._in_shared:
            self._in_shared = False
            assert self._buffers is not None
            shared = self._buffers.shared
            start = self._split(shared, 0, nbytes)
            if start < nbytes and self._error is None:  # keep the partial frame
                rest = nbytes - start
                self._buf = self._buffers.take()
                self._buf[:rest] = memoryview(shared)[start:nbytes]
                self._start, self._end = 0, rest
            return
        self._end += nbytes
        self._start = self._split(self._buf, self._start, self._end)
        if self._start == self._end:
            self._release()

    def _release(self) -> None:
        """Give the reader's own receive buffer (now empty) back to the pool."""
        self._start = self._end = 0
        if self._buf:
            assert self._buffers is not None
            self._buffers.give(self._buf)
            self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Copy received bytes in (for callers that do not own the receive buffer)."""
        view = memoryview(data)
        while view:
            target = self.get_buffer()
            n = min(len(target), len(view))
            target[:n] = view[:n]
            del target
            self.buffer_updated(n)
            view = view[n:]

    def _pending_size(self) -> int:
        """Bytes (prefix included) of the partial frame in ``_buf``, 0 if unknown."""
        if self._end - self._start < 4:
            return 0
        return 4 + int(_SIZE.unpack_from(self._buf, self._start)[0])

    def _split(self, buf: bytearray, start: int, end: int) -> int:
        """Queue every whole frame in ``buf[start:end]``; start a frame buffer of its own for
        a large partial frame. Returns where the unframed bytes start (``end`` when none are
        left)."""
        while end - start >= 4 and self._error is None:
            try:
                size = self._check(int(_SIZE.unpack_from(buf, start)[0]))
            except FrameError as e:
                if not self._frames:
                    raise
                self._error = e
                break
            have = end - start - 4
            if have >= size:
                self._queue(buf[start + 4 : start + 4 + size])
                start += 4 + size
                continue
            if size > RECEIVE_BUFFER // 2:
                body = bytearray(min(size, max(FIRST_ALLOCATION, have)))
                body[:have] = buf[start + 4 : end]
                self._body, self._body_size, self._filled = body, size, have
                start = end
            break
        return start

    def _check(self, size: int) -> int:
        if size < 0:
            raise FrameError(f"negative frame size {size}")
        if size > self._limit:
            raise FrameTooLarge(size, self._limit)
        return size

    def _queue(self, frame: bytearray) -> None:
        self._frames.append(frame)
        self._queued += len(frame)

    # -- output --------------------------------------------------------------------------------

    def next_frame(self) -> bytes | None:
        """The next whole frame's payload (without the size prefix) as ``bytes``, or None."""
        frame = self.next_frame_buffer()
        return None if frame is None else bytes(frame)

    def next_frame_buffer(self) -> bytearray | None:
        """The next whole frame's payload in its own buffer, without a copy, or None. The
        caller owns the buffer."""
        if not self._frames:
            if self._error is not None:
                raise self._error
            return None
        frame = self._frames.popleft()
        self._queued -= len(frame)
        return frame

    @property
    def held_bytes(self) -> int:
        """Bytes of the buffers this reader holds for itself (a partial frame's, a large
        frame's), the shared receive buffer and whole frames not yet taken left out."""
        return len(self._buf) + (len(self._body) if self._body is not None else 0)

    @property
    def buffered(self) -> int:
        """Bytes received and not yet taken as frames."""
        return self._queued + self._end - self._start + (self._filled if self._body is not None else 0)


def frame(payload: bytes | bytearray) -> bytes:
    return _SIZE.pack(len(payload)) + payload
