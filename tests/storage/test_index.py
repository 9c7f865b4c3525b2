from __future__ import annotations

import struct

import pytest

from moldau.storage.index import CorruptIndexError, OffsetIndex, TimeIndex
from moldau.storage.index_file import PENDING_BYTES
from moldau.util.fs import LOCAL


def offset_index(tmp_path, base: int = 100, max_bytes: int = 1024) -> OffsetIndex:
    index = OffsetIndex(LOCAL, str(tmp_path / f"{base:020d}.index"), base, max_bytes)
    index.replace([])
    return index


def time_index(tmp_path, base: int = 100, max_bytes: int = 1200) -> TimeIndex:
    index = TimeIndex(LOCAL, str(tmp_path / f"{base:020d}.timeindex"), base, max_bytes)
    index.replace([])
    return index


def test_offset_index_file_is_kafka_layout(tmp_path):
    index = offset_index(tmp_path)
    index.append(105, 0)
    index.append(110, 4096)
    index.close()
    raw = (tmp_path / f"{100:020d}.index").read_bytes()
    assert raw == struct.pack(">ii", 5, 0) + struct.pack(">ii", 10, 4096)


def test_appended_entries_reach_the_file_in_one_write(tmp_path):
    """Entries wait in memory until a flush, a close, or PENDING_BYTES of them; lookups see
    them at once. Truncation cuts queued entries without touching the file."""
    index = offset_index(tmp_path, max_bytes=1 << 20)
    path = tmp_path / f"{100:020d}.index"
    index.append(110, 1000)
    index.append(120, 2000)
    assert path.stat().st_size == 0 and index.lookup(125) == (120, 2000)
    index.flush()
    assert path.stat().st_size == 16
    index.append(130, 3000)
    index.truncate_to(130)
    index.flush()
    assert path.stat().st_size == 16
    per_write = PENDING_BYTES // 8
    for i in range(per_write):
        index.append(200 + i, 10_000 + i)
    assert path.stat().st_size == 16 + PENDING_BYTES  # written as soon as a full write waited
    index.append(10_000, 1 << 20)
    index.close()
    assert path.stat().st_size == 16 + PENDING_BYTES + 8
    reloaded = OffsetIndex(LOCAL, index.path, 100, 1 << 20)
    reloaded.load(segment_size=2 << 20)
    assert len(reloaded) == 2 + per_write + 1 and reloaded.last_entry() == (10_000, 1 << 20)


def test_offset_index_floor_lookup(tmp_path):
    index = offset_index(tmp_path)
    for offset, position in [(110, 1000), (120, 2000), (130, 3000)]:
        index.append(offset, position)
    assert index.lookup(99) == (100, 0)
    assert index.lookup(109) == (100, 0)
    assert index.lookup(110) == (110, 1000)
    assert index.lookup(125) == (120, 2000)
    assert index.lookup(10_000) == (130, 3000)


def test_offset_index_rejects_out_of_order_entries(tmp_path):
    index = offset_index(tmp_path)
    index.append(110, 1000)
    with pytest.raises(ValueError):
        index.append(110, 2000)
    with pytest.raises(ValueError):
        index.append(120, 1000)


def test_offset_index_full_takes_no_more(tmp_path):
    index = offset_index(tmp_path, max_bytes=16)
    assert index.append(101, 10)
    assert index.append(102, 20)
    assert index.is_full
    assert not index.append(103, 30)
    assert len(index) == 2


def test_offset_index_reload_and_truncate(tmp_path):
    index = offset_index(tmp_path)
    for i in range(1, 6):
        index.append(100 + i * 10, i * 1000)
    index.truncate_to(130)  # drops the entries for 130, 140, 150
    index.close()
    reloaded = OffsetIndex(LOCAL, index.path, 100, 1024)
    reloaded.load(segment_size=10_000)
    assert len(reloaded) == 2
    assert reloaded.last_entry() == (120, 2000)
    assert (tmp_path / f"{100:020d}.index").stat().st_size == 16


@pytest.mark.parametrize(
    ("raw", "segment_size"),
    [
        (struct.pack(">ii", 10, 100) + struct.pack(">ii", 5, 200), 1000),  # offsets go back
        (struct.pack(">ii", 10, 300) + struct.pack(">ii", 20, 200), 1000),  # positions go back
        (struct.pack(">ii", 10, 100) + b"\x00\x00", 1000),  # torn entry
        (struct.pack(">ii", -1, 100), 1000),  # before the segment base
        (struct.pack(">ii", 10, 5000), 1000),  # points past the segment
    ],
)
def test_offset_index_load_detects_corruption(tmp_path, raw, segment_size):
    path = tmp_path / "x.index"
    path.write_bytes(raw)
    with pytest.raises(CorruptIndexError):
        OffsetIndex(LOCAL, str(path), 100, 1024).load(segment_size)


def test_time_index_appends_only_when_timestamp_grows(tmp_path):
    index = time_index(tmp_path)
    assert index.maybe_append(1000, 105)
    assert not index.maybe_append(1000, 106)
    assert not index.maybe_append(900, 107)
    assert index.maybe_append(1500, 107)
    index.close()
    raw = (tmp_path / f"{100:020d}.timeindex").read_bytes()
    assert raw == struct.pack(">qi", 1000, 5) + struct.pack(">qi", 1500, 7)


def test_time_index_lookup_and_reload(tmp_path):
    index = time_index(tmp_path)
    index.maybe_append(1000, 110)
    index.maybe_append(2000, 120)
    assert index.lookup(999) == (-1, 100)
    assert index.lookup(1500) == (1000, 110)
    assert index.lookup(2000) == (2000, 120)
    index.close()
    reloaded = TimeIndex(LOCAL, index.path, 100, 1200)
    reloaded.load()
    assert reloaded.last_entry() == (2000, 120)


def test_time_index_full_check_can_be_skipped(tmp_path):
    index = time_index(tmp_path, max_bytes=12)
    assert index.maybe_append(1000, 101)
    assert not index.maybe_append(2000, 102)
    assert index.maybe_append(2000, 102, skip_full_check=True)


def test_time_index_load_detects_corruption(tmp_path):
    path = tmp_path / "x.timeindex"
    path.write_bytes(struct.pack(">qi", 2000, 5) + struct.pack(">qi", 1000, 6))
    with pytest.raises(CorruptIndexError):
        TimeIndex(LOCAL, str(path), 100, 1200).load()
