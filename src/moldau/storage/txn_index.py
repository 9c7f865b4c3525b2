"""The aborted-transaction indexes of a partition: one ``<base offset>.txnindex`` per segment.

When an ABORT marker ends a transaction that wrote to the partition, the log appends an entry
to the transaction index of the segment the marker went to. A read_committed fetch asks which
aborted transactions overlap the offsets it returns (``collect``), so that the consumer can
drop their records; the Fetch response carries them as ``(producer id, first offset)``.

File layout, Kafka's: entries back to back, no header, 34 bytes each, big-endian::

    offset  size  field
         0     2  version             INT16, 0
         2     8  producer_id         INT64
        10     8  first_offset        INT64   the transaction's first offset
        18     8  last_offset         INT64   the offset of its ABORT marker
        26     8  last_stable_offset  INT64   the partition's LSO once the marker was written

Entries follow marker order, so ``last_offset`` increases through a file and from one
segment's file to the next. The ``last_stable_offset`` lets a search stop early: no later
entry can belong to a transaction that started before it.

Most segments never see an abort, so a file exists only once a segment has an entry (the set
of segments that have one is read from the directory listing at start-up and kept). Files are
not held open: an append opens, writes and closes; a read reads the whole (small) file. The
parsed entries of the most recently read files are cached. Appends are fsynced by ``flush``,
which the log calls whenever it flushes segments, so an entry is durable before the recovery
point passes its marker. After an unclean stop, producer_store.py rebuilds the files of the
segments it replays. Owned by the partition's log, on the event loop; not thread-safe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from moldau.storage.segment import DELETED_SUFFIX, segment_file_name
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

TXN_INDEX_SUFFIX = ".txnindex"
ENTRY_VERSION = 0
ENTRY = struct.Struct(">hqqqq")
CACHED_FILES = 16


class CorruptTxnIndexError(ValueError):
    """A transaction index entry of an unknown version."""


class AbortedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int


def encode_entries(txns: Iterable[AbortedTxn]) -> bytes:
    return b"".join(ENTRY.pack(ENTRY_VERSION, *t) for t in txns)


def decode_entries(data: bytes, path: str) -> list[AbortedTxn]:
    """The entries of a file's content. A partial last entry (a write cut short by a crash) is
    ignored; an entry of another version raises CorruptTxnIndexError."""
    whole = len(data) - len(data) % ENTRY.size
    if whole != len(data):
        log.warning("Ignoring %d bytes of a partial entry at the end of %s", len(data) - whole, path)
    out = []
    for version, *fields in ENTRY.iter_unpack(data[:whole]):
        if version != ENTRY_VERSION:
            raise CorruptTxnIndexError(f"{path}: entry of unknown version {version}")
        out.append(AbortedTxn(*fields))
    return out


def parse_txn_index_name(name: str) -> int | None:
    """The base offset of a file named ``<digits>.txnindex``, else None."""
    stem, ext = os.path.splitext(name)
    return int(stem) if ext == TXN_INDEX_SUFFIX and stem.isdigit() else None


class TransactionIndexes:
    """The ``.txnindex`` files of one partition directory, by segment base offset."""

    def __init__(self, fs: FileSystem, directory: str) -> None:
        self.fs = fs
        self.dir = directory
        self._bases: set[int] = set()  # segments that have a file
        self._cache: OrderedDict[int, list[AbortedTxn]] = OrderedDict()
        self._unsynced: set[int] = set()
        self.created_files = False  # a file appeared or went since the last flush

    def path(self, base: int) -> str:
        return os.path.join(self.dir, segment_file_name(base, TXN_INDEX_SUFFIX))

    @property
    def bases(self) -> list[int]:
        return sorted(self._bases)

    @property
    def empty(self) -> bool:
        """No segment has an aborted transaction."""
        return not self._bases

    def discover(self, names: Iterable[str]) -> None:
        """Note which segments have a file, from the directory listing."""
        self._bases = {b for b in map(parse_txn_index_name, names) if b is not None}
        self._cache.clear()
        self._unsynced.clear()

    # -- reading -----------------------------------------------------------------------------

    def entries(self, base: int) -> list[AbortedTxn]:
        """The entries of the segment at ``base`` (empty when it has no file)."""
        if base not in self._bases:
            return []
        cached = self._cache.get(base)
        if cached is None:
            path = self.path(base)
            cached = decode_entries(self.fs.read_file(path), path)
            self._cache[base] = cached
            while len(self._cache) > CACHED_FILES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(base)
        return cached

    def collect(self, bases: Iterable[int], fetch_offset: int, upper_bound_offset: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping [``fetch_offset``, ``upper_bound_offset``): those whose
        marker is at or after the fetch offset and that started before the upper bound.
        ``bases`` are the segments from the one holding the fetch offset on, in order."""
        out = []
        for base in bases:
            for txn in self.entries(base):
                if txn.last_offset >= fetch_offset and txn.first_offset < upper_bound_offset:
                    out.append(txn)
                if txn.last_stable_offset >= upper_bound_offset:
                    return out
        return out

    # -- writing -----------------------------------------------------------------------------

    def append(self, base: int, txn: AbortedTxn) -> int:
        """Add an entry at the end of the segment's file, creating it if needed. Returns the
        position it was written at, for ``undo_append``. A failed write is cut back off the
        file (should that fail too, readers ignore the partial entry and the next append
        overwrites it)."""
        path = self.path(base)
        fd = self.fs.open(path, create=True)
        try:
            if base not in self._bases:
                self._bases.add(base)
                self.created_files = True
            size = self.fs.size(fd)
            position = size - size % ENTRY.size
            if position != size:
                self.fs.truncate(fd, position)
            try:
                self.fs.pwrite(fd, ENTRY.pack(ENTRY_VERSION, *txn), position)
            except OSError:
                with contextlib.suppress(OSError):
                    self.fs.truncate(fd, position)
                raise
        finally:
            self.fs.close(fd)
        self._unsynced.add(base)
        cached = self._cache.get(base)
        if cached is not None:
            cached.append(txn)
        return position

    def undo_append(self, base: int, position: int) -> None:
        """Take back the entries written from ``position`` on (the append they index failed);
        an emptied file is removed."""
        self._cache.pop(base, None)
        if position == 0:
            self.remove(base)
            return
        fd = self.fs.open(self.path(base))
        try:
            self.fs.truncate(fd, position)
        finally:
            self.fs.close(fd)

    def replace(self, base: int, txns: list[AbortedTxn]) -> None:
        """Make the segment's file hold exactly ``txns`` (removing it when empty), atomically."""
        self._cache.pop(base, None)
        if not txns:
            self.remove(base)
            return
        self.fs.write_atomic(self.path(base), encode_entries(txns))
        self._bases.add(base)
        self._unsynced.discard(base)

    def remove(self, base: int) -> None:
        """Delete the segment's file now (truncation, a rebuild that found nothing)."""
        self._cache.pop(base, None)
        self._unsynced.discard(base)
        if base in self._bases:
            self._bases.discard(base)
            path = self.path(base)
            if self.fs.exists(path):
                self.fs.remove(path)
            self.created_files = True

    def mark_deleted(self, base: int) -> str | None:
        """Rename the segment's file to ``*.deleted`` (the segment is being deleted); returns the
        new path for the caller to remove later, None when there is no file."""
        self._cache.pop(base, None)
        self._unsynced.discard(base)
        if base not in self._bases:
            return None
        self._bases.discard(base)
        path = self.path(base)
        if not self.fs.exists(path):
            return None
        self.fs.rename(path, path + DELETED_SUFFIX)
        self.created_files = True
        return path + DELETED_SUFFIX

    def merge(self, sources: list[int], target: int) -> None:
        """Move the entries of the segments at ``sources`` into the one at ``target`` (the
        cleaner replaced them by it), in marker order and without repeats."""
        merged = sorted(
            set(self.entries(target)).union(*(self.entries(b) for b in sources if b != target)),
            key=lambda t: (t.last_offset, t.producer_id),
        )
        if merged != self.entries(target):
            self.replace(target, merged)
        for base in sources:
            if base != target:
                self.remove(base)

    def truncate(self, offset: int, live_bases: set[int]) -> None:
        """Drop entries whose marker is at or after ``offset``, and the files of segments that
        are gone."""
        for base in list(self._bases):
            if base not in live_bases:
                self.remove(base)
                continue
            kept = [t for t in self.entries(base) if t.last_offset < offset]
            if len(kept) != len(self.entries(base)):
                self.replace(base, kept)

    def flush(self) -> bool:
        """fsync the files appended to since the last flush. Returns whether files were created
        or removed since, so that the directory needs an fsync too."""
        for base in sorted(self._unsynced):
            fd = self.fs.open(self.path(base))
            try:
                self.fs.fsync(fd)
            finally:
                self.fs.close(fd)
            self._unsynced.discard(base)
        created, self.created_files = self.created_files, False
        return created
