"""Idempotent and transactional appends on a real partition log: duplicates, sequence and
epoch errors, markers, the last stable offset, the ``.txnindex`` files and read_committed
reads, snapshots, restarts (clean and unclean), truncation, retention and expiry."""

from __future__ import annotations

import logging
import os

import pytest

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import iter_headers
from moldau.protocol.records.control import ControlType, build_end_txn_marker
from moldau.protocol.records.records import build_batch
from moldau.storage.batch_reader import next_offset_after
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.log_append import AppendInfo
from moldau.storage.manager import LogManager
from moldau.storage.retention import delete_old_segments
from moldau.storage.txn_index import AbortedTxn

from .helpers import START_MS, TOPIC_ID, append, make_batch, read_all

A, B = 1000, 2000  # producer ids
HOUR = 3_600_000


def produce(seq: int, count: int = 1, *, pid: int = A, epoch: int = 0, txn: bool = False, ts: int = START_MS):
    records = [(f"{pid}-{seq + i}".encode(), b"v", [], ts) for i in range(count)]
    return build_batch(records, producer_id=pid, producer_epoch=epoch, base_sequence=seq, transactional=txn)


def end_txn(
    plog: PartitionLog, commit: bool, *, pid: int = A, epoch: int = 0, coordinator_epoch: int = 0
) -> AppendInfo:
    marker = build_end_txn_marker(
        ControlType.COMMIT if commit else ControlType.ABORT,
        producer_id=pid,
        producer_epoch=epoch,
        coordinator_epoch=coordinator_epoch,
        timestamp=plog.clock.time_ms(),
    )
    return plog.append_control(marker, leader_epoch=0)


def refused(call) -> ErrorCode:
    with pytest.raises(KafkaError) as e:
        call()
    return e.value.code


def reopen(plog: PartitionLog, *, clean: bool, recovery_point: int = 0) -> PartitionLog:
    """Open the directory again: after ``close`` (clean), or as after a crash."""
    if clean:
        plog.close()
        recovery_point = plog.log_end_offset
    return PartitionLog.open(
        plog.fs,
        os.path.dirname(plog.dir),
        plog.topic,
        plog.partition,
        plog.config,
        plog.clock,
        topic_id=plog.topic_id,
        recovery_point=recovery_point,
        log_start_offset=plog.log_start_offset,
        clean_shutdown=clean,
    )


def files(plog: PartitionLog, suffix: str) -> list[str]:
    return sorted(n for n in os.listdir(plog.dir) if n.endswith(suffix))


# -- idempotent producers -------------------------------------------------------------------------


def test_a_retried_batch_is_answered_with_its_first_offsets_and_stored_once(new_log):
    plog = new_log()
    append(plog, make_batch(2))  # someone else's records first
    first = append(plog, produce(0, 3, ts=START_MS + 5))
    append(plog, produce(3, 2))
    again = append(plog, produce(0, 3))
    assert (first.first_offset, first.last_offset, first.duplicate) == (2, 4, False)
    assert (again.first_offset, again.last_offset, again.duplicate) == (2, 4, True)
    assert again.log_append_time_ms == START_MS + 5  # as Kafka answers a duplicate
    assert again.size == 0 and again.record_count == 0
    assert plog.log_end_offset == 7
    assert [r.key for r in read_all(plog)][2:] == [b"1000-0", b"1000-1", b"1000-2", b"1000-3", b"1000-4"]


