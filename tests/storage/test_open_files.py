"""The bounded cache of open segment files: eviction, pinning, reopening, and logs that keep
working (and stay correct) while their files come and go."""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path

import pytest

from moldau.storage import open_files
from moldau.storage.config import LogConfig
from moldau.storage.open_files import MIN_CAPACITY, FileHandle, OpenFiles, default_capacity

from .helpers import FaultyFileSystem, append, make_batch, offsets_in, read_all


def handles(fs: FaultyFileSystem, tmp_path: Path, n: int) -> list[FileHandle]:
    out = []
    for i in range(n):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes([i]) * 10)
        out.append(FileHandle(fs, str(path)))
    return out


def test_least_recently_used_file_is_closed_first(tmp_path, fs):
    files = OpenFiles(fs, MIN_CAPACITY)
    hs = handles(fs, tmp_path, MIN_CAPACITY + 2)
    evicted: list[int] = []
    for i, h in enumerate(hs):
        h.on_evicted = lambda i=i: evicted.append(i)
        h.use(files)
    for h in hs[:MIN_CAPACITY]:
        h.descriptor()
    hs[0].touch()  # now the most recently used
    hs[MIN_CAPACITY].descriptor()
    hs[MIN_CAPACITY + 1].descriptor()
    assert evicted == [1, 2]
    assert len(files) == MIN_CAPACITY == len(fs.paths)
    assert hs[0].is_open and not hs[1].is_open
    # a closed file comes back on its next use, with the same content
    assert fs.pread(hs[1].descriptor(), 10, 0) == bytes([1]) * 10
    assert files.opened == MIN_CAPACITY + 3 and files.evicted == 3


def test_pinned_files_are_not_closed(tmp_path, fs):
    files = OpenFiles(fs, MIN_CAPACITY)
    hs = handles(fs, tmp_path, MIN_CAPACITY * 2)
    for h in hs:
        h.use(files)
    with hs[0].pinned() as fd:
        for h in hs[1:]:
            h.descriptor()
        assert hs[0].is_open and fs.pread(fd, 10, 0) == bytes([0]) * 10
        assert len(files) == MIN_CAPACITY
    hs[1].descriptor()
    assert not hs[0].is_open  # once unpinned it is the oldest again


def test_a_file_removed_behind_the_cache_is_not_recreated(tmp_path, fs):
    files = OpenFiles(fs, MIN_CAPACITY)
    (h,) = handles(fs, tmp_path, 1)
    h.use(files)
    h.descriptor()
    files.close_all()
    os.remove(h.path)
    with pytest.raises(FileNotFoundError):
        h.descriptor()
    assert not os.path.exists(h.path)


