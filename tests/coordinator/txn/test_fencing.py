"""A new producer with the same transactional id fences the old one (zombie fencing)."""

from __future__ import annotations

import pytest

from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness, partition_codes

E = ErrorCode


def test_new_producer_aborts_the_ongoing_transaction_first() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("u", 3)])

    answer = h.init("tx")
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (
        E.CONCURRENT_TRANSACTIONS,
        -1,
        -1,
    )
    txn = h.coordinator.transaction("tx")
    assert txn is not None
    assert (txn.state, txn.producer_epoch) == (TransactionState.PREPARE_ABORT, epoch + 1)
    markers = h.take_markers()
    assert sorted((m.topic, m.partition) for m in markers) == [("t", 0), ("u", 3)]
    assert all(
        (m.producer_id, m.producer_epoch, m.committed, m.coordinator_epoch) == (pid, epoch + 1, False, 7)
        for m in markers
    )
    # the client retries while the markers are out
    assert h.init("tx").error_code == E.CONCURRENT_TRANSACTIONS
    h.markers = markers
    h.write_markers()
    assert h.state("tx") == "CompleteAbort"
    retry = h.init("tx")
    assert (retry.error_code, retry.producer_id, retry.producer_epoch) == (0, pid, epoch + 2)


@pytest.mark.parametrize(
    ("version", "code"), [(1, E.INVALID_PRODUCER_EPOCH), (2, E.PRODUCER_FENCED), (4, E.PRODUCER_FENCED)]
)
def test_the_zombie_is_fenced(version: int, code: ErrorCode) -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.init("tx")
    h.write_markers()
    new_pid, new_epoch = h.producer("tx")
    assert (new_pid, new_epoch) == (pid, epoch + 2)
    assert h.end("tx", pid, epoch, version=version).error_code == code
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 5)], version=min(version, 3))).values()) == {
        code
    }
    add_offsets = h.add_offsets("tx", pid, epoch, "group", version=version)
    assert add_offsets.error_code == code


def test_zombie_with_tv2_end_txn_is_fenced() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.init("tx")
    h.write_markers()
    h.producer("tx")
    assert h.end("tx", pid, epoch, version=5).error_code == E.PRODUCER_FENCED


def test_zombie_recovering_with_kip360_is_fenced() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.init("tx")
    h.write_markers()
    answer = h.init("tx", producer_id=pid, producer_epoch=epoch)
    assert answer.error_code == E.PRODUCER_FENCED


def test_fencing_the_last_epoch_hands_the_retry_a_new_producer_id() -> None:
    h = Harness()
    h.seed(
        md.TxnMetadata(
            "tx",
            77,
            md.MAX_EPOCH - 1,
            60000,
            TransactionState.ONGOING,
            START_MS,
            partitions=frozenset({("t", 0)}),
            start_ms=START_MS,
        )
    )
    assert h.init("tx").error_code == E.CONCURRENT_TRANSACTIONS
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.producer_epoch == md.MAX_EPOCH
    h.write_markers()
    answer = h.init("tx")
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, 1000, 0)


def test_failed_fence_write_leaves_the_transaction_as_it_was() -> None:
    h = Harness()
    _, epoch = h.ongoing("tx")
    h.fail_writes = True
    assert h.init("tx").error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.markers == []
    txn = h.coordinator.transaction("tx")
    assert txn is not None and (txn.state, txn.producer_epoch) == (TransactionState.ONGOING, epoch)
    h.fail_writes = False
    assert h.init("tx").error_code == E.CONCURRENT_TRANSACTIONS
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.producer_epoch == epoch + 1  # bumped once, not twice