def test_a_sequence_gap_is_refused_and_nothing_is_written(new_log):
    plog = new_log()
    append(plog, produce(0))
    assert refused(lambda: append(plog, produce(2))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert plog.log_end_offset == 1
    append(plog, produce(1))
    assert plog.log_end_offset == 2


def test_epochs_through_the_log(new_log):
    plog = new_log()
    append(plog, produce(0, 3, epoch=0))
    assert refused(lambda: append(plog, produce(3, epoch=1))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    append(plog, produce(0, epoch=1))
    assert refused(lambda: append(plog, produce(3, epoch=0))) == ErrorCode.INVALID_PRODUCER_EPOCH
    assert plog.log_end_offset == 4
    assert plog.producer_state.entry(A).epoch == 1


def test_coordinator_batches_without_sequences_are_all_written(new_log):
    """The group coordinator's transactional offset commits carry no sequence."""
    plog = new_log()
    for _ in range(3):
        assert not append(plog, produce(-1, pid=B, txn=True)).duplicate
    assert plog.log_end_offset == 3
    assert plog.last_stable_offset == 0
    end_txn(plog, commit=True, pid=B)
    assert plog.last_stable_offset == 4


# -- transactions ---------------------------------------------------------------------------------


def test_lso_follows_one_and_two_open_transactions(new_log):
    plog = new_log()
    append(plog, make_batch(1))  # 0
    append(plog, produce(0, 2, pid=A, txn=True))  # 1-2
    assert (plog.last_stable_offset, plog.high_watermark) == (1, 3)
    append(plog, produce(0, pid=B, txn=True))  # 3
    append(plog, produce(2, pid=A, txn=True))  # 4
    assert plog.last_stable_offset == 1
    assert plog.producer_state.ongoing_transactions == [(A, 1), (B, 3)]
    end_txn(plog, commit=True, pid=A)  # 5
    assert plog.last_stable_offset == 3
    end_txn(plog, commit=False, pid=B)  # 6
    assert plog.last_stable_offset == plog.high_watermark == 7


def test_read_committed_stops_at_the_lso_and_names_the_aborted_transactions(new_log):
    plog = new_log()
    append(plog, make_batch(1))  # 0
    append(plog, produce(0, 2, pid=A, txn=True))  # 1-2
    append(plog, produce(0, pid=B, txn=True))  # 3
    fetched, aborted = plog.read_committed(0, 1 << 20)
    assert [h.base_offset for _, h in iter_headers(fetched.data)] == [0]
    assert aborted == []
    end_txn(plog, commit=False, pid=A)  # 4
    assert plog.last_stable_offset == 3
    fetched, aborted = plog.read_committed(0, 1 << 20)
    assert [h.base_offset for _, h in iter_headers(fetched.data)] == [0, 1]
    assert aborted == [(A, 1)]
    fetched, aborted = plog.read_committed(3, 1 << 20)  # at the LSO: nothing yet
    assert (fetched.data, aborted, fetched.high_watermark) == (b"", [], 5)
    end_txn(plog, commit=True, pid=B)  # 5
    fetched, aborted = plog.read_committed(0, 1 << 20)
    assert next_offset_after(fetched.data) == 6
    assert aborted == [(A, 1)]
    assert plog.read_committed(5, 1 << 20)[1] == []  # the abort marker is before the fetch


def test_abort_writes_a_txnindex_entry_and_commit_does_not(new_log):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    end_txn(plog, commit=True, pid=A)
    assert files(plog, ".txnindex") == []
    append(plog, produce(1, pid=A, txn=True))  # 2
    append(plog, produce(0, pid=B, txn=True))  # 3
    end_txn(plog, commit=False, pid=A)  # 4
    (name,) = files(plog, ".txnindex")
    assert name == "00000000000000000000.txnindex"
    assert os.path.getsize(os.path.join(plog.dir, name)) == 34
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 2, 4, 3)]  # B still holds the LSO


def test_aborted_transactions_by_offset_range_across_segments(new_log, small_config):
    plog = new_log(small_config)
    markers = []
    for i in range(6):
        append(plog, produce(i, pid=A, txn=True))
        markers.append(end_txn(plog, commit=i % 2 == 1, pid=A).first_offset)
        plog.roll()
    # aborted: the transactions of sequences 0, 2, 4 at offsets 0, 4, 8
    assert len(files(plog, ".txnindex")) == 3
    assert plog.aborted_transactions(0, 100) == [(A, 0), (A, 4), (A, 8)]
    assert plog.aborted_transactions(1, 4) == [(A, 0)]  # marker at 1 is in range; 4 is the bound
    assert plog.aborted_transactions(2, 5) == [(A, 4)]
    assert plog.aborted_transactions(6, 8) == []
    assert plog.aborted_transactions(9, 100) == [(A, 8)]
    assert plog.aborted_transactions(10, 100) == []


def test_marker_errors_leave_the_log_alone(new_log):
    plog = new_log()
    append(plog, produce(0, epoch=3, txn=True))
    end_txn(plog, commit=True, epoch=3, coordinator_epoch=2)
    append(plog, produce(1, epoch=3, txn=True))
    end = plog.log_end_offset
    assert refused(lambda: end_txn(plog, commit=True, epoch=2)) == ErrorCode.INVALID_PRODUCER_EPOCH
    code = refused(lambda: end_txn(plog, commit=True, epoch=3, coordinator_epoch=1))
    assert code == ErrorCode.TRANSACTION_COORDINATOR_FENCED
    assert plog.log_end_offset == end and plog.last_stable_offset == 2
    assert refused(lambda: plog.append_control(make_batch(1), leader_epoch=0)) == ErrorCode.INVALID_RECORD
    marker = build_end_txn_marker(
        ControlType.ABORT, producer_id=A, producer_epoch=3, coordinator_epoch=2, timestamp=0
    )
    assert refused(lambda: append(plog, marker)) == ErrorCode.INVALID_RECORD  # not from a client
    assert plog.log_end_offset == end


