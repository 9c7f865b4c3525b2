"""Response builders, so every answer of one API has the same shape in every version.

``error_response(api, request, version, code)`` is the one place that turns a request-level
error into that API's response (the facade calls it for any :class:`KafkaError` an operation
raises). The other builders spell out the version rules a response has to follow, such as
JoinGroup's ``protocol_name`` being a non-null string before v7.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moldau.coordinator.group.group import ClassicGroup
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_groups import DeletableGroupResult, DeleteGroupsResponse
from moldau.protocol.messages.describe_groups import DescribedGroup, DescribeGroupsResponse
from moldau.protocol.messages.heartbeat import HeartbeatResponse
from moldau.protocol.messages.join_group import JoinGroupResponse, JoinGroupResponseMember
from moldau.protocol.messages.leave_group import LeaveGroupResponse, MemberResponse
from moldau.protocol.messages.list_groups import ListGroupsResponse
from moldau.protocol.messages.offset_commit import (
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from moldau.protocol.messages.offset_delete import OffsetDeleteResponse
from moldau.protocol.messages.offset_fetch import (
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartition,
    OffsetFetchResponseTopic,
)
from moldau.protocol.messages.sync_group import SyncGroupResponse
from moldau.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitResponse,
    TxnOffsetCommitResponsePartition,
    TxnOffsetCommitResponseTopic,
)


def join_response(
    version: int,
    *,
    member_id: str,
    error: ErrorCode = ErrorCode.NONE,
    generation: int = -1,
    protocol_type: str | None = None,
    protocol_name: str | None = None,
    leader: str | None = None,
    members: Iterable[JoinGroupResponseMember] = (),
    skip_assignment: bool = False,
) -> JoinGroupResponse:
    if protocol_name is None and version < 7:
        protocol_name = ""  # a null protocol name cannot be written before v7
    return JoinGroupResponse(
        error_code=int(error),
        generation_id=generation,
        protocol_type=protocol_type,
        protocol_name=protocol_name,
        leader=leader or "",
        skip_assignment=skip_assignment,
        member_id=member_id,
        members=list(members),
    )


def join_error(version: int, error: ErrorCode, member_id: str) -> JoinGroupResponse:
    return join_response(version, member_id=member_id, error=error)


def generation_join_response(
    group: ClassicGroup, version: int, member_id: str, *, with_members: bool
) -> JoinGroupResponse:
    """The current generation as a JoinGroup answer; the leader's carries every member."""
    protocol = group.protocol_name
    members = (
        [
            JoinGroupResponseMember(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                metadata=m.metadata(protocol) if protocol is not None else b"",
            )
            for m in group.members.values()
        ]
        if with_members
        else []
    )
    return join_response(
        version,
        member_id=member_id,
        generation=group.generation,
        protocol_type=group.protocol_type,
        protocol_name=protocol,
        leader=group.leader_id,
        members=members,
    )


def sync_response(
    version: int,
    *,
    error: ErrorCode = ErrorCode.NONE,
    protocol_type: str | None = None,
    protocol_name: str | None = None,
    assignment: bytes = b"",
) -> SyncGroupResponse:
    return SyncGroupResponse(
        error_code=int(error),
        protocol_type=protocol_type,
        protocol_name=protocol_name,
        assignment=assignment,
    )


def sync_error(version: int, error: ErrorCode) -> SyncGroupResponse:
    return sync_response(version, error=error)


def leave_response(
    version: int, members: list[MemberResponse], error: ErrorCode = ErrorCode.NONE
) -> LeaveGroupResponse:
    """Before v3 a LeaveGroup names one member and the answer has no per-member list: its
    error is the top-level one, else the member's (Kafka's ``LeaveGroupResponse``)."""
    if version >= 3:
        return LeaveGroupResponse(error_code=int(error), members=members)
    if error is ErrorCode.NONE:
        error = next((ErrorCode(m.error_code) for m in members if m.error_code), ErrorCode.NONE)
    return LeaveGroupResponse(error_code=int(error))


def commit_response(request: Any, error: ErrorCode) -> OffsetCommitResponse:
    """Every partition of the request answered with ``error``."""
    return OffsetCommitResponse(
        topics=[
            OffsetCommitResponseTopic(
                name=topic.name,
                partitions=[
                    OffsetCommitResponsePartition(partition_index=p.partition_index, error_code=int(error))
                    for p in topic.partitions
                ],
            )
            for topic in request.topics
        ]
    )


def txn_commit_response(request: Any, error: ErrorCode) -> TxnOffsetCommitResponse:
    """Every partition of a TxnOffsetCommit request answered with ``error`` (Kafka's
    ``TxnOffsetCommitRequest.getErrorResponse``); the runtime uses it too when the
    transactional write is refused."""
    return TxnOffsetCommitResponse(
        topics=[
            TxnOffsetCommitResponseTopic(
                name=topic.name,
                partitions=[
                    TxnOffsetCommitResponsePartition(partition_index=p.partition_index, error_code=int(error))
                    for p in topic.partitions
                ],
            )
            for topic in request.topics
        ]
    )


def _fetch_error(request: Any, version: int, error: ErrorCode) -> OffsetFetchResponse:
    if version >= 8:
        return OffsetFetchResponse(
            groups=[
                OffsetFetchResponseGroup(group_id=g.group_id, error_code=int(error)) for g in request.groups
            ]
        )
    if version >= 2:
        return OffsetFetchResponse(error_code=int(error))
    return OffsetFetchResponse(
        topics=[
            OffsetFetchResponseTopic(
                name=t.name,
                partitions=[
                    OffsetFetchResponsePartition(
                        partition_index=p, committed_offset=-1, metadata="", error_code=int(error)
                    )
                    for p in t.partition_indexes
                ],
            )
            for t in request.topics or []
        ]
    )


def _describe_error(request: Any, version: int, error: ErrorCode) -> DescribeGroupsResponse:
    return DescribeGroupsResponse(
        groups=[DescribedGroup(error_code=int(error), group_id=g, group_state="") for g in request.groups]
    )


def _delete_groups_error(request: Any, version: int, error: ErrorCode) -> DeleteGroupsResponse:
    return DeleteGroupsResponse(
        results=[DeletableGroupResult(group_id=g, error_code=int(error)) for g in request.groups_names]
    )


ERROR_RESPONSES: dict[str, Callable[[Any, int, ErrorCode], Any]] = {
    "join_group": lambda req, v, e: join_error(v, e, req.member_id),
    "sync_group": lambda req, v, e: sync_error(v, e),
    "heartbeat": lambda req, v, e: HeartbeatResponse(error_code=int(e)),
    "leave_group": lambda req, v, e: leave_response(v, [], e),
    "offset_commit": lambda req, v, e: commit_response(req, e),
    "txn_offset_commit": lambda req, v, e: txn_commit_response(req, e),
    "offset_fetch": _fetch_error,
    "offset_delete": lambda req, v, e: OffsetDeleteResponse(error_code=int(e)),
    "describe_groups": _describe_error,
    "list_groups": lambda req, v, e: ListGroupsResponse(error_code=int(e)),
    "delete_groups": _delete_groups_error,
}


def error_response(api: str, request: Any, version: int, error: ErrorCode) -> Any:
    return ERROR_RESPONSES[api](request, version, error)
