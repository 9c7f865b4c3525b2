"""InitProducerId with a transactional id: new ids, epoch bumps, fencing, exhaustion."""

from __future__ import annotations

import pytest

from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness

E = ErrorCode


def test_first_producer_gets_a_new_id_at_epoch_0() -> None:
    h = Harness()
    answer = h.init("tx")
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, 1000, 0)
    assert h.state("tx") == "Empty"
    assert len(h.log) == 1 and h.log[0].partition == h.coordinator.partition_for("tx")


def test_next_producer_bumps_the_epoch_and_keeps_the_id() -> None:
    h = Harness()
    h.init("tx")
    answer = h.init("tx", timeout_ms=5000)
    assert (answer.producer_id, answer.producer_epoch) == (1000, 1)
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.timeout_ms == 5000 and txn.last_producer_epoch == -1
    assert h.allocated == [1000]


@pytest.mark.parametrize("version", [0, 3, 4, 5])
def test_empty_transactional_id_is_invalid(version: int) -> None:
    assert Harness().init("", version=version).error_code == E.INVALID_REQUEST


@pytest.mark.parametrize("timeout", [0, -1, 900001])
def test_invalid_transaction_timeout(timeout: int) -> None:
    h = Harness()
    answer = h.init("tx", timeout_ms=timeout)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (
        E.INVALID_TRANSACTION_TIMEOUT,
        -1,
        -1,
    )
    assert h.log == []


def test_max_timeout_is_allowed_and_configurable() -> None:
    assert Harness().init("tx", timeout_ms=900000).error_code == 0
    assert Harness(transaction_max_timeout_ms=1000).init("tx", timeout_ms=1001).error_code == (
        E.INVALID_TRANSACTION_TIMEOUT
    )


@pytest.mark.parametrize(("pid", "epoch"), [(-1, 3), (1000, -1)])
def test_producer_id_and_epoch_come_together(pid: int, epoch: int) -> None:
    h = Harness()
    h.init("tx")
    assert h.init("tx", version=3, producer_id=pid, producer_epoch=epoch).error_code == E.INVALID_REQUEST


def test_kip360_recovery_bumps_and_a_retry_gets_the_same_epoch() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    first = h.init("tx", version=4, producer_id=pid, producer_epoch=epoch)
    assert (first.error_code, first.producer_id, first.producer_epoch) == (0, pid, 1)
    retry = h.init("tx", version=4, producer_id=pid, producer_epoch=epoch)
    assert (retry.error_code, retry.producer_id, retry.producer_epoch) == (0, pid, 1)
    again = h.init("tx", version=4, producer_id=pid, producer_epoch=1)
    assert again.producer_epoch == 2


def test_unknown_id_with_expected_producer_is_accepted() -> None:
    """A producer recovering after its transactional id expired (epoch -1 on the coordinator)."""
    h = Harness()
    answer = h.init("tx", version=4, producer_id=42, producer_epoch=7)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, 1000, 0)


@pytest.mark.parametrize(("version", "code"), [(3, E.INVALID_PRODUCER_EPOCH), (4, E.PRODUCER_FENCED)])
def test_stale_epoch_is_fenced_by_version(version: int, code: ErrorCode) -> None:
    h = Harness()
    pid, _ = h.producer("tx")
    h.producer("tx")  # epoch 1, last epoch -1: a new instance took over
    answer = h.init("tx", version=version, producer_id=pid, producer_epoch=0)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (code, -1, -1)


@pytest.mark.parametrize(("version", "code"), [(3, E.INVALID_PRODUCER_EPOCH), (5, E.PRODUCER_FENCED)])
def test_other_producer_id_is_fenced(version: int, code: ErrorCode) -> None:
    h = Harness()
    h.producer("tx")
    assert h.init("tx", version=version, producer_id=999, producer_epoch=0).error_code == code


def _at_epoch(h: Harness, tid: str, epoch: int, pid: int = 77) -> int:
    """A log in which ``tid`` is idle at ``epoch`` (as if that many producers had come and gone)."""
    h.seed(
        md.TxnMetadata(tid, pid, epoch, 60000, TransactionState.COMPLETE_COMMIT, START_MS, start_ms=START_MS)
    )
    return pid


def test_epoch_exhaustion_moves_to_a_new_producer_id() -> None:
    h = Harness()
    pid = _at_epoch(h, "tx", md.MAX_EPOCH - 2)
    bumped = h.init("tx")
    assert (bumped.producer_id, bumped.producer_epoch) == (pid, md.MAX_EPOCH - 1)
    rotated = h.init("tx")
    assert (rotated.error_code, rotated.producer_id, rotated.producer_epoch) == (0, 1000, 0)
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.previous_producer_id == pid and txn.last_producer_epoch == -1


def test_exhaustion_with_kip360_and_its_retry() -> None:
    h = Harness()
    pid = _at_epoch(h, "tx", md.MAX_EPOCH - 1)
    rotated = h.init("tx", producer_id=pid, producer_epoch=md.MAX_EPOCH - 1)
    assert (rotated.error_code, rotated.producer_id, rotated.producer_epoch) == (0, 1000, 0)
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.last_producer_epoch == md.MAX_EPOCH - 1
    # the answer was lost; the producer retries with its old id and epoch
    retry = h.init("tx", producer_id=pid, producer_epoch=md.MAX_EPOCH - 1)
    assert (retry.error_code, retry.producer_id, retry.producer_epoch) == (0, 1000, 0)
    assert h.allocated == [1000]


def test_rotation_survives_a_restart() -> None:
    h = Harness()
    pid = _at_epoch(h, "tx", md.MAX_EPOCH - 1)
    h.init("tx", producer_id=pid, producer_epoch=md.MAX_EPOCH - 1)
    fresh = Harness(first_producer_id=5000)
    h.replay_into(fresh)
    txn = fresh.coordinator.transaction("tx")
    assert txn is not None and (txn.producer_id, txn.previous_producer_id) == (1000, pid)
    # the last epoch does not survive a restart (the log does not carry it, as in Kafka): a
    # retry of the rotation that arrives after it is fenced
    retry = fresh.init("tx", producer_id=pid, producer_epoch=md.MAX_EPOCH - 1)
    assert retry.error_code == E.PRODUCER_FENCED


def test_busy_while_markers_are_pending() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    assert h.end("tx", pid, epoch).error_code == 0
    assert h.state("tx") == "PrepareCommit"
    answer = h.init("tx")
    assert answer.error_code == E.CONCURRENT_TRANSACTIONS
    h.write_markers()
    assert h.state("tx") == "CompleteCommit"
    assert h.init("tx").producer_epoch == epoch + 1


def test_write_failure_answers_coordinator_not_available_and_changes_nothing() -> None:
    h = Harness()
    h.producer("tx")
    h.fail_writes = True
    answer = h.init("tx")
    assert answer.error_code == E.COORDINATOR_NOT_AVAILABLE
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.producer_epoch == 0
    h.fail_writes = False
    assert h.init("tx").producer_epoch == 1  # nothing left pending


def test_change_in_flight_answers_concurrent_transactions() -> None:
    h = Harness()
    first = h.coordinator.init_producer_id(h.init_request("tx"), 4, "first")  # its record is in flight
    second = h.coordinator.init_producer_id(h.init_request("tx"), 4, "second")
    assert not second.records
    assert [(t, r.error_code) for t, r in second.replies] == [("second", E.CONCURRENT_TRANSACTIONS)]
    h.apply(first)
    assert h.replies["first"].error_code == 0
    assert h.init("tx").producer_epoch == 1
