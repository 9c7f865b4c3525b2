"""DeleteRecords (key 21): versions 0-2, flexible from 2.

Moves the log start offset of partitions forward, making every record below the given offset
unreadable (``offset`` -1 means the high watermark). Sent to each partition's leader.

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DeleteRecordsPartition:
    partition_index: int = field(INT32)
    offset: int = field(INT64)


@datatype(slots=True, kw_only=True)
class DeleteRecordsTopic:
    name: str = field(STRING)
    partitions: list[DeleteRecordsPartition] = field(Array(DeleteRecordsPartition))


@datatype(slots=True, kw_only=True)
class DeleteRecordsRequest:
    topics: list[DeleteRecordsTopic] = field(Array(DeleteRecordsTopic))
    timeout_ms: int = field(INT32)


@datatype(slots=True, kw_only=True)
class DeleteRecordsPartitionResult:
    partition_index: int = field(INT32)
    low_watermark: int = field(INT64)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class DeleteRecordsTopicResult:
    name: str = field(STRING)
    partitions: list[DeleteRecordsPartitionResult] = field(Array(DeleteRecordsPartitionResult))


@datatype(slots=True, kw_only=True)
class DeleteRecordsResponse:
    throttle_time_ms: int = field(INT32)
    topics: list[DeleteRecordsTopicResult] = field(Array(DeleteRecordsTopicResult))


DELETE_RECORDS = Api(
    key=21,
    name="DeleteRecords",
    request=DeleteRecordsRequest,
    response=DeleteRecordsResponse,
    min_version=0,
    max_version=2,
    flexible_from=2,
)
