"""The group coordinator on the event loop: ``__consumer_offsets`` and its settings.

Everything generic (append, replay, replies, timers, loading) is ``CoordinatorRuntime``'s;
this module names the topic, builds the coordinator from the broker configs, and replays
transaction markers that land in ``__consumer_offsets`` (they settle transactional offsets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moldau.broker.coordinator_runtime import CoordinatorRuntime, InternalTopic
from moldau.coordinator.group import GroupConfig, GroupCoordinator
from moldau.protocol.records.batch import BatchHeader
from moldau.protocol.records.control import parse_end_txn_marker

if TYPE_CHECKING:
    from moldau.broker.core import Broker

OFFSETS_TOPIC = "__consumer_offsets"


def group_config(broker: Broker) -> GroupConfig:
    get = broker.config.get
    return GroupConfig(
        offsets_topic_num_partitions=get("offsets.topic.num.partitions"),
        group_initial_rebalance_delay_ms=get("group.initial.rebalance.delay.ms"),
        group_min_session_timeout_ms=get("group.min.session.timeout.ms"),
        group_max_session_timeout_ms=get("group.max.session.timeout.ms"),
        group_max_size=get("group.max.size"),
        offsets_retention_minutes=get("offsets.retention.minutes"),
        offsets_retention_check_interval_ms=get("offsets.retention.check.interval.ms"),
        offset_metadata_max_bytes=get("offset.metadata.max.bytes"),
    )


def offsets_topic(broker: Broker) -> InternalTopic:
    get = broker.config.get
    return InternalTopic(
        name=OFFSETS_TOPIC,
        partitions=get("offsets.topic.num.partitions"),
        replication_factor=get("offsets.topic.replication.factor"),
        configs={
            "cleanup.policy": "compact",
            "compression.type": "producer",
            "segment.bytes": str(get("offsets.topic.segment.bytes")),
        },
    )


class GroupRuntime(CoordinatorRuntime):
    coordinator: GroupCoordinator

    def __init__(self, broker: Broker) -> None:
        super().__init__(broker, offsets_topic(broker), GroupCoordinator(broker.clock, group_config(broker)))

    def on_control_batch(self, partition: int, header: BatchHeader, batch: memoryview) -> None:
        marker = parse_end_txn_marker(batch)
        self.coordinator.replay_marker(partition, marker.producer_id, marker.committed)
