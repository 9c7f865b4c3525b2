"""AddPartitionsToTxn (v0-3 from producers, v4+ batched from brokers, verify_only) and
AddOffsetsToTxn."""

from __future__ import annotations

import pytest

from moldau.coordinator.group.jvm import partition_for
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness, batch_codes, partition_codes

E = ErrorCode


def test_first_partitions_start_the_transaction() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    h.clock.advance(500)
    answer = h.add("tx", pid, epoch, [("t", 0), ("t", 1), ("u", 0)])
    assert partition_codes(answer) == {("t", 0): 0, ("t", 1): 0, ("u", 0): 0}
    txn = h.coordinator.transaction("tx")
    assert txn is not None
    assert txn.state is TransactionState.ONGOING
    assert txn.partitions == {("t", 0), ("t", 1), ("u", 0)}
    assert txn.start_ms == START_MS + 500 and txn.client_version == 0


def test_more_partitions_keep_the_start_time() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0)])
    h.clock.advance(100)
    h.add("tx", pid, epoch, [("t", 1)])
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.partitions == {("t", 0), ("t", 1)} and txn.start_ms == START_MS


def test_partitions_already_added_need_no_write() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0), ("t", 1)])
    records = len(h.log)
    assert partition_codes(h.add("tx", pid, epoch, [("t", 1)])) == {("t", 1): 0}
    assert len(h.log) == records


def test_unknown_transactional_id_or_producer_id() -> None:
    h = Harness()
    assert set(partition_codes(h.add("nope", 1, 0, [("t", 0)])).values()) == {E.INVALID_PRODUCER_ID_MAPPING}
    pid, epoch = h.producer("tx")
    assert set(partition_codes(h.add("tx", pid + 1, epoch, [("t", 0)])).values()) == {
        E.INVALID_PRODUCER_ID_MAPPING
    }
    assert set(partition_codes(h.add("", pid, epoch, [("t", 0)])).values()) == {E.INVALID_REQUEST}


@pytest.mark.parametrize(("version", "code"), [(0, E.INVALID_PRODUCER_EPOCH), (1, E.INVALID_PRODUCER_EPOCH)])
def test_old_epoch_before_v2(version: int, code: ErrorCode) -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    h.producer("tx")
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 0)], version=version)).values()) == {code}


@pytest.mark.parametrize("version", [2, 3])
def test_old_epoch_from_v2(version: int) -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    h.producer("tx")
    codes = partition_codes(h.add("tx", pid, epoch, [("t", 0), ("u", 1)], version=version))
    assert codes == {("t", 0): E.PRODUCER_FENCED, ("u", 1): E.PRODUCER_FENCED}


def test_concurrent_transactions_while_markers_are_out() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.end("tx", pid, epoch)
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 9)])).values()) == {E.CONCURRENT_TRANSACTIONS}
    h.write_markers()
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 9)])).values()) == {0}
    assert h.state("tx") == "Ongoing"


def test_next_transaction_starts_from_complete() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx")
    h.end("tx", pid, epoch, commit=False)
    h.write_markers()
    h.clock.advance(1000)
    h.add("tx", pid, epoch, [("v", 0)])
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.partitions == {("v", 0)} and txn.start_ms == START_MS + 1000


def test_write_failure() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    h.fail_writes = True
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 0)])).values()) == {E.COORDINATOR_NOT_AVAILABLE}
    h.fail_writes = False
    assert h.state("tx") == "Empty"
    assert set(partition_codes(h.add("tx", pid, epoch, [("t", 0)])).values()) == {0}


# -- v4+: batched, from brokers ----------------------------------------------------------------


def test_batched_add_speaks_transactions_v2() -> None:
    h = Harness()
    a = h.producer("a")
    b = h.producer("b")
    answer = h.add_batch(("a", *a, [("t", 0)], False), ("b", *b, [("t", 1), ("u", 2)], False))
    assert answer.error_code == 0
    assert batch_codes(answer) == {"a": {("t", 0): 0}, "b": {("t", 1): 0, ("u", 2): 0}}
    for tid in "ab":
        txn = h.coordinator.transaction(tid)
        assert txn is not None and txn.state is TransactionState.ONGOING and txn.client_version == 2


