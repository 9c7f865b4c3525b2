"""The state table, move by move, and the metadata transitions that go through it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.state import (
    VALID_PREVIOUS_STATES,
    IllegalTransition,
    TransactionState,
    can_transition,
    check_transition,
)
from moldau.protocol.errors import ErrorCode

S = TransactionState

# Kafka's table, spelled out pair by pair: (from, to) moves that are legal.
LEGAL = {
    (S.EMPTY, S.EMPTY),
    (S.COMPLETE_COMMIT, S.EMPTY),
    (S.COMPLETE_ABORT, S.EMPTY),
    (S.EMPTY, S.ONGOING),
    (S.ONGOING, S.ONGOING),
    (S.COMPLETE_COMMIT, S.ONGOING),
    (S.COMPLETE_ABORT, S.ONGOING),
    (S.ONGOING, S.PREPARE_COMMIT),
    (S.ONGOING, S.PREPARE_ABORT),
    (S.PREPARE_EPOCH_FENCE, S.PREPARE_ABORT),
    (S.EMPTY, S.PREPARE_ABORT),
    (S.COMPLETE_COMMIT, S.PREPARE_ABORT),
    (S.COMPLETE_ABORT, S.PREPARE_ABORT),
    (S.PREPARE_COMMIT, S.COMPLETE_COMMIT),
    (S.PREPARE_ABORT, S.COMPLETE_ABORT),
    (S.EMPTY, S.DEAD),
    (S.COMPLETE_COMMIT, S.DEAD),
    (S.COMPLETE_ABORT, S.DEAD),
    (S.ONGOING, S.PREPARE_EPOCH_FENCE),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_of_states(current: TransactionState, target: TransactionState) -> None:
    legal = (current, target) in LEGAL
    assert can_transition(current, target) is legal
    if legal:
        check_transition("tx", current, target)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition("tx", current, target)
        assert info.value.code is ErrorCode.UNKNOWN_SERVER_ERROR
        assert (info.value.current, info.value.target) == (current, target)


def test_table_covers_every_state() -> None:
    assert set(VALID_PREVIOUS_STATES) == set(S)


def test_ids_names_and_expiry() -> None:
    assert [s.id for s in S] == list(range(8))
    assert [s.display_name for s in S] == [
        "Empty",
        "Ongoing",
        "PrepareCommit",
        "PrepareAbort",
        "CompleteCommit",
        "CompleteAbort",
        "Dead",
        "PrepareEpochFence",
    ]
    assert all(S.from_id(s.id) is s for s in S)
    with pytest.raises(ValueError):
        S.from_id(8)
    assert S.from_name("Ongoing") is S.ONGOING
    assert S.from_name("ongoing") is None
    assert {s for s in S if s.expiration_allowed} == {S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}


def _txn(state: TransactionState, epoch: int = 3, **kw: Any) -> md.TxnMetadata:
    return md.TxnMetadata(
        transactional_id="tx",
        producer_id=10,
        producer_epoch=epoch,
        timeout_ms=1000,
        state=state,
        last_update_ms=0,
        **kw,
    )


@pytest.mark.parametrize("state", [S.ONGOING, S.PREPARE_COMMIT, S.PREPARE_ABORT, S.PREPARE_EPOCH_FENCE])
def test_epoch_bump_refused_outside_idle_states(state: TransactionState) -> None:
    with pytest.raises(IllegalTransition):
        md.increment_epoch(_txn(state), 1000, None, 5)


@pytest.mark.parametrize("state", [S.EMPTY, S.PREPARE_COMMIT, S.PREPARE_ABORT, S.COMPLETE_ABORT])
def test_fence_only_from_ongoing(state: TransactionState) -> None:
    with pytest.raises(IllegalTransition):
        md.fence_epoch(_txn(state))


@pytest.mark.parametrize("state", [S.EMPTY, S.COMPLETE_COMMIT, S.PREPARE_ABORT])
def test_commit_only_from_ongoing(state: TransactionState) -> None:
    with pytest.raises(IllegalTransition):
        md.prepare_end(_txn(state), S.PREPARE_COMMIT, client_version=2, now=5, bump_epoch=True)


@pytest.mark.parametrize("state", [S.PREPARE_COMMIT, S.PREPARE_ABORT])
def test_no_partitions_added_while_preparing(state: TransactionState) -> None:
    with pytest.raises(IllegalTransition):
        md.add_partitions(_txn(state), [("t", 0)], 5, 0)


@pytest.mark.parametrize("state", [S.ONGOING, S.PREPARE_COMMIT, S.PREPARE_ABORT])
def test_no_expiry_of_a_live_transaction(state: TransactionState) -> None:
    with pytest.raises(IllegalTransition):
        md.dead(_txn(state))


def test_transitions_keep_kafka_epoch_rules() -> None:
    empty = _txn(S.EMPTY)
    assert md.increment_epoch(empty, 5, None, 9).producer_epoch == 4
    assert md.increment_epoch(empty, 5, None, 9).last_producer_epoch == -1
    bumped = md.increment_epoch(empty, 5, 3, 9)
    assert (bumped.producer_epoch, bumped.last_producer_epoch) == (4, 3)
    retried = md.increment_epoch(bumped, 5, 3, 9)
    assert (retried.producer_epoch, retried.last_producer_epoch) == (4, 3)
    with pytest.raises(Exception) as info:
        md.increment_epoch(bumped, 5, 1, 9)
    assert info.value.code is ErrorCode.PRODUCER_FENCED  # type: ignore[attr-defined]

    ongoing = md.add_partitions(bumped, [("t", 0)], 20, 0)
    assert (ongoing.state, ongoing.start_ms) == (S.ONGOING, 20)
    fenced = md.fence_epoch(ongoing)
    assert (fenced.state, fenced.producer_epoch, fenced.last_producer_epoch) == (S.PREPARE_EPOCH_FENCE, 5, -1)
    aborting = md.prepare_end(fenced, S.PREPARE_ABORT, client_version=2, now=30, bump_epoch=False)
    assert (aborting.producer_epoch, aborting.partitions) == (5, frozenset({("t", 0)}))
    done = md.complete(aborting, 40)
    assert (done.state, done.partitions, done.producer_epoch) == (S.COMPLETE_ABORT, frozenset(), 5)
    assert md.dead(done).state is S.DEAD


def test_exhausted_epoch_rotates_to_next_producer_id_at_completion() -> None:
    ongoing = _txn(S.ONGOING, epoch=md.MAX_EPOCH - 1, partitions=frozenset({("t", 0)}), start_ms=1)
    assert ongoing.epoch_exhausted
    prepared = md.prepare_end(
        ongoing, S.PREPARE_COMMIT, client_version=2, now=5, bump_epoch=True, next_producer_id=11
    )
    assert (prepared.producer_id, prepared.producer_epoch, prepared.next_producer_id) == (
        10,
        md.MAX_EPOCH,
        11,
    )
    done = md.complete(prepared, 6)
    assert (done.producer_id, done.producer_epoch) == (11, 0)
    assert (done.previous_producer_id, done.next_producer_id, done.last_producer_epoch) == (
        10,
        -1,
        md.MAX_EPOCH - 1,
    )
