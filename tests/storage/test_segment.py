from __future__ import annotations

import os
from pathlib import Path

import pytest

from moldau.protocol.records.batch import iter_headers
from moldau.storage.config import LogConfig
from moldau.storage.segment import LogSegment

from .helpers import START_MS, make_batch

CONFIG = LogConfig(index_interval_bytes=150)


def filled_segment(tmp_path, fs, base: int = 1000, batches: int = 10) -> tuple[LogSegment, bytearray]:
    seg = LogSegment.create(fs, str(tmp_path), base, CONFIG, START_MS)
    data = bytearray()
    offset = base
    for i in range(batches):
        batch = bytearray(make_batch(2, ts=5000 + 10 * i))
        ((_, h),) = iter_headers(batch)
        batch[0:8] = offset.to_bytes(8, "big")
        h.base_offset = offset
        seg.append(batch, [(0, h)], START_MS)
        data += batch
        offset += 2
    return seg, data


def test_files_are_named_by_base_offset(tmp_path, fs):
    LogSegment.create(fs, str(tmp_path), 1234, CONFIG, START_MS)
    assert sorted(os.listdir(tmp_path)) == [
        "00000000000000001234.index",
        "00000000000000001234.log",
        "00000000000000001234.timeindex",
    ]


def test_log_file_is_the_batches_back_to_back(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    assert Path(seg.log_path).read_bytes() == bytes(data)
    assert seg.size == len(data)


def test_translate_offset(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    positions = {h.base_offset: pos for pos, h in iter_headers(data)}
    for offset in range(1000, 1020):
        found = seg.translate_offset(offset)
        assert found is not None
        assert found[0] == positions[offset - offset % 2]
    assert seg.translate_offset(1020) is None


def test_read_limits(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    batch_size = len(data) // 10
    got = seg.read(1004, 3 * batch_size, min_one=True)
    assert got is not None and got.position == 2 * batch_size
    assert got.data == bytes(data[2 * batch_size : 5 * batch_size])
    bounded = seg.read(1004, 1 << 20, 4 * batch_size, min_one=True)
    assert bounded is not None and len(bounded.data) == 2 * batch_size
    assert seg.read(1008, 1 << 20, 4 * batch_size, min_one=True) is None


def test_a_read_is_one_pread_when_the_window_holds_the_batch_and_the_data(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    batch_size = len(data) // 10
    for offset in (1000, 1005, 1019):
        fs.reads.clear()
        got = seg.read(offset, 1 << 20, min_one=True)
        start = (offset - 1000) // 2 * batch_size
        assert got is not None and (got.position, bytes(got.data)) == (start, bytes(data[start:]))
        assert sum(fs.reads.values()) == 1, fs.reads


def test_a_read_walks_the_file_when_the_window_falls_short(tmp_path, fs):
    """No index entry near the offset and a small max_bytes: the batch of the offset lies past
    the window read from the index entry, so the file is walked and the data read again."""
    seg = LogSegment.create(fs, str(tmp_path), 0, LogConfig(index_interval_bytes=1 << 20), START_MS)
    data = bytearray()
    for offset in range(0, 400, 2):
        batch = bytearray(make_batch(2, ts=5000))
        ((_, h),) = iter_headers(batch)
        batch[0:8] = offset.to_bytes(8, "big")
        h.base_offset = offset
        seg.append(batch, [(0, h)], START_MS)
        data += batch
    batch_size = len(data) // 200
    assert 200 * batch_size > 16 * 1024 + batch_size  # the last batch lies past any window
    fs.reads.clear()
    got = seg.read(398, batch_size, min_one=True)
    assert got is not None and bytes(got.data) == bytes(data[-batch_size:])
    assert sum(fs.reads.values()) > 1
    oversized = seg.read(398, 10, min_one=True)  # larger than max_bytes: whole, as min_one asks
    assert oversized is not None and bytes(oversized.data) == bytes(data[-batch_size:])
    assert seg.read(398, 10, min_one=False) == (199 * batch_size, b"")
    assert seg.read(400, 1 << 20, min_one=True) is None


def test_recover_reports_what_was_cut(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    with open(seg.log_path, "ab") as f:
        f.write(b"\x00" * 20)
    result = seg.recover(CONFIG.max_message_bytes)
    assert (result.valid_bytes, result.truncated_bytes, result.next_offset) == (len(data), 20, 1020)
    assert result.reason is not None and "partial batch header" in result.reason


def test_recover_refuses_oversized_batches_before_reading_them(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    fs.reads.clear()
    result = seg.recover(max_message_bytes=50)
    assert result.valid_bytes == 0 and result.truncated_bytes == len(data)
    assert result.reason is not None and "max.message.bytes" in result.reason
    assert seg.size == 0 and os.path.getsize(seg.log_path) == 0


def test_recover_refuses_offsets_going_backwards(tmp_path, fs):
    seg, _ = filled_segment(tmp_path, fs)
    batch = bytearray(make_batch(2))
    batch[0:8] = (1010).to_bytes(8, "big")  # outside the CRC: only the offset check notices
    with open(seg.log_path, "ab") as f:
        f.write(batch)
    result = seg.recover(CONFIG.max_message_bytes)
    assert result.next_offset == 1020 and result.truncated_bytes == len(batch)
    assert result.reason is not None and "backwards" in result.reason


def test_truncate_recomputes_the_largest_timestamp(tmp_path, fs):
    seg, data = filled_segment(tmp_path, fs)
    assert seg.max_timestamp_and_offset() == (5091, 1019)
    removed = seg.truncate_to(1011)
    assert removed == len(data) // 2
    assert seg.max_timestamp_and_offset() == (5041, 1009)
    assert all(seg.base_offset + r < 1010 for r in seg.offset_index._rel)


def test_time_waited_for_roll_after_reopening(tmp_path, fs):
    seg, _ = filled_segment(tmp_path, fs)
    assert seg.time_waited_for_roll(START_MS + 100) == 100
    seg.close()
    again = LogSegment.open(fs, str(tmp_path), 1000, CONFIG, START_MS + 500)
    assert again.time_waited_for_roll(START_MS + 500) == START_MS + 500 - 5001  # first batch's max timestamp


def test_delete_renames_before_removing(tmp_path, fs):
    seg, _ = filled_segment(tmp_path, fs)
    renames = []
    original = fs.rename

    def record(src: str, dst: str) -> None:
        renames.append((os.path.basename(src), os.path.basename(dst)))
        original(src, dst)

    fs.rename = record  # type: ignore[method-assign]
    seg.delete()
    assert renames == [
        (n, n + ".deleted") for n in (f"{1000:020d}{s}" for s in (".log", ".index", ".timeindex"))
    ]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("damage", ["index", "timeindex"])
def test_bad_index_is_rebuilt_on_use(tmp_path, fs, damage):
    seg, _ = filled_segment(tmp_path, fs)
    seg.close()
    expected = Path(tmp_path / f"{1000:020d}.{damage}").read_bytes()
    with open(tmp_path / f"{1000:020d}.{damage}", "ab") as f:
        f.write(b"\x01\x02\x03")
    again = LogSegment.open(fs, str(tmp_path), 1000, CONFIG, START_MS)
    assert again.find_offset_by_timestamp(5035, 1000) == (1008, 5040)
    assert Path(tmp_path / f"{1000:020d}.{damage}").read_bytes() == expected
