"""SyncGroup (key 14): versions 0-5, flexible from 4.

Second step of a classic-protocol rebalance: the leader sends every member's assignment,
the others send none, and each gets its own assignment back once the leader's has arrived.

Version history:

* v0: the baseline.
* v1: the response gains a throttle time.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: ``group_instance_id`` for static membership.
* v4: first flexible version.
* v5: ``protocol_type`` and ``protocol_name`` in both directions, checked by the coordinator.
"""

from __future__ import annotations

from moldau.protocol.schema import BYTES, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class SyncGroupRequestAssignment:
    member_id: str = field(STRING)
    assignment: bytes = field(BYTES)


@datatype(slots=True, kw_only=True)
class SyncGroupRequest:
    group_id: str = field(STRING)
    generation_id: int = field(INT32)
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "3+", nullable="3+", default=None)
    protocol_type: str | None = field(STRING, "5+", nullable="5+", default=None)
    protocol_name: str | None = field(STRING, "5+", nullable="5+", default=None)
    assignments: list[SyncGroupRequestAssignment] = field(Array(SyncGroupRequestAssignment))


@datatype(slots=True, kw_only=True)
class SyncGroupResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16)
    protocol_type: str | None = field(STRING, "5+", nullable="5+", default=None)
    protocol_name: str | None = field(STRING, "5+", nullable="5+", default=None)
    assignment: bytes = field(BYTES)


SYNC_GROUP = Api(
    key=14,
    name="SyncGroup",
    request=SyncGroupRequest,
    response=SyncGroupResponse,
    min_version=0,
    max_version=5,
    flexible_from=4,
)
