"""I/O errors injected through the filesystem adapter: the log reports KAFKA_STORAGE_ERROR and
stays consistent and readable."""

from __future__ import annotations

import os

import pytest

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage.checkpoints import read_epochs
from moldau.storage.config import LogConfig
from moldau.storage.index_file import PENDING_BYTES
from moldau.storage.log import PartitionLog
from moldau.storage.manager import LogManager

from .helpers import TOPIC_ID, append, make_batch, offsets_in


def assert_storage_error(plog: PartitionLog, batch: bytes) -> KafkaError:
    with pytest.raises(KafkaError) as e:
        append(plog, batch)
    assert e.value.code == ErrorCode.KAFKA_STORAGE_ERROR
    return e.value


def test_enospc_on_the_log_file(new_log, fs):
    plog = new_log()
    append(plog, make_batch(3))
    before = plog.read(0, 1 << 20).data
    active = plog.segments.active
    size = active.size

    fs.fail_write = lambda path: path.endswith(".log")
    error = assert_storage_error(plog, make_batch(5))
    assert "No space left" in str(error)
    assert plog.log_end_offset == plog.high_watermark == 3
    assert active.size == size == os.path.getsize(active.log_path)
    assert plog.read(0, 1 << 20).data == before
    assert plog.failed is None

    fs.fail_write = None  # space freed
    assert append(plog, make_batch(2)).first_offset == 3
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 2), (3, 4)]


def test_enospc_on_an_index_file_keeps_the_entries_queued(new_log, fs):
    """Index entries are written at flush; a full disk there loses no data and fails nothing:
    the entries wait in memory and reach the file once there is room."""
    plog = new_log(LogConfig(index_interval_bytes=0))
    for _ in range(3):
        append(plog, make_batch(1))
    plog.flush()
    seg = plog.segments.active
    entries = len(seg.offset_index)
    assert entries and os.path.getsize(seg.offset_index.path) == 8 * entries

    fs.fail_write = lambda path: path.endswith(".index")
    assert append(plog, make_batch(1)).first_offset == 3
    plog.flush()
    assert plog.failed is None and plog.recovery_point == 4
    assert os.path.getsize(seg.offset_index.path) == 8 * entries  # the torn half entry was cut back
    assert len(seg.offset_index) == entries + 1
    for target in range(4):
        assert offsets_in(plog.read(target, 1).data) == [(target, target)]

    fs.fail_write = None  # space freed
    plog.flush()
    assert os.path.getsize(seg.offset_index.path) == 8 * (entries + 1)
    seg.offset_index.unload()
    seg.offset_index.load(seg.size)
    assert len(seg.offset_index) == entries + 1


def test_failure_while_rolling(new_log, fs):
    plog = new_log(LogConfig(segment_bytes=300))
    append(plog, make_batch(2))
    append(plog, make_batch(2))
    original_create = fs.open

    def refuse_new_segment(path: str, *, create: bool = False, read_only: bool = False) -> int:
        if create and not os.path.exists(path) and path.endswith(".log"):
            raise OSError(28, "No space left on device", path)
        return original_create(path, create=create, read_only=read_only)

    fs.open = refuse_new_segment  # type: ignore[method-assign]
    assert_storage_error(plog, make_batch(2))
    assert [s.base_offset for s in plog.segments] == [0]
    assert plog.log_end_offset == 4
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 1), (2, 3)]
    fs.open = original_create  # type: ignore[method-assign]
    assert append(plog, make_batch(2)).first_offset == 4
    assert [s.base_offset for s in plog.segments] == [0, 4]


def test_a_failed_undo_is_retried_before_the_next_append(new_log, fs):
    plog = new_log()
    append(plog, make_batch(3))
    active = plog.segments.active
    fs.fail_write = lambda path: path.endswith(".log")
    fs.fail_truncate = lambda path: path.endswith(".log")
    assert_storage_error(plog, make_batch(3))
    assert plog.failed is None and active.broken
    assert os.path.getsize(active.log_path) > active.size  # half a batch the undo could not cut
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 2)]

    fs.fail_write = None  # the disk takes writes again, the truncation still fails
    assert_storage_error(plog, make_batch(1))
    assert plog.log_end_offset == 3

    fs.fail_truncate = None
    assert append(plog, make_batch(1)).first_offset == 3
    assert not active.broken
    assert os.path.getsize(active.log_path) == active.size
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 2), (3, 3)]


def test_a_segment_that_cannot_be_repaired_makes_the_shutdown_unclean(tmp_path, clock, fs):
    manager = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    append(plog, make_batch(3))

    fs.fail_write = lambda path: path.endswith(".log")
    fs.fail_truncate = lambda path: path.endswith(".log")
    assert_storage_error(plog, make_batch(3))
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 2)]

    manager.shutdown()
    assert not (tmp_path / "data" / ".kafka_cleanshutdown").exists()
    fs.fail_write = fs.fail_truncate = None
    # the next start is unclean, so recovery drops the half-written batch
    again = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    again.load({("orders", 0): (TOPIC_ID, LogConfig())})
    recovered = again.get_log("orders", 0)
    assert recovered is not None and recovered.log_end_offset == 3
    assert append(recovered, make_batch(1)).first_offset == 3


