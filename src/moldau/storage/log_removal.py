"""Removing data from a partition log: old segments from the front, records from the back.

``PartitionLog`` keeps methods of the same names that call these functions; they move its
positions (log start offset, recovery point, high watermark, log end offset) along with its
segments, and raise ``KafkaError(KAFKA_STORAGE_ERROR)`` on I/O errors as the log does.

Old segments leave the log through one path, ``delete_segments``, whether retention
(retention.py) or DeleteRecords (``delete_records_before``) removes them: their files are
renamed to ``.deleted`` and removed ``file.delete.delay.ms`` later (deletion.py). Truncation
(``truncate_to``, ``truncate_fully_and_start_at``), which cuts the newest data, deletes at
once. The cleaner replaces segments with ``replace_segments`` (see swap.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage.segment import LogSegment

if TYPE_CHECKING:  # log.py calls these functions
    from moldau.storage.log import PartitionLog

log = logging.getLogger(__name__)

HIGH_WATERMARK = -1  # DeleteRecords: "delete up to the high watermark"


def delete_records_before(plog: PartitionLog, offset: int) -> int:
    """DeleteRecords: make ``offset`` the log start offset (``HIGH_WATERMARK`` = -1 means the
    high watermark) and delete the segments that lie entirely below it. Returns the new log
    start offset (the low watermark). Raises OFFSET_OUT_OF_RANGE past the high watermark."""
    if offset == HIGH_WATERMARK:
        offset = plog.high_watermark
    if offset < 0 or offset > plog.high_watermark:
        raise KafkaError(
            ErrorCode.OFFSET_OUT_OF_RANGE,
            f"Cannot increment the log start offset to {offset} of partition {plog.name} "
            f"since it is larger than the high watermark {plog.high_watermark}",
        )
    if offset <= plog.log_start_offset:
        return plog.log_start_offset
    plog.log_start_offset = offset
    plog.recovery_point = max(plog.recovery_point, offset)
    with plog.storage_errors("deleting records of"):
        plog.epoch_cache.truncate_from_start(offset)
        if offset >= plog.log_end_offset and plog.segments.active.size > 0:
            plog.roll()
    below = plog.segments.entirely_below(offset)
    plog.delete_segments(below)
    log.info(
        "DeleteRecords moved the log start offset of %s to %d; %d segments deleted",
        plog.name,
        offset,
        len(below),
    )
    return offset


def delete_segments(plog: PartitionLog, segments: list[LogSegment], now_ms: int | None = None) -> None:
    """Remove ``segments``, the oldest of the log and never the active one, and delete their
    files in two steps (``.deleted`` now, removal after ``file.delete.delay.ms``). The log
    start offset moves up to the first remaining segment when it was below it."""
    if not segments:
        return
    if plog.segments.active in segments:
        raise ValueError("the active segment cannot be deleted; roll first")
    now_ms = plog.clock.time_ms() if now_ms is None else now_ms
    for segment in segments:
        plog.segments.remove(segment)
    first = plog.segments.first.base_offset
    if first > plog.log_start_offset:
        plog.log_start_offset = first
        plog.recovery_point = max(plog.recovery_point, first)
        plog.high_watermark = max(plog.high_watermark, first)
    with plog.storage_errors("deleting segments of"):
        plog.epoch_cache.truncate_from_start(plog.log_start_offset)
        plog.dirs_to_sync.add(plog.dir)
        for segment in segments:
            plog.deletions.schedule(segment.mark_deleted(), now_ms, plog.config.file_delete_delay_ms)
        gone = plog.producers.segments_deleted([s.base_offset for s in segments], first)
        plog.deletions.schedule(gone, now_ms, plog.config.file_delete_delay_ms)


def replace_segments(plog: PartitionLog, old: list[LogSegment], new: LogSegment) -> None:
    """Put ``new`` in the place of ``old`` (consecutive, not the active one) in memory; the
    files have been swapped already (swap.py). Offsets and positions do not change."""
    for segment in old:
        plog.segments.remove(segment)
    plog.segments.add(new)
    try:
        plog.producers.segments_replaced([s.base_offset for s in old], new.base_offset)
    except OSError as e:  # the indexes left behind are still read, and merged at start-up
        log.warning("Could not merge the transaction indexes of %s: %s", plog.name, e)


def truncate_to(plog: PartitionLog, offset: int) -> bool:
    """Remove every record at or after ``offset`` (a follower's or a recovery's truncation).
    Returns whether anything was removed."""
    if offset < 0:
        raise ValueError("cannot truncate to a negative offset")
    if offset >= plog.log_end_offset:
        return False
    if offset < plog.segments.first.base_offset:
        plog.truncate_fully_and_start_at(offset)
        return True
    with plog.storage_errors("truncating"):
        for segment in reversed(plog.segments.at_or_above(offset + 1)):
            plog.segments.remove(segment)
            segment.delete()
        plog.segments.active.truncate_to(offset)
        plog.log_end_offset = offset
        plog.log_start_offset = min(plog.log_start_offset, offset)
        plog.high_watermark = min(plog.high_watermark, offset)
        plog.recovery_point = min(plog.recovery_point, offset)
        plog.epoch_cache.truncate_from_end(offset)
        plog.producers.truncated(plog.segments, offset)
    return True


def truncate_fully_and_start_at(plog: PartitionLog, offset: int) -> None:
    """Drop every segment and start empty at ``offset``."""
    with plog.storage_errors("truncating"):
        for segment in plog.segments:
            plog.segments.remove(segment)
            segment.delete()
        plog.segments.add(LogSegment.create(plog.fs, plog.dir, offset, plog.config, plog.clock.time_ms()))
        plog.dirs_to_sync.add(plog.dir)
        plog.epoch_cache.clear()
        plog.producers.truncated_fully()
    plog.log_start_offset = plog.log_end_offset = plog.high_watermark = plog.recovery_point = offset
