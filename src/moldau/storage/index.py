"""Sparse indexes of one segment: offset → file position, and timestamp → offset.

Both indexes are small sorted tables kept whole in memory (``array`` columns, searched with
``bisect``) and mirrored to a file by appending new entries at its end. They are sparse:
``LogSegment`` adds an entry only after ``index.interval.bytes`` of batches since the previous
one, so a lookup gives a starting point near the target and the segment walks batch headers
from there.

An appended entry is held back in memory and written together with the ones after it: when
``PENDING_BYTES`` of them wait, and before the file is flushed or closed (also when the
open-file cache closes it). Kafka's indexes are memory-mapped, so adding an entry costs no
system call there; here it costs one ``pwrite`` per few hundred entries instead of two per
indexed batch (both indexes). Entries not yet written when the broker crashes belong to data
that was not flushed either, and recovery rebuilds the index past the recovery point. A write
that fails (a full disk) leaves the entries queued, in memory and in lookups, for the next try:
the index on disk is then sparser for a while, which costs longer scans, never wrong answers.

Both files are Kafka's formats (byte layouts in the class docstrings), so Kafka's tools can
read Moldau's indexes.

The files are not preallocated. Kafka sizes an index to ``segment.index.bytes`` up front
because it memory-maps it, and trims it when the segment is closed; Moldau writes entries
with ``pwrite`` and has nothing to map, so each file is exactly as long as its entries. That
keeps two things simple: the entry count is the file size divided by the entry size, and a
crash can never leave a run of zero-filled slots to tell apart from real entries.
``segment.index.bytes`` still bounds the entry count: a full index makes the log roll.

Loading is lazy and checked: ``load()`` reads the whole file once and raises
``CorruptIndexError`` when the entries are not monotonic or point outside the segment; the
segment then rebuilds the index from its batches. Nothing loads an index at start-up; the
segment does on its first lookup or append. A loaded index stays in memory until its file
leaves the log manager's open-file cache (open_files.py), so the memory held by indexes is
bounded by the cache's capacity. Recovery after a crash keeps the entries the recovery point vouches for
(``valid_prefix_on_disk``) and rewrites only what follows them (``replace_tail``). Not
safe to share between threads; the owning segment is the only caller.
"""

from __future__ import annotations

import bisect
import logging
import operator
import struct
import sys
from array import array
from itertools import islice

from moldau.storage.open_files import FileHandle
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

INT32_MAX = (1 << 31) - 1
PENDING_BYTES = 4096  # appended entries written in one go once this many bytes of them wait

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")


class CorruptIndexError(Exception):
    """An index file whose content cannot be right; the caller rebuilds it."""


def _strictly_increasing(values: array[int]) -> bool:
    return all(map(operator.lt, values, islice(values, 1, None)))


def _non_decreasing(values: array[int]) -> bool:
    return all(map(operator.le, values, islice(values, 1, None)))


