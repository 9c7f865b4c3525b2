"""Sparse indexes of one segment: offset → file position, and timestamp → offset.

Both indexes are small sorted tables kept whole in memory (``array`` columns, searched with
``bisect``) and mirrored to a file by appending each new entry at its end. They are sparse:
``LogSegment`` adds an entry only after ``index.interval.bytes`` of batches since the previous
one, so a lookup gives a starting point near the target and the segment walks batch headers
from there.

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
segment then rebuilds the index from its batches. Not safe to share between threads; the
owning segment is the only caller.
"""

from __future__ import annotations

import bisect
import contextlib
import operator
import struct
import sys
from array import array
from itertools import islice

from moldau.util.fs import FileSystem

INT32_MAX = (1 << 31) - 1

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")


class CorruptIndexError(Exception):
    """An index file whose content cannot be right; the caller rebuilds it."""


def _strictly_increasing(values: array[int]) -> bool:
    return all(map(operator.lt, values, islice(values, 1, None)))


def _non_decreasing(values: array[int]) -> bool:
    return all(map(operator.le, values, islice(values, 1, None)))


class _IndexFile:
    """The file half of an index: a lazily opened descriptor, appends at the end, truncation,
    fsync only when something changed."""

    entry_size = 0

    def __init__(self, fs: FileSystem, path: str, base_offset: int, max_index_bytes: int) -> None:
        self.fs = fs
        self.path = path
        self.base_offset = base_offset
        self.max_entries = max(1, max_index_bytes // self.entry_size)
        self.loaded = False
        self._fd: int | None = None
        self._dirty = False

    def _file(self) -> int:
        if self._fd is None:
            self._fd = self.fs.open(self.path, create=True)
        return self._fd

    def _read_all(self) -> bytes:
        fd = self._file()
        size = self.fs.size(fd)
        if size % self.entry_size:
            raise CorruptIndexError(f"{self.path}: size {size} is not a multiple of {self.entry_size}")
        data = self.fs.pread(fd, size, 0) if size else b""
        if len(data) != size:
            raise CorruptIndexError(f"{self.path}: short read")
        return data

    def _write_at(self, entry_index: int, data: bytes) -> None:
        """Write entries from ``entry_index`` on; a failed write is cut back off the file
        (best effort: a file left with a torn entry fails ``load`` and gets rebuilt)."""
        fd, position = self._file(), entry_index * self.entry_size
        self._dirty = True
        try:
            self.fs.pwrite(fd, data, position)
        except OSError:
            with contextlib.suppress(OSError):
                self.fs.truncate(fd, position)
            raise

    def _truncate_file(self, entries: int) -> None:
        self.fs.truncate(self._file(), entries * self.entry_size)
        self._dirty = True

    def flush(self) -> None:
        if self._dirty and self._fd is not None:
            self.fs.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self.fs.close(fd)

    def rename(self, path: str) -> None:
        """Move the file (an open descriptor stays valid); a missing file is not an error."""
        if self.fs.exists(self.path):
            self.fs.rename(self.path, path)
        self.path = path

    def delete(self) -> None:
        self.close()
        if self.fs.exists(self.path):
            self.fs.remove(self.path)


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

    @property
    def is_full(self) -> bool:
        return len(self._rel) >= self.max_entries

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
        i = bisect.bisect_right(self._rel, offset - self.base_offset)
        if i == 0:
            return self.base_offset, 0
        return self.base_offset + self._rel[i - 1], self._pos[i - 1]

    def last_entry(self) -> tuple[int, int]:
        if not self._rel:
            return self.base_offset, 0
        return self.base_offset + self._rel[-1], self._pos[-1]

    def append(self, offset: int, position: int) -> bool:
        """Add an entry after the last one. Returns False (and adds nothing) when the index is
        full; raises ValueError when the entry would break the order."""
        rel = offset - self.base_offset
        if not 0 <= rel <= INT32_MAX or position > INT32_MAX:
            raise ValueError(f"offset {offset} / position {position} do not fit segment {self.base_offset}")
        if self._rel and (rel <= self._rel[-1] or position <= self._pos[-1]):
            raise ValueError(f"index entry ({offset}, {position}) is not after the last one")
        if self.is_full:
            return False
        self._write_at(len(self._rel), OFFSET_ENTRY.pack(rel, position))
        self._rel.append(rel)
        self._pos.append(position)
        return True

    def truncate_to(self, offset: int) -> None:
        """Drop every entry whose offset is >= ``offset``."""
        keep = bisect.bisect_left(self._rel, offset - self.base_offset)
        self.truncate_entries(keep)

    def truncate_entries(self, keep: int) -> None:
        if keep < len(self._rel):
            del self._rel[keep:]
            del self._pos[keep:]
            self._truncate_file(keep)

    def replace(self, entries: list[tuple[int, int]]) -> None:
        """Make the index exactly ``entries`` (``(offset, position)`` in order), written in one go;
        used when rebuilding from the segment."""
        data = b"".join(OFFSET_ENTRY.pack(o - self.base_offset, p) for o, p in entries)
        self._truncate_file(0)
        if data:
            self._write_at(0, data)
        self._rel = array("i", (o - self.base_offset for o, _ in entries))
        self._pos = array("i", (p for _, p in entries))
        self.loaded = True


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

    @property
    def is_full(self) -> bool:
        return len(self._ts) >= self.max_entries

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
        i = bisect.bisect_right(self._ts, timestamp)
        if i == 0:
            return -1, self.base_offset
        return self._ts[i - 1], self.base_offset + self._rel[i - 1]

    def last_entry(self) -> tuple[int, int]:
        if not self._ts:
            return -1, self.base_offset
        return self._ts[-1], self.base_offset + self._rel[-1]

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> bool:
        """Add ``(timestamp, offset)`` if ``timestamp`` is larger than the last entry's. A full
        index takes no more entries unless ``skip_full_check`` (used for the final entry when
        the segment stops being active)."""
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
        self._write_at(len(self._ts), TIME_ENTRY.pack(timestamp, rel))
        self._ts.append(timestamp)
        self._rel.append(rel)
        return True

    def truncate_to(self, offset: int) -> None:
        """Drop every entry whose offset is >= ``offset``."""
        keep = bisect.bisect_left(self._rel, offset - self.base_offset)
        self.truncate_entries(keep)

    def truncate_entries(self, keep: int) -> None:
        if keep < len(self._ts):
            del self._ts[keep:]
            del self._rel[keep:]
            self._truncate_file(keep)

    def replace(self, entries: list[tuple[int, int]]) -> None:
        """Make the index exactly ``entries`` (``(timestamp, offset)`` in order)."""
        data = b"".join(TIME_ENTRY.pack(t, o - self.base_offset) for t, o in entries)
        self._truncate_file(0)
        if data:
            self._write_at(0, data)
        self._ts = array("q", (t for t, _ in entries))
        self._rel = array("i", (o - self.base_offset for _, o in entries))
        self.loaded = True
