"""The producer state machine without files: every transition and error code of
producer_state.py, driven the way the log drives it (offsets assigned in order, apply after
the write)."""

from __future__ import annotations

import pytest

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import TRANSACTIONAL_BIT, BatchHeader
from moldau.protocol.records.control import ControlType, EndTxnMarker
from moldau.storage.producer_state import (
    MAX_SEQUENCE,
    AppendOrigin,
    CompletedTxn,
    DuplicateOf,
    ProducerEntry,
    ProducerStateManager,
    in_sequence,
)

from .helpers import START_MS


def header(
    pid: int = 7, epoch: int = 0, seq: int = 0, count: int = 1, *, txn: bool = False, ts: int = START_MS
) -> BatchHeader:
    return BatchHeader(
        base_offset=0,
        batch_length=100,
        partition_leader_epoch=0,
        magic=2,
        crc=0,
        attributes=TRANSACTIONAL_BIT if txn else 0,
        last_offset_delta=count - 1,
        base_timestamp=ts,
        max_timestamp=ts,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
        records_count=count,
    )


class Partition:
    """A log without files: hands out offsets, validates, then applies."""

    def __init__(self) -> None:
        self.state = ProducerStateManager()
        self.end = 0
        self.aborted: list[tuple[CompletedTxn, int]] = []

    def append(
        self, *headers: BatchHeader, origin: AppendOrigin = AppendOrigin.CLIENT, **options: bool
    ) -> DuplicateOf | list[tuple[CompletedTxn, int]]:
        pending = self.state.begin(origin, **options)
        offset = self.end
        for h in headers:
            duplicate = pending.validate_append(h, first_offset=offset, timestamp=h.max_timestamp)
            if duplicate is not None:
                return duplicate
            offset += h.last_offset_delta + 1
        self.end = offset
        return self.state.apply(pending)

    def marker(
        self,
        pid: int = 7,
        epoch: int = 0,
        *,
        commit: bool,
        coordinator_epoch: int = 0,
        transaction_version: int = 0,
        origin: AppendOrigin = AppendOrigin.COORDINATOR,
        ts: int = START_MS,
    ) -> CompletedTxn | None:
        pending = self.state.begin(origin, transaction_version=transaction_version)
        control = ControlType.COMMIT if commit else ControlType.ABORT
        marker = EndTxnMarker(control, coordinator_epoch, pid, epoch, 0, ts)
        completed = pending.validate_marker(marker, offset=self.end, timestamp=ts)
        self.end += 1
        done = self.state.apply(pending)
        self.aborted += [(t, lso) for t, lso in done if t.is_aborted]
        return completed

    def lso(self) -> int:
        return self.state.last_stable_offset(self.end)


def code_of(call) -> ErrorCode:
    with pytest.raises(KafkaError) as e:
        call()
    return e.value.code


# -- idempotent producers -------------------------------------------------------------------------


def test_first_batch_creates_the_entry():
    p = Partition()
    assert p.append(header(seq=0, count=3)) == []
    entry = p.state.entry(7)
    assert entry is not None and entry.epoch == 0
    assert [tuple(b) for b in entry.batches] == [(0, 2, 0, 2, START_MS)]
    assert entry.last_seq == 2 and entry.last_timestamp == START_MS


def test_unknown_producer_is_accepted_at_any_sequence():
    """KIP-360: no UNKNOWN_PRODUCER_ID; the state may have gone with deleted segments."""
    p = Partition()
    p.append(header(seq=17))
    p.append(header(seq=18))
    assert p.state.entry(7).last_seq == 18


def test_consecutive_batches_are_accepted():
    p = Partition()
    p.append(header(seq=0, count=2))
    p.append(header(seq=2, count=3))
    p.append(header(seq=5))
    assert p.state.entry(7).last_seq == 5
    assert p.end == 6


