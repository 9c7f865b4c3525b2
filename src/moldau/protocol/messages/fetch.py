"""Fetch (key 1): versions 4-17, flexible from 12.

Consumers and follower replicas read record batches from partition leaders. ``records`` in the
response is served straight from the segment files and may end in a partial batch.

Version history (v0-3 were removed by Kafka 4.0; v4 is the baseline):

* v4: ``isolation_level`` (0 read_uncommitted, 1 read_committed); the response carries the
  last stable offset and the aborted transactions in the returned range.
* v5: ``log_start_offset`` in request (followers) and response.
* v6: no layout change.
* v7: incremental fetch sessions: ``session_id``/``session_epoch``, ``forgotten_topics_data``,
  and a top-level ``error_code``/``session_id`` in the response.
* v8: no layout change.
* v9: ``current_leader_epoch`` per partition, for fencing.
* v10: no layout change (zstd batches may be returned).
* v11: ``rack_id`` of the consumer; the response may name a ``preferred_read_replica``.
* v12: first flexible version. ``last_fetched_epoch`` per partition; tagged ``cluster_id`` in
  the request; tagged ``diverging_epoch``, ``current_leader`` and ``snapshot_id`` per
  partition in the response.
* v13: topics are named by ``topic_id`` instead of ``topic``.
* v14: no layout change (OFFSET_MOVED_TO_TIERED_STORAGE may be returned).
* v15: the top-level ``replica_id`` is replaced by the tagged ``replica_state``
  (replica id and broker epoch).
* v16: tagged ``node_endpoints`` in the response, for leaders named in ``current_leader``.
* v17: tagged ``replica_directory_id`` per partition.
"""

from __future__ import annotations

import uuid

from moldau.protocol.schema import (
    INT8,
    INT16,
    INT32,
    INT64,
    RECORDS,
    STRING,
    UUID,
    Api,
    Array,
    field,
)
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class ReplicaState:
    replica_id: int = field(INT32, "15+", default=-1)
    replica_epoch: int = field(INT64, "15+", default=-1)


@datatype(slots=True, kw_only=True)
class FetchPartition:
    partition: int = field(INT32)
    current_leader_epoch: int = field(INT32, "9+", default=-1)
    fetch_offset: int = field(INT64)
    last_fetched_epoch: int = field(INT32, "12+", default=-1)
    log_start_offset: int = field(INT64, "5+", default=-1)
    partition_max_bytes: int = field(INT32)
    replica_directory_id: uuid.UUID = field(UUID, "17+", tag=0)


@datatype(slots=True, kw_only=True)
class FetchTopic:
    topic: str = field(STRING, "0-12")
    topic_id: uuid.UUID = field(UUID, "13+")
    partitions: list[FetchPartition] = field(Array(FetchPartition))


@datatype(slots=True, kw_only=True)
class ForgottenTopic:
    topic: str = field(STRING, "7-12")
    topic_id: uuid.UUID = field(UUID, "13+")
    partitions: list[int] = field(Array(INT32), "7+")


@datatype(slots=True, kw_only=True)
class FetchRequest:
    cluster_id: str | None = field(STRING, "12+", nullable="12+", tag=0, default=None)
    replica_id: int = field(INT32, "0-14", default=-1)
    replica_state: ReplicaState = field(ReplicaState, "15+", tag=1)
    max_wait_ms: int = field(INT32)
    min_bytes: int = field(INT32)
    max_bytes: int = field(INT32, "3+", default=0x7FFFFFFF)
    isolation_level: int = field(INT8, "4+")
    session_id: int = field(INT32, "7+")
    session_epoch: int = field(INT32, "7+", default=-1)
    topics: list[FetchTopic] = field(Array(FetchTopic))
    forgotten_topics_data: list[ForgottenTopic] = field(Array(ForgottenTopic), "7+")
    rack_id: str = field(STRING, "11+")


@datatype(slots=True, kw_only=True)
class EpochEndOffset:
    epoch: int = field(INT32, "12+", default=-1)
    end_offset: int = field(INT64, "12+", default=-1)


@datatype(slots=True, kw_only=True)
class LeaderIdAndEpoch:
    leader_id: int = field(INT32, "12+", default=-1)
    leader_epoch: int = field(INT32, "12+", default=-1)


@datatype(slots=True, kw_only=True)
class SnapshotId:
    end_offset: int = field(INT64, default=-1)
    epoch: int = field(INT32, default=-1)


@datatype(slots=True, kw_only=True)
class AbortedTransaction:
    producer_id: int = field(INT64, "4+")
    first_offset: int = field(INT64, "4+")


@datatype(slots=True, kw_only=True)
class PartitionData:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)
    high_watermark: int = field(INT64)
    last_stable_offset: int = field(INT64, "4+", default=-1)
    log_start_offset: int = field(INT64, "5+", default=-1)
    diverging_epoch: EpochEndOffset = field(EpochEndOffset, "12+", tag=0)
    current_leader: LeaderIdAndEpoch = field(LeaderIdAndEpoch, "12+", tag=1)
    snapshot_id: SnapshotId = field(SnapshotId, "12+", tag=2)
    aborted_transactions: list[AbortedTransaction] | None = field(
        Array(AbortedTransaction), "4+", nullable="4+"
    )
    preferred_read_replica: int = field(INT32, "11+", default=-1)
    records: memoryview | bytes | None = field(RECORDS, nullable="0+")


@datatype(slots=True, kw_only=True)
class FetchableTopicResponse:
    topic: str = field(STRING, "0-12")
    topic_id: uuid.UUID = field(UUID, "13+")
    partitions: list[PartitionData] = field(Array(PartitionData))


@datatype(slots=True, kw_only=True)
class NodeEndpoint:
    node_id: int = field(INT32, "16+")
    host: str = field(STRING, "16+")
    port: int = field(INT32, "16+")
    rack: str | None = field(STRING, "16+", nullable="16+", default=None)


@datatype(slots=True, kw_only=True)
class FetchResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16, "7+")
    session_id: int = field(INT32, "7+")
    responses: list[FetchableTopicResponse] = field(Array(FetchableTopicResponse))
    node_endpoints: list[NodeEndpoint] = field(Array(NodeEndpoint), "16+", tag=0)


FETCH = Api(
    key=1,
    name="Fetch",
    request=FetchRequest,
    response=FetchResponse,
    min_version=4,
    max_version=17,
    flexible_from=12,
)
