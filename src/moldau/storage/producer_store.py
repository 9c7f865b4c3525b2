"""A partition's producer state on disk: snapshots, aborted-transaction indexes, and rebuilding
both from the log.

``ProducerStateStore`` belongs to one ``PartitionLog`` and owns, in its directory::

    00000000000000001234.snapshot    producer state at offset 1234, see producer_snapshot.py
    00000000000000001000.txnindex    aborted transactions of segment 1000, see txn_index.py

The log calls it at each step of its life; everything here is synchronous file I/O on the
event loop, raising ``OSError`` (and ``InvalidBatch`` from a segment) for the log to report.

* **Append** (``prepare`` and ``index_aborts`` before the write, ``complete`` after): the
  batches of producers are checked (producer_state.py); an ABORT marker that ends a
  transaction adds an entry to the transaction index of the segment it goes to, before the
  marker is written (and the entry is taken back if the write fails), so that no reader can
  see the marker without its entry; once the write succeeded the state is installed.
* **Roll**: a snapshot at the new segment's base offset, which is the log end. It is written
  to a temporary file and renamed, without fsync; the log's next flush fsyncs it. A snapshot
  that did not reach the disk only costs a longer replay: loading checks each snapshot's CRC
  and falls back to an older one.
* **Clean shutdown** (``close``): a snapshot at the log end, fsynced, unless one holding the
  same state is already there.
* **Segments deleted** (retention, DeleteRecords): their transaction indexes, and the
  snapshots below the first remaining segment, are renamed ``*.deleted`` and removed with the
  segments' files.
* **Segments replaced** by a cleaned one: their transaction index entries move to its index.
  A crash in between leaves an index without its segment, which loading merges the same way.
* **Truncation**: snapshots above the new end go (durably, at once), index entries of markers
  at or above it go, and the state is rebuilt as at start-up.

**Loading** (``load``, from ``PartitionLog.open``): snapshots above the log end or below the
first segment are removed, then the state is taken from the newest valid snapshot at or below
the recovery point (the log end after a clean shutdown) and the log is replayed from there to
its end: the 61-byte header of every data batch with a producer id (no record is decoded) and
the single record of every control batch. Replaying also recomputes the transaction index of
every replayed segment (kept entries: those of markers before the snapshot); a file that
differs is rewritten. Without any valid snapshot the replay starts at the first segment. A
directory without snapshots after a clean shutdown holds data written before snapshots
existed; as Kafka does, it is taken to have no producer state rather than replayed.

Using only snapshots at or below the recovery point means a snapshot is trusted only once the
data below it is on disk (flushes also fsync the directory, which makes the removal of
snapshots by truncation durable). Since every roll leaves a snapshot, an unclean start
replays the headers of at most the segments from the one holding the recovery point on.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from collections.abc import Sequence

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import BatchHeader, CorruptBatchError
from moldau.protocol.records.control import EndTxnMarker, parse_end_txn_marker
from moldau.storage.producer_snapshot import (
    CorruptSnapshotError,
    decode_snapshot,
    encode_snapshot,
    parse_snapshot_file_name,
    snapshot_file_name,
)
from moldau.storage.producer_state import (
    AppendOrigin,
    DuplicateOf,
    PendingAppend,
    ProducerStateManager,
)
from moldau.storage.segment import DELETED_SUFFIX, LogSegment
from moldau.storage.segments import LogSegments
from moldau.storage.txn_index import AbortedTxn, TransactionIndexes
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)


class ProducerStateStore:
    """See the module docstring."""

    def __init__(self, fs: FileSystem, directory: str, name: str) -> None:
        self.fs = fs
        self.dir = directory
        self.name = name
        self.state = ProducerStateManager()
        self.txn_indexes = TransactionIndexes(fs, directory)
        self._snapshots: list[int] = []  # offsets of the snapshot files, ascending
        self._unsynced: set[int] = set()  # snapshots written without fsync
        self._current: tuple[int, int] | None = None  # (offset, state version) of a snapshot file
        self._dir_changed = False

    def _snapshot_path(self, offset: int) -> str:
        return os.path.join(self.dir, snapshot_file_name(offset))

    @property
    def snapshot_offsets(self) -> list[int]:
        return list(self._snapshots)

    # -- loading -----------------------------------------------------------------------------

    def load(self, segments: LogSegments, *, log_end: int, recovery_point: int, clean_shutdown: bool) -> None:
        """Build the state of a log just opened (see the module docstring)."""
        names = self.fs.listdir(self.dir)
        self._snapshots = sorted(o for o in map(parse_snapshot_file_name, names) if o is not None)
        self.txn_indexes.discover(names)
        first_base = segments.first.base_offset
        for offset in [o for o in self._snapshots if o > log_end or o < first_base]:
            log.info("Removing producer snapshot %s: outside the log", self._snapshot_path(offset))
            self._remove_snapshot(offset)
        self._adopt_orphan_indexes(segments, log_end)
        if clean_shutdown and not self._snapshots:
            self.state.clear()
            return
        self._rebuild(segments, limit=min(recovery_point, log_end), log_end=log_end)

    def _adopt_orphan_indexes(self, segments: LogSegments, log_end: int) -> None:
        """A transaction index whose segment is gone: the cleaner merged the segment into the
        one before it (move the entries there), or it was deleted (drop the file)."""
        live = {s.base_offset for s in segments}
        for base in self.txn_indexes.bases:
            if base in live:
                continue
            holder = segments.floor(base)
            if holder is None or base >= log_end:
                log.info("Removing %s: its segment is gone", self.txn_indexes.path(base))
                self.txn_indexes.remove(base)
            else:
                log.info(
                    "Moving the entries of %s to segment %d", self.txn_indexes.path(base), holder.base_offset
                )
                self.txn_indexes.merge([base], holder.base_offset)

    def _rebuild(self, segments: LogSegments, *, limit: int, log_end: int) -> None:
        start = self._load_snapshot(limit)
        if start is None:
            self.state.clear()
            self._current = None
            start = segments.first.base_offset
        replayed = self._replay(segments, start, log_end)
        level = logging.INFO if replayed or len(self.state) else logging.DEBUG
        log.log(
            level,
            "Loaded the producer state of %s from %s and %d batches after it: %d producers, "
            "%d open transactions",
            self.name,
            f"the snapshot at {start}" if self._current is not None else "no snapshot",
            replayed,
            len(self.state),
            len(self.state.ongoing_transactions),
        )

    def _load_snapshot(self, limit: int) -> int | None:
        """Load the newest valid snapshot at or below ``limit``; returns its offset. Snapshots
        that fail to load are removed."""
        for offset in reversed(self._snapshots[: bisect.bisect_right(self._snapshots, limit)]):
            path = self._snapshot_path(offset)
            try:
                entries = decode_snapshot(self.fs.read_file(path))
            except CorruptSnapshotError as e:
                log.warning("Ignoring producer snapshot %s: %s", path, e)
                self._remove_snapshot(offset)
                continue
            self.state.load(entries)
            self._current = (offset, self.state.version)
            return offset
        return None

    def _replay(self, segments: LogSegments, start: int, log_end: int) -> int:
        """Replay the batches in [``start``, ``log_end``) into the state and recompute the
        transaction indexes of the segments replayed; returns the number of batches. Data
        batches are gathered into one pending change up to the next marker."""
        if start >= log_end:
            return 0
        visited = segments.from_offset(start)
        expected: dict[int, list[AbortedTxn]] = {}
        replayed = 0
        pending = self.state.begin(AppendOrigin.REPLICATION)
        for segment in visited:
            aborted = expected.setdefault(segment.base_offset, [])
            if segment is visited[0]:
                aborted += [t for t in self.txn_indexes.entries(segment.base_offset) if t.last_offset < start]
            position = 0
            if segment.base_offset < start:
                found = segment.translate_offset(start)
                if found is None:
                    continue
                position = found[0]
            for _, h, _ in segment.walk(position):
                if h.base_offset >= log_end:
                    break
                if h.producer_id < 0:
                    continue
                replayed += 1
                if not h.is_control:
                    pending.validate_append(h, first_offset=h.base_offset, timestamp=h.max_timestamp)
                    continue
                self.state.apply(pending)
                pending = self.state.begin(AppendOrigin.REPLICATION)
                marker = self._read_marker(segment, h)
                if marker is None:
                    continue
                pending.validate_marker(marker, offset=h.base_offset, timestamp=h.max_timestamp)
                for txn, lso in self.state.apply(pending):
                    if txn.is_aborted:
                        aborted.append(AbortedTxn(txn.producer_id, txn.first_offset, txn.last_offset, lso))
                pending = self.state.begin(AppendOrigin.REPLICATION)
        self.state.apply(pending)
        for base, txns in expected.items():
            if txns != self.txn_indexes.entries(base):
                log.info("Rebuilt %s: %d aborted transactions", self.txn_indexes.path(base), len(txns))
                self.txn_indexes.replace(base, txns)
        return replayed

    def _read_marker(self, segment: LogSegment, h: BatchHeader) -> EndTxnMarker | None:
        """The end-transaction marker of the control batch ``h``; None (logged) for one without
        records (the cleaner removed its transaction) or that does not parse."""
        if h.records_count == 0:
            return None
        got = segment.read(h.base_offset, h.size, min_one=True)
        try:
            if got is None or not got.data:
                raise CorruptBatchError("the batch cannot be read back")
            return parse_end_txn_marker(got.data)
        except CorruptBatchError as e:
            log.warning("%s: skipping the control batch at offset %d: %s", self.name, h.base_offset, e)
            return None

    # -- appending ---------------------------------------------------------------------------

    def prepare(
        self,
        data: bytes | bytearray | memoryview,
        headers: Sequence[tuple[int, BatchHeader]],
        *,
        first_offset: int,
        log_append_time_ms: int | None,
        origin: AppendOrigin,
        supports_epoch_bump: bool = False,
        transaction_version: int = 0,
    ) -> PendingAppend | DuplicateOf:
        """Check the producer batches among ``headers`` as they are about to be written from
        ``first_offset`` on (stamped with ``log_append_time_ms`` when not None). Returns the
        pending change, or ``DuplicateOf`` for a retried batch. Raises KafkaError."""
        pending = self.state.begin(
            origin, supports_epoch_bump=supports_epoch_bump, transaction_version=transaction_version
        )
        offset = first_offset
        for pos, h in headers:
            if h.producer_id >= 0:
                timestamp = h.max_timestamp if log_append_time_ms is None else log_append_time_ms
                if not h.is_control:
                    duplicate = pending.validate_append(h, first_offset=offset, timestamp=timestamp)
                    if duplicate is not None:
                        return duplicate
                elif origin is AppendOrigin.CLIENT:
                    raise KafkaError(ErrorCode.INVALID_RECORD, "clients may not write control batches")
                elif h.records_count:
                    try:
                        marker = parse_end_txn_marker(memoryview(data)[pos : pos + h.size])
                    except CorruptBatchError as e:
                        raise KafkaError(ErrorCode.INVALID_RECORD, f"bad control batch: {e}") from None
                    pending.validate_marker(marker, offset=offset, timestamp=timestamp)
            offset = offset + h.last_offset_delta + 1
        return pending

    def index_aborts(self, pending: PendingAppend, segment_base: int) -> list[int]:
        """Before the batches of ``pending`` are written to the segment at ``segment_base``:
        add the transactions its markers abort to that segment's transaction index. Returns
        the positions written at, for ``undo_index`` should the write fail. Raises OSError
        (with nothing left behind but, at worst, a partial entry that readers ignore)."""
        positions: list[int] = []
        try:
            for txn, lso in self.state.completions(pending):
                if txn.is_aborted:
                    entry = AbortedTxn(txn.producer_id, txn.first_offset, txn.last_offset, lso)
                    positions.append(self.txn_indexes.append(segment_base, entry))
        except OSError:
            if positions:
                self.undo_index(segment_base, positions)
            raise
        return positions

    def undo_index(self, segment_base: int, positions: list[int]) -> None:
        """Take back what ``index_aborts`` wrote. Raises OSError."""
        if positions:
            self.txn_indexes.undo_append(segment_base, positions[0])

    def complete(self, pending: PendingAppend) -> None:
        """Install ``pending`` now that its batches are in the log (no I/O)."""
        self.state.apply(pending)

    # -- snapshots ---------------------------------------------------------------------------

    def take_snapshot(self, offset: int) -> None:
        """Snapshot the state at ``offset`` (a roll: the log end) without fsync. A failure is
        logged, not raised: the snapshot only saves replaying."""
        if self._current == (offset, self.state.version):
            return
        try:
            self._write_snapshot(offset, sync=False)
        except OSError as e:
            log.warning("Could not write the producer snapshot of %s at offset %d: %s", self.name, offset, e)

    def snapshot_for_close(self, offset: int) -> None:
        """Snapshot the state at the log end ``offset``, durably (clean shutdown)."""
        if self._current == (offset, self.state.version) and offset not in self._unsynced:
            return
        self._write_snapshot(offset, sync=True)

    def _write_snapshot(self, offset: int, *, sync: bool) -> None:
        path = self._snapshot_path(offset)
        data = encode_snapshot(self.state.producers.values())
        if sync:
            self.fs.write_atomic(path, data)
            self._unsynced.discard(offset)
        else:
            tmp = path + ".tmp"
            try:
                fd = self.fs.open(tmp, create=True)
                try:
                    self.fs.truncate(fd, 0)
                    self.fs.pwrite(fd, data, 0)
                finally:
                    self.fs.close(fd)
                self.fs.rename(tmp, path)
            except OSError:
                with contextlib.suppress(OSError):
                    self.fs.remove(tmp)
                raise
            self._unsynced.add(offset)
            self._dir_changed = True
        i = bisect.bisect_left(self._snapshots, offset)
        if i == len(self._snapshots) or self._snapshots[i] != offset:
            self._snapshots.insert(i, offset)
        self._current = (offset, self.state.version)

    def _remove_snapshot(self, offset: int) -> None:
        path = self._snapshot_path(offset)
        if self.fs.exists(path):
            self.fs.remove(path)
        self._forget_snapshot(offset)

    def _forget_snapshot(self, offset: int) -> None:
        if offset in self._snapshots:
            self._snapshots.remove(offset)
        self._unsynced.discard(offset)
        if self._current is not None and self._current[0] == offset:
            self._current = None
        self._dir_changed = True

    # -- segments leaving --------------------------------------------------------------------

    def segments_deleted(self, bases: list[int], first_remaining_base: int) -> list[str]:
        """The segments at ``bases`` were deleted: rename their transaction indexes and the
        snapshots below ``first_remaining_base`` to ``*.deleted``; returns the new paths, for the
        caller to remove with the segments' files."""
        paths = [p for p in map(self.txn_indexes.mark_deleted, bases) if p is not None]
        for offset in [o for o in self._snapshots if o < first_remaining_base]:
            path = self._snapshot_path(offset)
            if self.fs.exists(path):
                self.fs.rename(path, path + DELETED_SUFFIX)
                paths.append(path + DELETED_SUFFIX)
            self._forget_snapshot(offset)
        return paths

    def segments_replaced(self, old_bases: list[int], new_base: int) -> None:
        self.txn_indexes.merge(old_bases, new_base)

    def truncated(self, segments: LogSegments, offset: int) -> None:
        """The log was cut at ``offset`` (its new end): drop what lies above and rebuild."""
        above = [o for o in self._snapshots if o > offset]
        for o in above:
            self._remove_snapshot(o)
        if above:
            self.fs.fsync_dir(self.dir)
        self.txn_indexes.truncate(offset, {s.base_offset for s in segments})
        self._rebuild(segments, limit=offset, log_end=offset)

    def truncated_fully(self) -> None:
        """Every segment went (the log restarts empty): so does everything here."""
        for offset in list(self._snapshots):
            self._remove_snapshot(offset)
        for base in self.txn_indexes.bases:
            self.txn_indexes.remove(base)
        self.state.clear()
        self._current = None

    # -- durability --------------------------------------------------------------------------

    def flush(self, offset: int) -> bool:
        """fsync the transaction indexes appended to and the snapshots at or below ``offset``
        written since the last flush. Returns whether files were created or removed since, so
        that the caller fsyncs the directory."""
        changed = self.txn_indexes.flush()
        for snapshot in sorted(self._unsynced):
            if snapshot > offset:
                break
            fd = self.fs.open(self._snapshot_path(snapshot))
            try:
                self.fs.fsync(fd)
            finally:
                self.fs.close(fd)
            self._unsynced.discard(snapshot)
        changed, self._dir_changed = changed or self._dir_changed, False
        return changed

    # -- reading -----------------------------------------------------------------------------

    def aborted_transactions(
        self, segments: LogSegments, fetch_offset: int, upper_bound_offset: int
    ) -> list[AbortedTxn]:
        """The aborted transactions of the indexes from the segment holding ``fetch_offset`` on.
        Indexes are found by their files, not by the segments, so entries that a failed merge
        left behind (``segments_replaced``) are still seen."""
        if self.txn_indexes.empty:
            return []
        holder = segments.floor(fetch_offset)
        start = holder.base_offset if holder is not None else 0
        bases = [b for b in self.txn_indexes.bases if b >= start]
        return self.txn_indexes.collect(bases, fetch_offset, upper_bound_offset)
