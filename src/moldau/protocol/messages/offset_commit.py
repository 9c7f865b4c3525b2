"""OffsetCommit (key 8): versions 2-9, flexible from 8.

Stores a group's consumed positions: per partition an offset, the leader epoch it was read
under and free-form metadata.

Version history:

* v2: the baseline (v0 and v1 are gone since Kafka 4.0); generation and member ID fence
  commits from stale members, and ``retention_time_ms`` (-1: broker default) is still sent.
  The per-partition ``commit_timestamp`` existed only in v1.
* v3: the response gains a throttle time.
* v4: the broker answers before applying a quota throttle; no layout change.
* v5: ``retention_time_ms`` is gone; retention is the broker's setting alone.
* v6: ``committed_leader_epoch`` per partition.
* v7: ``group_instance_id`` for static membership.
* v8: first flexible version.
* v9: usable by consumer-protocol groups, where ``generation_id_or_member_epoch`` carries the
  member epoch; may answer STALE_MEMBER_EPOCH and GROUP_ID_NOT_FOUND.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class OffsetCommitRequestPartition:
    partition_index: int = field(INT32)
    committed_offset: int = field(INT64)
    committed_leader_epoch: int = field(INT32, "6+", default=-1)
    commit_timestamp: int = field(INT64, "1", default=-1)
    committed_metadata: str | None = field(STRING, nullable="0+")


@datatype(slots=True, kw_only=True)
class OffsetCommitRequestTopic:
    name: str = field(STRING)
    partitions: list[OffsetCommitRequestPartition] = field(Array(OffsetCommitRequestPartition))


@datatype(slots=True, kw_only=True)
class OffsetCommitRequest:
    group_id: str = field(STRING)
    generation_id_or_member_epoch: int = field(INT32, "1+", default=-1)
    member_id: str = field(STRING, "1+")
    group_instance_id: str | None = field(STRING, "7+", nullable="7+", default=None)
    retention_time_ms: int = field(INT64, "2-4", default=-1)
    topics: list[OffsetCommitRequestTopic] = field(Array(OffsetCommitRequestTopic))


@datatype(slots=True, kw_only=True)
class OffsetCommitResponsePartition:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class OffsetCommitResponseTopic:
    name: str = field(STRING)
    partitions: list[OffsetCommitResponsePartition] = field(Array(OffsetCommitResponsePartition))


@datatype(slots=True, kw_only=True)
class OffsetCommitResponse:
    throttle_time_ms: int = field(INT32, "3+")
    topics: list[OffsetCommitResponseTopic] = field(Array(OffsetCommitResponseTopic))


OFFSET_COMMIT = Api(
    key=8,
    name="OffsetCommit",
    request=OffsetCommitRequest,
    response=OffsetCommitResponse,
    min_version=2,
    max_version=9,
    flexible_from=8,
)
