"""EndTxn and the markers: PREPARE, markers, COMPLETE; retries; transactions v2."""

from __future__ import annotations

import pytest

from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.records import decode_value
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness

E = ErrorCode
S = TransactionState


def _states_written(h: Harness) -> list[str]:
    return [
        "tombstone" if r.value is None else S.from_id(decode_value(r.value).transaction_status).value
        for r in h.log
    ]


@pytest.mark.parametrize(
    ("commit", "prepare", "complete"),
    [(True, "PrepareCommit", "CompleteCommit"), (False, "PrepareAbort", "CompleteAbort")],
)
def test_prepare_markers_complete(commit: bool, prepare: str, complete: str) -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("u", 1)])
    answer = h.end("tx", pid, epoch, commit=commit)
    assert answer.error_code == 0
    assert h.state("tx") == prepare
    markers = h.take_markers()
    assert [
        (m.topic, m.partition, m.producer_id, m.producer_epoch, m.committed, m.transactional_id)
        for m in markers
    ] == [("t", 0, pid, epoch, commit, "tx"), ("u", 1, pid, epoch, commit, "tx")]
    assert all(m.coordinator_epoch == 7 for m in markers)

    # one marker written: still preparing
    h.apply(h.coordinator.markers_written("tx", pid, epoch, {("t", 0): 0}))
    assert h.state("tx") == prepare
    described = h.describe("tx").transaction_states[0]
    assert [(t.topic, t.partitions) for t in described.topics] == [("u", [1])]
    # the other one: complete
    h.apply(h.coordinator.markers_written("tx", pid, epoch, {("u", 1): 0}))
    assert h.state("tx") == complete
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.partitions == frozenset() and txn.producer_epoch == epoch
    assert _states_written(h) == ["Empty", "Ongoing", prepare, complete]


def test_end_txn_retries_are_idempotent() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.end("tx", pid, epoch, commit=True)
    h.write_markers()
    records = len(h.log)
    assert h.end("tx", pid, epoch, commit=True).error_code == 0
    assert h.end("tx", pid, epoch, commit=False).error_code == E.INVALID_TXN_STATE
    assert len(h.log) == records

    pid, epoch = h.ongoing("ty")
    h.end("ty", pid, epoch, commit=False)
    h.write_markers()
    assert h.end("ty", pid, epoch, commit=False).error_code == 0
    assert h.end("ty", pid, epoch, commit=True).error_code == E.INVALID_TXN_STATE


def test_retry_while_markers_are_out_is_concurrent() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.end("tx", pid, epoch, commit=True)
    assert h.end("tx", pid, epoch, commit=True).error_code == E.CONCURRENT_TRANSACTIONS
    assert h.end("tx", pid, epoch, commit=False).error_code == E.CONCURRENT_TRANSACTIONS


def test_nothing_to_end() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    assert h.end("tx", pid, epoch, commit=True).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, epoch, commit=False).error_code == E.INVALID_TXN_STATE


@pytest.mark.parametrize("version", [0, 4, 5])
def test_unknown_ids(version: int) -> None:
    h = Harness()
    assert h.end("", 1, 0, version=version).error_code == E.INVALID_REQUEST
    assert h.end("nope", 1, 0, version=version).error_code == E.INVALID_PRODUCER_ID_MAPPING
    pid, epoch = h.ongoing("tx")
    assert h.end("tx", pid + 1, epoch, version=version).error_code == E.INVALID_PRODUCER_ID_MAPPING


@pytest.mark.parametrize(
    ("version", "code"),
    [
        (0, E.INVALID_PRODUCER_EPOCH),
        (1, E.INVALID_PRODUCER_EPOCH),
        (2, E.PRODUCER_FENCED),
        (4, E.PRODUCER_FENCED),
    ],
)
def test_wrong_epoch(version: int, code: ErrorCode) -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    assert h.end("tx", pid, epoch + 1, version=version).error_code == code
    assert h.end("tx", pid, epoch - 1, version=version).error_code == code


def test_write_failure_keeps_the_transaction_ongoing() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.fail_writes = True
    assert h.end("tx", pid, epoch).error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.markers == []
    h.fail_writes = False
    assert h.state("tx") == "Ongoing"
    assert h.end("tx", pid, epoch).error_code == 0