def test_batched_errors_are_per_transaction() -> None:
    h = Harness()
    a = h.producer("a")
    answer = h.add_batch(("a", a[0], a[1] + 1, [("t", 0)], False), ("zz", 5, 0, [("t", 0)], False))
    assert batch_codes(answer) == {
        "a": {("t", 0): E.PRODUCER_FENCED},
        "zz": {("t", 0): E.INVALID_PRODUCER_ID_MAPPING},
    }


def test_batched_write_failure_only_touches_transactions_that_wrote() -> None:
    h = Harness()
    a = h.producer("a")
    h.fail_writes = True
    answer = h.add_batch(("a", *a, [("t", 0)], False), ("zz", 5, 0, [("t", 0)], True))
    assert batch_codes(answer) == {
        "a": {("t", 0): E.COORDINATOR_NOT_AVAILABLE},
        "zz": {("t", 0): E.INVALID_PRODUCER_ID_MAPPING},
    }


def test_verify_only_answers_whether_partitions_are_in_the_transaction() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0)])
    records = len(h.log)
    answer = h.add_batch(("tx", pid, epoch, [("t", 0), ("t", 1)], True))
    assert batch_codes(answer) == {"tx": {("t", 0): 0, ("t", 1): E.TRANSACTION_ABORTABLE}}
    assert len(h.log) == records  # verification never writes
    assert h.coordinator.ongoing_partitions("tx", pid, epoch) == {("t", 0)}
    assert h.coordinator.ongoing_partitions("tx", pid, epoch + 1) is None


@pytest.mark.parametrize("version", [4, 5])
def test_verify_only_errors(version: int) -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0)])
    cases = [
        (("tx", pid, epoch + 1, [("t", 0)], True), E.PRODUCER_FENCED),
        (("tx", pid + 1, epoch, [("t", 0)], True), E.INVALID_PRODUCER_ID_MAPPING),
        (("zz", pid, epoch, [("t", 0)], True), E.INVALID_PRODUCER_ID_MAPPING),
        (("", pid, epoch, [("t", 0)], True), E.INVALID_REQUEST),
    ]
    for entry, code in cases:
        assert batch_codes(h.add_batch(entry, version=version))[entry[0]] == {("t", 0): code}
    h.end("tx", pid, epoch)
    assert batch_codes(h.add_batch(("tx", pid, epoch, [("t", 0)], True), version=version)) == {
        "tx": {("t", 0): E.CONCURRENT_TRANSACTIONS}
    }


def test_verify_after_completion_is_abortable() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("t", 0)])
    h.end("tx", pid, epoch)
    h.write_markers()
    assert batch_codes(h.add_batch(("tx", pid, epoch, [("t", 0)], True))) == {
        "tx": {("t", 0): E.TRANSACTION_ABORTABLE}
    }


# -- AddOffsetsToTxn ---------------------------------------------------------------------------


def test_add_offsets_adds_the_groups_offsets_partition() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    assert h.add_offsets("tx", pid, epoch, "my-group").error_code == 0
    txn = h.coordinator.transaction("tx")
    expected = ("__consumer_offsets", partition_for("my-group", 50))
    assert txn is not None and txn.partitions == {expected} and txn.client_version == 0


def test_add_offsets_partition_follows_java_string_hash() -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    # "my-group".hashCode() is -1906497762 in Java; |h| % 50 == 12
    h.add_offsets("tx", pid, epoch, "my-group")
    txn = h.coordinator.transaction("tx")
    assert txn is not None and txn.partitions == {("__consumer_offsets", 12)}


@pytest.mark.parametrize(("version", "code"), [(1, E.INVALID_PRODUCER_EPOCH), (2, E.PRODUCER_FENCED)])
def test_add_offsets_errors(version: int, code: ErrorCode) -> None:
    h = Harness()
    pid, epoch = h.producer("tx")
    assert h.add_offsets("", pid, epoch, "g", version=version).error_code == E.INVALID_REQUEST
    assert h.add_offsets("nope", pid, epoch, "g", version=version).error_code == E.INVALID_PRODUCER_ID_MAPPING
    assert h.add_offsets("tx", pid, epoch + 1, "g", version=version).error_code == code
    h.add("tx", pid, epoch, [("t", 0)])
    h.end("tx", pid, epoch)
    assert h.add_offsets("tx", pid, epoch, "g", version=version).error_code == E.CONCURRENT_TRANSACTIONS
