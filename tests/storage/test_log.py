from __future__ import annotations

import os

import pytest

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import iter_headers
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.records import decode_records
from moldau.storage.config import LogConfig
from moldau.storage.log_read import OffsetAndTimestamp
from moldau.storage.log_removal import HIGH_WATERMARK

from .helpers import START_MS, append, as_append_input, make_batch, offsets_in, segment_files

# -- append and read -----------------------------------------------------------------------------


def test_append_assigns_offsets_and_read_returns_the_bytes(new_log):
    plog = new_log()
    first = append(plog, make_batch(3))
    second = append(plog, make_batch(2), make_batch(4))
    assert (first.first_offset, first.last_offset) == (0, 2)
    assert (second.first_offset, second.last_offset) == (3, 8)
    assert second.record_count == 6
    assert plog.log_end_offset == plog.high_watermark == 9

    fetched = plog.read(0, 1 << 20)
    assert offsets_in(fetched.data) == [(0, 2), (3, 4), (5, 8)]
    assert fetched.high_watermark == 9 and fetched.log_start_offset == 0
    records = [r for pos, _ in iter_headers(fetched.data) for r in decode_records(fetched.data[pos:])]
    assert [r.offset for r in records] == list(range(9))
    assert [r.key for r in records][:3] == [b"k0", b"k1", b"k2"]


def test_append_stamps_leader_epoch_and_log_append_time(new_log, clock):
    plog = new_log(LogConfig(message_timestamp_type="LogAppendTime"))
    info = append(plog, make_batch(2, ts=5), leader_epoch=7, now_ms=START_MS + 42)
    assert info.log_append_time_ms == START_MS + 42
    assert info.max_timestamp == START_MS + 42
    ((_, h),) = iter_headers(plog.read(0, 1 << 20).data)
    assert h.partition_leader_epoch == 7
    assert h.log_append_time and h.max_timestamp == START_MS + 42
    assert plog.leader_epoch == 7


def test_create_time_keeps_producer_timestamps(new_log):
    plog = new_log()
    info = append(plog, make_batch(3, ts=1000))
    assert info.log_append_time_ms == -1
    assert info.max_timestamp == 1002
    assert info.offset_of_max_timestamp == 2


def test_append_refuses_more_than_a_segment(new_log):
    plog = new_log(LogConfig(segment_bytes=200))
    with pytest.raises(KafkaError) as e:
        append(plog, make_batch(10))
    assert e.value.code == ErrorCode.RECORD_LIST_TOO_LARGE
    assert plog.log_end_offset == 0


def test_append_refuses_bytes_that_are_not_whole_batches(new_log):
    plog = new_log()
    data, headers = as_append_input(make_batch(1))
    data += b"\x00" * 5
    with pytest.raises(KafkaError) as e:
        plog.append(data, headers, leader_epoch=0, now_ms=START_MS)
    assert e.value.code == ErrorCode.CORRUPT_MESSAGE


def test_read_at_log_end_is_empty_and_beyond_is_out_of_range(new_log):
    plog = new_log()
    append(plog, make_batch(2))
    assert plog.read(2, 1000).data == b""
    with pytest.raises(KafkaError) as e:
        plog.read(3, 1000)
    assert e.value.code == ErrorCode.OFFSET_OUT_OF_RANGE


def test_read_from_the_middle_of_a_batch_returns_the_whole_batch(new_log):
    plog = new_log()
    append(plog, make_batch(5), make_batch(5))
    assert offsets_in(plog.read(7, 1 << 20).data) == [(5, 9)]
    assert offsets_in(plog.read(4, 1 << 20).data) == [(0, 4), (5, 9)]


