"""Many partitions on one log manager: open descriptors stay under the open-file cache's bound
through creation, writes, reads, a clean restart and a crash; a clean start-up reads nothing of
any segment file; recovery after a crash reads what was written since the last checkpoint.

Not timed: the figures for 10,000 partitions are bench/storage_scale.py's (docs/storage.md)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from moldau.storage.config import LogConfig
from moldau.storage.manager import LogManager
from moldau.storage.segment import LogSegment
from moldau.storage.segment_recovery import RecoveryResult
from moldau.util.clock import ManualClock
from moldau.util.fs import FileSystem

from .helpers import START_MS, append, make_batch, read_all

PARTITIONS = 2000
CACHE = 96
BATCHES_BEFORE_CHECKPOINT = 6
# An index entry for every batch, so that recovery can start right below the recovery point.
CONFIG = LogConfig(index_interval_bytes=0)
SEGMENT_SUFFIXES = (".log", ".index", ".timeindex")


class CountingFileSystem(FileSystem):
    """Counts the bytes read from each kind of file and skips fsync: durability is not what
    these tests are about, and thousands of fsyncs would make them slow."""

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}
        self.read_bytes: Counter[str] = Counter()

    def open(self, path: str, *, create: bool = False, read_only: bool = False) -> int:
        fd = super().open(path, create=create, read_only=read_only)
        self.paths[fd] = path
        return fd

    def close(self, fd: int) -> None:
        self.paths.pop(fd, None)
        super().close(fd)

    def pread(self, fd: int, size: int, position: int) -> bytes:
        data = super().pread(fd, size, position)
        self.read_bytes[os.path.splitext(self.paths.get(fd, "?"))[1]] += len(data)
        return data

    def fsync(self, fd: int) -> None:
        pass

    def fsync_dir(self, path: str) -> None:
        pass

    def segment_bytes_read(self) -> int:
        return sum(self.read_bytes[s] for s in SEGMENT_SUFFIXES)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def topics() -> dict[tuple[str, int], tuple[uuid.UUID | None, LogConfig]]:
    ids = [uuid.UUID(int=t + 1) for t in range(PARTITIONS // 100)]
    return {(f"topic{p // 100}", p % 100): (ids[p // 100], CONFIG) for p in range(PARTITIONS)}


def manager(data: Path, fs: CountingFileSystem, clock: ManualClock) -> LogManager:
    m = LogManager([str(data)], clock, CONFIG, fs=fs, max_open_files=CACHE)
    m.load(topics())
    return m


def test_2000_partitions_keep_open_files_bounded_and_restart_cheaply(tmp_path, monkeypatch):
    data, clock, fs = tmp_path / "data", ManualClock(START_MS), CountingFileSystem()
    baseline = open_descriptors()

    def assert_bounded(when: str) -> None:
        extra = open_descriptors() - baseline
        assert extra <= CACHE, f"{extra} descriptors open {when}, the cache holds {CACHE}"

    # create and write every partition, then read every one back
    first = manager(data, fs, clock)
    batch = make_batch(2, value=b"x" * 100)
    for plog in first.logs():
        for _ in range(BATCHES_BEFORE_CHECKPOINT):
            append(plog, batch)
    assert_bounded("after writing")
    assert all(len(read_all(plog)) == 2 * BATCHES_BEFORE_CHECKPOINT for plog in first.logs())
    assert_bounded("after reading")
    first.shutdown()
    assert open_descriptors() == baseline

    # a clean start opens and reads nothing of any segment
    fs.read_bytes.clear()
    second = manager(data, fs, clock)
    assert fs.segment_bytes_read() == 0, fs.read_bytes
    assert open_descriptors() == baseline
    expected_end = 2 * BATCHES_BEFORE_CHECKPOINT
    assert {plog.log_end_offset for plog in second.logs()} == {expected_end}

    # write a little after the checkpoint, then die without shutting down
    for plog in second.logs():
        plog.flush()
    second.checkpoint()
    for plog in second.logs():
        append(plog, batch)
    assert_bounded("after writing past the checkpoint")
    second.files.close_all()  # the process died: its descriptors are gone, nothing was marked clean
    total = sum(plog.size_in_bytes() for plog in second.logs())
    written_since_checkpoint = PARTITIONS * len(batch)

    # recovery checks only from the last indexed batch below each recovery point
    checked = []
    real_recover = LogSegment.recover

    def recording(segment: LogSegment, *args: Any, **kwargs: Any) -> RecoveryResult:
        result = real_recover(segment, *args, **kwargs)
        checked.append(result.valid_bytes + result.truncated_bytes - result.checked_from)
        return result

    monkeypatch.setattr(LogSegment, "recover", recording)
    third = manager(data, fs, clock)
    assert open_descriptors() == baseline
    assert len(checked) == PARTITIONS
    assert sum(checked) <= written_since_checkpoint + PARTITIONS * len(batch), (sum(checked), total)
    assert sum(checked) < total / 3
    assert {plog.log_end_offset for plog in third.logs()} == {expected_end + 2}
    assert all(len(read_all(plog)) == expected_end + 2 for plog in third.logs())
    assert_bounded("after reading everything again")
    third.shutdown()
    assert open_descriptors() == baseline
