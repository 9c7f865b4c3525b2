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
import operator
import struct
import sys
from array import array
from itertools import islice

from moldau.storage.index_file import CorruptIndexError, IndexFile
from moldau.util.fs import FileSystem

__all__ = ["INT32_MAX", "OFFSET_ENTRY", "TIME_ENTRY", "CorruptIndexError", "OffsetIndex", "TimeIndex"]

INT32_MAX = (1 << 31) - 1

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")


def _strictly_increasing(values: array[int]) -> bool:
    return all(map(operator.lt, values, islice(values, 1, None)))


def _non_decreasing(values: array[int]) -> bool:
    return all(map(operator.le, values, islice(values, 1, None)))


def _to_big_endian_int32(data: bytes) -> array[int]:
    values: array[int] = array("i")
    values.frombytes(data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


class OffsetIndex(IndexFile):
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


class TimeIndex(IndexFile):
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