def test_a_plain_batch_inside_a_transaction_is_refused(new_log):
    plog = new_log()
    append(plog, produce(0, txn=True))
    assert refused(lambda: append(plog, produce(1))) == ErrorCode.INVALID_TXN_STATE
    assert plog.log_end_offset == 1


# -- snapshots and restarts -----------------------------------------------------------------------


def test_snapshots_are_taken_at_each_roll_and_at_close(new_log):
    plog = new_log()
    append(plog, produce(0, 2))
    plog.roll()
    append(plog, produce(2))
    assert files(plog, ".snapshot") == ["00000000000000000002.snapshot"]
    plog.close()
    assert files(plog, ".snapshot") == ["00000000000000000002.snapshot", "00000000000000000003.snapshot"]


def test_a_clean_restart_keeps_transactions_lso_and_duplicates_without_reading_segments(new_log, fs):
    plog = new_log()
    for seq in range(0, 12, 2):
        append(plog, produce(seq, 2, pid=A))
    append(plog, produce(0, pid=B, txn=True))  # 12, left open
    lso, end = plog.last_stable_offset, plog.log_end_offset
    fs.reads.clear()
    again = reopen(plog, clean=True)
    assert fs.data_reads(n for n in fs.reads if n.endswith(".log")) == 0
    assert (again.last_stable_offset, again.log_end_offset) == (lso, end) == (12, 13)
    assert again.producer_state.ongoing_transactions == [(B, 12)]
    # every one of the last five batches is still recognized
    for seq in range(2, 12, 2):
        info = append(again, produce(seq, 2, pid=A))
        assert info.duplicate and (info.first_offset, info.last_offset) == (seq, seq + 1)
    assert refused(lambda: append(again, produce(0, 2, pid=A))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    append(again, produce(12, pid=A))
    end_txn(again, commit=False, pid=B)
    assert again.last_stable_offset == again.log_end_offset == 15
    assert again.aborted_transactions(0, 15) == [(B, 12)]


def test_an_unclean_restart_rebuilds_state_and_txn_index_from_the_log(new_log, small_config):
    plog = new_log(small_config)
    for seq in range(8):
        append(plog, produce(seq, pid=A))
    append(plog, produce(0, pid=B, txn=True))  # 8
    append(plog, produce(0, 2, pid=1, txn=True))  # 9-10
    end_txn(plog, commit=False, pid=1)  # 11
    lso = plog.last_stable_offset
    assert lso == 8
    for name in files(plog, ".snapshot") + files(plog, ".txnindex"):
        os.remove(os.path.join(plog.dir, name))  # nothing but the log to go by

    again = reopen(plog, clean=False)  # nothing was flushed: the recovery point is 0
    assert again.last_stable_offset == lso
    assert again.producer_state.ongoing_transactions == [(B, 8)]
    assert append(again, produce(7, pid=A)).duplicate
    assert again.aborted_transactions(0, 100) == [(1, 9)]
    assert files(again, ".txnindex")  # written back


def test_an_unclean_restart_replays_only_from_the_snapshot_at_the_recovery_point(new_log, small_config, fs):
    plog = new_log(small_config)
    for seq in range(20):
        append(plog, produce(seq, pid=A))
    append(plog, produce(0, pid=B, txn=True))
    plog.flush()
    recovery_point = plog.log_end_offset
    plog.roll()  # the snapshot at the recovery point
    append(plog, produce(20, pid=A))
    append(plog, produce(1, pid=B, txn=True))
    old_segments = [s.log_path for s in plog.segments][:-1]

    fs.reads.clear()
    again = reopen(plog, clean=False, recovery_point=recovery_point)
    assert fs.data_reads(os.path.basename(p) for p in old_segments) == 0
    assert again.producer_state.entry(A).last_seq == 20
    assert again.producer_state.ongoing_transactions == [(B, recovery_point - 1)]
    assert again.last_stable_offset == recovery_point - 1


def test_a_corrupt_snapshot_is_ignored_and_the_state_rebuilt(new_log, caplog):
    plog = new_log()
    append(plog, produce(0, 2, pid=A))
    append(plog, produce(0, pid=B, txn=True))  # 2
    append(plog, produce(2, pid=A))
    plog.close()
    (name,) = files(plog, ".snapshot")
    path = os.path.join(plog.dir, name)
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)[0]
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last ^ 0xFF]))

    with caplog.at_level(logging.WARNING, logger="moldau.storage.producer_store"):
        again = reopen(plog, clean=True)
    assert "CRC mismatch" in caplog.text
    assert name not in files(again, ".snapshot")
    assert again.last_stable_offset == 2
    assert append(again, produce(2, pid=A)).duplicate


