"""Crash safety of the cleaner's segment swap: a failure or a crash injected at every rename and
directory fsync of a swap, then the log checked at run time and after a restart."""

from __future__ import annotations

import errno
import os

import pytest

from moldau.storage.cleaner import CleanerConfig, InlineExecutor, LogCleaner
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.util.fs import FileSystem

from .helpers import TOPIC_ID, append, keyed_batch, read_all

CONFIG = LogConfig(cleanup_policy="compact", segment_bytes=1 << 20, min_cleanable_dirty_ratio=0.0)


class Crash(BaseException):
    """The process dies here: nothing after this point runs, no clean-up handler either."""


class FailingFileSystem(FileSystem):
    """Fails the ``fail_at``-th rename or directory fsync (counting from 0) once armed, with an
    OSError or, with ``crash``, by dying there: every later call that would change the disk
    raises ``Crash`` too, so no clean-up handler can touch the files. fsyncs are not carried
    out (only the order of the steps matters here, and they are slow)."""

    def __init__(self) -> None:
        self.fail_at: int | None = None
        self.crash = False
        self.dead = False
        self.steps = 0

    def arm(self, fail_at: int | None, *, crash: bool) -> None:
        self.fail_at, self.crash, self.steps = fail_at, crash, 0

    def _step(self, what: str) -> None:
        self._alive(what)
        if self.fail_at is None:
            return
        step, self.steps = self.steps, self.steps + 1
        if step == self.fail_at:
            if self.crash:
                self.dead = True
                raise Crash(what)
            raise OSError(errno.EIO, os.strerror(errno.EIO), what)

    def _alive(self, what: str) -> None:
        if self.dead:
            raise Crash(f"{what} after the crash")

    def rename(self, src: str, dst: str) -> None:
        self._step(f"rename {os.path.basename(src)}")
        super().rename(src, dst)

    def fsync_dir(self, path: str) -> None:
        self._step("fsync_dir")

    def fsync(self, fd: int) -> None:
        self._alive("fsync")

    def remove(self, path: str) -> None:
        self._alive("remove")
        super().remove(path)

    def truncate(self, fd: int, size: int) -> None:
        self._alive("truncate")
        super().truncate(fd, size)

    def pwrite(self, fd: int, data: bytes | bytearray | memoryview, position: int) -> None:
        self._alive("pwrite")
        super().pwrite(fd, data, position)


def build(fs: FailingFileSystem, directory: str) -> tuple[PartitionLog, LogCleaner]:
    plog = PartitionLog.create(fs, directory, "t", 0, TOPIC_ID, CONFIG, _clock())
    for round_ in range(3):
        append(plog, keyed_batch([(f"k{i}".encode(), f"{round_}".encode()) for i in range(4)]))
        plog.roll()
    append(plog, keyed_batch([(b"k0", None)]))  # a tombstone
    plog.roll()
    append(plog, keyed_batch([(b"k1", b"active")]))  # the active segment
    cleaner = LogCleaner(
        fs, CleanerConfig(), {("t", 0): plog}, {("t", 0): directory}, [directory], executor=InlineExecutor()
    )
    return plog, cleaner


def _clock():  # type: ignore[no-untyped-def]
    from moldau.util.clock import ManualClock

    return ManualClock()


def snapshot(plog: PartitionLog) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(r.offset, r.key, r.value) for r in read_all(plog)]


def reopen(plog: PartitionLog) -> PartitionLog:
    """A restart after a crash: recovery from nothing flushed."""
    return PartitionLog.open(FileSystem(), os.path.dirname(plog.dir), "t", 0, CONFIG, plog.clock)


def leftovers(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith((".cleaned", ".swap", ".replaced")))


@pytest.fixture
def reference(tmp_path):
    """The log before and after an uninterrupted cleaning, and the number of steps it takes."""
    fs = FailingFileSystem()
    plog, cleaner = build(fs, str(tmp_path / "reference"))
    before = snapshot(plog)
    fs.arm(10_000, crash=False)
    cleaner.run(plog.clock.time_ms())
    after = snapshot(plog)
    assert after != before
    assert after == [
        (9, b"k1", b"2"),
        (10, b"k2", b"2"),
        (11, b"k3", b"2"),
        (12, b"k0", None),
        (13, b"k1", b"active"),
    ]
    return before, after, fs.steps


def test_a_failure_at_any_step_leaves_the_log_readable_and_a_restart_consistent(tmp_path, reference):
    before, after, steps = reference
    commit = 4 + 1  # 4 segments moved aside, a directory fsync: the next step is the commit rename
    for step in range(steps):
        fs = FailingFileSystem()
        plog, cleaner = build(fs, str(tmp_path / f"fail-{step}"))
        fs.arm(step, crash=False)
        cleaner.run(plog.clock.time_ms())
        fs.arm(None, crash=False)
        if step <= commit:  # before the commit: rolled back at once
            assert plog.failed is None, step
            assert snapshot(plog) == before, step
            assert leftovers(plog.dir) == [], step
        elif plog.failed is not None:  # after it: the log is offline until a restart
            assert "restart" in plog.failed
        else:  # only the cleaner checkpoint failed: the swap is complete
            assert snapshot(plog) == after, step
        again = reopen(plog)
        assert snapshot(again) == (before if step <= commit else after), step
        assert leftovers(again.dir) == [], step
        assert again.log_end_offset == 14


def test_a_crash_at_any_step_is_completed_or_undone_at_start_up(tmp_path, reference):
    before, after, steps = reference
    commit = 4 + 1
    for step in range(steps):
        fs = FailingFileSystem()
        plog, cleaner = build(fs, str(tmp_path / f"crash-{step}"))
        fs.arm(step, crash=True)
        with pytest.raises(Crash):
            cleaner.run(plog.clock.time_ms())
        again = reopen(plog)
        assert snapshot(again) == (before if step <= commit else after), step
        assert leftovers(again.dir) == [], step
        assert not [n for n in os.listdir(again.dir) if n.endswith(".deleted")], step
        assert again.log_end_offset == 14


def test_a_crash_while_the_worker_writes_leaves_no_trace(tmp_path):
    class DiesWriting(FailingFileSystem):
        armed = False

        def pwrite(self, fd: int, data: bytes | bytearray | memoryview, position: int) -> None:
            if self.armed:
                self.dead = True
            super().pwrite(fd, data, position)

    fs = DiesWriting()
    plog, cleaner = build(fs, str(tmp_path / "log"))
    before = snapshot(plog)
    fs.armed = True  # the first write of the cleaned segment kills the process
    with pytest.raises(Crash):
        cleaner.run(plog.clock.time_ms())
    assert [n for n in os.listdir(plog.dir) if n.endswith(".cleaned")]
    again = reopen(plog)
    assert snapshot(again) == before
    assert leftovers(again.dir) == []