def test_a_gap_is_out_of_order_and_changes_nothing():
    p = Partition()
    p.append(header(seq=0, count=2))
    version = p.state.version
    assert code_of(lambda: p.append(header(seq=3))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert p.state.version == version and p.state.entry(7).last_seq == 1
    p.append(header(seq=2))  # the right one still goes in


def test_going_back_past_the_retained_batches_is_out_of_order():
    p = Partition()
    for seq in range(6):
        p.append(header(seq=seq))
    assert len(p.state.entry(7).batches) == 5
    assert code_of(lambda: p.append(header(seq=0))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_a_retry_of_any_of_the_last_five_batches_returns_its_offsets():
    p = Partition()
    for seq in range(0, 12, 2):
        p.append(header(seq=seq, count=2, ts=START_MS + seq))
    end, version = p.end, p.state.version
    for seq in range(2, 12, 2):  # the five retained: sequences 2-3 ... 10-11
        assert p.append(header(seq=seq, count=2)) == DuplicateOf(seq, seq + 1, START_MS + seq)
    assert (p.end, p.state.version) == (end, version)


def test_a_partial_overlap_is_not_a_duplicate():
    p = Partition()
    p.append(header(seq=0, count=4))
    assert code_of(lambda: p.append(header(seq=0, count=2))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_an_older_epoch_is_invalid_producer_epoch():
    p = Partition()
    p.append(header(epoch=3, seq=0))
    assert code_of(lambda: p.append(header(epoch=2, seq=1))) == ErrorCode.INVALID_PRODUCER_EPOCH
    # also for what would be a duplicate under the old epoch
    assert code_of(lambda: p.append(header(epoch=2, seq=0))) == ErrorCode.INVALID_PRODUCER_EPOCH


def test_a_new_epoch_must_start_at_sequence_zero():
    p = Partition()
    p.append(header(epoch=0, seq=0, count=5))
    assert code_of(lambda: p.append(header(epoch=1, seq=5))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    p.append(header(epoch=1, seq=0))
    entry = p.state.entry(7)
    assert entry.epoch == 1 and [b.first_seq for b in entry.batches] == [0]  # the old epoch's batches go
    assert p.append(header(epoch=1, seq=0)) == DuplicateOf(5, 5, START_MS)


def test_the_same_sequences_under_a_new_epoch_are_not_a_duplicate():
    p = Partition()
    p.append(header(epoch=0, seq=0))
    assert p.append(header(epoch=1, seq=0)) == []
    assert p.end == 2


def test_sequences_wrap_after_int_max():
    assert in_sequence(MAX_SEQUENCE, 0) and not in_sequence(MAX_SEQUENCE, 1)
    p = Partition()
    p.append(header(seq=MAX_SEQUENCE - 1, count=3))  # MAX-1, MAX, 0
    entry = p.state.entry(7)
    assert (entry.batches[-1].first_seq, entry.last_seq) == (MAX_SEQUENCE - 1, 0)
    p.append(header(seq=1))
    assert p.append(header(seq=MAX_SEQUENCE - 1, count=3)) == DuplicateOf(0, 2, START_MS)


def test_a_verified_transactions_v2_producer_without_state_must_start_at_zero():
    p = Partition()
    code = code_of(lambda: p.append(header(seq=4), supports_epoch_bump=True))
    assert code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    p.append(header(seq=0), supports_epoch_bump=True)
    p.append(header(seq=1), supports_epoch_bump=True)


def test_batches_of_one_append_are_checked_against_each_other():
    p = Partition()
    assert p.append(header(seq=0, count=2), header(seq=2)) == []
    assert code_of(lambda: p.append(header(seq=3), header(seq=5))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert p.state.entry(7).last_seq == 2  # the valid first batch of the refused append left no trace


def test_producers_are_independent():
    p = Partition()
    p.append(header(pid=1, seq=0), header(pid=2, seq=40))
    p.append(header(pid=2, seq=41), header(pid=1, seq=1))
    assert (p.state.entry(1).last_seq, p.state.entry(2).last_seq) == (1, 41)
    assert len(p.state) == 2


# -- origins --------------------------------------------------------------------------------------


def test_coordinator_writes_check_epochs_but_not_sequences():
    p = Partition()
    p.append(header(seq=-1, txn=True), origin=AppendOrigin.COORDINATOR)
    p.append(header(seq=-1, txn=True), origin=AppendOrigin.COORDINATOR)  # no sequence, no duplicate
    assert p.end == 2
    p.marker(epoch=1, commit=True)
    code = code_of(lambda: p.append(header(epoch=0, seq=-1, txn=True), origin=AppendOrigin.COORDINATOR))
    assert code == ErrorCode.INVALID_PRODUCER_EPOCH


def test_batches_without_a_sequence_are_never_duplicates_even_from_the_client_path():
    p = Partition()
    p.append(header(seq=-1))
    assert p.append(header(seq=-1)) == []
    assert p.end == 2


def test_replication_checks_nothing():
    p = Partition()
    p.append(header(epoch=5, seq=0))
    p.append(header(epoch=4, seq=9), origin=AppendOrigin.REPLICATION)
    assert p.state.entry(7).epoch == 4


# -- transactions ---------------------------------------------------------------------------------


def test_a_transactional_batch_opens_a_transaction_at_its_first_offset():
    p = Partition()
    p.append(header(pid=1, seq=0))
    p.append(header(pid=7, seq=0, count=2, txn=True))
    p.append(header(pid=7, seq=2, txn=True))
    assert p.state.entry(7).current_txn_first_offset == 1
    assert p.state.ongoing_transactions == [(7, 1)]
    assert p.lso() == 1


def test_a_plain_batch_inside_a_transaction_is_invalid_txn_state():
    p = Partition()
    p.append(header(seq=0, txn=True))
    assert code_of(lambda: p.append(header(seq=1))) == ErrorCode.INVALID_TXN_STATE
    assert p.state.entry(7).last_seq == 0


def test_commit_ends_the_transaction_and_the_lso_catches_up():
    p = Partition()
    p.append(header(seq=0, count=3, txn=True))
    assert p.lso() == 0
    completed = p.marker(commit=True)
    assert completed == CompletedTxn(7, 0, 3, is_aborted=False)
    assert p.state.entry(7).current_txn_first_offset is None
    assert p.lso() == p.end == 4
    assert p.aborted == []


def test_abort_ends_the_transaction_with_the_lso_to_index():
    p = Partition()
    p.append(header(pid=1, seq=0, txn=True))  # 0
    p.append(header(pid=2, seq=0, txn=True))  # 1
    assert p.lso() == 0
    assert p.marker(pid=1, commit=False) == CompletedTxn(1, 0, 2, is_aborted=True)
    assert p.aborted == [(CompletedTxn(1, 0, 2, True), 1)]  # producer 2's transaction still holds it
    assert p.lso() == 1
    p.marker(pid=2, commit=False)
    assert p.aborted[-1] == (CompletedTxn(2, 1, 3, True), 4)  # nothing open: the marker + 1
    assert p.lso() == 4


def test_lso_with_two_open_transactions_is_the_earliest():
    p = Partition()
    p.append(header(pid=1, seq=0))  # 0, not transactional
    p.append(header(pid=2, seq=0, txn=True))  # 1
    p.append(header(pid=3, seq=0, txn=True))  # 2
    p.append(header(pid=2, seq=1, txn=True))  # 3
    assert p.lso() == 1
    p.marker(pid=2, commit=True)
    assert p.lso() == 2
    p.marker(pid=3, commit=True)
    assert p.lso() == p.end


def test_lso_never_passes_the_high_watermark_and_waits_for_the_marker_to_be_below_it():
    p = Partition()
    p.append(header(seq=0, txn=True))  # 0
    p.marker(commit=True)  # 1
    assert p.state.last_stable_offset(high_watermark=0) == 0
    assert p.state.last_stable_offset(high_watermark=1) == 0  # the marker is not replicated yet
    assert p.state.last_stable_offset(high_watermark=2) == 2
    assert p.state.first_unstable_offset(2) is None


def test_a_marker_without_a_transaction_completes_nothing_but_is_recorded():
    p = Partition()
    assert p.marker(pid=9, epoch=4, commit=False, coordinator_epoch=3) is None
    entry = p.state.entry(9)
    assert (entry.epoch, entry.coordinator_epoch, entry.current_txn_first_offset) == (4, 3, None)
    assert p.aborted == []


def test_a_marker_with_an_older_epoch_is_invalid_producer_epoch():
    p = Partition()
    p.append(header(epoch=3, seq=0, txn=True))
    assert code_of(lambda: p.marker(epoch=2, commit=True)) == ErrorCode.INVALID_PRODUCER_EPOCH
    assert p.state.ongoing_transactions == [(7, 0)]
    assert p.marker(epoch=3, commit=True) is not None  # transactions v0/v1: the same epoch


def test_transactions_v2_markers_must_bump_the_epoch():
    p = Partition()
    p.append(header(epoch=3, seq=0, txn=True))
    code = code_of(lambda: p.marker(epoch=3, commit=True, transaction_version=2))
    assert code == ErrorCode.INVALID_PRODUCER_EPOCH
    assert p.marker(epoch=4, commit=True, transaction_version=2) == CompletedTxn(7, 0, 1, False)
    entry = p.state.entry(7)
    assert entry.epoch == 4 and not entry.batches  # the next transaction starts at sequence 0
    # a retried marker (same epoch, nothing open) is written again, completing nothing
    assert p.marker(epoch=4, commit=True, transaction_version=2) is None
    assert (
        code_of(lambda: p.append(header(epoch=4, seq=1, txn=True))) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    )
    p.append(header(epoch=4, seq=0, txn=True))


def test_a_marker_from_an_older_coordinator_is_fenced():
    p = Partition()
    p.append(header(seq=0, txn=True))
    p.marker(commit=True, coordinator_epoch=5)
    p.append(header(seq=1, txn=True))
    code = code_of(lambda: p.marker(commit=True, coordinator_epoch=4))
    assert code == ErrorCode.TRANSACTION_COORDINATOR_FENCED
    assert p.marker(commit=True, coordinator_epoch=5) is not None


def test_replicated_markers_are_not_checked():
    p = Partition()
    p.append(header(epoch=3, seq=0, txn=True))
    completed = p.marker(epoch=1, commit=False, coordinator_epoch=-5, origin=AppendOrigin.REPLICATION)
    assert completed == CompletedTxn(7, 0, 1, True)


def test_transactions_continue_the_sequence_under_v0():
    p = Partition()
    p.append(header(seq=0, count=2, txn=True))
    p.marker(commit=True)
    p.append(header(seq=2, txn=True))
    assert p.state.ongoing_transactions == [(7, 3)]


# -- expiry and loading ---------------------------------------------------------------------------


def test_idle_producers_expire_unless_a_transaction_is_open():
    p = Partition()
    p.append(header(pid=1, seq=0, ts=START_MS))
    p.append(header(pid=2, seq=0, ts=START_MS, txn=True))
    p.append(header(pid=3, seq=0, ts=START_MS + 1000))
    assert p.state.remove_expired(START_MS + 9_999, expiration_ms=10_000) == []
    assert p.state.remove_expired(START_MS + 10_000, expiration_ms=10_000) == [1]
    assert sorted(p.state.producers) == [2, 3]
    p.append(header(pid=1, seq=5))  # a forgotten producer is welcome back at any sequence
    p.marker(pid=2, commit=True, ts=START_MS)
    assert sorted(p.state.remove_expired(START_MS + 20_000, expiration_ms=10_000)) == [1, 2, 3]


def test_expiry_defaults_to_a_day():
    p = Partition()
    p.append(header(seq=0, ts=START_MS))
    assert p.state.remove_expired(START_MS + 86_399_999) == []
    assert p.state.remove_expired(START_MS + 86_400_000) == [7]


def test_load_rebuilds_the_open_transactions_in_offset_order():
    state = ProducerStateManager()
    state.load(
        [
            ProducerEntry(1, 0, current_txn_first_offset=40),
            ProducerEntry(2, 0),
            ProducerEntry(3, 0, current_txn_first_offset=12),
        ]
    )
    assert state.ongoing_transactions == [(3, 12), (1, 40)]
    assert state.last_stable_offset(100) == 12