def test_a_snapshot_above_the_recovered_end_is_removed(new_log):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    plog.roll()
    append(plog, produce(1, pid=A, txn=True))
    plog.close()
    with open(os.path.join(plog.dir, "00000000000000000099.snapshot"), "wb") as f:
        f.write(b"stale")
    again = reopen(plog, clean=True)
    assert files(again, ".snapshot") == ["00000000000000000001.snapshot", "00000000000000000002.snapshot"]
    assert again.last_stable_offset == 0


def test_an_index_left_by_an_interrupted_cleaning_is_merged_into_the_segment_before(new_log, small_config):
    plog = new_log(small_config)
    append(plog, produce(0, pid=A, txn=True))  # 0
    end_txn(plog, commit=False, pid=A)  # 1
    plog.roll()
    append(plog, make_batch(1))
    plog.close()
    os.rename(
        os.path.join(plog.dir, "00000000000000000000.txnindex"),
        os.path.join(plog.dir, "00000000000000000001.txnindex"),  # no segment 1 any more
    )
    again = reopen(plog, clean=True)
    assert files(again, ".txnindex") == ["00000000000000000000.txnindex"]
    assert again.aborted_transactions(0, 3) == [(A, 0)]


# -- truncation, retention, expiry ----------------------------------------------------------------


def test_truncation_reopens_a_transaction_its_marker_ended(new_log):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))  # 0
    append(plog, produce(0, pid=B, txn=True))  # 1
    end_txn(plog, commit=False, pid=A)  # 2
    plog.roll()
    append(plog, produce(1, pid=B, txn=True))  # 3
    assert plog.last_stable_offset == 1 and files(plog, ".snapshot") == ["00000000000000000003.snapshot"]

    plog.truncate_to(2)
    assert plog.log_end_offset == 2
    assert files(plog, ".snapshot") == [] and files(plog, ".txnindex") == []
    assert plog.producer_state.ongoing_transactions == [(A, 0), (B, 1)]
    assert plog.last_stable_offset == 0
    assert plog.aborted_transactions(0, 2) == []
    end_txn(plog, commit=True, pid=A)
    assert plog.last_stable_offset == 1


def test_truncating_everything_forgets_every_producer(new_log):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    end_txn(plog, commit=False, pid=A)
    plog.roll()
    plog.truncate_fully_and_start_at(10)
    assert len(plog.producer_state) == 0
    assert files(plog, ".snapshot") == files(plog, ".txnindex") == []
    append(plog, produce(5, pid=A))  # a producer without state starts anywhere


def test_retention_deletes_snapshots_and_txn_indexes_with_their_segments(new_log, clock):
    plog = new_log(LogConfig(retention_ms=HOUR, file_delete_delay_ms=1000))
    append(plog, produce(0, pid=A, txn=True, ts=START_MS))  # 0
    end_txn(plog, commit=False, pid=A)  # 1
    plog.roll()
    append(plog, produce(1, pid=A, txn=True, ts=START_MS + 2 * HOUR))  # 2
    end_txn(plog, commit=False, pid=A)  # 3
    plog.roll()
    assert files(plog, ".snapshot") == ["00000000000000000002.snapshot", "00000000000000000004.snapshot"]
    assert plog.aborted_transactions(0, 4) == [(A, 0), (A, 2)]

    clock.advance(HOUR + 1)
    assert delete_old_segments(plog, clock.time_ms()) is not None
    assert [s.base_offset for s in plog.segments] == [2, 4]
    assert files(plog, ".txnindex") == ["00000000000000000002.txnindex"]
    assert files(plog, ".snapshot") == ["00000000000000000002.snapshot", "00000000000000000004.snapshot"]
    assert "00000000000000000000.txnindex.deleted" in files(plog, ".deleted")
    assert plog.aborted_transactions(2, 4) == [(A, 2)]

    plog.delete_records_before(4)
    assert files(plog, ".txnindex") == []
    assert files(plog, ".snapshot") == ["00000000000000000004.snapshot"]
    clock.advance(1000)
    plog.deletions.remove_due(clock.time_ms())
    assert files(plog, ".deleted") == []
    assert plog.producer_state.entry(A) is not None  # the producer outlives its data


