"""Transaction admin through kafka-python's KafkaAdminClient: ListTransactions,
DescribeTransactions, DescribeProducers and an administrative abort (WriteTxnMarkers)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka import TopicPartition as KTP
from kafka.admin._transactions import AbortTransactionSpec

from tests.conftest import BrokerProcess

from .clients import create_topic
from .test_transactions import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    produce_all,
    read_partition,
    txn_broker,
    txn_id,
    txn_producer,
    values,
)

__all__ = ["txn_broker"]


def test_list_describe_and_abort_a_hanging_transaction(txn_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = txn_broker.bootstrap
    create_topic(bootstrap, topic_name)
    tid = txn_id("admin")
    producer = txn_producer(bootstrap, tid)
    producer.begin_transaction()
    produce_all(producer, topic_name, [b"open-0", b"open-1"])

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        listed = [t for per_broker in admin.list_transactions().values() for t in per_broker]
        mine = [t for t in listed if t.transactional_id == tid]
        assert len(mine) == 1 and "ongoing" in str(mine[0].state).lower(), listed

        described = admin.describe_transactions([tid])[tid]
        assert described.producer_id == mine[0].producer_id
        assert "ongoing" in str(described.state).lower()
        assert [(tp.topic, tp.partition) for tp in described.topic_partitions] == [(topic_name, 0)]

        producers = admin.describe_producers([KTP(topic_name, 0)])[KTP(topic_name, 0)]
        [active] = producers.active_producers
        assert active.producer_id == described.producer_id
        assert active.current_transaction_start_offset == 0
        assert active.last_sequence == 1

        # The hanging transaction holds read_committed readers back until it is aborted.
        committed, end = read_partition(bootstrap, topic_name, 0, READ_COMMITTED)
        assert values(committed) == [] and end == 0

        admin.abort_transaction(
            AbortTransactionSpec(
                topic_partition=KTP(topic_name, 0),
                producer_id=active.producer_id,
                producer_epoch=active.producer_epoch,
                coordinator_epoch=-1,
            )
        )
    finally:
        admin.close()
    committed, end = read_partition(bootstrap, topic_name, 0, READ_COMMITTED)
    uncommitted, _ = read_partition(bootstrap, topic_name, 0, READ_UNCOMMITTED)
    assert values(committed) == [] and end == 3  # two aborted records and the ABORT marker
    assert values(uncommitted) == [b"open-0", b"open-1"]
