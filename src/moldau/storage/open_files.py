"""A bounded cache of open segment files, shared by every log of a log manager.

Each segment has three files (``.log``, ``.index``, ``.timeindex``). Kafka keeps all of them
open, so a broker with many partitions needs a descriptor limit in the hundreds of
thousands. Here a segment holds no descriptor of its own: each of its files is a
``FileHandle`` that asks the log manager's ``OpenFiles`` for a descriptor at every use. The
cache keeps at most ``capacity`` descriptors open and, to open one more, closes the least
recently used. A file in the cache costs a dictionary lookup per use; a file that was closed
costs one ``open()`` to come back.

An index is resident in memory exactly while its file is open: when the cache closes an
index file it tells the index (``on_evicted``), which drops its entries and loads them again
on next use. So the cache bounds the loaded indexes too, not only the descriptors.

Rules that make closing a file at any moment safe:

* Data is never lost by closing: every write is a ``pwrite`` into the kernel, and an fsync
  through a descriptor opened later flushes the file's dirty pages whichever descriptor wrote
  them (on Linux; since 4.16 a writeback error is also reported to a descriptor opened after
  it, as long as nobody saw it before).
* A walk over a segment's batches reads through one descriptor across many steps; the
  segment pins the file for the walk, and pinned files are never closed (the cache may then
  exceed its capacity by the number of pinned files).
* One operation touches at most a few files (a segment's three; a roll also the old active
  segment's time index), which the cache then holds as its most recently used entries, so a
  capacity of at least ``MIN_CAPACITY`` cannot close a file in the middle of the operation
  that opened it. Indexes refuse to be used unloaded rather than act on no entries.
* A file is reopened without ``O_CREAT`` unless its owner asks (a segment's ``.log`` is
  created once, by ``LogSegment.create``): a file removed behind the broker's back is an
  error (``FileNotFoundError``, which the log reports as KAFKA_STORAGE_ERROR), not a new
  empty file.

Capacity: ``default_capacity`` takes half the process's soft ``RLIMIT_NOFILE`` (the other half
stays for client connections, the cleaner's own descriptors, checkpoints and sockets to other
brokers), at least ``MIN_CAPACITY`` and at most ``MAX_CAPACITY``. Should the process run out
of descriptors anyway (EMFILE), the cache closes the older half of its files and retries.

Owned by the event loop, like the logs; not safe to share between threads. Segments that the
cleaner writes on its worker threads own their descriptors (a ``FileHandle`` without a cache).
"""

from __future__ import annotations

import errno
import resource
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice

from moldau.util.fs import FileSystem

MIN_CAPACITY = 8
MAX_CAPACITY = 32768


