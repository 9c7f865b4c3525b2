"""The file half of an index (index.py): entries mirrored to a file by appending at its end,
written in batches, truncated, rewritten, fsynced when something changed; failures of these
writes handled as index.py's docstring describes."""

from __future__ import annotations

import bisect
import logging
from array import array

from moldau.storage.open_files import FileHandle
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

PENDING_BYTES = 4096  # appended entries written in one go once this many bytes of them wait


class CorruptIndexError(Exception):
    """An index file whose content cannot be right; the caller rebuilds it."""


class IndexFile:
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
