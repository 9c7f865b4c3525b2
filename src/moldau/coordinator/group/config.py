"""The broker settings the group coordinator obeys, under Kafka's names and defaults."""

from __future__ import annotations

from moldau.util.datatype import datatype

# A new member whose JoinGroup stays parked this long is dropped (Kafka's
# ``CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS``, not a broker setting).
NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000


@datatype(frozen=True, slots=True)
class GroupConfig:
    offsets_topic_num_partitions: int = 50  # offsets.topic.num.partitions
    group_initial_rebalance_delay_ms: int = 3000  # group.initial.rebalance.delay.ms
    group_min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    group_max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    group_max_size: int = 2147483647  # group.max.size
    offsets_retention_minutes: int = 10080  # offsets.retention.minutes
    offsets_retention_check_interval_ms: int = 600000  # offsets.retention.check.interval.ms
    offset_metadata_max_bytes: int = 4096  # offset.metadata.max.bytes

    @property
    def offsets_retention_ms(self) -> int:
        return self.offsets_retention_minutes * 60 * 1000
