"""The transaction coordinator on the event loop: ``__transaction_state`` and the markers.

Everything generic is ``CoordinatorRuntime``'s. What this module adds is the second phase of
ending a transaction: once the coordinator's PrepareCommit/PrepareAbort record is durable, the
COMMIT/ABORT marker is written to every partition of the transaction (on a single node the
partitions are local, so this is an append, not a WriteTxnMarkers request), and the
coordinator hears which markers landed. Failed markers are retried after a back-off.
A marker that lands in ``__consumer_offsets`` settles the group's transactional offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING

from moldau.broker.coordinator_runtime import CoordinatorRuntime, InternalTopic
from moldau.broker.group_runtime import OFFSETS_TOPIC
from moldau.coordinator.group import CoordinatorRecord
from moldau.coordinator.txn import (
    TRANSACTION_STATE_TOPIC,
    MarkerRequest,
    TxnConfig,
    TxnCoordinator,
    TxnResult,
)
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.control import ControlType, build_end_txn_marker

if TYPE_CHECKING:
    from moldau.broker.core import Broker

log = logging.getLogger(__name__)

MARKER_RETRY_S = 0.5


def txn_config(broker: Broker) -> TxnConfig:
    get = broker.config.get
    return TxnConfig(
        transaction_state_log_num_partitions=get("transaction.state.log.num.partitions"),
        transaction_max_timeout_ms=get("transaction.max.timeout.ms"),
        transactional_id_expiration_ms=get("transactional.id.expiration.ms"),
        transaction_abort_timed_out_transaction_cleanup_interval_ms=get(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms"
        ),
        transaction_remove_expired_transaction_cleanup_interval_ms=get(
            "transaction.remove.expired.transaction.cleanup.interval.ms"
        ),
    )


def txn_topic(broker: Broker) -> InternalTopic:
    get = broker.config.get
    return InternalTopic(
        name=TRANSACTION_STATE_TOPIC,
        partitions=get("transaction.state.log.num.partitions"),
        replication_factor=get("transaction.state.log.replication.factor"),
        configs={
            "cleanup.policy": "compact",
            "compression.type": "uncompressed",
            "segment.bytes": str(get("transaction.state.log.segment.bytes")),
            "min.insync.replicas": str(get("transaction.state.log.min.isr")),
        },
    )


def write_marker(broker: Broker, m: MarkerRequest, *, missing_topic_ok: bool = True) -> ErrorCode:
    """Append one COMMIT/ABORT marker; the error code is what the coordinator hears. For the
    coordinator a deleted topic has nothing left to settle (``missing_topic_ok``)."""
    if missing_topic_ok and m.topic not in broker.metadata.topics:
        return ErrorCode.NONE
    try:
        plog = broker.partition_log(m.topic, m.partition)
        batch = bytearray(
            build_end_txn_marker(
                ControlType.COMMIT if m.committed else ControlType.ABORT,
                producer_id=m.producer_id,
                producer_epoch=m.producer_epoch,
                coordinator_epoch=m.coordinator_epoch,
                timestamp=broker.clock.time_ms(),
            )
        )
        plog.append_control(
            batch, leader_epoch=broker.leader_epoch(m.topic, m.partition), now_ms=broker.clock.time_ms()
        )
    except KafkaError as e:
        log.warning(
            "Writing the %s marker of %s to %s-%d failed: %s",
            _kind(m),
            m.transactional_id,
            m.topic,
            m.partition,
            e,
        )
        return e.code
    broker.purgatory.notify(m.topic, m.partition, len(batch))
    if m.topic == OFFSETS_TOPIC:
        broker.groups.coordinator.replay_marker(m.partition, m.producer_id, m.committed)
    return ErrorCode.NONE


def _kind(m: MarkerRequest) -> str:
    return "COMMIT" if m.committed else "ABORT"


class TxnRuntime(CoordinatorRuntime):
    coordinator: TxnCoordinator

    def __init__(self, broker: Broker) -> None:
        coordinator = TxnCoordinator(
            broker.clock,
            txn_config(broker),
            broker.producer_ids.allocate,
            offsets_topic_num_partitions=broker.config.get("offsets.topic.num.partitions"),
        )
        super().__init__(broker, txn_topic(broker), coordinator)

    def write_failed(self, records: list[CoordinatorRecord]) -> None:
        self.coordinator.write_failed(records)

    def after_write(self, result: TxnResult) -> None:
        by_txn: dict[tuple[str, int, int], list[MarkerRequest]] = defaultdict(list)
        for m in result.markers:
            by_txn[(m.transactional_id, m.producer_id, m.producer_epoch)].append(m)
        for (txn_id, producer_id, epoch), markers in by_txn.items():
            errors = {(m.topic, m.partition): int(write_marker(self._broker, m)) for m in markers}
            report = partial(self._markers_written, txn_id, producer_id, epoch, errors)
            if any(errors.values()):
                asyncio.get_running_loop().call_later(MARKER_RETRY_S, report)
            else:
                report()

    def _markers_written(
        self, txn_id: str, producer_id: int, epoch: int, errors: dict[tuple[str, int], int]
    ) -> None:
        self._apply(self.coordinator.markers_written(txn_id, producer_id, epoch, errors))
