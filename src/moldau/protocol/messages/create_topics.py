"""CreateTopics (key 19): versions 2-7, flexible from 5.

Creates topics with a partition count and replication factor, or with an explicit replica
assignment per partition, plus per-topic config overrides.

Version history:

* v2: the baseline (v0 and v1 are gone since Kafka 4.0); ``validate_only`` and the response's
  per-topic error message and throttle time are already present.
* v3: the broker answers before applying a quota throttle.
* v4: ``num_partitions`` and ``replication_factor`` may be -1 to take the broker defaults.
* v5: first flexible version; the response echoes the topic's partition count, replication
  factor and resulting configs, with a tagged ``topic_config_error_code`` when it cannot.
* v6: may answer THROTTLING_QUOTA_EXCEEDED; no layout change.
* v7: the response carries each new topic's ID.
"""

from __future__ import annotations

import uuid

from moldau.protocol.schema import BOOL, INT8, INT16, INT32, STRING, UUID, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class CreatableReplicaAssignment:
    partition_index: int = field(INT32)
    broker_ids: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class CreatableTopicConfig:
    name: str = field(STRING)
    value: str | None = field(STRING, nullable="0+")


@datatype(slots=True, kw_only=True)
class CreatableTopic:
    name: str = field(STRING)
    num_partitions: int = field(INT32)
    replication_factor: int = field(INT16)
    assignments: list[CreatableReplicaAssignment] = field(Array(CreatableReplicaAssignment))
    configs: list[CreatableTopicConfig] = field(Array(CreatableTopicConfig))


@datatype(slots=True, kw_only=True)
class CreateTopicsRequest:
    topics: list[CreatableTopic] = field(Array(CreatableTopic))
    timeout_ms: int = field(INT32, default=60000)
    validate_only: bool = field(BOOL, "1+")


@datatype(slots=True, kw_only=True)
class CreatableTopicConfigs:
    name: str = field(STRING, "5+")
    value: str | None = field(STRING, "5+", nullable="5+")
    read_only: bool = field(BOOL, "5+")
    config_source: int = field(INT8, "5+", default=-1)
    is_sensitive: bool = field(BOOL, "5+")


@datatype(slots=True, kw_only=True)
class CreatableTopicResult:
    name: str = field(STRING)
    topic_id: uuid.UUID = field(UUID, "7+")
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, "1+", nullable="0+")
    topic_config_error_code: int = field(INT16, "5+", tag=0)
    num_partitions: int = field(INT32, "5+", default=-1)
    replication_factor: int = field(INT16, "5+", default=-1)
    configs: list[CreatableTopicConfigs] | None = field(Array(CreatableTopicConfigs), "5+", nullable="5+")


@datatype(slots=True, kw_only=True)
class CreateTopicsResponse:
    throttle_time_ms: int = field(INT32, "2+")
    topics: list[CreatableTopicResult] = field(Array(CreatableTopicResult))


CREATE_TOPICS = Api(
    key=19,
    name="CreateTopics",
    request=CreateTopicsRequest,
    response=CreateTopicsResponse,
    min_version=2,
    max_version=7,
    flexible_from=5,
)
