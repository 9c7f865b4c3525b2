"""OffsetForLeaderEpoch (key 23): versions 2-4, flexible from 4.

For each partition and leader epoch, the end offset of that epoch on the leader: the first
offset of the next higher epoch, or the log end offset when the epoch is the current one.
Followers use it to find where to truncate after a leader change; consumers use it to detect
log truncation (KIP-320).

Version history (v0-1 were removed by Kafka 4.0; v2 is the baseline):

* v2: ``current_leader_epoch`` per partition, for fencing; ``throttle_time_ms`` in the
  response. (The response's per-partition ``leader_epoch`` dates from v1.)
* v3: ``replica_id`` in the request; its default -2 marks a debug consumer that may see past
  the high watermark.
* v4: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class OffsetForLeaderPartition:
    partition: int = field(INT32)
    current_leader_epoch: int = field(INT32, "2+", default=-1)
    leader_epoch: int = field(INT32)


@datatype(slots=True, kw_only=True)
class OffsetForLeaderTopic:
    topic: str = field(STRING)
    partitions: list[OffsetForLeaderPartition] = field(Array(OffsetForLeaderPartition))


@datatype(slots=True, kw_only=True)
class OffsetForLeaderEpochRequest:
    replica_id: int = field(INT32, "3+", default=-2)
    topics: list[OffsetForLeaderTopic] = field(Array(OffsetForLeaderTopic))


@datatype(slots=True, kw_only=True)
class EpochEndOffset:
    error_code: int = field(INT16)
    partition: int = field(INT32)
    leader_epoch: int = field(INT32, "1+", default=-1)
    end_offset: int = field(INT64, default=-1)


@datatype(slots=True, kw_only=True)
class OffsetForLeaderTopicResult:
    topic: str = field(STRING)
    partitions: list[EpochEndOffset] = field(Array(EpochEndOffset))


@datatype(slots=True, kw_only=True)
class OffsetForLeaderEpochResponse:
    throttle_time_ms: int = field(INT32, "2+")
    topics: list[OffsetForLeaderTopicResult] = field(Array(OffsetForLeaderTopicResult))


OFFSET_FOR_LEADER_EPOCH = Api(
    key=23,
    name="OffsetForLeaderEpoch",
    request=OffsetForLeaderEpochRequest,
    response=OffsetForLeaderEpochResponse,
    min_version=2,
    max_version=4,
    flexible_from=4,
)
