"""The write side of a partition log: what an append checks, stamps and decides.

``PartitionLog.append`` owns the positions and the files; these pure functions own the rules:
which runs of batches the log accepts, how offsets, the leader epoch and LogAppendTime are
written into the batch headers (in place, in the caller's buffer, with the header objects
kept in step), and when the active segment must roll first. Nothing here does I/O except
``should_roll`` reading the active segment's first header once after a restart (see
``LogSegment.time_waited_for_roll``).
"""

from __future__ import annotations

from dataclasses import dataclass

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import (
    BatchHeader,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
)
from moldau.storage.config import LogConfig
from moldau.storage.index import INT32_MAX
from moldau.storage.producer_state import DuplicateOf
from moldau.storage.segment import LogSegment


@dataclass(frozen=True, slots=True)
class AppendInfo:
    first_offset: int
    last_offset: int
    log_append_time_ms: int  # -1 unless the batches were stamped with LogAppendTime
    log_start_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int  # last offset of the batch holding it (first offset for LogAppendTime)
    record_count: int
    size: int
    duplicate: bool = False  # a retried batch already in the log: nothing was written

    @classmethod
    def of_duplicate(cls, duplicate: DuplicateOf, log_start_offset: int) -> AppendInfo:
        """The answer to a retried batch: where it was written the first time."""
        return cls(
            first_offset=duplicate.first_offset,
            last_offset=duplicate.last_offset,
            log_append_time_ms=duplicate.timestamp,
            log_start_offset=log_start_offset,
            max_timestamp=duplicate.timestamp,
            offset_of_max_timestamp=duplicate.last_offset,
            record_count=0,
            size=0,
            duplicate=True,
        )


def check_batches(
    data: bytearray | memoryview, headers: list[tuple[int, BatchHeader]], config: LogConfig
) -> None:
    """The checks that depend on the log rather than on the batches themselves (those are
    ``validate_produce``'s): the batches lie back to back and fill ``data`` exactly
    (CORRUPT_MESSAGE), and together fit in one segment (RECORD_LIST_TOO_LARGE)."""
    expected = 0
    for pos, h in headers:
        if pos != expected:
            raise KafkaError(ErrorCode.CORRUPT_MESSAGE, f"batch at {pos} does not follow the previous one")
        expected = pos + h.size
    if not headers or expected != len(data):
        raise KafkaError(ErrorCode.CORRUPT_MESSAGE, "the data is not a run of whole batches")
    if len(data) > config.segment_bytes:
        raise KafkaError(
            ErrorCode.RECORD_LIST_TOO_LARGE,
            f"{len(data)} bytes do not fit in a segment of segment.bytes {config.segment_bytes}",
        )


def assign_offsets(
    data: bytearray | memoryview,
    headers: list[tuple[int, BatchHeader]],
    *,
    first_offset: int,
    leader_epoch: int,
    log_append_time_ms: int | None,
    log_start_offset: int,
) -> AppendInfo:
    """Give the batches consecutive offsets from ``first_offset`` and the ``leader_epoch``; with
    ``log_append_time_ms`` also mark them LogAppendTime with that time (which rewrites their
    CRC). Offsets and epoch lie outside the CRC'd range, so nothing else changes."""
    offset = first_offset
    max_ts, offset_of_max, records = -1, -1, 0
    for pos, h in headers:
        set_base_offset(data, pos, offset)
        h.base_offset = offset
        set_partition_leader_epoch(data, pos, leader_epoch)
        h.partition_leader_epoch = leader_epoch
        if log_append_time_ms is not None:
            set_log_append_time(data, pos, h, log_append_time_ms)
        if h.max_timestamp > max_ts:
            max_ts = h.max_timestamp
            offset_of_max = first_offset if log_append_time_ms is not None else h.last_offset
        records += h.records_count
        offset = h.next_offset
    return AppendInfo(
        first_offset=first_offset,
        last_offset=offset - 1,
        log_append_time_ms=-1 if log_append_time_ms is None else log_append_time_ms,
        log_start_offset=log_start_offset,
        max_timestamp=max_ts,
        offset_of_max_timestamp=offset_of_max,
        record_count=records,
        size=len(data),
    )


def should_roll(active: LogSegment, config: LogConfig, size: int, last_offset: int, now_ms: int) -> bool:
    """Whether ``size`` more bytes ending at ``last_offset`` need a new segment: the active one
    would pass ``segment.bytes``, is older than ``segment.ms`` (less its jitter), has a full
    index, or cannot express ``last_offset`` relative to its base. An empty segment rolls only
    for the last reason."""
    if last_offset - active.base_offset > INT32_MAX:
        return True
    if active.size == 0:
        return False
    return (
        active.size > config.segment_bytes - size
        or active.time_waited_for_roll(now_ms) > config.segment_ms - active.roll_jitter_ms
        or active.offset_index.is_full
        or active.time_index.is_full
    )