def test_capacity(monkeypatch):
    with pytest.raises(ValueError):
        OpenFiles(FaultyFileSystem(), MIN_CAPACITY - 1)
    for soft, expected in [(20000, 10000), (1024, 512), (10, MIN_CAPACITY), (10**7, open_files.MAX_CAPACITY)]:
        monkeypatch.setattr(resource, "getrlimit", lambda _, soft=soft: (soft, resource.RLIM_INFINITY))
        assert default_capacity() == expected
    monkeypatch.setattr(resource, "getrlimit", lambda _: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert default_capacity() == open_files.MAX_CAPACITY


def test_a_log_with_more_files_than_the_cache_holds(new_log, fs):
    """Two dozen segments (72 files) through a cache of eight: every read and append is right,
    indexes leave memory with their files, and nothing beyond the cache stays open."""
    files = OpenFiles(fs, MIN_CAPACITY)
    plog = new_log(LogConfig(segment_bytes=600, index_interval_bytes=100))
    plog.segments.use_files(files)
    for i in range(120):
        append(plog, make_batch(2, ts=10_000 + 10 * i))
    assert len(plog.segments) >= 20
    assert len(fs.paths) <= MIN_CAPACITY
    loaded = [s for s in plog.segments if s.offset_index.loaded]
    assert len(loaded) <= MIN_CAPACITY // 2 + 1

    records = read_all(plog)
    assert [r.offset for r in records] == list(range(240))
    for target in range(0, 240, 7):
        assert offsets_in(plog.read(target, 1).data)[0][0] <= target
    assert plog.offset_for_timestamp(10_000 + 10 * 77) == (154, 10_000 + 10 * 77)
    assert len(fs.paths) <= MIN_CAPACITY

    plog.flush()  # fsyncs the files written since the last flush, reopening the closed ones
    assert plog.recovery_point == 240
    assert all(not s._dirty and not s.offset_index._dirty for s in plog.segments)
    plog.close()
    assert not files._open


def _five_indexed_batches(new_log, fs):
    """A log on a small open-file cache, with five one-record batches, every batch but the
    first indexed; returns the cache, the log and its offset index."""
    files = OpenFiles(fs, MIN_CAPACITY)
    plog = new_log(LogConfig(index_interval_bytes=0))
    plog.segments.use_files(files)
    for _ in range(5):
        append(plog, make_batch(1))
    return files, plog, plog.segments.active.offset_index


def test_an_evicted_index_writes_its_queued_entries(new_log, fs):
    """Index entries wait in memory for a flush; a cache that closes the file first writes
    them, so the entries loaded again are the same ones."""
    files, plog, index = _five_indexed_batches(new_log, fs)
    assert len(index) == 4  # every batch but the first is indexed
    before = [index.lookup(o) for o in range(5)]
    assert os.path.getsize(index.path) == 0  # queued, not written
    files.close_all()
    assert len(before) == 5 and os.path.getsize(index.path) == 8 * 4 and not index.loaded
    assert offsets_in(plog.read(3, 1).data) == [(3, 3)]  # loads the index again
    assert [index.lookup(o) for o in range(5)] == before


def test_an_evicted_index_that_cannot_write_is_only_sparser(new_log, fs, caplog):
    files, plog, index = _five_indexed_batches(new_log, fs)
    fs.fail_write = lambda path: path.endswith(".index")
    files.close_all()  # the queued entries cannot be written: logged, nothing raised
    assert any("Could not write 4 index entries" in r.message for r in caplog.records)
    assert os.path.getsize(index.path) == 0 and not index.loaded
    fs.fail_write = None
    for target in range(5):  # reads stay right from the batches alone
        assert offsets_in(plog.read(target, 1).data) == [(target, target)]
    assert len(index) == 0


def test_flush_reaches_files_the_cache_closed(new_log, fs):
    synced: list[str] = []
    real_fsync = fs.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(os.path.basename(fs.paths[fd]))
        real_fsync(fd)

    fs.fsync = counting_fsync  # type: ignore[method-assign]
    files = OpenFiles(fs, MIN_CAPACITY)
    plog = new_log(LogConfig(segment_bytes=300))
    plog.segments.use_files(files)
    for _ in range(30):
        append(plog, make_batch(2))
    first = plog.segments.first
    assert not first.file.is_open and first._dirty
    plog.flush()
    assert f"{0:020d}.log" in synced
    assert len([n for n in synced if n.endswith(".log")]) == len(plog.segments)


def test_running_out_of_descriptors_gives_back_half_the_cache(tmp_path, fs, monkeypatch):
    files = OpenFiles(fs, 16)
    hs = handles(fs, tmp_path, 9)
    for h in hs:
        h.use(files)
    for h in hs[:8]:
        h.descriptor()
    real_open = fs.open
    refusals = [errno.EMFILE]

    def refuse_once(path: str, *, create: bool = False, read_only: bool = False) -> int:
        if refusals:
            raise OSError(refusals.pop(), os.strerror(errno.EMFILE), path)
        return real_open(path, create=create, read_only=read_only)

    monkeypatch.setattr(fs, "open", refuse_once)
    assert fs.pread(hs[8].descriptor(), 10, 0) == bytes([8]) * 10
    assert len(files) == 5 and not hs[0].is_open and hs[7].is_open