def default_capacity() -> int:
    """Half the soft limit on open descriptors, within [MIN_CAPACITY, MAX_CAPACITY]."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CAPACITY
    return max(MIN_CAPACITY, min(MAX_CAPACITY, soft // 2))


class FileHandle:
    """One file of a segment: its path and how to get a descriptor for it.

    Without a cache (``files`` None) the handle opens the file on first use and keeps the
    descriptor until ``close``. With one, it borrows a descriptor from the cache at each use
    and ``on_evicted`` (if given) is called when the cache closes it. ``on_closing`` (if
    given) is called with the descriptor just before any close of it, by the cache or not,
    for the owner to write what it still holds back (an index's pending entries); it must
    not raise."""

    __slots__ = ("_fd", "files", "fs", "on_closing", "on_evicted", "path")

    def __init__(
        self,
        fs: FileSystem,
        path: str,
        on_evicted: Callable[[], None] | None = None,
        on_closing: Callable[[int], None] | None = None,
    ) -> None:
        self.fs = fs
        self.path = path
        self.files: OpenFiles | None = None
        self.on_evicted = on_evicted
        self.on_closing = on_closing
        self._fd: int | None = None

    def descriptor(self, *, create: bool = False) -> int:
        if self.files is not None:
            return self.files.descriptor(self, create=create)
        if self._fd is None:
            self._fd = self.fs.open(self.path, create=create)
        return self._fd

    @property
    def is_open(self) -> bool:
        return self.files.is_open(self) if self.files is not None else self._fd is not None

    def touch(self) -> None:
        """Mark the file as just used (when it is open)."""
        if self.files is not None:
            self.files.touch(self)

    def close(self) -> None:
        """Close the descriptor if it is open (without calling ``on_evicted``)."""
        if self.files is not None:
            self.files.close(self)
        elif self._fd is not None:
            fd, self._fd = self._fd, None
            _close(self, fd)

    def use(self, files: OpenFiles | None) -> None:
        """Borrow descriptors from ``files`` from now on. An open descriptor is closed first,
        and the owner told as on an eviction, so that whatever it keeps in memory for an open
        file is loaded again through the new cache."""
        if files is self.files:
            return
        was_open = self.is_open
        self.close()
        self.files = files
        if was_open and self.on_evicted is not None:
            self.on_evicted()

    @contextmanager
    def pinned(self) -> Iterator[int]:
        """The descriptor, kept open until the block ends."""
        if self.files is None:
            yield self.descriptor()
            return
        files = self.files
        fd = files.pin(self)
        try:
            yield fd
        finally:
            files.unpin(self)

    def __repr__(self) -> str:
        return f"FileHandle({self.path!r})"


class OpenFiles:
    """See the module docstring. ``capacity`` defaults to ``default_capacity()``."""

    def __init__(self, fs: FileSystem, capacity: int | None = None) -> None:
        capacity = default_capacity() if capacity is None else capacity
        if capacity < MIN_CAPACITY:
            raise ValueError(f"the open file cache needs room for at least {MIN_CAPACITY} files")
        self.fs = fs
        self.capacity = capacity
        self._open: OrderedDict[FileHandle, int] = OrderedDict()  # least recently used first
        self._pins: dict[FileHandle, int] = {}
        self.opened = 0  # files opened since the cache was made (for measurements)
        self.evicted = 0  # files closed to make room

    def __len__(self) -> int:
        return len(self._open)

    def is_open(self, handle: FileHandle) -> bool:
        return handle in self._open

    def descriptor(self, handle: FileHandle, *, create: bool = False) -> int:
        fd = self._open.get(handle)
        if fd is not None:
            self._open.move_to_end(handle)
            return fd
        try:
            fd = self.fs.open(handle.path, create=create)
        except OSError as e:
            # The process ran out of descriptors (client connections take them too): give
            # back half of the cache's and try once more.
            if e.errno not in (errno.EMFILE, errno.ENFILE) or len(self._open) < 2:
                raise
            self._close_oldest(len(self._open) // 2)
            fd = self.fs.open(handle.path, create=create)
        self.opened += 1
        self._open[handle] = fd
        self._make_room()
        return fd

    def touch(self, handle: FileHandle) -> None:
        if handle in self._open:
            self._open.move_to_end(handle)

    def close(self, handle: FileHandle) -> None:
        self._pins.pop(handle, None)
        fd = self._open.pop(handle, None)
        if fd is not None:
            _close(handle, fd)

    def pin(self, handle: FileHandle) -> int:
        fd = self.descriptor(handle)
        self._pins[handle] = self._pins.get(handle, 0) + 1
        return fd

    def unpin(self, handle: FileHandle) -> None:
        count = self._pins.get(handle, 0)
        if count <= 1:
            self._pins.pop(handle, None)
        else:
            self._pins[handle] = count - 1

    def close_all(self) -> None:
        """Close every descriptor (the owners are told, as on eviction)."""
        while self._open:
            handle, fd = self._open.popitem(last=False)
            self._pins.pop(handle, None)
            self._evict(handle, fd)

    def _make_room(self) -> None:
        excess = len(self._open) - self.capacity
        if excess > 0:
            self._close_oldest(excess)

    def _close_oldest(self, count: int) -> None:
        victims = list(islice((h for h in self._open if h not in self._pins), count))
        for handle in victims:
            self._evict(handle, self._open.pop(handle))
            self.evicted += 1

    def _evict(self, handle: FileHandle, fd: int) -> None:
        try:
            _close(handle, fd)
        finally:
            if handle.on_evicted is not None:
                handle.on_evicted()


def _close(handle: FileHandle, fd: int) -> None:
    if handle.on_closing is not None:
        handle.on_closing(fd)
    handle.fs.close(fd)
