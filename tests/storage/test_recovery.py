from __future__ import annotations

import logging
import os
from pathlib import Path

from moldau.protocol.records.batch import iter_headers
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.open_files import MIN_CAPACITY, OpenFiles

from .helpers import append, make_batch, offsets_in, segment_files


def reopen(plog: PartitionLog, *, clean: bool, recovery_point: int = 0, log_start: int = 0) -> PartitionLog:
    return PartitionLog.open(
        plog.fs,
        os.path.dirname(plog.dir),
        plog.topic,
        plog.partition,
        plog.config,
        plog.clock,
        topic_id=plog.topic_id,
        recovery_point=recovery_point,
        log_start_offset=log_start,
        clean_shutdown=clean,
    )


def flip_byte(path: str, position: int) -> None:
    with open(path, "r+b") as f:
        f.seek(position)
        byte = f.read(1)[0]
        f.seek(position)
        f.write(bytes([byte ^ 0x10]))


def fill(plog: PartitionLog, batches: int, records: int = 2) -> None:
    for i in range(batches):
        append(plog, make_batch(records, ts=10_000 + 100 * i))


# -- clean shutdown ------------------------------------------------------------------------------


def test_clean_restart_reads_no_segment_data(new_log, small_config, fs):
    plog = new_log(small_config)
    fill(plog, 40)
    before = plog.read(0, 1 << 20).data
    end = plog.log_end_offset
    plog.close()
    names = segment_files(plog.dir)
    assert len(names) > 3
    # damage the middle of the first segment: after a clean shutdown nobody looks
    flip_byte(os.path.join(plog.dir, names[0]), 300)
    fs.reads.clear()

    again = reopen(plog, clean=True, recovery_point=end)
    assert again.log_end_offset == end
    assert fs.data_reads(names[:-1]) == 0
    assert fs.data_reads(names[-1:]) <= 1  # the active segment's tail: one header window
    assert again.recovery_point == end
    # nothing lost; the damaged byte is served as it is on disk
    after = again.read(0, 1 << 20).data
    assert len(after) == len(before) and offsets_in(after) == offsets_in(before)
    assert append(again, make_batch(1)).first_offset == end


def test_clean_restart_keeps_timestamps_without_scanning(new_log, small_config, fs):
    plog = new_log(small_config)
    fill(plog, 30)
    plog.close()
    fs.reads.clear()
    again = reopen(plog, clean=True, recovery_point=plog.log_end_offset)
    largest = [s.largest_timestamp for s in again.segments]
    assert largest == sorted(largest) and largest[-1] == 10_000 + 100 * 29 + 1
    assert fs.data_reads(segment_files(plog.dir)[:-1]) == 0
    assert again.offset_for_timestamp(10_000 + 100 * 17) == (34, 10_000 + 100 * 17)


def test_clean_restart_takes_the_end_from_the_checkpoint_and_reads_nothing(new_log, small_config, fs):
    plog = new_log(small_config)
    fill(plog, 40)
    end = plog.log_end_offset
    plog.close()
    names = [n for n in os.listdir(plog.dir) if n.endswith((".log", ".index", ".timeindex"))]
    fs.reads.clear()
    again = reopen(plog, clean=True, recovery_point=end)
    assert again.log_end_offset == end
    assert fs.data_reads(names) == 0  # not a byte of any .log, .index or .timeindex file
    assert not fs.paths  # and nothing left open
    assert append(again, make_batch(1, ts=20_000)).first_offset == end
    assert offsets_in(again.read(end - 2, 1 << 20).data) == [(end - 2, end - 1), (end, end)]


def test_clean_restart_without_a_checkpoint_entry_walks_the_tail(new_log, fs):
    plog = new_log(LogConfig(index_interval_bytes=200))
    fill(plog, 200)
    assert len(plog.segments.active.offset_index) > 10
    plog.close()
    fs.reads.clear()
    again = reopen(plog, clean=True, recovery_point=0)
    assert again.log_end_offset == 400
    assert fs.reads[segment_files(plog.dir)[0]] == 1  # one header window from the last index entry


# -- unclean shutdown ----------------------------------------------------------------------------


def test_torn_tail_is_truncated(new_log, caplog):
    plog = new_log()
    fill(plog, 10)
    data = plog.read(0, 1 << 20).data
    last_pos, last = list(iter_headers(data))[-1]
    path = plog.segments.active.log_path
    with open(path, "r+b") as f:
        f.truncate(last_pos + 30)  # half a header of the last batch reached the disk

    with caplog.at_level(logging.WARNING):
        again = reopen(plog, clean=False)
    assert again.log_end_offset == last.base_offset
    assert os.path.getsize(path) == last_pos
    assert offsets_in(again.read(0, 1 << 20).data) == offsets_in(data)[:-1]
    warning = next(r for r in caplog.records if "Truncating" in r.getMessage())
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert os.path.basename(path) in message and f"position {last_pos}" in message and "30 bytes" in message
    assert append(again, make_batch(1)).first_offset == last.base_offset


def test_bit_flip_in_the_active_segment_truncates_there(new_log, caplog):
    plog = new_log()
    fill(plog, 10)
    data = plog.read(0, 1 << 20).data
    pos, bad = list(iter_headers(data))[4]
    path = plog.segments.active.log_path
    flip_byte(path, pos + bad.size - 5)  # inside the records: only the CRC notices

    with caplog.at_level(logging.WARNING):
        again = reopen(plog, clean=False)
    assert again.log_end_offset == bad.base_offset
    assert os.path.getsize(path) == pos
    message = next(r.getMessage() for r in caplog.records if "Truncating" in r.getMessage())
    assert "CRC" in message and f"position {pos}" in message and f"{len(data) - pos} bytes" in message


