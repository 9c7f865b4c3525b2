"""OffsetDelete (key 47): version 0 only, never flexible.

Deletes a group's committed offsets for some partitions; refused with
GROUP_SUBSCRIBED_TO_TOPIC while an active member is still subscribed to the topic.

Version history:

* v0: the only version.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, MAX_VERSION, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class OffsetDeleteRequestPartition:
    partition_index: int = field(INT32)


@datatype(slots=True, kw_only=True)
class OffsetDeleteRequestTopic:
    name: str = field(STRING)
    partitions: list[OffsetDeleteRequestPartition] = field(Array(OffsetDeleteRequestPartition))


@datatype(slots=True, kw_only=True)
class OffsetDeleteRequest:
    group_id: str = field(STRING)
    topics: list[OffsetDeleteRequestTopic] = field(Array(OffsetDeleteRequestTopic))


@datatype(slots=True, kw_only=True)
class OffsetDeleteResponsePartition:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class OffsetDeleteResponseTopic:
    name: str = field(STRING)
    partitions: list[OffsetDeleteResponsePartition] = field(Array(OffsetDeleteResponsePartition))


@datatype(slots=True, kw_only=True)
class OffsetDeleteResponse:
    error_code: int = field(INT16)
    throttle_time_ms: int = field(INT32)
    topics: list[OffsetDeleteResponseTopic] = field(Array(OffsetDeleteResponseTopic))


OFFSET_DELETE = Api(
    key=47,
    name="OffsetDelete",
    request=OffsetDeleteRequest,
    response=OffsetDeleteResponse,
    min_version=0,
    max_version=0,
    flexible_from=MAX_VERSION + 1,  # no flexible version
)
