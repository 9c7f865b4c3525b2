"""ListOffsets (key 2): versions 1-10, flexible from 6.

Turns a timestamp into an offset per partition. Besides real timestamps a client sends the
special values -1 (latest), -2 (earliest), -3 (max timestamp, v7+), -4 (earliest local,
v8+) and -5 (latest tiered, v9+).

Version history (v0, which could return several offsets, was removed by Kafka 4.0):

* v1: one offset per partition, with the timestamp it belongs to.
* v2: ``isolation_level`` in the request; ``throttle_time_ms`` in the response.
* v3: no layout change.
* v4: ``current_leader_epoch`` in the request and ``leader_epoch`` in the response.
* v5: no layout change (OFFSET_NOT_AVAILABLE may be returned).
* v6: first flexible version.
* v7-v9: no layout change; each admits the next special timestamp above.
* v10: ``timeout_ms``, bounding lookups that read remote (tiered) storage.
"""

from __future__ import annotations

from moldau.protocol.schema import INT8, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class ListOffsetsPartition:
    partition_index: int = field(INT32)
    current_leader_epoch: int = field(INT32, "4+", default=-1)
    timestamp: int = field(INT64)


@datatype(slots=True, kw_only=True)
class ListOffsetsTopic:
    name: str = field(STRING)
    partitions: list[ListOffsetsPartition] = field(Array(ListOffsetsPartition))


@datatype(slots=True, kw_only=True)
class ListOffsetsRequest:
    replica_id: int = field(INT32)
    isolation_level: int = field(INT8, "2+")
    topics: list[ListOffsetsTopic] = field(Array(ListOffsetsTopic))
    timeout_ms: int = field(INT32, "10+")


@datatype(slots=True, kw_only=True)
class ListOffsetsPartitionResponse:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)
    timestamp: int = field(INT64, "1+", default=-1)
    offset: int = field(INT64, "1+", default=-1)
    leader_epoch: int = field(INT32, "4+", default=-1)


@datatype(slots=True, kw_only=True)
class ListOffsetsTopicResponse:
    name: str = field(STRING)
    partitions: list[ListOffsetsPartitionResponse] = field(Array(ListOffsetsPartitionResponse))


@datatype(slots=True, kw_only=True)
class ListOffsetsResponse:
    throttle_time_ms: int = field(INT32, "2+")
    topics: list[ListOffsetsTopicResponse] = field(Array(ListOffsetsTopicResponse))


LIST_OFFSETS = Api(
    key=2,
    name="ListOffsets",
    request=ListOffsetsRequest,
    response=ListOffsetsResponse,
    min_version=1,
    max_version=10,
    flexible_from=6,
)
