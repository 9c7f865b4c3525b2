"""One cleaning pass over one log, as run by the cleaner's worker process (or thread).

Ownership: a ``CleanJob`` is an immutable snapshot taken on the event loop (cleaner.py): the
partition directory, the non-active segments to read as ``(base offset, size, path)``, the
offsets that bound the pass, the topic's ``LogConfig`` (itself immutable) and the time; it
pickles, so a worker process can take it. ``run_clean_job`` opens those files when it starts,
reads them only up to each snapshot size, and writes only new ``*.cleaned`` files that
nothing else knows about; it never touches a ``PartitionLog``, a ``LogSegment`` of the log, or
anything else the event loop owns. Non-active segment files do not change once rolled;
should one be deleted before the job opens it (retention, the topic deleted), the job ends
with ``CleaningAborted``; should one be cut or deleted after, the job reads what it opened,
and the swap on the event loop (swap.py) sees that the log changed and discards the result.
The job closes its files when it ends; its output files become the event loop's when the
job's result is handed over.

The pass, as Kafka's ``Cleaner.doClean``:

1. **Offset map.** Walk the dirty part, ``[first_dirty_offset, first_uncleanable_offset)``,
   reading the keys of every data batch (``scan.record_keys``) and mapping each key to its
   latest offset (offset_map.py), until the map is full. Batches of aborted transactions are
   skipped (txn_cleaning.py), so that an aborted record never hides an older committed one.
   ``end_offset`` is one past the last offset mapped: the pass cleans below it.
2. **Producers.** Walk the batch headers of every snapshot segment to find each producer's
   last data batch.
3. **Groups.** The segments below ``end_offset``, from the first, in runs whose sizes add up
   to at most ``segment.bytes`` and whose offsets fit one segment (small cleaned segments
   merge this way on later passes).
4. **Rewrite.** Each group becomes one new segment ``<first base>.log.cleaned`` (with its
   ``.index.cleaned`` and ``.timeindex.cleaned``): every batch of the group through
   compaction.py, the survivors appended in order with their original offsets, the files
   fsynced and closed. One ``TransactionTracker`` follows the whole rewrite, from the first
   segment on, with the aborted transactions the job was given (``CleanJob.aborted``, read
   from the transaction indexes on the event loop): batches of aborted transactions go, and
   markers go as txn_cleaning.py says; each group reports the ABORT markers it removed, whose
   index entries the cleaner removes before swapping it in. A data batch whose records all go
   still leaves an empty batch when it is its producer's last data batch (so the producer's
   sequence state can be rebuilt from the log) or the last batch below
   ``first_uncleanable_offset`` (so the offset it ends at is not lost), as Kafka keeps them; a
   marker in that place stays whole instead.

Memory: the offset map (bounded, see offset_map.py), one read window per segment walk
(``batch_reader``), one decoded batch, and an output buffer of ``io_buffer_size`` bytes.
Disk: the cleaned copies of all groups exist together until the event loop swaps them in.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import field, fields
from typing import Any

from moldau.protocol.records.batch import BatchHeader, parse_header
from moldau.protocol.records.records import record_offsets_and_keys
from moldau.storage.batch_reader import walk_batches
from moldau.storage.compaction import clean_batch
from moldau.storage.config import LogConfig
from moldau.storage.index import INT32_MAX
from moldau.storage.offset_map import OffsetMap
from moldau.storage.segment import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_file_name,
)
from moldau.storage.txn_cleaning import TransactionTracker, marker_type
from moldau.storage.txn_index import AbortedTxn
from moldau.util.datatype import datatype
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)


class CleaningAborted(Exception):
    """The job was told to stop (shutdown); its output was removed."""


@datatype(frozen=True, slots=True)
class SourceSegment:
    base_offset: int
    size: int  # at the snapshot: the job reads no further
    path: str  # the job opens it when it starts; a file gone by then means the log changed


@datatype(frozen=True, slots=True)
class CleanJob:
    name: str  # "<topic>-<partition>", for logging
    directory: str
    segments: tuple[SourceSegment, ...]  # the non-active segments below first_uncleanable_offset
    first_dirty_offset: int
    first_uncleanable_offset: int
    config: LogConfig
    now_ms: int
    map_memory: int
    load_factor: float
    io_buffer_size: int
    aborted: tuple[AbortedTxn, ...] = ()  # the aborted transactions overlapping the segments
    abort: threading.Event = field(default_factory=threading.Event, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled for a worker process without ``abort`` (an event does not cross processes;
        a process worker is stopped by ending the process)."""
        values = [getattr(self, f.name) for f in fields(self) if f.name != "abort"]
        return (CleanJob, tuple(values))