# -- markers ----------------------------------------------------------------------------------


def test_retriable_marker_errors_are_retried() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("t", 1)])
    h.end("tx", pid, epoch)
    h.write_markers({("t", 1): E.NOT_LEADER_OR_FOLLOWER})
    assert h.state("tx") == "PrepareCommit"
    again = h.take_markers()
    assert [(m.topic, m.partition) for m in again] == [("t", 1)]
    h.markers = again
    h.write_markers({("t", 1): E.REQUEST_TIMED_OUT})
    h.write_markers()
    assert h.state("tx") == "CompleteCommit"


def test_partitions_that_cannot_take_markers_count_as_done() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("t", 1)])
    h.end("tx", pid, epoch)
    h.write_markers({("t", 0): E.UNSUPPORTED_FOR_MESSAGE_FORMAT})
    assert h.state("tx") == "CompleteCommit"


def test_fenced_markers_stop_until_the_next_load() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("t", 1)])
    h.end("tx", pid, epoch)
    h.write_markers({("t", 0): E.INVALID_PRODUCER_EPOCH})
    assert h.state("tx") == "PrepareCommit"
    assert h.markers == []
    h.apply(h.coordinator.markers_written("tx", pid, epoch, {("t", 1): 0}))
    assert h.state("tx") == "PrepareCommit"
    # a restart sends them all again
    fresh = Harness()
    h.replay_into(fresh)
    assert sorted((m.topic, m.partition) for m in fresh.markers) == [("t", 0), ("t", 1)]
    fresh.write_markers()
    assert fresh.state("tx") == "CompleteCommit"


def test_stale_marker_reports_are_ignored() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    assert h.coordinator.markers_written("tx", pid, epoch, {("t", 0): 0}).records == []  # not ending
    h.end("tx", pid, epoch)
    assert h.coordinator.markers_written("tx", pid, epoch + 1, {("t", 0): 0, ("t", 1): 0}).records == []
    assert h.coordinator.markers_written("zz", pid, epoch, {("t", 0): 0}).records == []
    h.write_markers()
    assert h.coordinator.markers_written("tx", pid, epoch, {("t", 0): 0, ("t", 1): 0}).records == []


def test_failed_complete_write_is_retried_by_tick() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.end("tx", pid, epoch)
    h.fail_writes = True
    h.write_markers()
    assert h.state("tx") == "PrepareCommit"
    h.fail_writes = False
    h.advance(h.coordinator.config.transaction_abort_timed_out_transaction_cleanup_interval_ms)
    assert h.state("tx") == "CompleteCommit"


# -- transactions v2 (EndTxn v5) --------------------------------------------------------------


def _v2_ongoing(h: Harness, tid: str = "tx", parts: list[tuple[str, int]] | None = None) -> tuple[int, int]:
    pid, epoch = h.producer(tid)
    h.add_batch((tid, pid, epoch, parts or [("t", 0)], False))
    return pid, epoch


def test_v2_bumps_the_epoch_every_transaction() -> None:
    h = Harness()
    pid, epoch = _v2_ongoing(h)
    answer = h.end("tx", pid, epoch, version=5)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, pid, epoch + 1)
    markers = h.take_markers()
    assert [(m.producer_id, m.producer_epoch) for m in markers] == [(pid, epoch + 1)]
    h.markers = markers
    h.write_markers()
    txn = h.coordinator.transaction("tx")
    assert txn is not None
    assert (txn.state, txn.producer_epoch, txn.last_producer_epoch) == (S.COMPLETE_COMMIT, epoch + 1, epoch)
    # the next transaction runs at the new epoch; the old one is fenced
    assert (
        h.add_batch(("tx", pid, epoch, [("t", 0)], False))
        .results_by_transaction[0]
        .topic_results[0]
        .results_by_partition[0]
        .partition_error_code
        == E.PRODUCER_FENCED
    )
    h.add_batch(("tx", pid, epoch + 1, [("t", 0)], False))
    assert h.state("tx") == "Ongoing"


