"""One segment of a partition log: a ``.log`` file of record batches and its two indexes.

A segment covers the offsets from its base offset up to the next segment's base offset. Its
three files are named by the base offset padded to 20 digits (``00000000000000001234.log``,
``.index``, ``.timeindex``); ``LogSegment`` describes the ``.log`` layout, index.py the
other two.

Only the active (last) segment is appended to. Appends go to the end of the file with one
``pwrite``; after every ``index.interval.bytes`` of batches the next batch gets an offset-index
entry and, if the segment's max timestamp grew, a time-index entry. When the segment stops
being active its final max timestamp is added to the time index, so a closed segment's
largest timestamp is the time index's last entry and needs no scan.

Reads never load the file: an offset is found by a floor lookup in the offset index followed
by a walk over batch headers (a small ``pread`` window), and the data of a fetch is read with
one ``pread``; a search by timestamp is timestamp_search.py. Indexes are read lazily on first
use; a missing or inconsistent index is rebuilt from the batch headers. That rebuilding, the
check after a crash and truncation walk the batches to re-derive the segment's state: see
segment_recovery.py.

A segment holds no file descriptor of its own once its log joins a log manager: each of its
three files is a ``FileHandle`` that borrows a descriptor from the manager's bounded cache of
open files at each use, and a loaded index is dropped when the cache closes its file (see
open_files.py). Walks pin the ``.log`` file while they run.

Not safe to share: the owning ``PartitionLog`` calls it from one thread.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from moldau.protocol.records.batch import BatchHeader
from moldau.storage import segment_recovery, timestamp_search
from moldau.storage.batch_reader import (
    HEADER_WINDOW,
    find_in_window,
    read_header,
    walk_batches,
    whole_batches_length,
)
from moldau.storage.config import LogConfig
from moldau.storage.index import CorruptIndexError, OffsetIndex, TimeIndex
from moldau.storage.open_files import FileHandle, OpenFiles
from moldau.storage.segment_recovery import RecoveryResult
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
DELETED_SUFFIX = ".deleted"
CLEANED_SUFFIX = ".cleaned"  # a segment the cleaner is writing (see swap.py)
SWAP_SUFFIX = ".swap"  # a cleaned segment committed to replace others (see swap.py)
REPLACED_SUFFIX = ".replaced"  # a segment a pending swap replaces (see swap.py)


def segment_file_name(base_offset: int, suffix: str) -> str:
    return f"{base_offset:020d}{suffix}"


class SegmentRead(NamedTuple):
    position: int
    data: bytes | memoryview  # a view when the read was cut to whole batches: no copy


class LogSegment:
    """One segment; create with ``LogSegment.create`` or ``LogSegment.open``.

    ``<base_offset>.log`` layout: v2 record batches back to back, nothing else (no file
    header, no padding, no trailer)::

        position 0            batch (61-byte header + records, see batch.py)
        position 0 + size_0   batch
        ...                   up to the segment's size

    Each batch is byte for byte what the producer sent except the header fields the log
    assigns: base_offset (bytes 0-7), partition_leader_epoch (12-15) and, for LogAppendTime
    topics, attributes (21-22), max_timestamp (35-42) and the CRC (17-20) over them. Base
    offsets strictly increase and every offset is within 2^31 - 1 of the segment's base."""

    def __init__(
        self, fs: FileSystem, directory: str, base_offset: int, config: LogConfig, *, size: int, now_ms: int
    ):
        self.fs = fs
        self.directory = directory
        self.base_offset = base_offset
        self.size = size
        self.index_interval_bytes = config.index_interval_bytes
        self.roll_jitter_ms = 0
        self.file = FileHandle(fs, self._path(LOG_SUFFIX))
        self.offset_index = OffsetIndex(fs, self._path(INDEX_SUFFIX), base_offset, config.segment_index_bytes)
        self.time_index = TimeIndex(
            fs, self._path(TIME_INDEX_SUFFIX), base_offset, config.segment_index_bytes
        )
        self.bytes_since_last_index_entry = 0
        self._since_known = size == 0  # else derived from the offset index when it loads
        self.created_ms = now_ms
        self.rolling_base_ms: int | None = None  # see time_waited_for_roll
        self._max_ts: int | None = None  # None until known (lazily, from the time index)
        self._offset_of_max_ts = -1
        self._max_ts_indexed = True  # the time index's last entry holds _max_ts already
        # No batch holds an offset at or above this (None: not known without reading). Lets a
        # lookup at or past the end of the segment answer without touching the files.
        self.offset_limit: int | None = None
        self._dirty = False
        self.broken = False  # the file holds bytes past ``size`` that a failed undo left
        self._failing = False  # the last append failed (logged once, until one succeeds)

    @property
    def log_path(self) -> str:
        return self.file.path

    @log_path.setter
    def log_path(self, value: str) -> None:
        self.file.path = value

    def _path(self, suffix: str) -> str:
        return os.path.join(self.directory, segment_file_name(self.base_offset, suffix))

    @classmethod
    def create(
        cls, fs: FileSystem, directory: str, base_offset: int, config: LogConfig, now_ms: int
    ) -> LogSegment:
        """A new empty segment; its three files exist (empty) when this returns. Existing files
        of the same name are emptied. Draws the segment's ``segment.jitter.ms`` share."""
        seg = cls(fs, directory, base_offset, config, size=0, now_ms=now_ms)
        bound = min(config.segment_jitter_ms, config.segment_ms)
        seg.roll_jitter_ms = random.randrange(bound) if bound > 0 else 0
        fs.truncate(seg._log(create=True), 0)
        seg.offset_index.replace([])
        seg.time_index.replace([])
        seg._max_ts = -1
        seg.offset_limit = base_offset
        return seg

    @classmethod
    def open(
        cls, fs: FileSystem, directory: str, base_offset: int, config: LogConfig, now_ms: int
    ) -> LogSegment:
        """An existing segment, taking the file's size as its valid size. Nothing is read; the
        caller recovers the segment or loads its tail."""
        size = fs.path_size(os.path.join(directory, segment_file_name(base_offset, LOG_SUFFIX)))
        return cls(fs, directory, base_offset, config, size=size, now_ms=now_ms)

    @classmethod
    def create_cleaned(
        cls, fs: FileSystem, directory: str, base_offset: int, config: LogConfig, now_ms: int
    ) -> LogSegment:
        """A new empty segment whose three files carry the ``.cleaned`` suffix
        (``<base>.log.cleaned`` ...), for the cleaner to fill; swap.py renames them into
        place. Existing files of the same name are emptied."""
        seg = cls(fs, directory, base_offset, config, size=0, now_ms=now_ms)
        seg.log_path += CLEANED_SUFFIX
        seg.offset_index.path += CLEANED_SUFFIX
        seg.time_index.path += CLEANED_SUFFIX
        fs.truncate(seg._log(create=True), 0)
        seg.offset_index.replace([])
        seg.time_index.replace([])
        seg._max_ts = -1
        seg.offset_limit = base_offset
        return seg

    def has_index_files(self) -> bool:
        return self.fs.exists(self.offset_index.path) and self.fs.exists(self.time_index.path)

    # -- files -------------------------------------------------------------------------------

    def _log(self, *, create: bool = False) -> int:
        return self.file.descriptor(create=create)

    def use_files(self, files: OpenFiles | None) -> None:
        """Take the descriptors of the three files from ``files`` (the log manager's cache)
        from now on; descriptors the segment holds itself are closed."""
        for handle in (self.file, self.offset_index.handle, self.time_index.handle):
            handle.use(files)

    def release(self) -> None:
        """Close the three files and drop the loaded indexes; the next use reopens and reloads
        them. Recovery calls this after checking a segment so that loading many partitions
        keeps only a few files open."""
        self.file.close()
        for index in (self.offset_index, self.time_index):
            index.close()
            index.unload()

    def ensure_indexes(self) -> None:
        """Load both indexes on first use; rebuild them from the batches if either is bad."""
        if self.offset_index.loaded and self.time_index.loaded:
            self.offset_index.handle.touch()
            self.time_index.handle.touch()
            return
        try:
            if not self.has_index_files():
                raise CorruptIndexError("index file missing")
            self.offset_index.load(self.size)
            self.time_index.load()
            if self.size == 0 and (len(self.offset_index) or len(self.time_index)):
                raise CorruptIndexError("entries in an empty segment")
        except CorruptIndexError as e:
            log.warning("Rebuilding indexes of %s: %s", self.log_path, e)
            self.rebuild_indexes()
        if not self._since_known:
            self.bytes_since_last_index_entry = self.size - self.offset_index.last_entry()[1]
            self._since_known = True

    # -- appending ---------------------------------------------------------------------------

    def append(
        self, data: bytes | bytearray | memoryview, batches: Sequence[tuple[int, BatchHeader]], now_ms: int
    ) -> None:
        """Write ``data`` (whole batches, offsets already assigned) at the end of the segment.
        ``batches`` holds each batch's position within ``data`` and its header. On any error
        the segment is left exactly as before (file truncated back, index entries dropped)
        and the error is re-raised."""
        if not batches:
            return
        if self.broken:
            self._repair()
        self.ensure_indexes()
        max_ts, offset_of_max = self.max_timestamp_and_offset()
        start = self.size
        index_len, time_len = len(self.offset_index), len(self.time_index)
        since = self.bytes_since_last_index_entry
        try:
            self.fs.pwrite(self._log(), data, start)
            self._dirty = True
            for pos, h in batches:
                if h.max_timestamp > max_ts:
                    max_ts, offset_of_max = h.max_timestamp, h.last_offset
                if since > self.index_interval_bytes:
                    self.offset_index.append(h.last_offset, start + pos)
                    self.time_index.maybe_append(max_ts, offset_of_max)
                    since = 0
                since += h.size
        except BaseException as e:
            self._roll_back(start, index_len, time_len)
            if isinstance(e, OSError) and not self._failing:
                self._failing = True
                log.error(
                    "Appending to %s failed (said once, until an append succeeds again): %s", self.log_path, e
                )
            raise
        if self._failing:
            self._failing = False
            log.info("Appending to %s works again", self.log_path)
        self.size = start + len(data)
        self.bytes_since_last_index_entry = since
        self._max_ts, self._offset_of_max_ts = max_ts, offset_of_max
        self._max_ts_indexed = self.time_index.last_entry()[0] == max_ts
        self.offset_limit = batches[-1][1].next_offset
        if self.rolling_base_ms is None:
            self.rolling_base_ms = now_ms

    def _roll_back(self, size: int, index_len: int, time_len: int) -> None:
        """Undo a failed append. The in-memory state is restored first, so reads stay right even
        when the files cannot be cut back. A file that cannot be cut back now is cut back
        before its next use: the indexes remember it themselves (index.py), the ``.log`` file
        through ``broken``, which the next append, flush or close repairs first."""
        for undo in (
            lambda: self.offset_index.truncate_entries(index_len),
            lambda: self.time_index.truncate_entries(time_len),
            lambda: self.fs.truncate(self._log(), size),
        ):
            try:
                undo()
            except OSError as e:
                log.error(
                    "Could not undo a failed append to %s yet (retried before its next use): %s",
                    self.log_path,
                    e,
                )
                self.broken = True

    def _repair(self) -> None:
        """Cut the ``.log`` file back to the segment's size, after an undo that could not."""
        self.truncate_file(self.size)
        self.broken = False
        log.info("Cut %s back to %d bytes after a failed append", self.log_path, self.size)

    # -- timestamps --------------------------------------------------------------------------

    def max_timestamp_and_offset(self) -> tuple[int, int]:
        """The largest batch max timestamp in the segment and the last offset of its batch;
        ``(-1, -1)`` for a segment without timestamps."""
        if self._max_ts is None:
            self.ensure_indexes()
            ts, offset = self.time_index.last_entry()
            self._max_ts, self._offset_of_max_ts = ts, (offset if ts >= 0 else -1)
        return self._max_ts, self._offset_of_max_ts

    @property
    def largest_timestamp(self) -> int:
        return self.max_timestamp_and_offset()[0]

    def first_batch_timestamp(self) -> int:
        """The first batch's max timestamp (-1 for an empty segment), which
        ``max.compaction.lag.ms`` measures from. One header read."""
        return read_header(self.fs, self._log(), 0).max_timestamp if self.size else -1

    def time_waited_for_roll(self, now_ms: int) -> int:
        """How long this segment has been taking appends, for ``segment.ms``. Measured from the
        first append in this process; for a segment loaded from disk, from its first batch's
        max timestamp (the append time for LogAppendTime topics), falling back to when it was
        opened."""
        if self.size == 0:
            return 0
        if self.rolling_base_ms is None:
            first = read_header(self.fs, self._log(), 0)
            self.rolling_base_ms = first.max_timestamp if first.max_timestamp >= 0 else self.created_ms
        return now_ms - self.rolling_base_ms

    def finalize_time_index(self) -> None:
        """Record the final max timestamp in the time index (called when the segment stops
        being active, and on close) so that loading it later needs no scan."""
        if self._max_ts is None or self._max_ts < 0 or self._max_ts_indexed:
            return
        self.ensure_indexes()
        self.time_index.maybe_append(self._max_ts, self._offset_of_max_ts, skip_full_check=True)
        self._max_ts_indexed = True

    # -- walking batches ---------------------------------------------------------------------

    def walk(
        self,
        position: int,
        end: int | None = None,
        *,
        with_data: bool = False,
        max_batch_bytes: int | None = None,
    ) -> Iterator[tuple[int, BatchHeader, memoryview | None]]:
        """The batches from ``position`` to ``end`` (default: the segment's size); see
        ``batch_reader.walk_batches``."""
        end = self.size if end is None else end
        with self.file.pinned() as fd:
            yield from walk_batches(
                self.fs, fd, position, end, with_data=with_data, max_batch_bytes=max_batch_bytes
            )

    def translate_offset(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= ``offset``, or None
        when the segment ends before it."""
        if self.offset_limit is not None and offset >= self.offset_limit:
            return None
        self.ensure_indexes()
        for pos, h, _ in self.walk(self.offset_index.lookup(offset)[1]):
            if h.last_offset >= offset:
                return pos, h
        return None

    def load_tail(self) -> int | None:
        """Walk the batches after the last offset-index entry (see segment_recovery.py): returns
        the next offset of the segment, None if it is empty."""
        return segment_recovery.load_tail(self)

    # -- reading -----------------------------------------------------------------------------

    def read(
        self, offset: int, max_bytes: int, max_position: int | None = None, *, min_one: bool
    ) -> SegmentRead | None:
        """Whole batches starting with the one that holds ``offset``, at most ``max_bytes`` of
        them and none at or past ``max_position`` (a batch boundary). When the first batch alone
        is larger than ``max_bytes`` it is returned whole if ``min_one``, otherwise the data is
        empty. None when no batch of this segment reaches ``offset`` before ``max_position``."""
        if self.offset_limit is not None and offset >= self.offset_limit:
            return None
        self.ensure_indexes()
        # One pread from the offset index's entry usually holds both the headers up to the
        # batch of ``offset`` and the data to return; the file is walked only when it does not.
        start = self.offset_index.lookup(offset)[1]
        stop = self.size if max_position is None else min(max_position, self.size)
        window = self.fs.pread(self._log(), max(0, min(stop - start, HEADER_WINDOW + max_bytes)), start)
        found_in_window = find_in_window(window, offset)
        if found_in_window is not None:
            rel, first = found_in_window
            position = start + rel
        else:
            found = self.translate_offset(offset)
            if found is None:
                return None
            position, first = found
            rel = -1
        limit = stop - position
        if limit < first.size:
            return None
        want = first.size if first.size > max_bytes else min(max_bytes, limit)
        if first.size > max_bytes and not min_one:
            return SegmentRead(position, b"")
        if rel >= 0 and rel + want <= len(window):
            buf: bytes | memoryview = memoryview(window)[rel : rel + want]
        else:
            buf = self.fs.pread(self._log(), want, position)
        end = want if first.size > max_bytes else whole_batches_length(buf)
        return SegmentRead(position, buf if end == len(buf) else memoryview(buf)[:end])

    def find_offset_by_timestamp(self, timestamp: int, start_offset: int) -> tuple[int, int] | None:
        """``(offset, timestamp)`` of the first record at or after ``start_offset`` whose
        timestamp is >= ``timestamp``, or None when the segment has none (timestamp_search.py)."""
        return timestamp_search.find_in_segment(self, timestamp, start_offset)

    # -- recovery and truncation (segment_recovery.py) ---------------------------------------

    def recover(self, max_message_bytes: int, recovery_point: int | None = None) -> RecoveryResult:
        """Check the batches up to the end of the file (from the batch of the last offset-index
        entry below ``recovery_point`` when given), cut off everything from the first bad one
        and rewrite the indexes from the valid ones."""
        return segment_recovery.recover(self, max_message_bytes, recovery_point)

    def rebuild_indexes(self) -> None:
        """Rebuild both indexes from the batch headers (no CRC check, no truncation)."""
        segment_recovery.rebuild_indexes(self)

    def truncate_to(self, offset: int) -> int:
        """Remove every batch whose last offset is >= ``offset``; returns the bytes removed."""
        return segment_recovery.truncate_to(self, offset)

    def truncate_file(self, size: int) -> None:
        """Cut the ``.log`` file to ``size`` bytes, to be fsynced by the next ``flush``."""
        self.fs.truncate(self._log(), size)
        self._dirty = True

    def set_max_timestamp(self, max_ts: int, offset_of_max: int, *, indexed: bool) -> None:
        """Take the largest batch max timestamp and the last offset of its batch as a walk over
        the batches found them, and whether the time index's last entry holds it."""
        self._max_ts, self._offset_of_max_ts = max_ts, offset_of_max
        self._max_ts_indexed = indexed

    def set_bytes_since_last_index_entry(self, size: int) -> None:
        self.bytes_since_last_index_entry = size
        self._since_known = True

    # -- durability and lifecycle ------------------------------------------------------------

    def flush(self) -> None:
        """fsync what was written since the last flush (reopening files the cache closed). A
        file that a failed append left too long is cut back first if the disk allows; if not,
        the stray bytes lie past the segment's size, where nothing reads them."""
        if self.broken:
            try:
                self._repair()
            except OSError as e:
                log.warning("%s is still longer than its data: %s", self.log_path, e)
        if self._dirty:
            self.fs.fsync(self._log())
            self._dirty = False
        self.offset_index.flush()
        self.time_index.flush()

    def close(self) -> None:
        """Finish the time index and release the descriptors (no fsync; see ``flush``). Raises
        OSError when a file that a failed append left too long still cannot be cut back, so
        that the owner does not mark the shutdown clean."""
        try:
            if self.broken:
                self._repair()
            self.finalize_time_index()
        finally:
            self.file.close()
            self.offset_index.close()
            self.time_index.close()

    def delete(self) -> None:
        """Rename the three files to ``*.deleted``, then remove them at once. A crash in between
        leaves only ``.deleted`` files, which loading removes. (Retention, DeleteRecords and the
        cleaner delay the removal instead: see ``mark_deleted`` and deletion.py.)"""
        for path in self.mark_deleted():
            if self.fs.exists(path):
                self.fs.remove(path)

    def mark_deleted(self) -> list[str]:
        """The first step of deleting: release the descriptors and rename the three files to
        ``*.deleted``; returns the new paths, for the caller to remove (now or later). The
        segment is unusable afterwards."""
        self.file.close()
        paths = []
        if self.fs.exists(self.log_path):
            self.fs.rename(self.log_path, self.log_path + DELETED_SUFFIX)
            paths.append(self.log_path + DELETED_SUFFIX)
        for index in (self.offset_index, self.time_index):
            index.close()
            index.rename(index.path + DELETED_SUFFIX)
            paths.append(index.path)
        return paths

    def __repr__(self) -> str:
        return f"LogSegment(base_offset={self.base_offset}, size={self.size})"
