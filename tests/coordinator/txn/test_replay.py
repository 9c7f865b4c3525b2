"""Replay and loading: the log alone rebuilds the coordinator."""

from __future__ import annotations

import dataclasses

from moldau.coordinator.group import CoordinatorRecord
from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.records import encode_key
from moldau.coordinator.txn.state import TransactionState
from tests.coordinator.txn.harness import START_MS, Harness

S = TransactionState


def _durable(h: Harness) -> dict[str, md.TxnMetadata]:
    """What the log determines (the last epoch is the coordinator's memory, not the log's)."""
    return {
        tid: dataclasses.replace(txn, last_producer_epoch=-1)
        for tid in h.coordinator.transactional_ids()
        if (txn := h.coordinator.transaction(tid)) is not None
    }


def test_load_round_trip() -> None:
    h = Harness()
    pid, epoch = h.ongoing("committed")
    h.end("committed", pid, epoch)
    h.write_markers()
    h.ongoing("ongoing", [("t", 3)])
    pid, epoch = h.producer("v2")
    h.add_batch(("v2", pid, epoch, [("u", 0)], False))
    h.end("v2", pid, epoch, version=5, commit=False)
    h.write_markers()
    h.producer("empty")
    pid, epoch = h.ongoing("gone")
    h.end("gone", pid, epoch)
    h.write_markers()

    fresh = Harness()
    h.replay_into(fresh)
    assert _durable(fresh) == _durable(h)
    assert fresh.markers == [] and len(fresh.log) == len(h.log)  # nothing was half-ended


def test_prepare_commit_at_load_resends_markers_then_completes() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("u", 1)])
    h.end("tx", pid, epoch, commit=True)
    h.take_markers()  # the broker dies before writing them

    fresh = Harness()
    h.replay_into(fresh)
    assert fresh.state("tx") == "PrepareCommit"
    assert sorted(
        (m.topic, m.partition, m.producer_id, m.producer_epoch, m.committed) for m in fresh.markers
    ) == [
        ("t", 0, pid, epoch, True),
        ("u", 1, pid, epoch, True),
    ]
    assert fresh.init("tx").error_code == 51  # CONCURRENT_TRANSACTIONS until completed
    fresh.write_markers()
    assert fresh.state("tx") == "CompleteCommit"
    assert fresh.init("tx").producer_epoch == epoch + 1


def test_prepare_abort_without_partitions_at_load_completes_at_once() -> None:
    h = Harness()
    h.seed(md.TxnMetadata("tx", 5, 3, 1000, S.PREPARE_ABORT, START_MS, start_ms=START_MS, client_version=2))
    h.apply(h.coordinator.loaded())
    assert h.markers == []
    assert h.state("tx") == "CompleteAbort"


def test_foreign_record_supersedes_a_change_in_flight() -> None:
    h = Harness()
    h.producer("tx")
    in_flight = h.coordinator.init_producer_id(h.init_request("tx"), 4, "t1")
    h.seed(md.TxnMetadata("tx", 999, 9, 1000, S.EMPTY, START_MS))  # someone else's record lands first
    txn = h.coordinator.transaction("tx")
    assert txn is not None and (txn.producer_id, txn.producer_epoch) == (999, 9)
    # our own record, replayed late, is then taken as it stands
    h.apply(in_flight)
    txn = h.coordinator.transaction("tx")
    assert txn is not None and (txn.producer_id, txn.producer_epoch) == (1000, 1)
    assert h.init("tx").producer_epoch == 2


def test_tombstone_and_unknown_keys() -> None:
    h = Harness()
    h.producer("tx")
    partition = h.coordinator.partition_for("tx")
    h.coordinator.replay(CoordinatorRecord(partition=partition, key=b"\x00\x05junk", value=b"whatever"))
    assert h.state("tx") == "Empty"
    h.coordinator.replay(CoordinatorRecord(partition=partition, key=encode_key("tx"), value=None))
    assert h.coordinator.transaction("tx") is None
    h.coordinator.replay(CoordinatorRecord(partition=partition, key=encode_key("never"), value=None))
    assert h.coordinator.transactional_ids() == []


def test_partition_for_is_javas_string_hash() -> None:
    h = Harness()
    # "my-txn".hashCode() is -1061187895 in Java; |h| % 50 == 45
    assert h.coordinator.partition_for("my-txn") == 45
    assert (
        Harness(transaction_state_log_num_partitions=7).coordinator.partition_for("my-txn") == 1061187895 % 7
    )
