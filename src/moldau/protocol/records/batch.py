"""Record batch v2 header: parse, check and patch without touching the records.

The broker keeps batches opaque on the hot path: it parses these 61 bytes, checks the CRC and
rewrites a few header fields in place. Layout (big-endian)::

    offset  size  field
         0     8  base_offset
         8     4  batch_length            bytes after this field (total size - 12)
        12     4  partition_leader_epoch
        16     1  magic                   2
        17     4  crc                     CRC-32C of bytes [21, end)
        21     2  attributes              bits 0-2 compression, 3 timestamp type,
                                          4 transactional, 5 control, 6 delete horizon
        23     4  last_offset_delta
        27     8  base_timestamp
        35     8  max_timestamp
        43     8  producer_id
        51     2  producer_epoch
        53     4  base_sequence
        57     4  records_count
        61     .  records (compressed as a whole when compression != 0)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from moldau.protocol.records.crc import crc32c
from moldau.util.datatype import datatype

HEADER_SIZE = 61
LOG_OVERHEAD = 12  # base_offset + batch_length
CRC_START = 21
MAGIC_OFFSET = 16

_HEADER = struct.Struct(">qiibIhiqqqhii")
_I64 = struct.Struct(">q")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20
DELETE_HORIZON_BIT = 0x40

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1
NO_TIMESTAMP = -1


class CorruptBatchError(ValueError):
    """A batch whose bytes are inconsistent (bad length, magic or CRC)."""


@datatype(slots=True)
class BatchHeader:
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch on disk and on the wire."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_BIT)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def parse_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Parse the header at ``pos``. Raises CorruptBatchError if the header itself is impossible
    (short buffer, magic other than 2, length smaller than a header). Does not check the CRC."""
    if len(buf) - pos < HEADER_SIZE:
        if len(buf) - pos >= MAGIC_OFFSET + 1 and buf[pos + MAGIC_OFFSET] != 2:
            raise CorruptBatchError(f"unsupported record batch magic {buf[pos + MAGIC_OFFSET]}")
        raise CorruptBatchError(f"record batch header truncated ({len(buf) - pos} bytes)")
    h = BatchHeader(*_HEADER.unpack_from(buf, pos))
    if h.magic != 2:
        raise CorruptBatchError(f"unsupported record batch magic {h.magic}")
    if h.batch_length < HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptBatchError(f"record batch length {h.batch_length} is smaller than a header")
    if h.last_offset_delta < 0 or h.records_count < 0:
        raise CorruptBatchError("record batch with negative record count or offset delta")
    return h


def crc_ok(buf: bytes | bytearray | memoryview, pos: int, h: BatchHeader) -> bool:
    end = pos + h.size
    if end > len(buf):
        return False
    mv = memoryview(buf)
    return crc32c(mv[pos + CRC_START : end]) == h.crc


def iter_headers(buf: bytes | bytearray | memoryview, pos: int = 0) -> Iterator[tuple[int, BatchHeader]]:
    """Yield ``(position, header)`` for each complete batch in ``buf``; a trailing partial batch
    ends the walk silently (as it does in a fetch response cut at max_bytes)."""
    n = len(buf)
    while n - pos >= LOG_OVERHEAD:
        length = _I32.unpack_from(buf, pos + 8)[0]
        if length < HEADER_SIZE - LOG_OVERHEAD or pos + LOG_OVERHEAD + length > n:
            return
        yield pos, parse_header(buf, pos)
        pos += LOG_OVERHEAD + length


def set_base_offset(buf: bytearray | memoryview, pos: int, offset: int) -> None:
    _I64.pack_into(buf, pos, offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    """The leader epoch sits outside the CRC'd range, so no CRC update is needed."""
    _I32.pack_into(buf, pos + 12, epoch)


def set_log_append_time(buf: bytearray | memoryview, pos: int, h: BatchHeader, timestamp: int) -> None:
    """Mark the batch LogAppendTime with ``timestamp`` as its max timestamp; recomputes the CRC."""
    attributes = h.attributes | TIMESTAMP_TYPE_BIT
    _I16.pack_into(buf, pos + CRC_START, attributes)
    _I64.pack_into(buf, pos + 35, timestamp)
    h.attributes = attributes
    h.max_timestamp = timestamp
    mv = memoryview(buf)
    h.crc = crc32c(mv[pos + CRC_START : pos + h.size])
    _U32.pack_into(buf, pos + 17, h.crc)


def unpack_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Unpack the 61 header bytes at ``pos`` without judging them. The caller has checked that
    they are present; validators use this to apply their own checks in their own order."""
    return BatchHeader(*_HEADER.unpack_from(buf, pos))


def encode_batch(h: BatchHeader, records: bytes | bytearray | memoryview) -> bytes:
    """Serialize a batch: ``h`` followed by the (already compressed) ``records`` section.

    ``h.batch_length`` and ``h.crc`` are computed here and stored back into ``h``; every other
    header field is written as given."""
    h.batch_length = HEADER_SIZE - LOG_OVERHEAD + len(records)
    out = bytearray(HEADER_SIZE)
    out += records
    h.crc = 0
    _HEADER.pack_into(out, 0, *_header_fields(h))
    h.crc = crc32c(memoryview(out)[CRC_START:])
    _U32.pack_into(out, 17, h.crc)
    return bytes(out)


def _header_fields(h: BatchHeader) -> tuple[int, ...]:
    return (
        h.base_offset,
        h.batch_length,
        h.partition_leader_epoch,
        h.magic,
        h.crc,
        h.attributes,
        h.last_offset_delta,
        h.base_timestamp,
        h.max_timestamp,
        h.producer_id,
        h.producer_epoch,
        h.base_sequence,
        h.records_count,
    )
