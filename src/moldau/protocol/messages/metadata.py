"""Metadata (key 3): versions 0-13, flexible from 9.

The first thing a client asks: the brokers, the controller, and for each requested topic its
partitions with leader, leader epoch, replicas and ISR. Kafka 4.0 kept every version of this
API.

Who is asked about: in v0 an empty ``topics`` array means all topics; from v1 ``topics`` is
nullable, null means all topics and an empty array means none.

Version history:

* v1: nullable ``topics``; brokers gain ``rack``, the response ``controller_id`` and each
  topic ``is_internal``.
* v2: ``cluster_id`` in the response.
* v3: ``throttle_time_ms``.
* v4: ``allow_auto_topic_creation`` in the request.
* v5: ``offline_replicas`` per partition.
* v6: no layout change.
* v7: ``leader_epoch`` per partition.
* v8: authorized-operation bit fields may be requested for topics and for the cluster.
* v9: first flexible version.
* v10: ``topic_id`` in request and response; request topic names become nullable.
* v11: the cluster authorized operations move to DescribeCluster and leave this API.
* v12: topics may be asked for by id; response topic names become nullable.
* v13: a top-level ``error_code`` (REBOOTSTRAP_REQUIRED tells a client its bootstrap view is
  stale).
"""

from __future__ import annotations

import uuid

from moldau.protocol.schema import BOOL, INT16, INT32, STRING, UUID, Api, Array, field
from moldau.util.datatype import datatype

AUTHORIZED_OPERATIONS_OMITTED = -(2**31)


@datatype(slots=True, kw_only=True)
class MetadataRequestTopic:
    topic_id: uuid.UUID = field(UUID, "10+")
    name: str | None = field(STRING, nullable="10+")


@datatype(slots=True, kw_only=True)
class MetadataRequest:
    topics: list[MetadataRequestTopic] | None = field(Array(MetadataRequestTopic), nullable="1+")
    allow_auto_topic_creation: bool = field(BOOL, "4+", default=True)
    include_cluster_authorized_operations: bool = field(BOOL, "8-10")
    include_topic_authorized_operations: bool = field(BOOL, "8+")


@datatype(slots=True, kw_only=True)
class MetadataResponseBroker:
    node_id: int = field(INT32)
    host: str = field(STRING)
    port: int = field(INT32)
    rack: str | None = field(STRING, "1+", nullable="1+", default=None)


@datatype(slots=True, kw_only=True)
class MetadataResponsePartition:
    error_code: int = field(INT16)
    partition_index: int = field(INT32)
    leader_id: int = field(INT32)
    leader_epoch: int = field(INT32, "7+", default=-1)
    replica_nodes: list[int] = field(Array(INT32))
    isr_nodes: list[int] = field(Array(INT32))
    offline_replicas: list[int] = field(Array(INT32), "5+")


@datatype(slots=True, kw_only=True)
class MetadataResponseTopic:
    error_code: int = field(INT16)
    name: str | None = field(STRING, nullable="12+")
    topic_id: uuid.UUID = field(UUID, "10+")
    is_internal: bool = field(BOOL, "1+")
    partitions: list[MetadataResponsePartition] = field(Array(MetadataResponsePartition))
    topic_authorized_operations: int = field(INT32, "8+", default=AUTHORIZED_OPERATIONS_OMITTED)


@datatype(slots=True, kw_only=True)
class MetadataResponse:
    throttle_time_ms: int = field(INT32, "3+")
    brokers: list[MetadataResponseBroker] = field(Array(MetadataResponseBroker))
    cluster_id: str | None = field(STRING, "2+", nullable="2+", default=None)
    controller_id: int = field(INT32, "1+", default=-1)
    topics: list[MetadataResponseTopic] = field(Array(MetadataResponseTopic))
    cluster_authorized_operations: int = field(INT32, "8-10", default=AUTHORIZED_OPERATIONS_OMITTED)
    error_code: int = field(INT16, "13+")


METADATA = Api(
    key=3,
    name="Metadata",
    request=MetadataRequest,
    response=MetadataResponse,
    min_version=0,
    max_version=13,
    flexible_from=9,
)