def test_max_bytes_returns_whole_batches_only(new_log):
    plog = new_log()
    batch = make_batch(1)
    for _ in range(5):
        append(plog, batch)
    got = plog.read(0, 2 * len(batch) + len(batch) // 2)
    assert offsets_in(got.data) == [(0, 0), (1, 1)]
    assert len(got.data) == 2 * len(batch)


def test_min_one_returns_a_first_batch_larger_than_max_bytes(new_log):
    plog = new_log()
    big = make_batch(20)
    append(plog, big, make_batch(1))
    got = plog.read(0, 10)
    assert got.data == plog.read(0, len(big)).data
    assert offsets_in(got.data) == [(0, 19)]
    assert plog.read(0, 10, min_one=False).data == b""


def test_max_offset_bounds_the_read(new_log):
    plog = new_log()
    append(plog, make_batch(2), make_batch(2), make_batch(2))
    assert offsets_in(plog.read(0, 1 << 20, max_offset=4).data) == [(0, 1), (2, 3)]
    assert plog.read(4, 1 << 20, max_offset=4).data == b""


def test_read_below_log_start_is_out_of_range(new_log):
    plog = new_log()
    append(plog, make_batch(2), make_batch(2))
    plog.delete_records_before(2)
    with pytest.raises(KafkaError) as e:
        plog.read(1, 1000)
    assert e.value.code == ErrorCode.OFFSET_OUT_OF_RANGE
    assert offsets_in(plog.read(2, 1000).data) == [(2, 3)]


def test_read_to_limit_is_where_a_read_returns_nothing_and_raises_nothing(new_log):
    plog = new_log()
    append(plog, make_batch(2), make_batch(2))
    assert plog.read_to_limit(4, 4) and plog.read(4, 1000, max_offset=4).data == b""
    assert plog.read_to_limit(2, 2) and plog.read(2, 1000, max_offset=2).data == b""
    assert not plog.read_to_limit(2, 4)  # records to read
    plog.delete_records_before(3)
    assert not plog.read_to_limit(2, 2)  # below the log start: the read is out of range
    with pytest.raises(KafkaError):
        plog.read(2, 1000, max_offset=2)


# -- segments ------------------------------------------------------------------------------------


def test_roll_by_size_and_reads_across_segments(new_log, small_config):
    plog = new_log(small_config)
    batch = make_batch(2)
    for _ in range(20):
        append(plog, batch)
    names = segment_files(plog.dir)
    assert len(names) >= 3
    # every segment stays within segment.bytes and starts where the previous one ended
    bases = [int(n[:20]) for n in names]
    for seg in plog.segments:
        assert seg.size <= small_config.segment_bytes
    assert bases == sorted(bases) and bases[0] == 0
    everything = plog.read(0, 1 << 20)
    assert offsets_in(everything.data) == [(i, i + 1) for i in range(0, 40, 2)]
    # a read starting in one segment continues into the next while room is left
    seg2 = bases[1]
    got = plog.read(seg2 - 2, 3 * len(batch))
    assert offsets_in(got.data) == [(seg2 - 2, seg2 - 1), (seg2, seg2 + 1), (seg2 + 2, seg2 + 3)]


def test_roll_by_time(new_log, clock):
    plog = new_log(LogConfig(segment_ms=60_000))
    append(plog, make_batch(1))
    clock.advance(60_000)
    append(plog, make_batch(1))
    assert len(plog.segments) == 1
    clock.advance(1)
    append(plog, make_batch(1))
    assert [s.base_offset for s in plog.segments] == [0, 2]


def test_roll_when_offset_index_is_full(new_log):
    plog = new_log(LogConfig(index_interval_bytes=0, segment_index_bytes=24))
    for _ in range(6):
        append(plog, make_batch(1))
    assert len(plog.segments) > 1
    assert all(len(s.offset_index) <= 3 for s in plog.segments)


def test_offset_index_is_sparse(new_log):
    plog = new_log(LogConfig(index_interval_bytes=300))
    batch = make_batch(1)
    for _ in range(40):
        append(plog, batch)
    seg = plog.segments.active
    entries = len(seg.offset_index)
    assert 0 < entries < 40
    assert entries == pytest.approx(seg.size / (300 + len(batch)), abs=1)
    # every entry points at the start of a batch whose last offset it names
    data = plog.read(0, 1 << 20).data
    starts = {pos: h.last_offset for pos, h in iter_headers(data)}
    for i in range(entries):
        offset = seg.offset_index.base_offset + seg.offset_index._rel[i]
        assert starts[seg.offset_index._pos[i]] == offset
    for target in range(40):
        assert offsets_in(plog.read(target, 1).data) == [(target, target)]


# -- timestamps ----------------------------------------------------------------------------------


def test_offset_for_timestamp_finds_the_first_record_at_or_after(new_log, small_config):
    plog = new_log(small_config)
    for i in range(20):
        append(plog, make_batch(3, ts=10_000 + i * 100, ts_step=10))
    assert len(plog.segments) > 2
    # batch i holds offsets 3i..3i+2 with timestamps 10000+100i, +10, +20
    assert plog.offset_for_timestamp(0) == OffsetAndTimestamp(0, 10_000)
    assert plog.offset_for_timestamp(10_505) == OffsetAndTimestamp(16, 10_510)
    assert plog.offset_for_timestamp(10_520) == OffsetAndTimestamp(17, 10_520)
    assert plog.offset_for_timestamp(10_521) == OffsetAndTimestamp(18, 10_600)
    assert plog.offset_for_timestamp(11_920) == OffsetAndTimestamp(59, 11_920)
    assert plog.offset_for_timestamp(11_921) is None


def test_offset_for_timestamp_in_compressed_batches(new_log):
    plog = new_log()
    append(plog, make_batch(5, ts=1000, ts_step=10, compression=Compression.GZIP))
    append(plog, make_batch(5, ts=2000, ts_step=10, compression=Compression.GZIP))
    assert plog.offset_for_timestamp(1025) == OffsetAndTimestamp(3, 1030)
    assert plog.offset_for_timestamp(1500) == OffsetAndTimestamp(5, 2000)


def test_offset_for_timestamp_respects_log_start_and_max_offset(new_log):
    plog = new_log()
    append(plog, make_batch(4, ts=1000))
    append(plog, make_batch(4, ts=2000))
    plog.delete_records_before(2)
    assert plog.offset_for_timestamp(0) == OffsetAndTimestamp(2, 1002)
    assert plog.offset_for_timestamp(2000, max_offset=4) is None


def test_log_append_time_lookup_answers_the_batch_start(new_log, clock):
    plog = new_log(LogConfig(message_timestamp_type="LogAppendTime"))
    append(plog, make_batch(3, ts=1), now_ms=5000)
    append(plog, make_batch(3, ts=1), now_ms=6000)
    assert plog.offset_for_timestamp(5500) == OffsetAndTimestamp(3, 6000)


def test_max_timestamp_offset(new_log, small_config):
    plog = new_log(small_config)
    assert plog.max_timestamp_offset() is None
    append(plog, make_batch(3, ts=5000))
    append(plog, make_batch(3, ts=9000, ts_step=-1))  # the first record of this batch is the newest
    for _ in range(10):
        append(plog, make_batch(2, ts=7000))
    assert plog.max_timestamp_offset() == OffsetAndTimestamp(3, 9000)
    assert plog.earliest() == (0, -1)
    assert plog.latest() == (plog.log_end_offset, -1)


# -- DeleteRecords and truncation ----------------------------------------------------------------


def test_delete_records_moves_log_start_and_drops_whole_segments(new_log, small_config, clock):
    plog = new_log(small_config)
    for _ in range(20):
        append(plog, make_batch(2))
    bases = [s.base_offset for s in plog.segments]
    cut = bases[2] + 1
    assert plog.delete_records_before(cut) == cut
    assert plog.log_start_offset == cut
    assert [s.base_offset for s in plog.segments] == bases[2:]
    assert offsets_in(plog.read(cut, 1 << 20).data)[0] == (cut - 1, cut)
    assert plog.delete_records_before(1) == cut  # never moves back

    # the files of the deleted segments (and the producer snapshot taken when the second one
    # started) wait file.delete.delay.ms under .deleted
    deleted = sorted(n for n in os.listdir(plog.dir) if n.endswith(".deleted"))
    assert deleted == sorted(
        [f"{b:020d}{s}.deleted" for b in bases[:2] for s in (".log", ".index", ".timeindex")]
        + [f"{bases[1]:020d}.snapshot.deleted"]
    )
    clock.advance(small_config.file_delete_delay_ms - 1)
    assert plog.deletions.remove_due(clock.time_ms()) == 0
    clock.advance(1)
    assert plog.deletions.remove_due(clock.time_ms()) == 7
    assert not [n for n in os.listdir(plog.dir) if n.endswith(".deleted")]


def test_delete_records_to_the_high_watermark(new_log):
    plog = new_log()
    append(plog, make_batch(3))
    assert plog.delete_records_before(HIGH_WATERMARK) == 3
    assert plog.read(3, 1000).data == b""
    assert [s.base_offset for s in plog.segments] == [3]
    assert append(plog, make_batch(1)).first_offset == 3
    with pytest.raises(KafkaError) as e:
        plog.delete_records_before(10)
    assert e.value.code == ErrorCode.OFFSET_OUT_OF_RANGE


def test_truncate_to(new_log, small_config):
    plog = new_log(small_config)
    for _ in range(20):
        append(plog, make_batch(2), leader_epoch=1)
    plog.assign_epoch(2, 30)
    assert plog.truncate_to(12)
    assert plog.log_end_offset == plog.high_watermark == 12
    assert offsets_in(plog.read(0, 1 << 20).data)[-1] == (10, 11)
    assert plog.end_offset_for_epoch(2) == (-1, -1)
    assert append(plog, make_batch(1)).first_offset == 12
    assert not plog.truncate_to(100)


def test_truncate_fully(new_log):
    plog = new_log()
    append(plog, make_batch(5))
    plog.truncate_fully_and_start_at(50)
    assert (plog.log_start_offset, plog.log_end_offset) == (50, 50)
    assert append(plog, make_batch(1)).first_offset == 50
    assert segment_files(plog.dir) == [f"{50:020d}.log"]


# -- leader epochs -------------------------------------------------------------------------------


def test_leader_epoch_cache_follows_appends(new_log):
    plog = new_log()
    append(plog, make_batch(3), leader_epoch=0)
    append(plog, make_batch(2), leader_epoch=0)
    append(plog, make_batch(4), leader_epoch=3)
    assert plog.epoch_cache.entries == [(0, 0), (3, 5)]
    assert plog.end_offset_for_epoch(0) == (0, 5)
    assert plog.end_offset_for_epoch(1) == (0, 5)
    assert plog.end_offset_for_epoch(3) == (3, 9)
    assert plog.end_offset_for_epoch(4) == (-1, -1)
    assert plog.epoch_for_offset(4) == 0 and plog.epoch_for_offset(5) == 3
    with open(os.path.join(plog.dir, "leader-epoch-checkpoint")) as f:
        assert f.read() == "0\n2\n0 0\n3 5\n"


def test_high_watermark_can_be_driven_by_replication(new_log):
    plog = new_log()
    plog.high_watermark_follows_log_end = False
    append(plog, make_batch(5))
    assert plog.high_watermark == 0
    assert plog.update_high_watermark(3) == 3
    assert offsets_in(plog.read(0, 1 << 20, max_offset=plog.high_watermark).data) == []
    assert plog.update_high_watermark(99) == 5


# -- flushing ------------------------------------------------------------------------------------


def test_flush_messages_moves_the_recovery_point(new_log, fs):
    synced = []
    fs.fail_fsync = lambda path: synced.append(os.path.basename(path)) and False
    plog = new_log(LogConfig(flush_interval_messages=5))
    append(plog, make_batch(3))
    assert plog.recovery_point == 0 and not [n for n in synced if n.endswith(".log")]
    append(plog, make_batch(3))
    assert plog.recovery_point == 6
    assert f"{0:020d}.log" in synced


def test_flush_ms(new_log, clock):
    plog = new_log(LogConfig(flush_interval_ms=1000))
    append(plog, make_batch(1))
    assert plog.recovery_point == 0
    clock.advance(1000)
    append(plog, make_batch(1), now_ms=clock.time_ms())
    assert plog.recovery_point == 2


def test_flush_rolled_flushes_up_to_the_active_segment(new_log, small_config):
    plog = new_log(small_config)
    for _ in range(10):
        append(plog, make_batch(2))
    active = plog.segments.active.base_offset
    assert plog.recovery_point == 0
    plog.flush_rolled()
    assert plog.recovery_point == active


def test_max_offset_inside_a_later_segment(new_log, small_config):
    plog = new_log(small_config)
    for _ in range(20):
        append(plog, make_batch(2))
    second = [s.base_offset for s in plog.segments][1]
    got = plog.read(second - 4, 1 << 20, max_offset=second + 4)
    assert offsets_in(got.data) == [
        (second - 4, second - 3),
        (second - 2, second - 1),
        (second, second + 1),
        (second + 2, second + 3),
    ]
