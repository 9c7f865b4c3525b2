"""Find the first record at or after a timestamp in one segment.

ListOffsets by timestamp answers with the first *record* whose timestamp is at least the
target, not the first batch. ``find_in_segment`` (``LogSegment.find_offset_by_timestamp``)
finds the batch from the indexes and batch headers alone (the first whose max timestamp
reaches the target), then looks inside that one batch:

* LogAppendTime batches: every record carries the batch's max timestamp, so the answer is the
  batch's first offset, without decoding.
* CreateTime batches are decoded (inflated first when compressed) and their records' absolute
  timestamps and offsets compared, as Kafka does.

Should a batch fail to decode, the answer falls back to batch level: the batch's first offset,
which loses nothing for a consumer that seeks there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from moldau.protocol.records.batch import BatchHeader, CorruptBatchError
from moldau.protocol.records.compression import CompressionError
from moldau.protocol.records.records import decode_records

if TYPE_CHECKING:  # segment.py calls find_in_segment
    from moldau.storage.segment import LogSegment

log = logging.getLogger(__name__)


def find_in_segment(segment: LogSegment, timestamp: int, start_offset: int) -> tuple[int, int] | None:
    """``(offset, timestamp)`` of the first record of ``segment`` at or after ``start_offset``
    whose timestamp is >= ``timestamp``, or None when the segment has none."""
    segment.ensure_indexes()
    ts_offset = segment.time_index.lookup(timestamp)[1]
    position = segment.offset_index.lookup(max(ts_offset, start_offset))[1]
    for pos, h, _ in segment.walk(position):
        if h.last_offset >= start_offset and h.max_timestamp >= timestamp:
            batch = segment.fs.pread(segment.file.descriptor(), h.size, pos) if needs_records(h) else b""
            return first_record_at_or_after(batch, h, timestamp, start_offset)
    return None


def needs_records(header: BatchHeader) -> bool:
    """Whether ``first_record_at_or_after`` must see the batch's bytes."""
    return not header.log_append_time


def first_record_at_or_after(
    batch: bytes | bytearray | memoryview, header: BatchHeader, timestamp: int, min_offset: int
) -> tuple[int, int]:
    """``(offset, timestamp)`` of the first record of ``batch`` with a timestamp >= ``timestamp``
    and an offset >= ``min_offset``. The caller has checked that the batch's max timestamp
    reaches ``timestamp`` and that its last offset reaches ``min_offset``."""
    first = max(header.base_offset, min_offset)
    if header.log_append_time:
        return first, header.max_timestamp
    try:
        for record in decode_records(batch):
            if record.timestamp >= timestamp and record.offset >= min_offset:
                return record.offset, record.timestamp
    except (CorruptBatchError, CompressionError) as e:
        log.warning("Cannot decode the batch at offset %d for a timestamp search: %s", header.base_offset, e)
    return first, header.max_timestamp