def test_corruption_in_an_unflushed_segment_drops_the_later_ones(new_log, small_config, caplog):
    plog = new_log(small_config)
    fill(plog, 40)
    bases = [s.base_offset for s in plog.segments]
    plog.flush(bases[1])
    second = plog.segments.floor(bases[1])
    assert second is not None
    flip_byte(second.log_path, 100)

    with caplog.at_level(logging.WARNING):
        again = reopen(plog, clean=False, recovery_point=plog.recovery_point)
    assert [s.base_offset for s in again.segments] == bases[:2]
    assert again.log_end_offset == bases[1]
    assert any("Deleting segment" in r.getMessage() for r in caplog.records)
    assert segment_files(plog.dir) == [f"{b:020d}.log" for b in bases[:2]]


def test_segments_below_the_recovery_point_are_not_checked(new_log, small_config, fs):
    plog = new_log(small_config)
    fill(plog, 40)
    plog.flush()
    active = plog.segments.active
    names = segment_files(plog.dir)
    flip_byte(os.path.join(plog.dir, names[0]), 200)
    fs.reads.clear()
    again = reopen(plog, clean=False, recovery_point=active.base_offset)
    assert again.log_end_offset == plog.log_end_offset
    assert fs.data_reads(names[:-1]) == 0


def test_unclean_recovery_rebuilds_indexes(new_log):
    plog = new_log(LogConfig(index_interval_bytes=150))
    fill(plog, 30)
    seg = plog.segments.active
    expected = (list(seg.offset_index._rel), list(seg.offset_index._pos), list(seg.time_index._ts))
    with open(seg.offset_index.path, "wb") as f:
        f.write(b"\xff" * 13)
    os.remove(seg.time_index.path)
    again = reopen(plog, clean=False)
    seg2 = again.segments.active
    assert seg2.translate_offset(0) is not None  # loads the rebuilt indexes
    assert (list(seg2.offset_index._rel), list(seg2.offset_index._pos)) == expected[:2]
    assert list(seg2.time_index._ts)[: len(expected[2])] == expected[2]
    assert os.path.getsize(seg2.offset_index.path) == 8 * len(expected[0])


# -- indexes ---------------------------------------------------------------------------------------


def test_corrupt_index_of_an_old_segment_is_rebuilt_on_first_use(new_log, small_config, caplog):
    plog = new_log(small_config)
    fill(plog, 40)
    plog.close()
    first = plog.segments.first
    good = Path(first.offset_index.path).read_bytes()
    assert len(good) >= 16
    with open(first.offset_index.path, "wb") as f:
        f.write(good[8:16] + good[0:8])  # entries out of order
    again = reopen(plog, clean=True, recovery_point=plog.log_end_offset)
    with caplog.at_level(logging.WARNING):
        assert offsets_in(again.read(3, 1).data) == [(2, 3)]
    assert any("Rebuilding indexes" in r.getMessage() for r in caplog.records)
    assert Path(first.offset_index.path).read_bytes() == good


def test_missing_index_files_are_rebuilt(new_log, small_config):
    plog = new_log(small_config)
    fill(plog, 40)
    plog.close()
    first = plog.segments.first
    good_index = Path(first.offset_index.path).read_bytes()
    good_times = Path(first.time_index.path).read_bytes()
    os.remove(first.offset_index.path)
    os.remove(first.time_index.path)
    again = reopen(plog, clean=True, recovery_point=plog.log_end_offset)
    assert again.offset_for_timestamp(10_150) == (4, 10_200)
    assert Path(first.offset_index.path).read_bytes() == good_index
    assert Path(first.time_index.path).read_bytes() == good_times


def test_leftovers_are_removed_at_load(new_log, small_config):
    plog = new_log(small_config)
    fill(plog, 5)
    plog.close()
    for name in (f"{0:020d}.log.deleted", "leader-epoch-checkpoint.tmp", f"{99:020d}.index"):
        with open(os.path.join(plog.dir, name), "wb") as f:
            f.write(b"junk")
    reopen(plog, clean=True, recovery_point=plog.log_end_offset)
    names = os.listdir(plog.dir)
    assert not [n for n in names if n.endswith((".deleted", ".tmp"))]
    assert f"{99:020d}.index" not in names


def test_log_start_beyond_the_recovered_end_starts_empty(new_log):
    plog = new_log()
    fill(plog, 3)
    again = reopen(plog, clean=False, log_start=100)
    assert (again.log_start_offset, again.log_end_offset) == (100, 100)
    assert segment_files(plog.dir) == [f"{100:020d}.log"]


def test_closing_does_not_reload_indexes_the_cache_dropped(new_log, small_config, fs):
    plog = new_log(small_config)
    fill(plog, 40)
    plog.close()
    again = reopen(plog, clean=True, recovery_point=plog.log_end_offset)
    again.segments.use_files(OpenFiles(fs, MIN_CAPACITY))
    largest = [s.largest_timestamp for s in again.segments]  # what retention asks
    assert largest[-1] == 10_000 + 100 * 39 + 1
    assert sum(s.offset_index.loaded for s in again.segments) < len(largest)  # most were dropped
    fs.reads.clear()
    again.close()
    assert not fs.reads
    assert not fs.paths
