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

``PartitionLog`` holds this state and answers for it; the work of its larger operations lives
in modules of their own, called by its methods of the same names: creating, opening and
deleting the directory (partition_dir.py), appending (log_append.py), removing data, whether
old segments (retention, DeleteRecords, the cleaner's swap) or the newest records
(truncation) (log_removal.py). Reads check offsets here and walk the segments in log_read.py.
"""

from __future__ import annotations

import logging
import os
import uuid
from types import TracebackType

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage import log_append, log_removal
from moldau.storage.batch_reader import InvalidBatch, next_offset_after
from moldau.storage.checkpoints import LEADER_EPOCH_CHECKPOINT
from moldau.storage.config import LogConfig
from moldau.storage.deletion import DelayedDeletions
from moldau.storage.epoch_cache import LeaderEpochCache
from moldau.storage.log_read import (
    FetchData,
    OffsetAndTimestamp,
    find_by_timestamp,
    find_max_timestamp,
    read_batches,
)
from moldau.storage.partition_dir import (
    create_partition_dir,
    delete_partition_dir,
    open_partition_dir,
    partition_dir_name,
)
from moldau.storage.producer_state import (
    DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    ProducerStateManager,
)
from moldau.storage.producer_store import ProducerStateStore
from moldau.storage.recovery import LoadedLog
from moldau.storage.segment import LogSegment
from moldau.util.clock import Clock
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)


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
        self.dirs_to_sync: set[str] = set()  # directories with entries created since the last flush
        self.unflushed_messages = 0  # records appended since the log was last flushed to its end
        self._last_flush_ms = clock.time_ms()

    # -- opening (partition_dir.py) ----------------------------------------------------------

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
        loaded = create_partition_dir(fs, directory, topic_id, config, clock)
        plog = cls(fs, directory, topic, partition, topic_id, config, clock, loaded)
        plog.dirs_to_sync.update((log_dir, directory))
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
        try:
            topic_id, loaded = open_partition_dir(
                fs,
                directory,
                config,
                clock,
                topic_id=topic_id,
                log_start_offset=log_start_offset,
                recovery_point=recovery_point,
                clean_shutdown=clean_shutdown,
            )
            plog = cls(fs, directory, topic, partition, topic_id, config, clock, loaded)
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

    def storage_errors(self, action: str) -> StorageErrors:
        """Turn the I/O errors raised inside into ``KafkaError(KAFKA_STORAGE_ERROR)``."""
        return StorageErrors(self, action)

    @property
    def name(self) -> str:
        return partition_dir_name(self.topic, self.partition)

    # -- appending (log_append.py) -----------------------------------------------------------

    # The append functions are the log's methods as they are (``plog.append(...)`` calls
    # ``log_append.append(plog, ...)``): no wrapper repeats their signatures, and the produce
    # path saves a call.
    append = log_append.append
    append_control = log_append.append_control

    def roll(self, now_ms: int | None = None) -> LogSegment:
        """Start a new active segment at the log end offset (a no-op when the active segment is
        empty and already starts there)."""
        now_ms = self.clock.time_ms() if now_ms is None else now_ms
        active = self.segments.active
        base = self.log_end_offset
        if active.base_offset == base and active.size == 0:
            return active
        with self.storage_errors("rolling"):
            active.finalize_time_index()
            segment = LogSegment.create(self.fs, self.dir, base, self.config, now_ms)
            self.segments.add(segment)
            self.dirs_to_sync.add(self.dir)
            self.producers.take_snapshot(base)
            if active.size == 0:  # an empty segment below the log end holds nothing: drop it
                self.segments.remove(active)
                active.delete()
        log.debug("Rolled %s to a new segment at offset %d", self.name, base)
        return segment

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
        with self.storage_errors("reading the transaction index of"):
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

    def read_to_limit(self, offset: int, limit: int) -> bool:
        """True when a reader at ``offset`` has read everything up to ``limit`` (the high
        watermark, or the last stable offset for read_committed) and is inside the log: a read
        from there returns no data and no error, so a fetch answers it without one."""
        return offset == limit and offset >= self.log_start_offset

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
            with self.storage_errors("reading"):
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
        with self.storage_errors("searching"):
            found = find_by_timestamp(self.segments, timestamp, log_start=self.log_start_offset, limit=limit)
        return None if found is None else OffsetAndTimestamp(*found)

    def max_timestamp_offset(self) -> OffsetAndTimestamp | None:
        """The first record with the largest timestamp (ListOffsets MAX_TIMESTAMP); None when no
        record at or after the log start has a timestamp."""
        with self.storage_errors("searching"):
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
        with self.storage_errors("recording a leader epoch of"):
            self.epoch_cache.assign(epoch, start_offset)

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """``(epoch, end offset)`` as OffsetForLeaderEpoch answers; ``(-1, -1)`` when unknown."""
        return self.epoch_cache.end_offset_for(epoch, self.log_end_offset)

    def epoch_for_offset(self, offset: int) -> int:
        return self.epoch_cache.epoch_for_offset(offset)

    # -- removing data (log_removal.py) ------------------------------------------------------

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: make ``offset`` (``HIGH_WATERMARK``: the high watermark) the log start
        offset; returns the new log start offset."""
        return log_removal.delete_records_before(self, offset)

    def delete_segments(self, segments: list[LogSegment], now_ms: int | None = None) -> None:
        """Remove ``segments``, the oldest of the log, deleting their files after a delay."""
        log_removal.delete_segments(self, segments, now_ms)

    def replace_segments(self, old: list[LogSegment], new: LogSegment) -> None:
        """Put ``new`` in the place of ``old`` after a swap (swap.py)."""
        log_removal.replace_segments(self, old, new)

    def truncate_to(self, offset: int) -> bool:
        """Remove every record at or after ``offset``; returns whether anything was removed."""
        return log_removal.truncate_to(self, offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Drop every segment and start empty at ``offset``."""
        log_removal.truncate_fully_and_start_at(self, offset)

    # -- durability and lifecycle ------------------------------------------------------------

    def maybe_flush(self, now_ms: int) -> None:
        """fsync when ``flush.messages`` records were appended or ``flush.ms`` passed since the
        last flush."""
        config = self.config
        if self.recovery_point >= self.log_end_offset:
            return
        if (
            self.unflushed_messages >= config.flush_interval_messages
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
        self.epoch_cache.save_if_unsaved()
        with self.storage_errors("flushing"):
            try:
                for segment in self.segments.from_offset(self.recovery_point):
                    if segment.base_offset >= target and segment.base_offset > self.recovery_point:
                        break
                    segment.flush()
                if self.producers.flush(target):
                    self.dirs_to_sync.add(self.dir)
                while self.dirs_to_sync:
                    self.fs.fsync_dir(self.dirs_to_sync.pop())
            except OSError as e:
                self.failed = f"fsync failed: {e}"
                raise
        self.recovery_point = max(self.recovery_point, target)
        if target >= self.log_end_offset:
            self.unflushed_messages = 0
        self._last_flush_ms = self.clock.time_ms()

    def set_config(self, config: LogConfig) -> None:
        """Use ``config`` from the next operation on."""
        self.config = config
        self.segments.active.index_interval_bytes = config.index_interval_bytes

    def close(self) -> None:
        """Flush everything and release the files. The log is unusable afterwards."""
        with self.storage_errors("closing"):
            self.segments.active.finalize_time_index()
            self.flush()
            self.producers.snapshot_for_close(self.log_end_offset)
            for segment in self.segments:
                segment.close()

    def delete(self) -> None:
        """Remove the whole directory: rename it to ``<topic>-<partition>.<uuid>-delete`` (so a
        crash cannot leave a half-deleted log that looks alive), then remove it."""
        with self.storage_errors("deleting"):
            delete_partition_dir(self.fs, self.dir, self.name, self.segments)

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.name}, start={self.log_start_offset}, end={self.log_end_offset}, "
            f"hw={self.high_watermark}, segments={len(self.segments)})"
        )


class StorageErrors:
    """``PartitionLog.storage_errors``: a plain context manager, as it wraps every append (a
    generator-based one costs a generator and a wrapper object per use)."""

    __slots__ = ("_action", "_plog")

    def __init__(self, plog: PartitionLog, action: str) -> None:
        self._plog, self._action = plog, action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(e, (OSError, InvalidBatch)):
            message = f"{self._action} {self._plog.name} failed: {e}"
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, message) from e