def test_a_full_disk_under_many_index_entries_fails_no_append(new_log, fs, caplog):
    """Past PENDING_BYTES of queued entries every append tries to write them; on a full disk
    the appends still succeed, the failure is logged once, and nothing is lost."""
    plog = new_log(LogConfig(index_interval_bytes=0))
    fs.fail_write = lambda path: path.endswith(".index")
    count = PENDING_BYTES // 8 + 20
    for i in range(count):
        assert append(plog, make_batch(1)).first_offset == i
    plog.flush()
    seg = plog.segments.active
    assert os.path.getsize(seg.offset_index.path) == 0 and len(seg.offset_index) == count - 1
    warnings = [r for r in caplog.records if "Could not write index entries" in r.message]
    assert len(warnings) == 1  # once, not at every append
    fs.fail_write = None
    plog.flush()
    assert os.path.getsize(seg.offset_index.path) == 8 * (count - 1)
    seg.offset_index.unload()
    seg.offset_index.load(seg.size)
    assert len(seg.offset_index) == count - 1


def test_a_failed_index_truncation_is_retried_before_the_next_use(new_log, fs):
    plog = new_log(LogConfig(index_interval_bytes=0))
    for _ in range(3):
        append(plog, make_batch(1))
    plog.flush()
    seg = plog.segments.active
    entries = len(seg.offset_index)
    fs.fail_write = lambda path: path.endswith(".index")
    fs.fail_truncate = lambda path: path.endswith(".index")
    append(plog, make_batch(1))
    plog.flush()
    assert len(seg.offset_index) == entries + 1
    assert os.path.getsize(seg.offset_index.path) > 8 * entries  # the torn entry is still there
    fs.fail_write = fs.fail_truncate = None
    assert append(plog, make_batch(1)).first_offset == 4
    plog.flush()
    assert os.path.getsize(seg.offset_index.path) == 8 * len(seg.offset_index) == 8 * (entries + 2)
    seg.offset_index.unload()
    seg.offset_index.load(seg.size)  # the file is consistent
    assert len(seg.offset_index) == entries + 2


def test_a_failed_leader_epoch_checkpoint_is_written_at_the_next_flush(new_log, fs):
    plog = new_log()
    append(plog, make_batch(1), leader_epoch=0)
    checkpoint = os.path.join(plog.dir, "leader-epoch-checkpoint")
    fs.fail_write = lambda path: path.startswith(checkpoint)
    with pytest.raises(KafkaError) as e:  # a new leader epoch: the checkpoint cannot be written
        append(plog, make_batch(1), leader_epoch=3)
    assert e.value.code == ErrorCode.KAFKA_STORAGE_ERROR and plog.log_end_offset == 1
    plog.flush()  # still failing: logged, the flush itself succeeds
    assert plog.failed is None
    assert read_epochs(fs, checkpoint) == [(0, 0)]
    fs.fail_write = None
    assert append(plog, make_batch(1), leader_epoch=3).first_offset == 1
    assert read_epochs(fs, checkpoint) == [(0, 0)]  # the epoch was already in memory
    plog.flush()
    assert read_epochs(fs, checkpoint) == [(0, 0), (3, 1)]


def test_fsync_failure(new_log, fs):
    plog = new_log(LogConfig(flush_interval_messages=1))
    fs.fail_fsync = lambda path: path.endswith(".log")
    assert_storage_error(plog, make_batch(1))
    assert plog.failed is not None
    assert plog.recovery_point == 0
    assert offsets_in(plog.read(0, 1 << 20).data) == [(0, 0)]


def test_checkpoint_write_failure_leaves_the_old_checkpoint(tmp_path, clock, fs):
    manager = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    manager.checkpoint()
    path = tmp_path / "data" / "recovery-point-offset-checkpoint"
    old = path.read_bytes()
    plog = manager.get_log("orders", 0)
    assert plog is not None
    append(plog, make_batch(1))
    plog.flush()
    fs.fail_write = lambda p: p.endswith(".tmp")
    with pytest.raises(KafkaError) as e:
        manager.checkpoint()
    assert e.value.code == ErrorCode.KAFKA_STORAGE_ERROR
    assert path.read_bytes() == old
    assert not [n for n in os.listdir(tmp_path / "data") if n.endswith(".tmp")]


def test_a_log_that_cannot_be_created_leaves_nothing_in_the_way(tmp_path, clock, fs):
    manager = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    manager.load({})
    fs.fail_write = lambda path: path.endswith(".tmp")  # partition.metadata cannot be written
    with pytest.raises(KafkaError) as e:
        manager.create_log("orders", 0, TOPIC_ID)
    assert e.value.code == ErrorCode.KAFKA_STORAGE_ERROR
    assert sorted(os.listdir(tmp_path / "data")) == ["meta.properties"]
    fs.fail_write = None
    plog = manager.create_log("orders", 0, TOPIC_ID)
    assert append(plog, make_batch(1)).first_offset == 0
    assert not [n for n in os.listdir(tmp_path / "data") if n.endswith("-stray")]


def test_shutdown_on_a_full_disk_is_unclean_but_loses_nothing_flushed(tmp_path, clock, fs):
    manager = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    append(plog, make_batch(3))
    fs.fail_write = lambda path: True  # nothing can be written any more
    manager.shutdown()  # logs the failures, raises nothing
    assert not (tmp_path / "data" / ".kafka_cleanshutdown").exists()
    fs.fail_write = None
    again = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    again.load({("orders", 0): (TOPIC_ID, LogConfig())})
    recovered = again.get_log("orders", 0)
    assert recovered is not None and offsets_in(recovered.read(0, 1 << 20).data) == [(0, 2)]
