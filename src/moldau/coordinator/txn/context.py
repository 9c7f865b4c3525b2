"""What every operation of the transaction coordinator works on, in one place.

The facade (:mod:`coordinator`) owns one :class:`Context`; the operation modules
(``init_producer_id``, ``partitions``, ``ending``, ``admin``, ``timeouts``, ``replay``) are
functions over it. One event loop calls the coordinator; nothing here is shared between
threads.

Three kinds of state live here:

``txns``
    The durable state: one :class:`TxnMetadata` per transactional id, exactly what replaying
    ``__transaction_state`` gives (plus the last epoch of changes made since start-up).
``pending``
    Changes written but not yet replayed, per transactional id, in order. While a
    transactional id has one, every other change of it answers CONCURRENT_TRANSACTIONS.
``markers``
    Transactions in PREPARE_COMMIT / PREPARE_ABORT whose markers are out: the partitions still
    waiting for theirs. Such a transaction is busy too, until its COMPLETE record is replayed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import field

from moldau.coordinator.group import CoordinatorRecord
from moldau.coordinator.group.jvm import partition_for
from moldau.coordinator.txn.config import TxnConfig
from moldau.coordinator.txn.metadata import TopicPartition, TxnMetadata
from moldau.coordinator.txn.records import encode_key, encode_value, value_version
from moldau.coordinator.txn.results import Effects, MarkerRequest, Pending
from moldau.coordinator.txn.state import PREPARING, TransactionState
from moldau.util.clock import Clock
from moldau.util.datatype import datatype

OFFSETS_TOPIC = "__consumer_offsets"


@datatype
class MarkerProgress:
    waiting: set[TopicPartition]
    abandoned: bool = False  # a partition leader refused the markers for good; see ``ending``


@datatype
class Context:
    clock: Clock
    config: TxnConfig
    allocate_producer_id: Callable[[], int]
    offsets_topic_num_partitions: int
    coordinator_epoch: Callable[[int], int]
    txns: dict[str, TxnMetadata] = field(default_factory=dict)
    pending: dict[str, deque[Pending]] = field(default_factory=dict)
    markers: dict[str, MarkerProgress] = field(default_factory=dict)
    next_abort_scan: int = 0
    next_expiry_scan: int = 0

    def now(self) -> int:
        return self.clock.time_ms()

    def partition_for(self, transactional_id: str) -> int:
        return partition_for(transactional_id, self.config.transaction_state_log_num_partitions)

    def offsets_partition(self, group_id: str) -> TopicPartition:
        return OFFSETS_TOPIC, partition_for(group_id, self.offsets_topic_num_partitions)

    def busy(self, fx: Effects, transactional_id: str) -> bool:
        """Whether a change of ``transactional_id`` is under way: a record in flight (or about to
        be, in this very operation), or markers out for a transaction being completed. Kafka's
        ``pendingTransitionInProgress``."""
        if self.busy_writing(fx, transactional_id):
            return True
        txn = self.txns.get(transactional_id)
        return txn is not None and txn.state in PREPARING

    def busy_writing(self, fx: Effects, transactional_id: str) -> bool:
        """Whether a record of ``transactional_id`` is in flight or about to be."""
        return transactional_id in self.pending or fx.writes(transactional_id)

    def write(self, fx: Effects, txn: TxnMetadata) -> None:
        """Emit the record that moves ``txn.transactional_id`` to ``txn`` (a tombstone for
        DEAD); ``replay`` installs it once it is durable."""
        tid = txn.transactional_id
        value = None
        if txn.state is not TransactionState.DEAD:
            version = value_version(self.config.transaction_version)
            value = encode_value(txn.to_value(), version)
        record = CoordinatorRecord(partition=self.partition_for(tid), key=encode_key(tid), value=value)
        fx.write(record, tid, Pending(None if value is None else txn, value))

    def send_markers(self, fx: Effects, txn: TxnMetadata, partitions: set[TopicPartition]) -> None:
        """Ask for the markers of ``txn`` (in PREPARE_*) on ``partitions``."""
        committed = txn.state is TransactionState.PREPARE_COMMIT
        epoch = self.coordinator_epoch(self.partition_for(txn.transactional_id))
        for topic, partition in sorted(partitions):
            fx.marker(
                MarkerRequest(
                    topic=topic,
                    partition=partition,
                    producer_id=txn.producer_id,
                    producer_epoch=txn.producer_epoch,
                    coordinator_epoch=epoch,
                    committed=committed,
                    transactional_id=txn.transactional_id,
                )
            )
