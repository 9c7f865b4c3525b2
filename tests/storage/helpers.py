"""Helpers for the storage tests: batches, appends, and a filesystem with faults."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Iterable

from moldau.protocol.records.batch import BatchHeader, iter_headers
from moldau.protocol.records.records import Record, build_batch, decode_records
from moldau.storage.log import PartitionLog
from moldau.storage.log_append import AppendInfo
from moldau.util.fs import FileSystem

TOPIC_ID = uuid.UUID("6f1c3a52-5d0e-4a8b-9a51-0c2f3e4d5a6b")
START_MS = 1_700_000_000_000


def make_batch(
    count: int = 1,
    *,
    ts: int = START_MS,
    value: bytes = b"v" * 20,
    compression: int = 0,
    ts_step: int = 1,
) -> bytes:
    """One batch of ``count`` records with timestamps ``ts``, ``ts + ts_step``, ..."""
    records = [(f"k{i}".encode(), value, [], ts + i * ts_step) for i in range(count)]
    return build_batch(records, compression=compression)


def as_append_input(*batches: bytes) -> tuple[bytearray, list[tuple[int, BatchHeader]]]:
    data = bytearray(b"".join(batches))
    return data, list(iter_headers(data))


def append(
    plog: PartitionLog,
    *batches: bytes,
    now_ms: int | None = None,
    leader_epoch: int = 0,
    log_append_time: bool | None = None,
) -> AppendInfo:
    data, headers = as_append_input(*batches)
    now = plog.clock.time_ms() if now_ms is None else now_ms
    return plog.append(data, headers, leader_epoch=leader_epoch, now_ms=now, log_append_time=log_append_time)


def offsets_in(data: bytes) -> list[tuple[int, int]]:
    """``(base offset, last offset)`` of each whole batch in ``data``."""
    return [(h.base_offset, h.last_offset) for _, h in iter_headers(data)]


def segment_files(directory: str, suffix: str = ".log") -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(suffix))


class FaultyFileSystem(FileSystem):
    """A FileSystem that remembers which path each descriptor belongs to, counts reads per
    file name, and fails writes or fsyncs on request."""

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}
        self.reads: dict[str, int] = {}
        self.fail_write: Callable[[str], bool] | None = None
        self.fail_fsync: Callable[[str], bool] | None = None
        self.fail_truncate: Callable[[str], bool] | None = None
        self.write_errno = errno.ENOSPC

    def open(self, path: str, *, create: bool = False, read_only: bool = False) -> int:
        fd = super().open(path, create=create, read_only=read_only)
        self.paths[fd] = path
        return fd

    def close(self, fd: int) -> None:
        self.paths.pop(fd, None)
        super().close(fd)

    def pread(self, fd: int, size: int, position: int) -> bytes:
        name = os.path.basename(self.paths.get(fd, "?"))
        self.reads[name] = self.reads.get(name, 0) + 1
        return super().pread(fd, size, position)

    def pwrite(self, fd: int, data: bytes | bytearray | memoryview, position: int) -> None:
        path = self.paths.get(fd, "?")
        if self.fail_write is not None and self.fail_write(path):
            # A real ENOSPC can leave part of the data written: do that too.
            half = memoryview(data)[: len(data) // 2]
            if half:
                super().pwrite(fd, half, position)
            raise OSError(self.write_errno, os.strerror(self.write_errno), path)
        super().pwrite(fd, data, position)

    def fsync(self, fd: int) -> None:
        path = self.paths.get(fd, "?")
        if self.fail_fsync is not None and self.fail_fsync(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        super().fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        path = self.paths.get(fd, "?")
        if self.fail_truncate is not None and self.fail_truncate(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        super().truncate(fd, size)

    def data_reads(self, names: Iterable[str]) -> int:
        return sum(self.reads.get(n, 0) for n in names)


def keyed_batch(
    pairs: Iterable[tuple[bytes | None, bytes | None]],
    *,
    ts: int = START_MS,
    compression: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
) -> bytes:
    """One batch of ``(key, value)`` records (value None: a tombstone), all at ``ts``."""
    records = [(key, value, [], ts) for key, value in pairs]
    return build_batch(
        records,
        compression=compression,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
    )


def read_all(plog: PartitionLog, start: int | None = None) -> list[Record]:
    """Every record from ``start`` (default: the log start) to the log end, in order."""
    offset = plog.log_start_offset if start is None else start
    out: list[Record] = []
    while offset < plog.log_end_offset:
        data = plog.read(offset, 1 << 20).data
        if not data:
            break
        for pos, h in iter_headers(data):
            out += [r for r in decode_records(memoryview(data)[pos:]) if r.offset >= offset]
            offset = h.next_offset
    return out
