"""The read side of a partition log, across its segments.

``PartitionLog`` checks offsets against its own positions and turns I/O errors into Kafka
errors; these functions do the walking: which segments to visit, where to stop in each, how
much to take. They read, never write, and raise ``OSError`` / ``InvalidBatch`` as the
segments do. ``FetchData`` and ``OffsetAndTimestamp`` are what ``PartitionLog`` answers reads
and timestamp lookups with.
"""

from __future__ import annotations

from typing import NamedTuple

from moldau.storage.segment import LogSegment
from moldau.storage.segments import LogSegments
from moldau.util.datatype import datatype


@datatype(frozen=True, slots=True)
class FetchData:
    data: bytes | memoryview  # whole batches; empty when there is nothing to return
    high_watermark: int
    log_start_offset: int
    log_end_offset: int


class OffsetAndTimestamp(NamedTuple):
    offset: int
    timestamp: int


def read_batches(
    segments: LogSegments, offset: int, max_bytes: int, *, limit: int, log_end: int, min_one: bool
) -> bytes | memoryview:
    """Whole batches from the one holding ``offset`` up to (not including) the batch holding
    ``limit``, at most ``max_bytes`` of them unless the first alone is larger and ``min_one``.
    Continues into the following segments while room is left, so one fetch is not cut short
    by a segment boundary."""
    chunks: list[bytes | memoryview] = []
    remaining, first = max_bytes, min_one
    for segment in segments.from_offset(offset):
        if segment.base_offset >= limit or (remaining <= 0 and not first):
            break
        max_position = _position_limit(segments, segment, limit, log_end)
        got = segment.read(max(offset, segment.base_offset), remaining, max_position, min_one=first)
        if got is None:
            continue  # no batch of this segment reaches the offset: try the next one
        if not got.data:
            break
        chunks.append(got.data)
        remaining -= len(got.data)
        first = False
        if got.position + len(got.data) < (segment.size if max_position is None else max_position):
            break  # stopped inside this segment: max_bytes is used up
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _position_limit(segments: LogSegments, segment: LogSegment, limit: int, log_end: int) -> int | None:
    """The position in ``segment`` where offsets >= ``limit`` start; None when the whole
    segment is below ``limit``."""
    following = segments.following(segment)
    if limit >= (log_end if following is None else following.base_offset):
        return None
    found = segment.translate_offset(limit)
    return segment.size if found is None else found[0]


def find_by_timestamp(
    segments: LogSegments, timestamp: int, *, log_start: int, limit: int
) -> tuple[int, int] | None:
    """``(offset, timestamp)`` of the first record in [``log_start``, ``limit``) whose timestamp
    is >= ``timestamp``: the first segment whose largest timestamp reaches it, then that
    segment's time index and batch headers, then the records of one batch."""
    for segment in segments.from_offset(log_start):
        if segment.base_offset >= limit:
            break
        if segment.largest_timestamp >= timestamp:
            found = segment.find_offset_by_timestamp(timestamp, log_start)
            if found is not None:
                return found if found[0] < limit else None
    return None


def find_max_timestamp(segments: LogSegments, *, log_start: int) -> tuple[int, int] | None:
    """``(offset, timestamp)`` of the first record carrying the largest timestamp at or after
    ``log_start``. Each segment knows its largest timestamp without reading data; only the
    winning segment is searched."""
    best, best_ts = None, -1
    for segment in segments.from_offset(log_start):
        if segment.largest_timestamp > best_ts:
            best, best_ts = segment, segment.largest_timestamp
    if best is None:
        return None
    return best.find_offset_by_timestamp(best_ts, log_start)
