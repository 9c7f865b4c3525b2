"""Transaction timeouts (abort, fencing the producer) and transactional id expiry."""

from __future__ import annotations

from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness

E = ErrorCode
INTERVAL = 10_000


def test_scans_are_scheduled_from_construction() -> None:
    h = Harness()
    assert h.coordinator.next_deadline() == START_MS + INTERVAL
    h.advance(INTERVAL)
    assert h.coordinator.next_deadline() == START_MS + 2 * INTERVAL


def test_timed_out_transaction_is_aborted_and_its_producer_fenced() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")  # 60 s timeout, started at START_MS
    h.advance(60_000)  # the scan at +60 s finds start + timeout == now: not yet past it
    assert h.state("tx") == "Ongoing"
    h.advance(INTERVAL)
    txn = h.coordinator.transaction("tx")
    assert txn is not None
    assert (txn.state, txn.producer_epoch) == (TransactionState.PREPARE_ABORT, epoch + 1)
    assert txn.client_version == 2  # recorded with the cluster's transaction.version
    markers = h.write_markers()
    assert {(m.committed, m.producer_epoch) for m in markers} == {(False, epoch + 1)}
    assert h.state("tx") == "CompleteAbort"
    # the producer wakes up: fenced
    assert h.end("tx", pid, epoch, commit=True).error_code == E.PRODUCER_FENCED
    assert h.end("tx", pid, epoch, commit=True, version=1).error_code == E.INVALID_PRODUCER_EPOCH
    # a new instance takes over
    assert h.init("tx").producer_epoch == epoch + 2


def test_timeout_uses_the_transactions_own_timeout() -> None:
    h = Harness()
    pid, epoch = h.producer("short", timeout_ms=1_000)
    h.add("short", pid, epoch, [("t", 0)])
    h.ongoing("long")
    h.advance(INTERVAL)
    assert h.state("short") == "PrepareAbort"
    assert h.state("long") == "Ongoing"


def test_transaction_being_completed_is_not_aborted() -> None:
    h = Harness()
    pid, epoch = h.producer("tx", timeout_ms=1_000)
    h.add("tx", pid, epoch, [("t", 0)])
    h.end("tx", pid, epoch, commit=True)
    h.advance(INTERVAL)
    assert h.state("tx") == "PrepareCommit"
    h.write_markers()
    assert h.state("tx") == "CompleteCommit"


def test_timeout_with_transaction_version_0_writes_version_0_records() -> None:
    h = Harness(transaction_version=0)
    pid, epoch = h.producer("tx", timeout_ms=1_000)
    h.add("tx", pid, epoch, [("t", 0)])
    h.advance(INTERVAL)
    assert h.log[-1].value is not None and h.log[-1].value[:2] == b"\x00\x00"
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.client_version == 0 and txn.producer_epoch == epoch + 1


# -- expiry -----------------------------------------------------------------------------------

DAY = 24 * 3600 * 1000
HOUR = 3600 * 1000


def test_idle_transactional_ids_expire_with_a_tombstone() -> None:
    h = Harness()
    h.producer("idle")  # Empty
    for tid, commit in (("committed", True), ("aborted", False)):
        pid, epoch = h.ongoing(tid)
        h.end(tid, pid, epoch, commit=commit)
        h.write_markers()
    h.advance(7 * DAY - 1)
    assert h.coordinator.transactional_ids() == ["idle", "committed", "aborted"]
    h.advance(HOUR)  # the next hourly scan
    assert h.coordinator.transactional_ids() == []
    tombstones = [r for r in h.log if r.value is None]
    assert len(tombstones) == 3
    assert h.describe("idle").transaction_states[0].error_code == E.TRANSACTIONAL_ID_NOT_FOUND
    # a producer that comes back starts over with a new producer id
    assert h.init("idle").producer_id == 1003


def test_activity_postpones_expiry() -> None:
    h = Harness(transactional_id_expiration_ms=2 * HOUR)
    h.producer("tx")
    h.advance(HOUR + 1)
    h.producer("tx")  # last update at +1h+1ms
    h.advance(2 * HOUR - 1)  # the scans at +2h and +3h find it idle for less than 2h
    assert h.coordinator.transactional_ids() == ["tx"]
    h.advance(HOUR)  # the scan at +4h
    assert h.coordinator.transactional_ids() == []


def test_ongoing_transactions_do_not_expire() -> None:
    h = Harness(transactional_id_expiration_ms=HOUR, transaction_max_timeout_ms=10 * DAY)
    pid, epoch = h.producer("tx", timeout_ms=10 * DAY)
    h.add("tx", pid, epoch, [("t", 0)])
    h.advance(3 * HOUR)
    assert h.state("tx") == "Ongoing"


def test_failed_tombstone_keeps_the_id() -> None:
    h = Harness(transactional_id_expiration_ms=HOUR)
    h.producer("tx")
    h.fail_writes = True
    h.advance(2 * HOUR)
    assert h.coordinator.transactional_ids() == ["tx"]
    h.fail_writes = False
    h.advance(HOUR)
    assert h.coordinator.transactional_ids() == []
