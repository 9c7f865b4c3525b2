"""DescribeGroups (key 15): versions 0-6, flexible from 5.

Reports classic-protocol groups in full: state, protocol and every member with its metadata
and assignment. ``authorized_operations`` is a bit field of ACL operations, or
``-2147483648`` when not requested.

Version history:

* v0: the baseline.
* v1: the response gains a throttle time.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: ``include_authorized_operations``; each group reports them.
* v4: members report their ``group_instance_id``.
* v5: first flexible version.
* v6: an unknown group is answered with GROUP_ID_NOT_FOUND, and groups carry an error message.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, BYTES, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DescribeGroupsRequest:
    groups: list[str] = field(Array(STRING))
    include_authorized_operations: bool = field(BOOL, "3+")


@datatype(slots=True, kw_only=True)
class DescribedGroupMember:
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "4+", nullable="4+", default=None)
    client_id: str = field(STRING)
    client_host: str = field(STRING)
    member_metadata: bytes = field(BYTES)
    member_assignment: bytes = field(BYTES)


@datatype(slots=True, kw_only=True)
class DescribedGroup:
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, "6+", nullable="6+", default=None)
    group_id: str = field(STRING)
    group_state: str = field(STRING)
    protocol_type: str = field(STRING)
    protocol_data: str = field(STRING)
    members: list[DescribedGroupMember] = field(Array(DescribedGroupMember))
    authorized_operations: int = field(INT32, "3+", default=-(2**31))


@datatype(slots=True, kw_only=True)
class DescribeGroupsResponse:
    throttle_time_ms: int = field(INT32, "1+")
    groups: list[DescribedGroup] = field(Array(DescribedGroup))


DESCRIBE_GROUPS = Api(
    key=15,
    name="DescribeGroups",
    request=DescribeGroupsRequest,
    response=DescribeGroupsResponse,
    min_version=0,
    max_version=6,
    flexible_from=5,
)