@datatype(frozen=True, slots=True)
class CleanedGroup:
    base_offset: int  # of the new segment, also of the first segment it replaces
    replaced: tuple[int, ...]  # base offsets of the segments it replaces, in order
    size: int
    aborts_removed: tuple[AbortedTxn, ...] = ()  # transactions whose ABORT marker it removed


@datatype(frozen=True, slots=True)
class CleanOutcome:
    end_offset: int  # the next pass's first dirty offset
    groups: tuple[CleanedGroup, ...]
    bytes_read: int
    bytes_written: int
    records_read: int
    records_kept: int


def cleaned_paths(directory: str, base_offset: int) -> list[str]:
    """The three files a cleaned segment is written to."""
    return [
        os.path.join(directory, segment_file_name(base_offset, suffix + CLEANED_SUFFIX))
        for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)
    ]


def remove_cleaned(fs: FileSystem, directory: str, base_offset: int) -> None:
    for path in cleaned_paths(directory, base_offset):
        try:
            fs.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("Could not remove %s (start-up will): %s", path, e)


def run_clean_job(job: CleanJob, fs: FileSystem) -> CleanOutcome:
    """Run the pass (see the module docstring) over the job's segments, opened here and closed
    whatever happens. Raises CleaningAborted when ``job.abort`` is set or a segment file is
    gone (the log changed since the snapshot: retention, deletion), and OSError /
    InvalidBatch / CorruptBatchError / CompressionError as reading and writing do; either way
    no output file is left behind."""
    fds: dict[int, int] = {}
    try:
        for source in job.segments:
            try:
                fds[source.base_offset] = fs.open(source.path, read_only=True)
            except FileNotFoundError:
                raise CleaningAborted(f"{job.name}: {source.path} is gone") from None
        return _Pass(job, fs, fds).run()
    finally:
        for fd in fds.values():
            try:
                fs.close(fd)
            except OSError:
                log.exception("Could not close a segment file of %s", job.name)


