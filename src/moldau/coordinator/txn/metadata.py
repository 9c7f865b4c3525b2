"""One transactional id's state, and every way it may change.

:class:`TxnMetadata` is immutable. A change is computed by one of the functions below, which
mirror Kafka's ``TransactionMetadata.prepare*`` methods: each returns the metadata the
transactional id will have once the change is written, after checking the move against the
state table. Nothing here touches the coordinator: an operation computes the next metadata,
hands its record to the runtime, and ``replay`` installs it once the record is durable.

Epochs are Java shorts. A producer may use epochs up to ``MAX_EPOCH - 1``; at that point the
epoch is *exhausted* (the last value is kept free so that the coordinator can always fence),
and the next InitProducerId (or, with transactions v2, the next EndTxn) moves the
transactional id to a fresh producer id with epoch 0.

Fields that the log does not carry: ``last_producer_epoch`` (the epoch a producer held before
its last bump, which lets a retried InitProducerId or EndTxn be recognised). Like Kafka, the
coordinator knows it for changes it made itself and forgets it across a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from moldau.coordinator.txn.records import (
    TransactionLogValue,
    group_partitions,
    ungroup_partitions,
)
from moldau.coordinator.txn.state import COMPLETED, TransactionState, check_transition
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.util.datatype import datatype

MAX_EPOCH = 32767  # Short.MAX_VALUE
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1

TopicPartition = tuple[str, int]

_S = TransactionState


def epoch_exhausted(epoch: int) -> bool:
    return epoch >= MAX_EPOCH - 1


@datatype(frozen=True, slots=True)
class TxnMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TransactionState
    last_update_ms: int
    partitions: frozenset[TopicPartition] = frozenset()
    start_ms: int = -1  # when the current transaction started; -1 since InitProducerId
    previous_producer_id: int = NO_PRODUCER_ID
    next_producer_id: int = NO_PRODUCER_ID
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    client_version: int = 0  # the transaction version the client spoke in the last change

    @property
    def epoch_exhausted(self) -> bool:
        return epoch_exhausted(self.producer_epoch)

    # -- the record ------------------------------------------------------------------------

    def to_value(self) -> TransactionLogValue:
        return TransactionLogValue(
            producer_id=self.producer_id,
            previous_producer_id=self.previous_producer_id,
            next_producer_id=self.next_producer_id,
            producer_epoch=self.producer_epoch,
            transaction_timeout_ms=self.timeout_ms,
            transaction_status=self.state.id,
            transaction_partitions=None if self.state is _S.EMPTY else group_partitions(self.partitions),
            transaction_last_update_timestamp_ms=self.last_update_ms,
            transaction_start_timestamp_ms=self.start_ms,
            client_transaction_version=self.client_version,
        )

    @classmethod
    def from_value(cls, transactional_id: str, value: TransactionLogValue) -> TxnMetadata:
        """The metadata a loaded record describes; the partitions of an Empty record are
        ignored, as Kafka's loader does."""
        state = TransactionState.from_id(value.transaction_status)
        return cls(
            transactional_id=transactional_id,
            producer_id=value.producer_id,
            producer_epoch=value.producer_epoch,
            timeout_ms=value.transaction_timeout_ms,
            state=state,
            last_update_ms=value.transaction_last_update_timestamp_ms,
            partitions=frozenset() if state is _S.EMPTY else ungroup_partitions(value.transaction_partitions),
            start_ms=value.transaction_start_timestamp_ms,
            previous_producer_id=value.previous_producer_id,
            next_producer_id=value.next_producer_id,
            client_version=value.client_transaction_version,
        )


def _move(txn: TxnMetadata, target: TransactionState, **changes: object) -> TxnMetadata:
    check_transition(txn.transactional_id, txn.state, target)
    moved = dataclasses.replace(txn, state=target, **changes)  # type: ignore[arg-type]
    if moved.producer_id < 0 or (target is not _S.DEAD and moved.producer_epoch < 0):
        raise KafkaError(
            ErrorCode.UNKNOWN_SERVER_ERROR,
            f"transaction {txn.transactional_id!r}: illegal producer id/epoch "
            f"{moved.producer_id}/{moved.producer_epoch}",
        )
    return moved


def new_transaction(transactional_id: str, producer_id: int, timeout_ms: int, now: int) -> TxnMetadata:
    """A transactional id seen for the first time: EMPTY, with no epoch yet (the first
    InitProducerId bumps it to 0). Never written as is."""
    return TxnMetadata(
        transactional_id=transactional_id,
        producer_id=producer_id,
        producer_epoch=NO_PRODUCER_EPOCH,
        timeout_ms=timeout_ms,
        state=_S.EMPTY,
        last_update_ms=now,
    )


