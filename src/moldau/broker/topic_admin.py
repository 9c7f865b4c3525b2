"""Topic administration on a single node: create, delete, add partitions, change configs.

Each operation validates first (raising ``KafkaError`` with Kafka's code and a message like
Kafka's), then, unless ``validate_only``, changes the logs and the metadata image and persists
the image. Handlers translate per-topic errors into response entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from moldau.broker.core import Broker
from moldau.cluster.metadata import PartitionInfo, TopicInfo, validate_topic_name
from moldau.config.defs import ConfigError
from moldau.config.dynamic import apply_incremental
from moldau.config.topic import TOPIC_CONFIGS, effective_topic_config, validate_topic_configs
from moldau.protocol.errors import ErrorCode, KafkaError


def _check_configs(broker: Broker, configs: Mapping[str, str | None]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in configs.items():
        if value is None:
            raise KafkaError(ErrorCode.INVALID_CONFIG, f"Null value not supported for topic configs: {key}")
        clean[key] = value
    try:
        validate_topic_configs(clean, broker.config)
    except ConfigError as e:
        raise KafkaError(ErrorCode.INVALID_CONFIG, str(e)) from None
    return clean


def _check_collision(broker: Broker, name: str) -> None:
    folded = name.replace(".", "_")
    for existing in broker.metadata.topics:
        if existing != name and existing.replace(".", "_") == folded:
            raise KafkaError(
                ErrorCode.INVALID_TOPIC_EXCEPTION, f"Topic '{name}' collides with existing topic: {existing}"
            )


def _replica_lists(
    broker: Broker,
    first_partition: int,
    count: int,
    replication_factor: int,
    assignments: Mapping[int, Sequence[int]] | None,
) -> list[list[int]]:
    brokers = sorted(broker.metadata.brokers) or [broker.node_id]
    if assignments:
        expected = list(range(first_partition, first_partition + len(assignments)))
        if sorted(assignments) != expected:
            raise KafkaError(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                f"Partitions should be a consecutive 0-based integer sequence, got {sorted(assignments)}",
            )
        lists = []
        for p in expected:
            replicas = list(assignments[p])
            if not replicas:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"Partition {p} has no replicas")
            if len(set(replicas)) != len(replicas):
                raise KafkaError(
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                    f"Duplicate brokers not allowed in replica assignment: {replicas}",
                )
            unknown = [b for b in replicas if b not in brokers]
            if unknown:
                raise KafkaError(
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                    f"Unknown broker(s) {unknown} in replica assignment of partition {p}",
                )
            lists.append(replicas)
        return lists
    if replication_factor <= 0:
        raise KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.")
    if replication_factor > len(brokers):
        raise KafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"Unable to replicate the partition {replication_factor} time(s): "
            f"The target replication factor of {replication_factor} cannot be reached because only "
            f"{len(brokers)} broker(s) are registered.",
        )
    return [
        [brokers[(p + i) % len(brokers)] for i in range(replication_factor)]
        for p in range(first_partition, first_partition + count)
    ]


def create_topic(
    broker: Broker,
    name: str,
    num_partitions: int = -1,
    replication_factor: int = -1,
    assignments: Mapping[int, Sequence[int]] | None = None,
    configs: Mapping[str, str | None] | None = None,
    validate_only: bool = False,
) -> TopicInfo:
    validate_topic_name(name)
    if name in broker.metadata.topics:
        raise KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
    _check_collision(broker, name)
    if assignments and (num_partitions != -1 or replication_factor != -1):
        raise KafkaError(
            ErrorCode.INVALID_REQUEST,
            "Both numPartitions or replicationFactor and replicasAssignments were set. "
            "Both cannot be used at the same time.",
        )
    if num_partitions == -1:
        num_partitions = len(assignments) if assignments else broker.config.get("num.partitions")
    if replication_factor == -1:
        replication_factor = broker.config.get("default.replication.factor")
    if num_partitions <= 0:
        raise KafkaError(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be larger than 0.")
    replica_lists = _replica_lists(broker, 0, num_partitions, replication_factor, assignments)
    clean = _check_configs(broker, configs or {})
    topic = TopicInfo(
        name=name,
        topic_id=uuid.uuid4(),
        partitions=[PartitionInfo(replicas=r, isr=list(r), leader=r[0]) for r in replica_lists],
        configs=clean,
    )
    if validate_only:
        return topic
    log_config = broker.log_config(topic)
    for p, info in enumerate(topic.partitions):
        if info.leader == broker.node_id:
            broker.logs.create_log(name, p, topic.topic_id, log_config)
    broker.metadata.add_topic(topic)
    broker.save_metadata()
    return topic


def delete_topic(broker: Broker, name: str) -> TopicInfo:
    topic = broker.topic(name)
    if not broker.config.get("delete.topic.enable"):
        raise KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, "Topic deletion is disabled.")
    broker.metadata.remove_topic(name)
    broker.save_metadata()
    for p in range(len(topic.partitions)):
        broker.logs.delete_log(name, p)
    broker.fetch_sessions.forget_topic(name)
    return topic


def create_partitions(
    broker: Broker,
    name: str,
    count: int,
    assignments: Sequence[Sequence[int]] | None = None,
    validate_only: bool = False,
) -> None:
    topic = broker.topic(name)
    current = len(topic.partitions)
    if count < current:
        raise KafkaError(
            ErrorCode.INVALID_PARTITIONS,
            f"Topic currently has {current} partitions, which is higher than the requested {count}.",
        )
    if count == current:
        raise KafkaError(ErrorCode.INVALID_PARTITIONS, f"Topic already has {current} partitions.")
    if assignments is not None and len(assignments) != count - current:
        raise KafkaError(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            f"Increasing the number of partitions by {count - current} "
            f"but {len(assignments)} assignments provided.",
        )
    mapping = {current + i: list(a) for i, a in enumerate(assignments)} if assignments else None
    rf = len(topic.partitions[0].replicas)
    replica_lists = _replica_lists(broker, current, count - current, rf, mapping)
    if validate_only:
        return
    log_config = broker.log_config(topic)
    for i, replicas in enumerate(replica_lists):
        p = current + i
        topic.partitions.append(PartitionInfo(replicas=replicas, isr=list(replicas), leader=replicas[0]))
        if replicas[0] == broker.node_id:
            broker.logs.create_log(name, p, topic.topic_id, log_config)
    broker.save_metadata()


def replace_configs(
    broker: Broker, name: str, configs: Mapping[str, str | None], validate_only: bool
) -> None:
    """AlterConfigs: the topic's overrides become exactly ``configs``."""
    topic = broker.topic(name)
    clean = _check_configs(broker, configs)
    if not validate_only:
        _apply(broker, topic, clean)


def incremental_configs(
    broker: Broker, name: str, ops: Sequence[tuple[str, int, str | None]], validate_only: bool
) -> None:
    """IncrementalAlterConfigs: SET/DELETE/APPEND/SUBTRACT applied to the current overrides;
    APPEND and SUBTRACT start from the topic's effective value."""
    topic = broker.topic(name)
    effective = effective_topic_config(topic.configs, broker.config)
    updated = apply_incremental(
        topic.configs,
        ops,
        definitions=TOPIC_CONFIGS,
        list_base=lambda key: ",".join(effective.get(key) or ()),
    )
    clean = _check_configs(broker, updated)
    if not validate_only:
        _apply(broker, topic, clean)


def _apply(broker: Broker, topic: TopicInfo, configs: dict[str, str]) -> None:
    topic.configs = configs
    broker.save_metadata()
    broker.logs.set_config(topic.name, broker.log_config(topic))