def test_idle_producers_expire(new_log, clock):
    plog = new_log()
    append(plog, produce(0, pid=A, ts=clock.time_ms()))
    append(plog, produce(0, pid=B, txn=True, ts=clock.time_ms()))
    clock.advance(86_400_000)
    assert plog.remove_expired_producers(clock.time_ms()) == 1
    assert plog.producer_state.entry(A) is None and plog.producer_state.entry(B) is not None
    append(plog, produce(42, pid=A))  # accepted at any sequence once forgotten


def test_next_offset_after_reads_only_the_last_header():
    rebased = bytearray(make_batch(2) + make_batch(3))
    pos = [p for p, _ in iter_headers(rebased)][1]
    rebased[pos : pos + 8] = (40).to_bytes(8, "big")
    assert next_offset_after(bytes(rebased)) == 43


# -- faults ---------------------------------------------------------------------------------------


def test_a_failed_marker_write_takes_its_index_entry_back(new_log, fs):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    fs.fail_write = lambda path: path.endswith(".log")
    assert refused(lambda: end_txn(plog, commit=False, pid=A)) == ErrorCode.KAFKA_STORAGE_ERROR
    assert files(plog, ".txnindex") == []
    assert plog.log_end_offset == 1 and plog.last_stable_offset == 0  # still open
    assert plog.failed is None

    fs.fail_write = None
    end_txn(plog, commit=False, pid=A)
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 0, 1, 2)]


def test_a_full_disk_for_the_index_refuses_the_marker(new_log, fs):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    fs.fail_write = lambda path: path.endswith(".txnindex")
    assert refused(lambda: end_txn(plog, commit=False, pid=A)) == ErrorCode.KAFKA_STORAGE_ERROR
    assert plog.log_end_offset == 1 and plog.last_stable_offset == 0
    assert plog.aborted_transactions(0, 10) == []

    fs.fail_write = None
    end_txn(plog, commit=False, pid=A)
    assert plog.aborted_transactions(0, 10) == [(A, 0)]
    assert os.path.getsize(os.path.join(plog.dir, "00000000000000000000.txnindex")) == 34


def test_a_failed_snapshot_at_roll_only_costs_a_longer_replay(new_log, fs, caplog):
    plog = new_log()
    append(plog, produce(0, pid=A, txn=True))
    fs.fail_write = lambda path: ".snapshot" in path
    with caplog.at_level(logging.WARNING, logger="moldau.storage.producer_store"):
        plog.roll()
    assert "Could not write the producer snapshot" in caplog.text
    assert files(plog, ".snapshot") == [] and files(plog, ".tmp") == []
    fs.fail_write = None
    append(plog, produce(1, pid=A, txn=True))
    again = reopen(plog, clean=False, recovery_point=plog.log_end_offset)
    assert again.producer_state.ongoing_transactions == [(A, 0)]


def test_through_the_log_manager_a_restart_keeps_the_lso_and_expiry_runs_over_every_log(tmp_path, clock, fs):
    def manager() -> LogManager:
        m = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
        m.load({("orders", 0): (TOPIC_ID, LogConfig()), ("orders", 1): (TOPIC_ID, LogConfig())})
        return m

    first = manager()
    plog = first.get_log("orders", 0)
    append(plog, produce(0, pid=A, txn=True, ts=clock.time_ms()))
    append(plog, make_batch(1))
    append(first.get_log("orders", 1), produce(0, pid=B, ts=clock.time_ms()))
    first.shutdown()

    second = manager()
    plog = second.get_log("orders", 0)
    assert (plog.last_stable_offset, plog.high_watermark) == (0, 2)
    clock.advance(86_400_000)
    assert second.remove_expired_producers(clock.time_ms(), 86_400_000) == 1  # B; A is in a transaction
    end_txn(plog, commit=True, pid=A)
    clock.advance(86_400_000)
    assert second.remove_expired_producers(clock.time_ms(), 86_400_000) == 1
    second.shutdown()
