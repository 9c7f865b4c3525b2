"""The log of one partition: ordered segments plus the offsets that describe them.

A ``PartitionLog`` owns the directory ``<log dir>/<topic>-<partition>/``::

    00000000000000000000.log / .index / .timeindex   segments, see segment.py
    00000000000000000000.snapshot / .txnindex          producer state, see producer_store.py
    leader-epoch-checkpoint                            see checkpoints.py / epoch_cache.py
    partition.metadata                                 the topic id, see checkpoints.py

and keeps these positions, all offsets::

    log_start_offset  first offset a consumer may read (moved by DeleteRecords and retention)
    recovery_point    everything below is known to be on disk (fsynced)
    high_watermark    last offset + 1 that consumers may see
    log_end_offset    the offset the next appended record gets
    last_stable_offset  first offset of the earliest open transaction, at most the high
                      watermark: what read_committed consumers may see (producer_state.py)

    log_start_offset <= last_stable_offset <= high_watermark <= log_end_offset,
    recovery_point <= log_end_offset

On a single node the high watermark follows the log end offset after each append
(``high_watermark_follows_log_end``); a replicated partition turns that off and moves it with
``update_high_watermark`` as followers catch up.

Every call is synchronous and cheap: an append is one ``pwrite`` (plus an index entry every
``index.interval.bytes``), a read is an index lookup, a short header walk and one ``pread``.
The log never fsyncs on its own except as ``flush.messages`` / ``flush.ms`` demand; rolled
segments are fsynced when the owner calls ``flush_rolled`` (the log manager does, off the hot
path). I/O errors surface as ``KafkaError(KAFKA_STORAGE_ERROR)``; a failed append leaves the
log exactly as it was, so it stays readable, and the next append tries again (a full disk
refuses appends until space is freed, then they succeed). Only a failed fsync takes the log
offline (``failed``) until a restart: the kernel may have dropped the pages it could not
write. The owner is one event loop: no locks.

Old segments leave the log through one path, ``delete_segments``, whether retention
(retention.py) or DeleteRecords (``delete_records_before``) removes them: their files are
renamed to ``.deleted`` and removed ``file.delete.delay.ms`` later (deletion.py). Truncation,
which cuts the newest data, deletes at once. The cleaner replaces segments with
``replace_segments`` (see swap.py).
"""

from __future__ import annotations

import logging
import os
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import LOG_OVERHEAD, BatchHeader, iter_headers
from moldau.storage.batch_reader import InvalidBatch
from moldau.storage.checkpoints import (
    LEADER_EPOCH_CHECKPOINT,
    PARTITION_METADATA,
    read_partition_metadata,
    write_partition_metadata,
)
from moldau.storage.config import LogConfig
from moldau.storage.deletion import DelayedDeletions
from moldau.storage.epoch_cache import LeaderEpochCache
from moldau.storage.log_append import AppendInfo, assign_offsets, check_batches, should_roll
from moldau.storage.log_read import find_by_timestamp, find_max_timestamp, read_batches
from moldau.storage.producer_state import (
    DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    AppendOrigin,
    DuplicateOf,
    ProducerStateManager,
)
from moldau.storage.producer_store import ProducerStateStore
from moldau.storage.recovery import LoadedLog, load_segments
from moldau.storage.segment import LogSegment
from moldau.storage.segments import LogSegments
from moldau.util.clock import Clock
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

DELETE_DIR_SUFFIX = "-delete"
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
HIGH_WATERMARK = -1  # DeleteRecords: "delete up to the high watermark"


@dataclass(frozen=True, slots=True)
class FetchData:
    data: bytes | memoryview  # whole batches; empty when there is nothing to return
    high_watermark: int
    log_start_offset: int
    log_end_offset: int


class OffsetAndTimestamp(NamedTuple):
    offset: int
    timestamp: int


