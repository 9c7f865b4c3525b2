"""Walking the record batches of a ``.log`` file with positioned reads.

The storage layer reads batch headers far more often than batch contents: to find the batch
that holds an offset, to find a segment's last offset, to rebuild an index. ``walk_batches``
reads the file in windows and parses the 61-byte v2 headers in memory, so a walk over small
batches costs one ``pread`` per window rather than one per batch; with ``with_data`` the window
always holds the whole batch, for CRC checks. Nothing here writes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from moldau.protocol.records.batch import (
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    CorruptBatchError,
    parse_header,
)
from moldau.util.fs import FileSystem

HEADER_WINDOW = 16 * 1024  # bytes read at a time when walking headers
DATA_WINDOW = 1024 * 1024  # bytes read at a time when checking whole batches

_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class InvalidBatch(Exception):
    """The bytes at ``position`` are not a valid batch; ``reason`` says why."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"invalid batch at position {position}: {reason}")
        self.position = position
        self.reason = reason


def read_header(fs: FileSystem, fd: int, position: int) -> BatchHeader:
    buf = fs.pread(fd, HEADER_SIZE, position)
    try:
        return parse_header(buf)
    except CorruptBatchError as e:
        raise InvalidBatch(position, str(e)) from None


def walk_batches(
    fs: FileSystem,
    fd: int,
    position: int,
    end: int,
    *,
    with_data: bool = False,
    max_batch_bytes: int | None = None,
) -> Iterator[tuple[int, BatchHeader, memoryview | None]]:
    """Yield ``(position, header, batch bytes or None)`` for each batch from ``position`` up to
    ``end``. Raises InvalidBatch at a header that does not parse, a batch that runs past
    ``end``, or one larger than ``max_batch_bytes`` (checked before its data is read)."""
    window = DATA_WINDOW if with_data else HEADER_WINDOW
    buf = b""
    buf_start = position
    while position < end:
        rel = position - buf_start
        if rel + HEADER_SIZE > len(buf):
            buf = fs.pread(fd, min(window, end - position), position)
            buf_start, rel = position, 0
        if len(buf) - rel < HEADER_SIZE:
            raise InvalidBatch(position, f"partial batch header ({end - position} bytes left)")
        try:
            h = parse_header(buf, rel)
        except CorruptBatchError as e:
            raise InvalidBatch(position, str(e)) from None
        if position + h.size > end:
            raise InvalidBatch(
                position, f"batch of {h.size} bytes runs past the end ({end - position} bytes left)"
            )
        if max_batch_bytes is not None and h.size > max_batch_bytes:
            raise InvalidBatch(
                position, f"batch of {h.size} bytes exceeds max.message.bytes {max_batch_bytes}"
            )
        data = None
        if with_data:
            if rel + h.size > len(buf):
                buf = fs.pread(fd, max(window, h.size), position)
                buf_start, rel = position, 0
            data = memoryview(buf)[rel : rel + h.size]
        yield position, h, data
        position += h.size


def find_in_window(buf: bytes | bytearray | memoryview, offset: int) -> tuple[int, BatchHeader] | None:
    """Position in ``buf`` (which starts at a batch boundary) and header of the first batch
    whose last offset is >= ``offset``; None when ``buf`` runs out, or holds a header that does
    not parse, before it (the caller walks the file instead, which reports what is wrong)."""
    rel, n = 0, len(buf)
    while rel + HEADER_SIZE <= n:
        try:
            h = parse_header(buf, rel)
        except CorruptBatchError:
            return None
        if h.last_offset >= offset:
            return rel, h
        rel += h.size
    return None


def whole_batches_length(buf: bytes | bytearray | memoryview) -> int:
    """Length of the longest prefix of ``buf`` made of whole batches (by their length fields)."""
    position, n = 0, len(buf)
    while n - position >= LOG_OVERHEAD:
        end = position + LOG_OVERHEAD + _I32.unpack_from(buf, position + 8)[0]
        if end > n or end <= position + LOG_OVERHEAD:
            break
        position = end
    return position


def next_offset_after(data: bytes | memoryview) -> int:
    """The offset after the last of the whole batches in ``data`` (not empty). Only the length
    fields are read on the way, then the last header's offsets."""
    position = last = 0
    while position + LOG_OVERHEAD <= len(data):
        last = position
        position += LOG_OVERHEAD + _I32.unpack_from(data, position + 8)[0]
    base_offset, last_offset_delta = _I64.unpack_from(data, last)[0], _I32.unpack_from(data, last + 23)[0]
    return int(base_offset + last_offset_delta + 1)
