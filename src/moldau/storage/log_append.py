"""The write side of a partition log: appending, and what an append checks, stamps and decides.

``append`` and ``append_control`` (``PartitionLog``'s methods of the same names call them)
move the log's positions, the producer state and the files. The pure functions below them
own the rules: which runs of batches the log accepts, how offsets, the leader epoch and
LogAppendTime are written into the batch headers (in place, in the caller's buffer, with the
header objects kept in step), and when the active segment must roll first. Of those only
``should_roll`` does I/O, reading the active segment's first header once after a restart
(see ``LogSegment.time_waited_for_roll``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import (
    BatchHeader,
    iter_headers,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
)
from moldau.storage.config import LogConfig
from moldau.storage.index import INT32_MAX
from moldau.storage.producer_state import AppendOrigin, DuplicateOf
from moldau.storage.segment import LogSegment
from moldau.util.datatype import datatype

if TYPE_CHECKING:  # log.py calls append and append_control
    from moldau.storage.log import PartitionLog

log = logging.getLogger(__name__)


@datatype(frozen=True, slots=True)
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


def append(
    plog: PartitionLog,
    data: bytearray | memoryview,
    headers: list[tuple[int, BatchHeader]],
    *,
    leader_epoch: int,
    now_ms: int,
    log_append_time: bool | None = None,
    origin: AppendOrigin = AppendOrigin.CLIENT,
    supports_epoch_bump: bool = False,
    transaction_version: int = 0,
) -> AppendInfo:
    """Append whole v2 batches to ``plog`` as a leader. ``data`` holds the batches back to back
    and ``headers`` each batch's position in it and parsed header; both are updated in place
    with the assigned offsets, ``leader_epoch`` and, when ``log_append_time`` (default: the
    topic's ``message.timestamp.type``), LogAppendTime ``now_ms``.

    The batches have been through the produce validation (``validate_produce``: CRC,
    ``max.message.bytes``, timestamps); the log checks only what depends on itself: that the
    batches are contiguous (CORRUPT_MESSAGE) and fit in a segment (RECORD_LIST_TOO_LARGE), and
    the producer state of batches with a producer id (producer_state.py: sequences and epochs
    as ``origin`` demands, with ``supports_epoch_bump`` and ``transaction_version`` as the
    transaction coordinator verified them). A retried batch already in the log is not written
    again: the answer carries its original offsets and ``duplicate`` (and, as Kafka answers,
    its max timestamp as ``log_append_time_ms``). I/O errors raise KAFKA_STORAGE_ERROR. On any
    error nothing was appended."""
    if plog.failed is not None:
        raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"log {plog.name} is offline: {plog.failed}")
    config = plog.config
    check_batches(data, headers, config)
    stamp = config.log_append_time if log_append_time is None else log_append_time
    pending = None
    if any(h.producer_id >= 0 for _, h in headers):
        prepared = plog.producers.prepare(
            data,
            headers,
            first_offset=plog.log_end_offset,
            log_append_time_ms=now_ms if stamp else None,
            origin=origin,
            supports_epoch_bump=supports_epoch_bump,
            transaction_version=transaction_version,
        )
        if isinstance(prepared, DuplicateOf):
            return AppendInfo.of_duplicate(prepared, plog.log_start_offset)
        pending = prepared
    info = assign_offsets(
        data,
        headers,
        first_offset=plog.log_end_offset,
        leader_epoch=leader_epoch,
        log_append_time_ms=now_ms if stamp else None,
        log_start_offset=plog.log_start_offset,
    )
    with plog.storage_errors("appending to"):
        if leader_epoch >= 0:
            plog.epoch_cache.assign(leader_epoch, info.first_offset)
        segment = plog.segments.active
        if should_roll(segment, config, info.size, info.last_offset, now_ms):
            segment = plog.roll(now_ms)
        indexed = plog.producers.index_aborts(pending, segment.base_offset) if pending else []
        try:
            segment.append(data, headers, now_ms)
        except BaseException:
            _undo_index(plog, segment, indexed)
            raise
        plog.log_end_offset = info.last_offset + 1
        if plog.high_watermark_follows_log_end:
            plog.high_watermark = plog.log_end_offset
        if pending is not None:
            plog.producers.complete(pending)
        plog.unflushed_messages += info.record_count
        plog.maybe_flush(now_ms)
    return info


def _undo_index(plog: PartitionLog, segment: LogSegment, positions: list[int]) -> None:
    """Take back the transaction index entries of markers whose write failed; if that fails
    too, an entry would name a marker that is not there: the log goes offline."""
    try:
        plog.producers.undo_index(segment.base_offset, positions)
    except OSError as e:
        plog.failed = f"a transaction index entry of a failed append could not be removed: {e}"
        log.error("%s: %s", plog.name, plog.failed)


def append_control(
    plog: PartitionLog,
    batch: bytes | bytearray,
    *,
    leader_epoch: int,
    now_ms: int | None = None,
    transaction_version: int = 0,
) -> AppendInfo:
    """Append one end-transaction marker batch (``control.build_end_txn_marker``) for the
    transaction coordinator's WriteTxnMarkers. Its producer epoch and coordinator epoch are
    checked against the producer's state (INVALID_PRODUCER_EPOCH,
    TRANSACTION_COORDINATOR_FENCED, the rule depending on ``transaction_version``); it ends
    the producer's open transaction here, and an ABORT is added to the transaction index.
    Anything but one marker batch is INVALID_RECORD."""
    data = bytearray(batch)
    headers = list(iter_headers(data))
    if len(headers) != 1 or headers[0][0] != 0 or headers[0][1].size != len(data):
        raise KafkaError(ErrorCode.INVALID_RECORD, "a marker append holds exactly one batch")
    h = headers[0][1]
    if not h.is_control or not h.is_transactional or h.producer_id < 0 or h.records_count != 1:
        raise KafkaError(ErrorCode.INVALID_RECORD, "not an end-transaction marker batch")
    return plog.append(
        data,
        headers,
        leader_epoch=leader_epoch,
        now_ms=plog.clock.time_ms() if now_ms is None else now_ms,
        origin=AppendOrigin.COORDINATOR,
        transaction_version=transaction_version,
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