def partition_dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def parse_partition_dir_name(name: str) -> tuple[str, int] | None:
    """``(topic, partition)`` for a directory named ``<topic>-<partition>``, else None."""
    topic, sep, number = name.rpartition("-")
    if not sep or not topic or not number.isdigit():
        return None
    return topic, int(number)


def next_offset_after(data: bytes | memoryview) -> int:
    """The offset after the last of the whole batches in ``data`` (not empty). Only the length
    fields are read on the way, then the last header's offsets."""
    position = last = 0
    while position + LOG_OVERHEAD <= len(data):
        last = position
        position += LOG_OVERHEAD + _I32.unpack_from(data, position + 8)[0]
    base_offset, last_offset_delta = _I64.unpack_from(data, last)[0], _I32.unpack_from(data, last + 23)[0]
    return int(base_offset + last_offset_delta + 1)


class PartitionLog:
    """See the module docstring. Build with ``PartitionLog.create`` or ``PartitionLog.open``."""

    def __init__(
        self,
        fs: FileSystem,
        directory: str,
        topic: str,
        partition: int,
        topic_id: uuid.UUID | None,
        config: LogConfig,
        clock: Clock,
        loaded: LoadedLog,
    ) -> None:
        self.fs = fs
        self.dir = directory
        self.topic = topic
        self.partition = partition
        self.topic_id = topic_id
        self.config = config
        self.clock = clock
        self.segments = loaded.segments
        self.log_start_offset = loaded.log_start_offset
        self.log_end_offset = loaded.log_end_offset
        self.recovery_point = loaded.recovery_point
        self.high_watermark = loaded.log_end_offset
        self.high_watermark_follows_log_end = True
        self.epoch_cache = LeaderEpochCache(fs, os.path.join(directory, LEADER_EPOCH_CHECKPOINT))
        self.failed: str | None = None  # why appends are refused, after an unrecoverable I/O error
        self.producers = ProducerStateStore(fs, directory, partition_dir_name(topic, partition))
        self.deletions = DelayedDeletions(fs)  # the log manager hands every log its shared one
        self._dirs_to_sync: set[str] = set()  # directories with entries created since the last flush
        self._unflushed_messages = 0
        self._last_flush_ms = clock.time_ms()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        fs: FileSystem,
        log_dir: str,
        topic: str,
        partition: int,
        topic_id: uuid.UUID | None,
        config: LogConfig,
        clock: Clock,
    ) -> PartitionLog:
        """A new empty log in a new directory under ``log_dir``."""
        directory = os.path.join(log_dir, partition_dir_name(topic, partition))
        try:
            fs.makedirs(directory)
            if topic_id is not None:
                write_partition_metadata(fs, os.path.join(directory, PARTITION_METADATA), topic_id)
            segments = LogSegments()
            segments.add(LogSegment.create(fs, directory, 0, config, clock.time_ms()))
        except OSError as e:
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"cannot create log {directory}: {e}") from e
        plog = cls(fs, directory, topic, partition, topic_id, config, clock, LoadedLog(segments, 0, 0, 0))
        plog._dirs_to_sync.update((log_dir, directory))
        return plog

    @classmethod
    def open(
        cls,
        fs: FileSystem,
        log_dir: str,
        topic: str,
        partition: int,
        config: LogConfig,
        clock: Clock,
        *,
        topic_id: uuid.UUID | None = None,
        log_start_offset: int = 0,
        recovery_point: int = 0,
        clean_shutdown: bool = False,
    ) -> PartitionLog:
        """Open an existing directory, recovering it as recovery.py describes. When ``topic_id``
        is given it must match ``partition.metadata`` (written if missing), else
        ``KafkaError(INCONSISTENT_TOPIC_ID)``."""
        directory = os.path.join(log_dir, partition_dir_name(topic, partition))
        metadata_path = os.path.join(directory, PARTITION_METADATA)
        try:
            stored_id = read_partition_metadata(fs, metadata_path)
            if topic_id is not None and stored_id is not None and stored_id != topic_id:
                raise KafkaError(
                    ErrorCode.INCONSISTENT_TOPIC_ID,
                    f"{directory} belongs to topic id {stored_id}, expected {topic_id}",
                )
            if topic_id is not None and stored_id is None:
                write_partition_metadata(fs, metadata_path, topic_id)
            loaded = load_segments(
                fs,
                directory,
                config,
                clock.time_ms(),
                log_start_offset=log_start_offset,
                recovery_point=recovery_point,
                clean_shutdown=clean_shutdown,
            )
            plog = cls(fs, directory, topic, partition, topic_id or stored_id, config, clock, loaded)
            plog.epoch_cache.truncate_from_end(plog.log_end_offset)
            plog.epoch_cache.truncate_from_start(plog.log_start_offset)
            plog.producers.load(
                plog.segments,
                log_end=plog.log_end_offset,
                recovery_point=plog.recovery_point,
                clean_shutdown=clean_shutdown,
            )
        except (OSError, InvalidBatch, ValueError) as e:
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"cannot open log {directory}: {e}") from e
        return plog

    @contextmanager
    def _storage_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (OSError, InvalidBatch) as e:
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"{action} {self.name} failed: {e}") from e

    @property
    def name(self) -> str:
        return partition_dir_name(self.topic, self.partition)

    # -- appending ---------------------------------------------------------------------------

    def append(
        self,
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
        """Append whole v2 batches as a leader. ``data`` holds the batches back to back and
        ``headers`` each batch's position in it and parsed header; both are updated in place
        with the assigned offsets, ``leader_epoch`` and, when ``log_append_time`` (default: the
        topic's ``message.timestamp.type``), LogAppendTime ``now_ms``.

        The batches have been through the produce validation (``validate_produce``: CRC,
        ``max.message.bytes``, timestamps); the log checks only what depends on itself: that
        the batches are contiguous (CORRUPT_MESSAGE) and fit in a segment
        (RECORD_LIST_TOO_LARGE), and the producer state of batches with a producer id
        (producer_state.py: sequences and epochs as ``origin`` demands, with
        ``supports_epoch_bump`` and ``transaction_version`` as the transaction coordinator
        verified them). A retried batch already in the log is not written again: the answer
        carries its original offsets and ``duplicate`` (and, as Kafka answers, its max timestamp
        as ``log_append_time_ms``). I/O errors raise KAFKA_STORAGE_ERROR. On any error nothing
        was appended."""
        if self.failed is not None:
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"log {self.name} is offline: {self.failed}")
        config = self.config
        check_batches(data, headers, config)
        stamp = config.log_append_time if log_append_time is None else log_append_time
        pending = None
        if any(h.producer_id >= 0 for _, h in headers):
            prepared = self.producers.prepare(
                data,
                headers,
                first_offset=self.log_end_offset,
                log_append_time_ms=now_ms if stamp else None,
                origin=origin,
                supports_epoch_bump=supports_epoch_bump,
                transaction_version=transaction_version,
            )
            if isinstance(prepared, DuplicateOf):
                return AppendInfo.of_duplicate(prepared, self.log_start_offset)
            pending = prepared
        info = assign_offsets(
            data,
            headers,
            first_offset=self.log_end_offset,
            leader_epoch=leader_epoch,
            log_append_time_ms=now_ms if stamp else None,
            log_start_offset=self.log_start_offset,
        )
        with self._storage_errors("appending to"):
            if leader_epoch >= 0:
                self.epoch_cache.assign(leader_epoch, info.first_offset)
            segment = self.segments.active
            if should_roll(segment, config, info.size, info.last_offset, now_ms):
                segment = self.roll(now_ms)
            indexed = self.producers.index_aborts(pending, segment.base_offset) if pending else []
            try:
                segment.append(data, headers, now_ms)
            except BaseException:
                self._undo_index(segment, indexed)
                raise
            self.log_end_offset = info.last_offset + 1
            if self.high_watermark_follows_log_end:
                self.high_watermark = self.log_end_offset
            if pending is not None:
                self.producers.complete(pending)
            self._unflushed_messages += info.record_count
            self.maybe_flush(now_ms)
        return info

    def _undo_index(self, segment: LogSegment, positions: list[int]) -> None:
        """Take back the transaction index entries of markers whose write failed; if that
        fails too, an entry would name a marker that is not there: the log goes offline."""
        try:
            self.producers.undo_index(segment.base_offset, positions)
        except OSError as e:
            self.failed = f"a transaction index entry of a failed append could not be removed: {e}"
            log.error("%s: %s", self.name, self.failed)

    def roll(self, now_ms: int | None = None) -> LogSegment:
        """Start a new active segment at the log end offset (a no-op when the active segment is
        empty and already starts there)."""
        now_ms = self.clock.time_ms() if now_ms is None else now_ms
        active = self.segments.active
        base = self.log_end_offset
        if active.base_offset == base and active.size == 0:
            return active
        with self._storage_errors("rolling"):
            active.finalize_time_index()
            segment = LogSegment.create(self.fs, self.dir, base, self.config, now_ms)
            self.segments.add(segment)
            self._dirs_to_sync.add(self.dir)
            self.producers.take_snapshot(base)
            if active.size == 0:  # an empty segment below the log end holds nothing: drop it
                self.segments.remove(active)
                active.delete()
        log.debug("Rolled %s to a new segment at offset %d", self.name, base)
        return segment

    def append_control(
        self,
        batch: bytes | bytearray,
        *,
        leader_epoch: int,
        now_ms: int | None = None,
        transaction_version: int = 0,
    ) -> AppendInfo:
        """Append one end-transaction marker batch (``control.build_end_txn_marker``) for the
        transaction coordinator's WriteTxnMarkers. Its producer epoch and coordinator epoch are
        checked against the producer's state (INVALID_PRODUCER_EPOCH,
        TRANSACTION_COORDINATOR_FENCED, the rule depending on ``transaction_version``); it
        ends the producer's open transaction here, and an ABORT is added to the transaction
        index. Anything but one marker batch is INVALID_RECORD."""
        data = bytearray(batch)
        headers = list(iter_headers(data))
        if len(headers) != 1 or headers[0][0] != 0 or headers[0][1].size != len(data):
            raise KafkaError(ErrorCode.INVALID_RECORD, "a marker append holds exactly one batch")
        h = headers[0][1]
        if not h.is_control or not h.is_transactional or h.producer_id < 0 or h.records_count != 1:
            raise KafkaError(ErrorCode.INVALID_RECORD, "not an end-transaction marker batch")
        return self.append(
            data,
            headers,
            leader_epoch=leader_epoch,
            now_ms=self.clock.time_ms() if now_ms is None else now_ms,
            origin=AppendOrigin.COORDINATOR,
            transaction_version=transaction_version,
        )

    # -- transactions ------------------------------------------------------------------------

    @property
    def producer_state(self) -> ProducerStateManager:
        return self.producers.state

    @property
    def last_stable_offset(self) -> int:
        """The first offset read_committed consumers may not see (see the module docstring)."""
        return self.producers.state.last_stable_offset(self.high_watermark)

    def aborted_transactions(self, fetch_offset: int, upper_bound_offset: int) -> list[tuple[int, int]]:
        """``(producer id, first offset)`` of the aborted transactions whose data may lie in
        [``fetch_offset``, ``upper_bound_offset``), for a read_committed Fetch response."""
        with self._storage_errors("reading the transaction index of"):
            txns = self.producers.aborted_transactions(self.segments, fetch_offset, upper_bound_offset)
        return [(t.producer_id, t.first_offset) for t in txns]

    def read_committed(
        self, offset: int, max_bytes: int, *, min_one: bool = True
    ) -> tuple[FetchData, list[tuple[int, int]]]:
        """A read_committed fetch: ``read`` up to the last stable offset, and the aborted
        transactions of what it returned."""
        fetched = self.read(offset, max_bytes, max_offset=self.last_stable_offset, min_one=min_one)
        if not fetched.data or self.producers.txn_indexes.empty:
            return fetched, []
        return fetched, self.aborted_transactions(offset, next_offset_after(fetched.data))

    def remove_expired_producers(
        self, now_ms: int, expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS
    ) -> int:
        """Forget producers idle for ``producer.id.expiration.ms`` (none with an open
        transaction); returns how many."""
        return len(self.producers.state.remove_expired(now_ms, expiration_ms))

    # -- reading -----------------------------------------------------------------------------

    def read(
        self, offset: int, max_bytes: int, *, max_offset: int | None = None, min_one: bool = True
    ) -> FetchData:
        """Whole batches from the one holding ``offset``: at most ``max_bytes`` of them, except
        that with ``min_one`` the first batch is returned whole however large (Kafka's rule, so
        a consumer always progresses), and none holding offsets >= ``max_offset`` (exclusive,
        e.g. the high watermark). Reading may continue into later segments. Raises KafkaError
        OFFSET_OUT_OF_RANGE outside [log start, log end]; at the log end the data is empty."""
        start, end = self.log_start_offset, self.log_end_offset
        if offset < start or offset > end:
            raise KafkaError(
                ErrorCode.OFFSET_OUT_OF_RANGE,
                f"offset {offset} is out of range for {self.name}: log start {start}, log end {end}",
            )
        limit = end if max_offset is None else min(max_offset, end)
        data: bytes | memoryview = b""
        if offset < limit:
            with self._storage_errors("reading"):
                data = read_batches(
                    self.segments, offset, max_bytes, limit=limit, log_end=end, min_one=min_one
                )
        return FetchData(data, self.high_watermark, self.log_start_offset, self.log_end_offset)

    def offset_for_timestamp(
        self, timestamp: int, *, max_offset: int | None = None
    ) -> OffsetAndTimestamp | None:
        """The first record at or after the log start whose timestamp is >= ``timestamp``
        (ListOffsets by time), or None when there is none below ``max_offset`` (default: the
        log end). Reads the time index, batch headers, and the records of the one batch that
        holds the answer (see timestamp_search.py)."""
        if timestamp < 0:
            raise ValueError("special ListOffsets timestamps are answered by earliest()/latest()")
        limit = self.log_end_offset if max_offset is None else max_offset
        with self._storage_errors("searching"):
            found = find_by_timestamp(self.segments, timestamp, log_start=self.log_start_offset, limit=limit)
        return None if found is None else OffsetAndTimestamp(*found)

    def max_timestamp_offset(self) -> OffsetAndTimestamp | None:
        """The first record with the largest timestamp (ListOffsets MAX_TIMESTAMP); None when no
        record at or after the log start has a timestamp."""
        with self._storage_errors("searching"):
            found = find_max_timestamp(self.segments, log_start=self.log_start_offset)
        return None if found is None else OffsetAndTimestamp(*found)

    def earliest(self) -> OffsetAndTimestamp:
        return OffsetAndTimestamp(self.log_start_offset, -1)

    def latest(self) -> OffsetAndTimestamp:
        """The log end offset. ListOffsets LATEST answers with the high watermark (the last
        stable offset for read_committed); that clamp is the caller's."""
        return OffsetAndTimestamp(self.log_end_offset, -1)

    def size_in_bytes(self) -> int:
        return self.segments.size_in_bytes()

    # -- offsets and leader epochs -----------------------------------------------------------

    def update_high_watermark(self, offset: int) -> int:
        """Set the high watermark, clamped to [log start, log end]; returns the value set."""
        self.high_watermark = min(max(offset, self.log_start_offset), self.log_end_offset)
        return self.high_watermark

    @property
    def leader_epoch(self) -> int:
        """The latest leader epoch in the cache (-1 when none)."""
        return self.epoch_cache.latest_epoch

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        with self._storage_errors("recording a leader epoch of"):
            self.epoch_cache.assign(epoch, start_offset)

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """``(epoch, end offset)`` as OffsetForLeaderEpoch answers; ``(-1, -1)`` when unknown."""
        return self.epoch_cache.end_offset_for(epoch, self.log_end_offset)

    def epoch_for_offset(self, offset: int) -> int:
        return self.epoch_cache.epoch_for_offset(offset)

    # -- removing data -----------------------------------------------------------------------

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: make ``offset`` the log start offset (``HIGH_WATERMARK`` = -1 means the
        high watermark) and delete the segments that lie entirely below it. Returns the new
        log start offset (the low watermark). Raises OFFSET_OUT_OF_RANGE past the high
        watermark."""
        if offset == HIGH_WATERMARK:
            offset = self.high_watermark
        if offset < 0 or offset > self.high_watermark:
            raise KafkaError(
                ErrorCode.OFFSET_OUT_OF_RANGE,
                f"cannot delete records of {self.name} before {offset}: "
                f"the high watermark is {self.high_watermark}",
            )
        if offset <= self.log_start_offset:
            return self.log_start_offset
        self.log_start_offset = offset
        self.recovery_point = max(self.recovery_point, offset)
        with self._storage_errors("deleting records of"):
            self.epoch_cache.truncate_from_start(offset)
            if offset >= self.log_end_offset and self.segments.active.size > 0:
                self.roll()
        below = self.segments.entirely_below(offset)
        self.delete_segments(below)
        log.info(
            "DeleteRecords moved the log start offset of %s to %d; %d segments deleted",
            self.name,
            offset,
            len(below),
        )
        return offset

    def delete_segments(self, segments: list[LogSegment], now_ms: int | None = None) -> None:
        """Remove ``segments``, the oldest of the log and never the active one, and delete their
        files in two steps (``.deleted`` now, removal after ``file.delete.delay.ms``). The log
        start offset moves up to the first remaining segment when it was below it."""
        if not segments:
            return
        if self.segments.active in segments:
            raise ValueError("the active segment cannot be deleted; roll first")
        now_ms = self.clock.time_ms() if now_ms is None else now_ms
        for segment in segments:
            self.segments.remove(segment)
        first = self.segments.first.base_offset
        if first > self.log_start_offset:
            self.log_start_offset = first
            self.recovery_point = max(self.recovery_point, first)
            self.high_watermark = max(self.high_watermark, first)
        with self._storage_errors("deleting segments of"):
            self.epoch_cache.truncate_from_start(self.log_start_offset)
            self._dirs_to_sync.add(self.dir)
            for segment in segments:
                self.deletions.schedule(segment.mark_deleted(), now_ms, self.config.file_delete_delay_ms)
            gone = self.producers.segments_deleted([s.base_offset for s in segments], first)
            self.deletions.schedule(gone, now_ms, self.config.file_delete_delay_ms)

    def replace_segments(self, old: list[LogSegment], new: LogSegment) -> None:
        """Put ``new`` in the place of ``old`` (consecutive, not the active one) in memory; the
        files have been swapped already (swap.py). Offsets and positions do not change."""
        for segment in old:
            self.segments.remove(segment)
        self.segments.add(new)
        try:
            self.producers.segments_replaced([s.base_offset for s in old], new.base_offset)
        except OSError as e:  # the indexes left behind are still read, and merged at start-up
            log.warning("Could not merge the transaction indexes of %s: %s", self.name, e)

    def truncate_to(self, offset: int) -> bool:
        """Remove every record at or after ``offset`` (a follower's or a recovery's truncation).
        Returns whether anything was removed."""
        if offset < 0:
            raise ValueError("cannot truncate to a negative offset")
        if offset >= self.log_end_offset:
            return False
        if offset < self.segments.first.base_offset:
            self.truncate_fully_and_start_at(offset)
            return True
        with self._storage_errors("truncating"):
            for segment in reversed(self.segments.at_or_above(offset + 1)):
                self.segments.remove(segment)
                segment.delete()
            self.segments.active.truncate_to(offset)
            self.log_end_offset = offset
            self.log_start_offset = min(self.log_start_offset, offset)
            self.high_watermark = min(self.high_watermark, offset)
            self.recovery_point = min(self.recovery_point, offset)
            self.epoch_cache.truncate_from_end(offset)
            self.producers.truncated(self.segments, offset)
        return True

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Drop every segment and start empty at ``offset``."""
        with self._storage_errors("truncating"):
            for segment in self.segments:
                self.segments.remove(segment)
                segment.delete()
            self.segments.add(LogSegment.create(self.fs, self.dir, offset, self.config, self.clock.time_ms()))
            self._dirs_to_sync.add(self.dir)
            self.epoch_cache.clear()
            self.producers.truncated_fully()
        self.log_start_offset = self.log_end_offset = self.high_watermark = self.recovery_point = offset

    # -- durability and lifecycle ------------------------------------------------------------

    def maybe_flush(self, now_ms: int) -> None:
        """fsync when ``flush.messages`` records were appended or ``flush.ms`` passed since the
        last flush."""
        config = self.config
        if self.recovery_point >= self.log_end_offset:
            return
        if (
            self._unflushed_messages >= config.flush_interval_messages
            or now_ms - self._last_flush_ms >= config.flush_interval_ms
        ):
            self.flush()

    def flush_rolled(self) -> None:
        """fsync the segments that are no longer active but not yet flushed (Kafka flushes a
        segment in the background once it rolls; the owner calls this off the hot path)."""
        active_base = self.segments.active.base_offset
        if self.recovery_point < active_base:
            self.flush(active_base)

    def flush(self, offset: int | None = None) -> None:
        """fsync the segments holding offsets below ``offset`` (default: everything) that may
        not be on disk yet, and move the recovery point there."""
        target = self.log_end_offset if offset is None else min(offset, self.log_end_offset)
        with self._storage_errors("flushing"):
            try:
                for segment in self.segments.from_offset(self.recovery_point):
                    if segment.base_offset >= target and segment.base_offset > self.recovery_point:
                        break
                    segment.flush()
                if self.producers.flush(target):
                    self._dirs_to_sync.add(self.dir)
                while self._dirs_to_sync:
                    self.fs.fsync_dir(self._dirs_to_sync.pop())
            except OSError as e:
                self.failed = f"fsync failed: {e}"
                raise
        self.recovery_point = max(self.recovery_point, target)
        if target >= self.log_end_offset:
            self._unflushed_messages = 0
        self._last_flush_ms = self.clock.time_ms()

    def set_config(self, config: LogConfig) -> None:
        """Use ``config`` from the next operation on."""
        self.config = config
        self.segments.active.index_interval_bytes = config.index_interval_bytes

    def close(self) -> None:
        """Flush everything and release the files. The log is unusable afterwards."""
        with self._storage_errors("closing"):
            self.segments.active.finalize_time_index()
            self.flush()
            self.producers.snapshot_for_close(self.log_end_offset)
            for segment in self.segments:
                segment.close()

    def delete(self) -> None:
        """Remove the whole directory: rename it to ``<topic>-<partition>.<uuid>-delete`` (so a
        crash cannot leave a half-deleted log that looks alive), then remove it."""
        parent = os.path.dirname(self.dir)
        suffix = f".{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}"
        prefix = self.name[: 255 - len(suffix)]
        target = os.path.join(parent, prefix + suffix)
        with self._storage_errors("deleting"):
            for segment in self.segments:
                try:
                    segment.close()
                except OSError:
                    log.warning("Ignoring an error closing %s before deletion", segment.log_path)
            self.fs.rename(self.dir, target)
            self.fs.fsync_dir(parent)
            self.fs.remove_tree(target)

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.name}, start={self.log_start_offset}, end={self.log_end_offset}, "
            f"hw={self.high_watermark}, segments={len(self.segments)})"
        )
