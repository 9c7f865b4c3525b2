"""The one door to the filesystem.

Storage code never calls ``os`` for files directly: it opens, reads, writes, renames, removes
and fsyncs through a ``FileSystem``. Production uses the plain instance ``LOCAL``; a test
subclasses ``FileSystem`` and overrides one method to fail (``ENOSPC`` on a write, ``EIO`` on
an fsync) or to count (how many data reads a restart did). Errors are the ``OSError`` the
operating system raised; the storage layer decides what they mean.

Files are raw descriptors with positioned I/O (``pread``/``pwrite``): no shared file offset,
no userspace buffering, so what was written is what a read sees and a failed write leaves the
caller's notion of the file's end untouched.

Synchronous and thread-agnostic: each call is one or a few system calls.
"""

from __future__ import annotations

import contextlib
import os
import shutil


class FileSystem:
    """Plain local files. Subclass and override to inject faults."""

    # -- descriptors ------------------------------------------------------------------------

    def open(self, path: str, *, create: bool = False, read_only: bool = False) -> int:
        """Open ``path`` and return a descriptor. ``create`` makes the file if it is missing;
        without it a missing file raises ``FileNotFoundError``."""
        flags = os.O_RDONLY if read_only else os.O_RDWR
        if create:
            flags |= os.O_CREAT
        return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)

    def close(self, fd: int) -> None:
        os.close(fd)

    def pread(self, fd: int, size: int, position: int) -> bytes:
        """Up to ``size`` bytes at ``position``; fewer only at the end of the file."""
        return os.pread(fd, size, position)

    def pwrite(self, fd: int, data: bytes | bytearray | memoryview, position: int) -> None:
        """Write all of ``data`` at ``position`` (looping over short writes)."""
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, position)
            view = view[written:]
            position += written

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size

    # -- paths ------------------------------------------------------------------------------

    def path_size(self, path: str) -> int:
        """Size of the file at ``path`` without opening it."""
        return os.stat(path).st_size

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        """Atomically replace ``dst`` with ``src`` (same filesystem)."""
        os.replace(src, dst)

    def remove(self, path: str) -> None:
        os.remove(path)

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path)

    def fsync_dir(self, path: str) -> None:
        """Make renames, creations and removals inside ``path`` durable."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- whole small files ------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        """The whole content of a small file (checkpoints, metadata)."""
        fd = self.open(path, read_only=True)
        try:
            chunks: list[bytes] = []
            position = 0
            while True:
                chunk = self.pread(fd, 1 << 16, position)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                position += len(chunk)
        finally:
            self.close(fd)

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data`` so that a crash leaves either the old or the new
        content, never a mix: write ``path.tmp``, fsync it, rename it over ``path``, fsync the
        directory. A failure removes the temporary file and re-raises."""
        tmp = path + ".tmp"
        fd = self.open(tmp, create=True)
        try:
            self.truncate(fd, 0)
            self.pwrite(fd, data, 0)
            self.fsync(fd)
        except BaseException:
            self.close(fd)
            self._discard(tmp)
            raise
        self.close(fd)
        try:
            self.rename(tmp, path)
        except BaseException:
            self._discard(tmp)
            raise
        self.fsync_dir(os.path.dirname(path) or ".")

    def _discard(self, path: str) -> None:
        with contextlib.suppress(OSError):
            self.remove(path)


LOCAL = FileSystem()
