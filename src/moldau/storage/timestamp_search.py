"""Find the first record at or after a timestamp inside one batch.

ListOffsets by timestamp answers with the first *record* whose timestamp is at least the
target, not the first batch. The segment finds the batch from headers alone (the first whose
max timestamp reaches the target); this module then looks inside it.

* LogAppendTime batches: every record carries the batch's max timestamp, so the answer is the
  batch's first offset, exactly, without decoding.
* Uncompressed CreateTime batches: the records are walked just far enough to read each
  record's timestamp and offset deltas (the key, value and headers are skipped by length).
* Compressed CreateTime batches are answered at batch level, without decompressing: the
  batch's first offset, with its first record's timestamp when that already reaches the target
  and the batch's max timestamp otherwise. A consumer that seeks there misses nothing; it may
  see a few earlier records of the same batch first, which clients already skip by offset.

Record layout inside an uncompressed v2 batch, from byte 61 (varints are zig-zag)::

    varint   length            bytes after this field
    int8     attributes
    varlong  timestamp_delta   relative to the batch's base_timestamp
    varint   offset_delta      relative to the batch's base_offset
    ...      key, value, headers
"""

from __future__ import annotations

from moldau.protocol.primitives import DecodeError, Reader
from moldau.protocol.records.batch import HEADER_SIZE, BatchHeader


def first_record_at_or_after(
    batch: bytes | bytearray | memoryview, header: BatchHeader, timestamp: int, min_offset: int
) -> tuple[int, int]:
    """``(offset, timestamp)`` of the first record of ``batch`` with a timestamp >= ``timestamp``
    and an offset >= ``min_offset``. The caller has checked that the batch's max timestamp
    reaches ``timestamp`` and that its last offset reaches ``min_offset``."""
    first = max(header.base_offset, min_offset)
    if header.log_append_time:
        return first, header.max_timestamp
    if header.compression == 0:
        try:
            found = _scan_records(batch, header, timestamp, min_offset)
        except DecodeError:
            found = None
        if found is not None:
            return found
    if header.base_timestamp >= timestamp:
        return first, header.base_timestamp
    return first, header.max_timestamp


def _scan_records(
    batch: bytes | bytearray | memoryview, header: BatchHeader, timestamp: int, min_offset: int
) -> tuple[int, int] | None:
    reader = Reader(batch, HEADER_SIZE, header.size)
    for _ in range(header.records_count):
        length = reader.read_varint()
        start = reader.pos
        reader.read_int8()
        record_ts = header.base_timestamp + reader.read_varlong()
        record_offset = header.base_offset + reader.read_varint()
        if record_ts >= timestamp and record_offset >= min_offset:
            return record_offset, record_ts
        if length < 0 or start + length > reader.end:
            raise DecodeError("record length runs past the batch")
        reader.pos = start + length
    return None
