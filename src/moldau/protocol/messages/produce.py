"""Produce (key 0): versions 3-12, flexible from 9; v0-2 are declared and advertised only.

A producer appends record batches to partitions. The broker treats ``records`` as opaque bytes
here; the record-batch layer validates and appends them.

Kafka 4.0 answers versions 3-12 but still lists Produce from version 0 in ApiVersions, because
librdkafka before 2.11 only enables gzip/snappy when it sees v0 advertised. We do the same:
``advertised_min=0``, and the declaration decodes v0-2 so the broker can read such a request
and reject it cleanly.

Version history:

* v0: acks, timeout and per-partition record sets.
* v1: the response gains ``throttle_time_ms``.
* v2: the response gains ``log_append_time_ms`` (-1 unless the topic uses LogAppendTime).
* v3: ``transactional_id`` (nullable) in the request; record batches are message format v2.
* v4-v7: no layout change (KAFKA_STORAGE_ERROR may be returned from v4, zstd allowed from v7);
  the response gains ``log_start_offset`` at v5.
* v8: the response names the failing records: ``record_errors`` and ``error_message``.
* v9: first flexible version.
* v10: tagged ``current_leader`` per partition and tagged ``node_endpoints`` in the response,
  so a client redirected by NOT_LEADER_OR_FOLLOWER need not refresh metadata.
* v11: TRANSACTION_ABORTABLE may be returned.
* v12: same layout; a transactional producer using it relies on the broker to add partitions
  to the transaction itself (transactions protocol v2).
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, RECORDS, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class PartitionProduceData:
    index: int = field(INT32)
    records: memoryview | bytes | None = field(RECORDS, nullable="0+")


@datatype(slots=True, kw_only=True)
class TopicProduceData:
    name: str = field(STRING)
    partition_data: list[PartitionProduceData] = field(Array(PartitionProduceData))


@datatype(slots=True, kw_only=True)
class ProduceRequest:
    transactional_id: str | None = field(STRING, "3+", nullable="3+", default=None)
    acks: int = field(INT16)
    timeout_ms: int = field(INT32)
    topic_data: list[TopicProduceData] = field(Array(TopicProduceData))


@datatype(slots=True, kw_only=True)
class BatchIndexAndErrorMessage:
    batch_index: int = field(INT32, "8+")
    batch_index_error_message: str | None = field(STRING, "8+", nullable="8+", default=None)


@datatype(slots=True, kw_only=True)
class LeaderIdAndEpoch:
    leader_id: int = field(INT32, "10+", default=-1)
    leader_epoch: int = field(INT32, "10+", default=-1)


@datatype(slots=True, kw_only=True)
class PartitionProduceResponse:
    index: int = field(INT32)
    error_code: int = field(INT16)
    base_offset: int = field(INT64)
    log_append_time_ms: int = field(INT64, "2+", default=-1)
    log_start_offset: int = field(INT64, "5+", default=-1)
    record_errors: list[BatchIndexAndErrorMessage] = field(Array(BatchIndexAndErrorMessage), "8+")
    error_message: str | None = field(STRING, "8+", nullable="8+", default=None)
    current_leader: LeaderIdAndEpoch = field(LeaderIdAndEpoch, "10+", tag=0)


@datatype(slots=True, kw_only=True)
class TopicProduceResponse:
    name: str = field(STRING)
    partition_responses: list[PartitionProduceResponse] = field(Array(PartitionProduceResponse))


@datatype(slots=True, kw_only=True)
class NodeEndpoint:
    node_id: int = field(INT32, "10+")
    host: str = field(STRING, "10+")
    port: int = field(INT32, "10+")
    rack: str | None = field(STRING, "10+", nullable="10+", default=None)


@datatype(slots=True, kw_only=True)
class ProduceResponse:
    responses: list[TopicProduceResponse] = field(Array(TopicProduceResponse))
    throttle_time_ms: int = field(INT32, "1+")
    node_endpoints: list[NodeEndpoint] = field(Array(NodeEndpoint), "10+", tag=0)


PRODUCE = Api(
    key=0,
    name="Produce",
    request=ProduceRequest,
    response=ProduceResponse,
    min_version=3,
    max_version=12,
    flexible_from=9,
    advertised_min=0,
    declared_min=0,
)
