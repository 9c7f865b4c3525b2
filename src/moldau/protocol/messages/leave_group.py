"""LeaveGroup (key 13): versions 0-5, flexible from 4.

Removes members from a classic-protocol group so it rebalances without waiting for their
sessions to expire.

Version history:

* v0: the baseline: one ``member_id``.
* v1: the response gains a throttle time.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: batched: a list of ``members`` (member ID and static instance ID) replaces
  ``member_id``, and the response reports an error per member.
* v4: first flexible version.
* v5: a ``reason`` per leaving member.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class MemberIdentity:
    member_id: str = field(STRING, "3+")
    group_instance_id: str | None = field(STRING, "3+", nullable="3+", default=None)
    reason: str | None = field(STRING, "5+", nullable="5+", default=None)


@datatype(slots=True, kw_only=True)
class LeaveGroupRequest:
    group_id: str = field(STRING)
    member_id: str = field(STRING, "0-2")
    members: list[MemberIdentity] = field(Array(MemberIdentity), "3+")


@datatype(slots=True, kw_only=True)
class MemberResponse:
    member_id: str = field(STRING, "3+")
    group_instance_id: str | None = field(STRING, "3+", nullable="3+")
    error_code: int = field(INT16, "3+")


@datatype(slots=True, kw_only=True)
class LeaveGroupResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16)
    members: list[MemberResponse] = field(Array(MemberResponse), "3+")


LEAVE_GROUP = Api(
    key=13,
    name="LeaveGroup",
    request=LeaveGroupRequest,
    response=LeaveGroupResponse,
    min_version=0,
    max_version=5,
    flexible_from=4,
)