class _Pass:
    def __init__(self, job: CleanJob, fs: FileSystem, fds: dict[int, int]) -> None:
        self.job = job
        self.fs = fs
        self.fds = fds  # base offset -> descriptor of each source segment
        self.offsets = OffsetMap(job.map_memory, job.load_factor)
        self.bytes_read = 0
        self.bytes_written = 0
        self.records_read = 0
        self.records_kept = 0

    def run(self) -> CleanOutcome:
        job = self.job
        self._build_offset_map()
        end_offset = self.offsets.latest_offset + 1
        if end_offset <= job.first_dirty_offset:
            return CleanOutcome(job.first_dirty_offset, (), self.bytes_read, 0, 0, 0)
        last_of_producer = self._last_batches_of_producers()
        groups: list[CleanedGroup] = []
        first = job.segments[0].base_offset
        txns = TransactionTracker(job.aborted, first)
        try:
            for group in self._groups(end_offset):
                groups.append(self._clean_group(group, last_of_producer, txns))
        except BaseException:
            for done in groups:
                remove_cleaned(self.fs, job.directory, done.base_offset)
            raise
        return CleanOutcome(
            end_offset,
            tuple(groups),
            self.bytes_read,
            self.bytes_written,
            self.records_read,
            self.records_kept,
        )

    def _batches(self, source: SourceSegment) -> Iterator[tuple[BatchHeader, memoryview]]:
        """The segment's batches with their bytes, checking for an abort between batches."""
        for _, h, data in walk_batches(self.fs, self.fds[source.base_offset], 0, source.size, with_data=True):
            if self.job.abort.is_set():
                raise CleaningAborted(self.job.name)
            assert data is not None
            yield h, data

    # -- 1. offset map -------------------------------------------------------------------

    def _build_offset_map(self) -> None:
        job, offsets = self.job, self.offsets
        start = job.first_dirty_offset
        dirty = [
            (i, s)
            for i, s in enumerate(job.segments)
            if self._next_base(i) > start and s.base_offset < job.first_uncleanable_offset
        ]
        if not dirty:
            return
        txns = TransactionTracker(job.aborted, dirty[0][1].base_offset)
        for i, source in dirty:
            for h, data in self._batches(source):
                self.bytes_read += h.size
                if h.is_control:
                    txns.marker(h, marker_type(data, h))
                    aborted = False
                else:
                    aborted = txns.data_batch(h)
                if h.last_offset < start:
                    continue
                if not h.is_control and not aborted:
                    for offset, key, _ in record_offsets_and_keys(data, h):
                        if key is None or offset < start:
                            continue
                        if not offsets.put(key, offset):
                            return  # full: this pass cleans up to the last offset mapped
                offsets.update_latest_offset(h.last_offset)
            offsets.update_latest_offset(self._next_base(i) - 1)

    def _next_base(self, i: int) -> int:
        segments = self.job.segments
        return segments[i + 1].base_offset if i + 1 < len(segments) else self.job.first_uncleanable_offset

    # -- 2. producers --------------------------------------------------------------------

    def _last_batches_of_producers(self) -> dict[int, int]:
        """Producer id → last offset of its last data batch in the snapshot."""
        last: dict[int, int] = {}
        for source in self.job.segments:
            for _, h, _ in walk_batches(self.fs, self.fds[source.base_offset], 0, source.size):
                if h.producer_id >= 0 and not h.is_control:
                    last[h.producer_id] = h.last_offset
        return last

    # -- 3. groups -----------------------------------------------------------------------

    def _groups(self, end_offset: int) -> list[list[int]]:
        """Indexes into ``job.segments`` of each group, in order."""
        job = self.job
        below = [i for i, s in enumerate(job.segments) if s.base_offset < end_offset]
        groups: list[list[int]] = []
        for i in below:
            if groups:
                group = groups[-1]
                first = job.segments[group[0]]
                size = sum(job.segments[j].size for j in group)
                if (
                    size + job.segments[i].size <= job.config.segment_bytes
                    and self._next_base(i) - 1 - first.base_offset <= INT32_MAX
                ):
                    group.append(i)
                    continue
            groups.append([i])
        return groups

    # -- 4. rewrite ----------------------------------------------------------------------

    def _clean_group(
        self, group: list[int], last_of_producer: dict[int, int], txns: TransactionTracker
    ) -> CleanedGroup:
        job = self.job
        sources = [job.segments[i] for i in group]
        base = sources[0].base_offset
        out = LogSegment.create_cleaned(self.fs, job.directory, base, job.config, job.now_ms)
        try:
            buffer = bytearray()
            headers: list[tuple[int, BatchHeader]] = []
            aborts_removed: list[AbortedTxn] = []
            for source in sources:
                for h, data in self._batches(source):
                    keep_empty = (
                        h.producer_id >= 0 and last_of_producer.get(h.producer_id) == h.last_offset
                    ) or h.next_offset == job.first_uncleanable_offset
                    ended: AbortedTxn | None = None
                    if h.is_control:
                        discard, ended = txns.marker(h, marker_type(data, h))
                    else:
                        discard = txns.data_batch(h)
                    kept = clean_batch(
                        data,
                        h,
                        self.offsets,
                        now_ms=job.now_ms,
                        delete_retention_ms=job.config.delete_retention_ms,
                        keep_empty=keep_empty,
                        discard=discard,
                    )
                    self.bytes_read += h.size
                    self.records_read += h.records_count
                    kept_header = None if kept is None else h if kept is data else parse_header(kept)
                    if ended is not None and (kept_header is None or kept_header.records_count == 0):
                        aborts_removed.append(ended)
                    if kept is None or kept_header is None:
                        continue
                    self.records_kept += kept_header.records_count
                    headers.append((len(buffer), kept_header))
                    buffer += kept
                    if len(buffer) >= job.io_buffer_size:
                        self._append(out, buffer, headers)
            self._append(out, buffer, headers)
            out.finalize_time_index()
            out.flush()
        except BaseException:
            out.close()
            remove_cleaned(self.fs, job.directory, base)
            raise
        out.close()
        self.bytes_written += out.size
        return CleanedGroup(base, tuple(s.base_offset for s in sources), out.size, tuple(aborts_removed))

    def _append(self, out: LogSegment, buffer: bytearray, headers: list[tuple[int, BatchHeader]]) -> None:
        if headers:
            out.append(buffer, headers, self.job.now_ms)
        buffer.clear()
        headers.clear()
