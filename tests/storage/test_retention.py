"""Retention by time and size, whole segments only, with two-step deletion on a manual clock."""

from __future__ import annotations

import logging
import os

import pytest

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage.config import LogConfig
from moldau.storage.manager import LogManager
from moldau.storage.retention import delete_old_segments

from .helpers import START_MS, TOPIC_ID, append, make_batch

HOUR = 3_600_000


def segmented(plog, count: int, *, ts_step: int = 0, records: int = 1) -> list[int]:
    """Append ``count`` batches, rolling after each, timestamps ``START_MS + i * ts_step``.
    Returns each segment's size, oldest first (the active segment is left empty)."""
    for i in range(count):
        append(plog, make_batch(records, ts=START_MS + i * ts_step))
        plog.roll()
    return [s.size for s in plog.segments]


def bases(plog) -> list[int]:
    return [s.base_offset for s in plog.segments]


def deleted_files(plog) -> list[str]:
    return sorted(n for n in os.listdir(plog.dir) if n.endswith(".deleted"))


# -- time --------------------------------------------------------------------------------------


def test_time_retention_deletes_segments_whose_largest_timestamp_expired(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    segmented(plog, 5, ts_step=10 * 60_000)  # 0, 10, 20, 30, 40 minutes
    clock.advance(HOUR + 25 * 60_000)  # now: 85 minutes; expired: older than 25 minutes

    result = delete_old_segments(plog, clock.time_ms())
    assert result is not None and result.segments == 3
    assert bases(plog) == [3, 4, 5]
    assert plog.log_start_offset == 3
    with pytest.raises(KafkaError) as e:
        plog.read(2, 1 << 20)
    assert e.value.code == ErrorCode.OFFSET_OUT_OF_RANGE
    assert plog.read(3, 1 << 20).data
    assert delete_old_segments(plog, clock.time_ms()) is None  # nothing more is due


def test_retention_minus_one_keeps_everything(new_log, clock):
    plog = new_log(LogConfig(retention_ms=-1, retention_bytes=-1))
    segmented(plog, 3)
    clock.advance(10_000 * HOUR)
    assert delete_old_segments(plog, clock.time_ms()) is None
    assert bases(plog) == [0, 1, 2, 3]


def test_an_expired_non_empty_active_segment_is_rolled_and_deleted(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    segmented(plog, 2)
    append(plog, make_batch(3))  # the active segment holds data
    clock.advance(2 * HOUR)

    result = delete_old_segments(plog, clock.time_ms())
    assert result is not None and result.segments == 3
    assert bases(plog) == [5]
    assert plog.segments.active.size == 0
    assert plog.log_start_offset == plog.log_end_offset == plog.high_watermark == 5
    assert plog.read(5, 1 << 20).data == b""
    assert append(plog, make_batch(1)).first_offset == 5


def test_an_empty_active_segment_is_never_deleted(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    segmented(plog, 2)
    clock.advance(2 * HOUR)
    delete_old_segments(plog, clock.time_ms())
    assert bases(plog) == [2]
    clock.advance(2 * HOUR)
    assert delete_old_segments(plog, clock.time_ms()) is None
    assert bases(plog) == [2]


def test_the_active_segment_is_kept_while_it_is_not_expired(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    segmented(plog, 2)
    clock.advance(2 * HOUR)
    append(plog, make_batch(1, ts=clock.time_ms()))  # fresh data in the active segment
    delete_old_segments(plog, clock.time_ms())
    assert bases(plog) == [2]
    assert plog.log_start_offset == 2


def test_segments_at_or_above_the_high_watermark_stay(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    plog.high_watermark_follows_log_end = False
    segmented(plog, 4)
    plog.update_high_watermark(2)
    clock.advance(2 * HOUR)
    delete_old_segments(plog, clock.time_ms())
    assert bases(plog) == [2, 3, 4]


def test_future_timestamps_keep_a_segment(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR))
    append(plog, make_batch(1, ts=START_MS + 100 * HOUR))
    plog.roll()
    segmented(plog, 1)
    clock.advance(2 * HOUR)
    assert delete_old_segments(plog, clock.time_ms()) is None  # the first segment blocks the rest


# -- size --------------------------------------------------------------------------------------


def test_size_retention_deletes_oldest_segments_while_the_rest_still_exceeds(new_log, clock):
    plog = new_log(LogConfig(retention_ms=-1))
    sizes = segmented(plog, 6)
    size = sizes[0]
    plog.set_config(LogConfig(retention_ms=-1, retention_bytes=2 * size + size // 2))

    result = delete_old_segments(plog, clock.time_ms())
    assert result is not None and result.segments == 3  # 6 segments → 3, and 3 > 2.5
    assert bases(plog) == [3, 4, 5, 6]
    assert plog.size_in_bytes() == 3 * size
    assert plog.log_start_offset == 3


def test_size_retention_never_deletes_the_active_segment_while_the_limit_is_positive(new_log, clock):
    plog = new_log(LogConfig(retention_ms=-1, retention_bytes=1))
    append(plog, make_batch(5))
    assert delete_old_segments(plog, clock.time_ms()) is None
    assert plog.segments.active.size > 0


def test_time_and_size_together(new_log, clock):
    plog = new_log(LogConfig(retention_ms=-1))
    sizes = segmented(plog, 6, ts_step=10 * 60_000)
    plog.set_config(LogConfig(retention_ms=HOUR, retention_bytes=5 * sizes[0]))
    clock.advance(HOUR + 15 * 60_000)  # the first two segments expired by time

    result = delete_old_segments(plog, clock.time_ms())
    assert result is not None
    assert result.reasons[0].startswith(f"retention.bytes {5 * sizes[0]} breached (1 segments")  # 6 → 5
    assert result.reasons[1].startswith("retention.ms 3600000 breached (1 segments")  # then the 10-minute one
    assert bases(plog) == [2, 3, 4, 5, 6]


def test_compact_only_logs_ignore_time_and_size(new_log, clock):
    plog = new_log(LogConfig(cleanup_policy="compact", retention_ms=1, retention_bytes=0))
    segmented(plog, 3)
    clock.advance(HOUR)
    assert delete_old_segments(plog, clock.time_ms()) is None
    assert bases(plog) == [0, 1, 2, 3]


def test_compact_delete_logs_apply_both(new_log, clock):
    plog = new_log(LogConfig(cleanup_policy="compact,delete", retention_ms=HOUR))
    segmented(plog, 3)
    clock.advance(2 * HOUR)
    delete_old_segments(plog, clock.time_ms())
    assert bases(plog) == [3]


def test_segments_below_the_log_start_offset_go_whatever_the_policy(new_log, clock):
    plog = new_log(LogConfig(cleanup_policy="compact"))
    segmented(plog, 4)
    plog.log_start_offset = 2  # as a log start checkpoint can leave it after a restart
    result = delete_old_segments(plog, clock.time_ms())
    assert result is not None and result.segments == 2
    assert bases(plog) == [2, 3, 4]


# -- deletion in two steps ---------------------------------------------------------------------


def test_deleted_segments_wait_file_delete_delay_ms(new_log, clock):
    config = LogConfig(retention_ms=HOUR, file_delete_delay_ms=30_000)
    plog = new_log(config)
    segmented(plog, 2)
    clock.advance(2 * HOUR)
    delete_old_segments(plog, clock.time_ms())
    segment_files = [f"{b:020d}{s}.deleted" for b in (0, 1) for s in (".log", ".index", ".timeindex")]
    expected = sorted([*segment_files, "00000000000000000001.snapshot.deleted"])  # producer state at 1
    assert deleted_files(plog) == expected

    clock.advance(29_999)
    assert plog.deletions.remove_due(clock.time_ms()) == 0
    assert deleted_files(plog) == expected
    clock.advance(1)
    assert plog.deletions.remove_due(clock.time_ms()) == 7
    assert deleted_files(plog) == []


def test_zero_delay_removes_at_once(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR, file_delete_delay_ms=0))
    segmented(plog, 2)
    clock.advance(2 * HOUR)
    delete_old_segments(plog, clock.time_ms())
    assert deleted_files(plog) == []
    assert len(plog.deletions) == 0


def test_delete_records_goes_through_the_same_deletion(new_log, clock):
    plog = new_log(LogConfig(file_delete_delay_ms=1000))
    segmented(plog, 3)
    plog.delete_records_before(2)
    assert bases(plog) == [2, 3]
    assert len(deleted_files(plog)) == 7  # two segments, and the producer snapshot at 1
    clock.advance(1000)
    assert plog.deletions.remove_due(clock.time_ms()) == 7


# -- through the log manager -------------------------------------------------------------------


@pytest.fixture
def manager(tmp_path, clock, fs):
    m = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    yield m
    m.shutdown()


def test_manager_pass_checkpoints_the_new_log_start_and_logs_one_line_per_partition(
    manager, tmp_path, clock, caplog
):
    config = LogConfig(retention_ms=HOUR, file_delete_delay_ms=60_000)
    manager.load({("orders", 0): (TOPIC_ID, config), ("orders", 1): (TOPIC_ID, config)})
    for partition in (0, 1):
        plog = manager.get_log("orders", partition)
        segmented(plog, 3 + partition)
    clock.advance(2 * HOUR)

    with caplog.at_level(logging.INFO, logger="moldau.storage.retention"):
        assert manager.delete_old_segments(clock.time_ms()) == 7
    lines = [r.getMessage() for r in caplog.records if r.name == "moldau.storage.retention"]
    assert len(lines) == 2
    assert "orders-0" in lines[0] and "retention.ms 3600000 breached" in lines[0]
    checkpoint = (tmp_path / "data" / "log-start-offset-checkpoint").read_text()
    assert checkpoint == "0\n2\norders 0 3\norders 1 4\n"

    plog = manager.get_log("orders", 0)
    assert len(deleted_files(plog)) == 11  # three segments, and the producer snapshots at 1 and 2
    clock.advance(60_000)
    assert manager.remove_deleted_files(clock.time_ms()) == 26  # 7 segments, 5 snapshots
    assert deleted_files(plog) == []


def test_restart_removes_leftover_deleted_files_and_keeps_the_log_start(manager, tmp_path, clock, fs):
    config = LogConfig(retention_ms=HOUR)
    manager.load({("orders", 0): (TOPIC_ID, config)})
    plog = manager.get_log("orders", 0)
    segmented(plog, 3)
    clock.advance(2 * HOUR)
    manager.delete_old_segments(clock.time_ms())
    assert deleted_files(plog)
    # the process dies before file.delete.delay.ms

    again = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    again.load({("orders", 0): (TOPIC_ID, config)})
    reopened = again.get_log("orders", 0)
    assert deleted_files(reopened) == []
    assert reopened.log_start_offset == 3
    assert bases(reopened) == [3]
