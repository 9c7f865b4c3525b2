"""DescribeProducers (key 61): version 0 only, flexible from 0.

An admin request sent to partition leaders: lists the producers with live state on each
partition, with their last sequence and timestamp and, for a producer inside a transaction,
the offset where that transaction started (-1 otherwise). Used to find hanging transactions.

Unlike every other API, ``producer_epoch`` is an INT32 here.

Version history:

* v0: the baseline, flexible from the start.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class TopicRequest:
    name: str = field(STRING)
    partition_indexes: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class DescribeProducersRequest:
    topics: list[TopicRequest] = field(Array(TopicRequest))


@datatype(slots=True, kw_only=True)
class ProducerState:
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT32)
    last_sequence: int = field(INT32, default=-1)
    last_timestamp: int = field(INT64, default=-1)
    coordinator_epoch: int = field(INT32)
    current_txn_start_offset: int = field(INT64, default=-1)


@datatype(slots=True, kw_only=True)
class PartitionResponse:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+", default=None)
    active_producers: list[ProducerState] = field(Array(ProducerState))


@datatype(slots=True, kw_only=True)
class TopicResponse:
    name: str = field(STRING)
    partitions: list[PartitionResponse] = field(Array(PartitionResponse))


@datatype(slots=True, kw_only=True)
class DescribeProducersResponse:
    throttle_time_ms: int = field(INT32)
    topics: list[TopicResponse] = field(Array(TopicResponse))


DESCRIBE_PRODUCERS = Api(
    key=61,
    name="DescribeProducers",
    request=DescribeProducersRequest,
    response=DescribeProducersResponse,
    min_version=0,
    max_version=0,
    flexible_from=0,
)
