"""OffsetFetch (key 9): versions 1-9, flexible from 6.

Reads a group's committed offsets, for the listed partitions or (``topics`` null) for every
partition it has committed. Up to v7 a request names one group and the response is flat;
from v8 both carry a list of groups, each with its own topics and error code, so the two
layouts live side by side below (``topics``/``error_code`` for v1-7, ``groups`` for v8+).

Version history:

* v1: the baseline (v0, which read ZooKeeper, is gone since Kafka 4.0).
* v2: ``topics`` may be null to mean all partitions; a top-level ``error_code``.
* v3: the response gains a throttle time.
* v4: the broker answers before applying a quota throttle; no layout change.
* v5: each partition reports its ``committed_leader_epoch``.
* v6: first flexible version.
* v7: ``require_stable``: partitions with a pending transactional commit answer
  UNSTABLE_OFFSET_COMMIT instead of a possibly stale offset.
* v8: several groups per request.
* v9: usable by consumer-protocol groups: each group carries ``member_id`` and
  ``member_epoch``, validated for such groups.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class OffsetFetchRequestTopic:
    name: str = field(STRING, "0-7")
    partition_indexes: list[int] = field(Array(INT32), "0-7")


@datatype(slots=True, kw_only=True)
class OffsetFetchRequestTopics:
    name: str = field(STRING, "8+")
    partition_indexes: list[int] = field(Array(INT32), "8+")


@datatype(slots=True, kw_only=True)
class OffsetFetchRequestGroup:
    group_id: str = field(STRING, "8+")
    member_id: str | None = field(STRING, "9+", nullable="9+", default=None)
    member_epoch: int = field(INT32, "9+", default=-1)
    topics: list[OffsetFetchRequestTopics] | None = field(
        Array(OffsetFetchRequestTopics), "8+", nullable="8+"
    )


@datatype(slots=True, kw_only=True)
class OffsetFetchRequest:
    group_id: str = field(STRING, "0-7")
    topics: list[OffsetFetchRequestTopic] | None = field(
        Array(OffsetFetchRequestTopic), "0-7", nullable="2-7"
    )
    groups: list[OffsetFetchRequestGroup] = field(Array(OffsetFetchRequestGroup), "8+")
    require_stable: bool = field(BOOL, "7+")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponsePartition:
    partition_index: int = field(INT32, "0-7")
    committed_offset: int = field(INT64, "0-7")
    committed_leader_epoch: int = field(INT32, "5-7", default=-1)
    metadata: str | None = field(STRING, "0-7", nullable="0-7")
    error_code: int = field(INT16, "0-7")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponseTopic:
    name: str = field(STRING, "0-7")
    partitions: list[OffsetFetchResponsePartition] = field(Array(OffsetFetchResponsePartition), "0-7")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponsePartitions:
    partition_index: int = field(INT32, "8+")
    committed_offset: int = field(INT64, "8+")
    committed_leader_epoch: int = field(INT32, "8+", default=-1)
    metadata: str | None = field(STRING, "8+", nullable="8+")
    error_code: int = field(INT16, "8+")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponseTopics:
    name: str = field(STRING, "8+")
    partitions: list[OffsetFetchResponsePartitions] = field(Array(OffsetFetchResponsePartitions), "8+")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponseGroup:
    group_id: str = field(STRING, "8+")
    topics: list[OffsetFetchResponseTopics] = field(Array(OffsetFetchResponseTopics), "8+")
    error_code: int = field(INT16, "8+")


@datatype(slots=True, kw_only=True)
class OffsetFetchResponse:
    throttle_time_ms: int = field(INT32, "3+")
    topics: list[OffsetFetchResponseTopic] = field(Array(OffsetFetchResponseTopic), "0-7")
    error_code: int = field(INT16, "2-7")
    groups: list[OffsetFetchResponseGroup] = field(Array(OffsetFetchResponseGroup), "8+")


OFFSET_FETCH = Api(
    key=9,
    name="OffsetFetch",
    request=OffsetFetchRequest,
    response=OffsetFetchResponse,
    min_version=1,
    max_version=9,
    flexible_from=6,
)