class _IndexFile:
    """The file half of an index: a ``FileHandle`` (its own descriptor, or one borrowed from
    the log manager's open-file cache, see open_files.py), appends at the end, truncation,
    fsync only when something changed.

    A failed truncation is remembered and retried before the next use of the file, so a file
    left longer than the entries in memory is cut back as soon as the disk allows.
    ``unload`` drops the entries from memory (the cache calls it when it closes the file);
    every use of the entries needs ``load`` or ``replace`` first, and the methods that use
    them refuse an unloaded index rather than act on an empty one."""

    entry_size = 0
    _rel: array[int]  # each entry's offset relative to base_offset (both indexes have one)

    def __init__(self, fs: FileSystem, path: str, base_offset: int, max_index_bytes: int) -> None:
        self.fs = fs
        self.handle = FileHandle(fs, path, on_evicted=self.unload, on_closing=self._write_pending_to)
        self.base_offset = base_offset
        self.max_entries = max(1, max_index_bytes // self.entry_size)
        self.loaded = False
        self._dirty = False
        self._cut_to: int | None = None  # entries the file must be truncated to before its next use
        self._pending = bytearray()  # the last entries in memory, not written to the file yet
        self._write_failing = False  # the last try to write them failed (logged once)

    @property
    def path(self) -> str:
        return self.handle.path

    @path.setter
    def path(self, value: str) -> None:
        self.handle.path = value

    def _file(self) -> int:
        return self._cut_owed(self.handle.descriptor(create=True))

    def _cut_owed(self, fd: int) -> int:
        """``fd``, after the truncation a failed one left owed (if any)."""
        if self._cut_to is not None:
            self.fs.truncate(fd, self._cut_to * self.entry_size)
            self._cut_to = None
        return fd

    def _written(self) -> int:
        """Entries in memory that the file holds (the rest are queued)."""
        return len(self) - len(self._pending) // self.entry_size

    def _require_loaded(self) -> None:
        if not self.loaded:
            raise RuntimeError(f"{self.path}: the index is not loaded")

    def _clear(self) -> None:
        raise NotImplementedError

    def truncate_entries(self, keep: int) -> None:
        raise NotImplementedError

    def truncate_to(self, offset: int) -> None:
        """Drop every entry whose offset is >= ``offset``."""
        self._require_loaded()
        keep = bisect.bisect_left(self._rel, offset - self.base_offset)
        self.truncate_entries(keep)

    def unload(self) -> None:
        """Forget the entries (the file keeps those written; closing the file writes the
        pending ones); the next use loads them again."""
        self._clear()
        self._pending = bytearray()
        self.loaded = False

    def _add(self, entry: bytes) -> None:
        """Queue a packed entry appended in memory for the file."""
        self._pending += entry
        if len(self._pending) >= PENDING_BYTES:
            self._write_pending()

    def _write_pending(self) -> None:
        """Write the queued entries at the end of the file. On failure they stay queued, the
        file is cut back to the entries before them, and the failure is logged (once, until a
        write succeeds again)."""
        if not self._pending:
            return
        try:
            self._write_at(self._written(), bytes(self._pending))
        except OSError as e:
            if not self._write_failing:
                log.warning("Could not write index entries to %s (kept in memory, retried): %s", self.path, e)
                self._write_failing = True
            return
        self._pending = bytearray()
        self._write_failing = False

    def _write_pending_to(self, fd: int) -> None:
        """The queued entries, through ``fd`` as the file is being closed. A failure is logged
        and the entries are dropped from the file's future (not from memory until unload): the
        index on disk is then sparser than it could be, which costs a longer scan, not a wrong
        answer."""
        if not self._pending:
            return
        try:
            self._write_at(self._written(), bytes(self._pending), self._cut_owed(fd))
        except OSError as e:
            lost = len(self) - self._written()
            log.warning("Could not write %d index entries to %s: %s", lost, self.path, e)
        self._pending = bytearray()

    def _drop_entries_after(self, keep: int) -> None:
        """The file side of cutting the entries in memory to ``keep``: queued entries past it
        are forgotten, written ones truncated."""
        written = self._written()
        if keep >= written:
            del self._pending[(keep - written) * self.entry_size :]
        else:
            self._pending = bytearray()
            self._truncate_file(keep)

    def _read_all(self) -> bytes:
        fd = self._file()
        size = self.fs.size(fd)
        if size % self.entry_size:
            raise CorruptIndexError(f"{self.path}: size {size} is not a multiple of {self.entry_size}")
        data = self.fs.pread(fd, size, 0) if size else b""
        if len(data) != size:
            raise CorruptIndexError(f"{self.path}: short read")
        return data

    def _write_at(self, entry_index: int, data: bytes, fd: int | None = None) -> None:
        """Write entries from ``entry_index`` on (through ``fd`` when given: the file is being
        closed); a failed write is cut back off the file (now, or before the next use of the
        file when the truncation fails too)."""
        fd = self._file() if fd is None else fd
        position = entry_index * self.entry_size
        self._dirty = True
        try:
            self.fs.pwrite(fd, data, position)
        except OSError:
            try:
                self.fs.truncate(fd, position)
            except OSError:
                self._cut_to = entry_index
            raise

    def _rewrite_from(self, keep: int, data: bytes) -> None:
        """Make the file its first ``keep`` entries followed by ``data``, writing only where it
        differs from what the file holds: a recovery that finds an index intact writes nothing,
        and one that finds it torn cuts and writes only the tail."""
        fd = self._file()
        start = keep * self.entry_size
        size = self.fs.size(fd)
        current = self.fs.pread(fd, size - start, start) if size > start else b""
        same = _common_entries(current, data, self.entry_size)
        if same * self.entry_size < len(data):  # overwrite in place: no blocks freed and reallocated
            self._write_at(keep + same, data[same * self.entry_size :])
        if size > start + len(data):
            self._truncate_file(keep + len(data) // self.entry_size)

    def _truncate_file(self, entries: int) -> None:
        self._dirty = True
        try:
            self.fs.truncate(self._file(), entries * self.entry_size)
        except OSError:
            self._cut_to = entries
            raise

    def _read_whole_entries(self) -> bytes:
        """The file's content up to its last whole entry (a torn entry at the end is left out)."""
        fd = self._file()
        size = self.fs.size(fd)
        size -= size % self.entry_size
        return self.fs.pread(fd, size, 0) if size else b""

    def entry_count(self) -> int:
        """Entries in memory when loaded, else in the file (without opening it)."""
        if self.loaded:
            return len(self)
        try:
            return self.fs.path_size(self.path) // self.entry_size
        except FileNotFoundError:
            return 0

    @property
    def is_full(self) -> bool:
        count = len(self) if self.loaded else self.entry_count()
        return count >= self.max_entries

    def __len__(self) -> int:
        raise NotImplementedError

    def flush(self) -> None:
        """Write the queued entries (see the module docstring for a failure), then fsync when
        something was written since the last flush (reopening the file if the cache closed it
        meanwhile)."""
        self._write_pending()
        if self._dirty:  # (a cut still owed is left for the next write: fsync needs none)
            self.fs.fsync(self.handle.descriptor(create=True))
            self._dirty = False

    def close(self) -> None:
        self.handle.close()

    def rename(self, path: str) -> None:
        """Move the file (an open descriptor stays valid); a missing file is not an error."""
        if self.fs.exists(self.path):
            self.fs.rename(self.path, path)
        self.path = path

    def delete(self) -> None:
        self.close()
        if self.fs.exists(self.path):
            self.fs.remove(self.path)


def _common_entries(a: bytes, b: bytes, entry_size: int) -> int:
    """How many whole entries ``a`` and ``b`` share from their start."""
    lo, hi = 0, min(len(a), len(b)) // entry_size
    if a[: hi * entry_size] == b[: hi * entry_size]:
        return hi
    while lo < hi:  # the largest n with equal first n entries, by bisection over memcmp
        mid = (lo + hi + 1) // 2
        if a[: mid * entry_size] == b[: mid * entry_size]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _to_big_endian_int32(data: bytes) -> array[int]:
    values: array[int] = array("i")
    values.frombytes(data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


class OffsetIndex(_IndexFile):
    """``offset → position`` for one segment, in ``<base_offset>.index``.

    File layout: entries back to back, no header, 8 bytes each, big-endian::

        offset  size  field
             0     4  relative offset   last offset of the indexed batch - segment base offset
             4     4  position          byte position of that batch in the .log file

    Both columns strictly increase from entry to entry."""

    entry_size = OFFSET_ENTRY.size

    def __init__(self, fs: FileSystem, path: str, base_offset: int, max_index_bytes: int) -> None:
        super().__init__(fs, path, base_offset, max_index_bytes)
        self._rel: array[int] = array("i")
        self._pos: array[int] = array("i")

    def __len__(self) -> int:
        return len(self._rel)

    def _clear(self) -> None:
        self._rel, self._pos = array("i"), array("i")

    def load(self, segment_size: int) -> None:
        """Read and check the file. Raises CorruptIndexError when an entry is out of order or
        points at or past ``segment_size``; FileNotFoundError never (a missing file is empty)."""
        flat = _to_big_endian_int32(self._read_all())
        rel, pos = flat[0::2], flat[1::2]
        if rel and (rel[0] < 0 or pos[0] < 0):
            raise CorruptIndexError(f"{self.path}: negative first entry")
        if not (_strictly_increasing(rel) and _strictly_increasing(pos)):
            raise CorruptIndexError(f"{self.path}: entries are not increasing")
        if pos and pos[-1] >= segment_size:
            raise CorruptIndexError(
                f"{self.path}: last entry points at position {pos[-1]}, segment has {segment_size} bytes"
            )
        self._rel, self._pos = rel, pos
        self.loaded = True

    def lookup(self, offset: int) -> tuple[int, int]:
        """The entry with the largest offset <= ``offset`` as ``(offset, position)``, or
        ``(base_offset, 0)`` when every entry is larger."""
        self._require_loaded()
        i = bisect.bisect_right(self._rel, offset - self.base_offset)
        if i == 0:
            return self.base_offset, 0
        return self.base_offset + self._rel[i - 1], self._pos[i - 1]

    def last_entry(self) -> tuple[int, int]:
        self._require_loaded()
        if not self._rel:
            return self.base_offset, 0
        return self.base_offset + self._rel[-1], self._pos[-1]

    def append(self, offset: int, position: int) -> bool:
        """Add an entry after the last one. Returns False (and adds nothing) when the index is
        full; raises ValueError when the entry would break the order."""
        self._require_loaded()
        rel = offset - self.base_offset
        if not 0 <= rel <= INT32_MAX or position > INT32_MAX:
            raise ValueError(f"offset {offset} / position {position} do not fit segment {self.base_offset}")
        if self._rel and (rel <= self._rel[-1] or position <= self._pos[-1]):
            raise ValueError(f"index entry ({offset}, {position}) is not after the last one")
        if self.is_full:
            return False
        self._rel.append(rel)
        self._pos.append(position)
        self._add(OFFSET_ENTRY.pack(rel, position))
        return True

    def truncate_entries(self, keep: int) -> None:
        self._require_loaded()
        if keep < len(self._rel):
            self._drop_entries_after(keep)
            del self._rel[keep:]
            del self._pos[keep:]

    def replace(self, entries: list[tuple[int, int]]) -> None:
        """Make the index exactly ``entries`` (``(offset, position)`` in order), written in one go;
        used when rebuilding from the segment."""
        self.unload()
        self.replace_tail(0, entries)
        self._rel = array("i", (o - self.base_offset for o, _ in entries))
        self._pos = array("i", (p for _, p in entries))
        self.loaded = True

    def replace_tail(self, keep: int, entries: list[tuple[int, int]]) -> None:
        """Keep the first ``keep`` entries of the file and write ``entries`` after them, in one
        write; the index is left unloaded (the next use loads and checks the whole file).
        Used by recovery, which trusts the entries below the recovery point."""
        self.unload()
        self._rewrite_from(keep, b"".join(OFFSET_ENTRY.pack(o - self.base_offset, p) for o, p in entries))

    def valid_prefix_on_disk(self, below_offset: int, segment_size: int) -> list[tuple[int, int]]:
        """The entries ``(offset, position)`` at the start of the file, as long as they are in
        order, point inside ``segment_size`` and have offsets below ``below_offset``. Reads the
        file, not the loaded entries; what follows (a torn or unflushed tail) is ignored."""
        data = self._read_whole_entries()
        out: list[tuple[int, int]] = []
        last_rel = last_pos = -1
        for rel, position in OFFSET_ENTRY.iter_unpack(data):
            if rel <= last_rel or position <= last_pos or position >= segment_size:
                break
            if self.base_offset + rel >= below_offset:
                break
            out.append((self.base_offset + rel, position))
            last_rel, last_pos = rel, position
        return out


class TimeIndex(_IndexFile):
    """``timestamp → offset`` for one segment, in ``<base_offset>.timeindex``.

    File layout: entries back to back, no header, 12 bytes each, big-endian::

        offset  size  field
             0     8  timestamp         the segment's largest batch max timestamp so far
             8     4  relative offset   last offset of the batch that carried it - base offset

    Timestamps strictly increase (an entry is added only when the maximum grows); offsets
    never decrease."""

    entry_size = TIME_ENTRY.size

    def __init__(self, fs: FileSystem, path: str, base_offset: int, max_index_bytes: int) -> None:
        super().__init__(fs, path, base_offset, max_index_bytes)
        self._ts: array[int] = array("q")
        self._rel: array[int] = array("i")

    def __len__(self) -> int:
        return len(self._ts)

    def _clear(self) -> None:
        self._ts, self._rel = array("q"), array("i")

    def load(self) -> None:
        """Read and check the file. Raises CorruptIndexError when timestamps do not increase or
        offsets go backwards or below the segment's base."""
        data = self._read_all()
        ts: array[int] = array("q")
        rel: array[int] = array("i")
        for t, r in TIME_ENTRY.iter_unpack(data):
            ts.append(t)
            rel.append(r)
        if rel and rel[0] < 0:
            raise CorruptIndexError(f"{self.path}: negative relative offset")
        if not (_strictly_increasing(ts) and _non_decreasing(rel)):
            raise CorruptIndexError(f"{self.path}: entries are not in order")
        self._ts, self._rel = ts, rel
        self.loaded = True

    def lookup(self, timestamp: int) -> tuple[int, int]:
        """The entry with the largest timestamp <= ``timestamp`` as ``(timestamp, offset)``, or
        ``(-1, base_offset)`` when there is none."""
        self._require_loaded()
        i = bisect.bisect_right(self._ts, timestamp)
        if i == 0:
            return -1, self.base_offset
        return self._ts[i - 1], self.base_offset + self._rel[i - 1]

    def last_entry(self) -> tuple[int, int]:
        self._require_loaded()
        if not self._ts:
            return -1, self.base_offset
        return self._ts[-1], self.base_offset + self._rel[-1]

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> bool:
        """Add ``(timestamp, offset)`` if ``timestamp`` is larger than the last entry's. A full
        index takes no more entries unless ``skip_full_check`` (used for the final entry when
        the segment stops being active)."""
        self._require_loaded()
        if self._ts and timestamp <= self._ts[-1]:
            return False
        if timestamp < 0:
            return False
        rel = offset - self.base_offset
        if not 0 <= rel <= INT32_MAX:
            raise ValueError(f"offset {offset} does not fit segment {self.base_offset}")
        if self._rel and rel < self._rel[-1]:
            raise ValueError(f"time index offset {offset} goes backwards")
        if self.is_full and not skip_full_check:
            return False
        self._ts.append(timestamp)
        self._rel.append(rel)
        self._add(TIME_ENTRY.pack(timestamp, rel))
        return True

    def truncate_entries(self, keep: int) -> None:
        self._require_loaded()
        if keep < len(self._ts):
            self._drop_entries_after(keep)
            del self._ts[keep:]
            del self._rel[keep:]

    def replace(self, entries: list[tuple[int, int]]) -> None:
        """Make the index exactly ``entries`` (``(timestamp, offset)`` in order)."""
        self.unload()
        self.replace_tail(0, entries)
        self._ts = array("q", (t for t, _ in entries))
        self._rel = array("i", (o - self.base_offset for _, o in entries))
        self.loaded = True

    def replace_tail(self, keep: int, entries: list[tuple[int, int]]) -> None:
        """As ``OffsetIndex.replace_tail``: keep ``keep`` entries of the file, write ``entries``
        after them, leave the index unloaded."""
        self.unload()
        self._rewrite_from(keep, b"".join(TIME_ENTRY.pack(t, o - self.base_offset) for t, o in entries))

    def valid_prefix_on_disk(self, up_to_offset: int) -> list[tuple[int, int]]:
        """The entries ``(timestamp, offset)`` at the start of the file, as long as they are in
        order and have offsets up to ``up_to_offset``; as ``OffsetIndex.valid_prefix_on_disk``."""
        data = self._read_whole_entries()
        out: list[tuple[int, int]] = []
        last_ts, last_rel = -1, 0
        for timestamp, rel in TIME_ENTRY.iter_unpack(data):
            if timestamp <= last_ts or rel < last_rel or self.base_offset + rel > up_to_offset:
                break
            out.append((timestamp, self.base_offset + rel))
            last_ts, last_rel = timestamp, rel
        return out