def test_v2_table_of_retries() -> None:
    """Kafka's table for EMPTY / COMPLETE_ABORT / COMPLETE_COMMIT under transactions v2."""
    h = Harness()
    pid, epoch = _v2_ongoing(h)
    h.end("tx", pid, epoch, version=5, commit=True)
    h.write_markers()  # CompleteCommit at epoch + 1
    cur = epoch + 1
    assert h.end("tx", pid, epoch, commit=True, version=5).producer_epoch == cur  # retry: NONE
    assert h.end("tx", pid, epoch, commit=False, version=5).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, cur, commit=True, version=5).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, cur - 5, commit=True, version=5).error_code == E.PRODUCER_FENCED
    # abort with the current epoch: an empty abort, with a bump
    answer = h.end("tx", pid, cur, commit=False, version=5)
    assert (answer.error_code, answer.producer_epoch) == (0, cur + 1)
    assert h.state("tx") == "CompleteAbort"  # no partitions: completed in the same write
    assert h.markers == []
    cur += 1
    assert h.end("tx", pid, cur - 1, commit=False, version=5).error_code == 0  # retry: NONE
    assert h.end("tx", pid, cur - 1, commit=True, version=5).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, cur, commit=True, version=5).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, cur, commit=False, version=5).producer_epoch == cur + 1


def test_v2_empty_state() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    assert h.end("tx", pid, epoch, commit=True, version=5).error_code == E.INVALID_TXN_STATE
    assert h.end("tx", pid, epoch - 1, commit=False, version=5).error_code == E.PRODUCER_FENCED
    h.clock.advance(10)
    answer = h.end("tx", pid, epoch, commit=False, version=5)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, pid, epoch + 1)
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.state is S.COMPLETE_ABORT and txn.start_ms == START_MS + 10
    assert _states_written(h) == ["Empty", "PrepareAbort", "CompleteAbort"]


def test_v2_concurrent_while_completing() -> None:
    h = Harness()
    pid, epoch = _v2_ongoing(h)
    h.end("tx", pid, epoch, version=5)
    assert h.end("tx", pid, epoch, version=5).error_code == E.CONCURRENT_TRANSACTIONS
    assert h.end("tx", pid, epoch + 1, version=5, commit=False).error_code == E.CONCURRENT_TRANSACTIONS


def test_v2_epoch_overflow_moves_to_the_next_producer_id() -> None:
    h = Harness()
    h.seed(
        md.TxnMetadata(
            "tx",
            77,
            md.MAX_EPOCH - 1,
            60000,
            S.ONGOING,
            START_MS,
            partitions=frozenset({("t", 0)}),
            start_ms=START_MS,
            client_version=2,
        )
    )
    answer = h.end("tx", 77, md.MAX_EPOCH - 1, version=5)
    assert (answer.error_code, answer.producer_id, answer.producer_epoch) == (0, 1000, 0)
    markers = h.take_markers()
    assert [(m.producer_id, m.producer_epoch) for m in markers] == [(77, md.MAX_EPOCH)]
    h.markers = markers
    h.write_markers()
    txn = h.coordinator.transaction("tx")
    assert txn is not None
    assert (txn.producer_id, txn.producer_epoch, txn.previous_producer_id) == (1000, 0, 77)
    # a retry with the old id and epoch is recognised
    retry = h.end("tx", 77, md.MAX_EPOCH - 1, version=5)
    assert (retry.error_code, retry.producer_id, retry.producer_epoch) == (0, 1000, 0)
    # and the new id works
    h.add_batch(("tx", 1000, 0, [("t", 0)], False))
    assert h.state("tx") == "Ongoing"


def test_v2_overflow_survives_a_restart_between_prepare_and_complete() -> None:
    h = Harness()
    h.seed(
        md.TxnMetadata(
            "tx",
            77,
            md.MAX_EPOCH - 1,
            60000,
            S.ONGOING,
            START_MS,
            partitions=frozenset({("t", 0)}),
            start_ms=START_MS,
            client_version=2,
        )
    )
    h.end("tx", 77, md.MAX_EPOCH - 1, version=5)
    fresh = Harness(first_producer_id=5000)
    h.replay_into(fresh)
    assert [(m.producer_id, m.producer_epoch) for m in fresh.markers] == [(77, md.MAX_EPOCH)]
    fresh.write_markers()
    txn = fresh.coordinator.transaction("tx")
    assert txn is not None and (txn.producer_id, txn.producer_epoch) == (1000, 0)