def increment_epoch(txn: TxnMetadata, timeout_ms: int, expected_epoch: int | None, now: int) -> TxnMetadata:
    """InitProducerId on an idle transactional id: bump the epoch.

    Without an expected epoch (a new producer instance) the bump fences whoever held the id.
    With one (KIP-360, a producer recovering with its own id and epoch): the current epoch is
    bumped and remembered as the last one; the last epoch itself is a retry of a bump that
    already happened and gets the current epoch back unchanged; anything else is fenced.
    """
    epoch = txn.producer_epoch
    if expected_epoch is None:
        new_epoch, last = epoch + 1, NO_PRODUCER_EPOCH
    elif epoch == NO_PRODUCER_EPOCH or expected_epoch == epoch:
        new_epoch, last = epoch + 1, epoch
    elif expected_epoch == txn.last_producer_epoch:
        new_epoch, last = epoch, txn.last_producer_epoch
    else:
        raise KafkaError(
            ErrorCode.PRODUCER_FENCED,
            f"expected epoch {expected_epoch} is neither the current epoch {epoch} "
            f"nor the last one {txn.last_producer_epoch}",
        )
    if new_epoch > epoch and epoch_exhausted(epoch):
        raise KafkaError(ErrorCode.PRODUCER_FENCED, f"no epoch left after {epoch} for {txn.producer_id}")
    return _move(
        txn,
        _S.EMPTY,
        producer_epoch=new_epoch,
        last_producer_epoch=last,
        previous_producer_id=NO_PRODUCER_ID,
        next_producer_id=NO_PRODUCER_ID,
        timeout_ms=timeout_ms,
        partitions=frozenset(),
        start_ms=-1,
        last_update_ms=now,
    )


def rotate_producer_id(
    txn: TxnMetadata, new_producer_id: int, timeout_ms: int, now: int, *, record_last_epoch: bool
) -> TxnMetadata:
    """InitProducerId once the epoch is exhausted: a fresh producer id at epoch 0. The old id
    is kept as the previous one so that a retry of this very request is recognised."""
    return _move(
        txn,
        _S.EMPTY,
        producer_id=new_producer_id,
        producer_epoch=0,
        last_producer_epoch=txn.producer_epoch if record_last_epoch else NO_PRODUCER_EPOCH,
        previous_producer_id=txn.producer_id,
        next_producer_id=NO_PRODUCER_ID,
        timeout_ms=timeout_ms,
        partitions=frozenset(),
        start_ms=-1,
        last_update_ms=now,
    )


def add_partitions(
    txn: TxnMetadata, partitions: Iterable[TopicPartition], now: int, client_version: int
) -> TxnMetadata:
    """AddPartitionsToTxn / AddOffsetsToTxn: the transaction is (or stays) ONGOING with more
    partitions; a transaction that starts here starts now."""
    starting = txn.state is _S.EMPTY or txn.state in COMPLETED
    return _move(
        txn,
        _S.ONGOING,
        partitions=txn.partitions | frozenset(partitions),
        start_ms=now if starting else txn.start_ms,
        last_update_ms=now,
        client_version=client_version,
    )


def fence_epoch(txn: TxnMetadata) -> TxnMetadata:
    """An ongoing transaction whose producer is being fenced (by a new producer with the same
    transactional id, or by the timeout): one epoch up, and no last epoch, so the fenced
    producer cannot pass for a retry. The result is only ever a step towards PREPARE_ABORT."""
    bumped = txn.producer_epoch if txn.producer_epoch >= MAX_EPOCH else txn.producer_epoch + 1
    return _move(txn, _S.PREPARE_EPOCH_FENCE, producer_epoch=bumped, last_producer_epoch=NO_PRODUCER_EPOCH)


def prepare_end(
    txn: TxnMetadata,
    target: TransactionState,
    *,
    client_version: int,
    now: int,
    bump_epoch: bool,
    next_producer_id: int = NO_PRODUCER_ID,
    nothing_added: bool = False,
) -> TxnMetadata:
    """EndTxn (or an abort the coordinator starts): PREPARE_COMMIT or PREPARE_ABORT.

    With transactions v2 (``bump_epoch``) the epoch goes up by one here, so that the markers
    fence every request of the transaction that is ending, and the epoch before becomes the
    last one; ``next_producer_id`` is the id to move to if that exhausts the epoch. An abort
    with nothing added (v2 lets a client abort whatever state it is in) starts its
    "transaction" now.
    """
    if bump_epoch:
        epoch, last = txn.producer_epoch + 1, txn.producer_epoch
    else:
        epoch, last = txn.producer_epoch, txn.last_producer_epoch
    if txn.state is _S.PREPARE_EPOCH_FENCE:
        last = NO_PRODUCER_EPOCH
    return _move(
        txn,
        target,
        producer_epoch=epoch,
        last_producer_epoch=last,
        next_producer_id=next_producer_id,
        start_ms=now if nothing_added else txn.start_ms,
        last_update_ms=now,
        client_version=client_version,
    )


def complete(txn: TxnMetadata, now: int) -> TxnMetadata:
    """Every marker is written: COMPLETE_COMMIT or COMPLETE_ABORT, no partitions. With
    transactions v2 a transaction that exhausted the epoch hands over to its next producer id
    here, at epoch 0 (the last epoch stays the one the client saw)."""
    target = _S.COMPLETE_COMMIT if txn.state is _S.PREPARE_COMMIT else _S.COMPLETE_ABORT
    producer_id, epoch, previous = txn.producer_id, txn.producer_epoch, txn.previous_producer_id
    if txn.client_version >= 2:
        previous = NO_PRODUCER_ID
        if txn.next_producer_id != NO_PRODUCER_ID:
            producer_id, epoch, previous = txn.next_producer_id, 0, txn.producer_id
    return _move(
        txn,
        target,
        producer_id=producer_id,
        producer_epoch=epoch,
        previous_producer_id=previous,
        next_producer_id=NO_PRODUCER_ID,
        partitions=frozenset(),
        last_update_ms=now,
    )


def dead(txn: TxnMetadata) -> TxnMetadata:
    """The transactional id expires: its tombstone is written."""
    return _move(txn, _S.DEAD, partitions=frozenset())
