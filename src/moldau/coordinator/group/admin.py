"""DescribeGroups (key 15), ListGroups (key 16) and DeleteGroups (key 42).

DescribeGroups: a STABLE group is described with the chosen protocol and each member's
metadata for it and assignment; in any other state the members come without metadata (and
with whatever assignment they hold). An unknown group is described as ``Dead``: with error
NONE up to v5, with GROUP_ID_NOT_FOUND and a message from v6.

ListGroups: every group this coordinator knows, optionally filtered by state (v4+, names
compared ignoring case) and by type (v5+; classic groups only match ``classic``).

DeleteGroups: only an EMPTY group may be deleted (NON_EMPTY_GROUP otherwise,
GROUP_ID_NOT_FOUND for an unknown one); its offsets and then the group itself get tombstones.
Partitions with only a pending transactional offset get one too: it removes the pending
offset, so the transaction's COMMIT cannot bring an offset of the deleted group back.
"""

from __future__ import annotations

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.records import encode_offset_commit_key
from moldau.coordinator.group.results import CoordinatorRecord, Effects
from moldau.coordinator.group.state import GroupState
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_groups import (
    DeletableGroupResult,
    DeleteGroupsRequest,
    DeleteGroupsResponse,
)
from moldau.protocol.messages.describe_groups import (
    DescribedGroup,
    DescribedGroupMember,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
)
from moldau.protocol.messages.list_groups import ListedGroup, ListGroupsRequest, ListGroupsResponse

CLASSIC_GROUP_TYPE = "classic"


def _describe(group: ClassicGroup) -> DescribedGroup:
    stable = group.state is GroupState.STABLE and group.protocol_name is not None
    protocol = group.protocol_name if stable else None
    members = [
        DescribedGroupMember(
            member_id=m.member_id,
            group_instance_id=m.group_instance_id,
            client_id=m.client_id,
            client_host=m.client_host,
            member_metadata=m.metadata(protocol) if protocol is not None else b"",
            member_assignment=m.assignment,
        )
        for m in group.members.values()
    ]
    return DescribedGroup(
        group_id=group.group_id,
        group_state=group.state.display_name,
        protocol_type=group.protocol_type or "",
        protocol_data=protocol or "",
        members=members,
    )


def describe_groups(
    ctx: Context, fx: Effects, req: DescribeGroupsRequest, version: int, waiter: Waiter
) -> None:
    described = []
    for group_id in req.groups:
        group = ctx.groups.get(group_id)
        if group is not None:
            described.append(_describe(group))
        elif version >= 6:
            described.append(
                DescribedGroup(
                    error_code=int(ErrorCode.GROUP_ID_NOT_FOUND),
                    error_message=f"Group {group_id} not found.",
                    group_id=group_id,
                    group_state=GroupState.DEAD.display_name,
                )
            )
        else:
            described.append(DescribedGroup(group_id=group_id, group_state=GroupState.DEAD.display_name))
    fx.reply(waiter.token, DescribeGroupsResponse(groups=described))


def list_groups(ctx: Context, fx: Effects, req: ListGroupsRequest, version: int, waiter: Waiter) -> None:
    states = {s.strip().lower() for s in req.states_filter} if version >= 4 else set()
    types = {t.lower() for t in req.types_filter} if version >= 5 else set()
    listed = [
        ListedGroup(
            group_id=group.group_id,
            protocol_type=group.protocol_type or "",
            group_state=group.state.display_name,
            group_type=CLASSIC_GROUP_TYPE,
        )
        for group in ctx.groups.values()
        if (not states or group.state.display_name.lower() in states)
        and (not types or CLASSIC_GROUP_TYPE in types)
    ]
    fx.reply(waiter.token, ListGroupsResponse(groups=listed))


def delete_group_records(ctx: Context, fx: Effects, group_id: str) -> None:
    """Tombstones for every offset of the group (committed or pending), then for the group."""
    partition = ctx.partition_for(group_id)
    for topic, p, _ in ctx.offsets.offsets_of(group_id):
        fx.write(CoordinatorRecord(partition, encode_offset_commit_key(group_id, topic, p), None))
    for topic, p in ctx.pending.partitions_of(group_id):
        if ctx.offsets.get(group_id, topic, p) is None:
            fx.write(CoordinatorRecord(partition, encode_offset_commit_key(group_id, topic, p), None))
    ctx.write_group(fx, group_id, None)


def delete_groups(ctx: Context, fx: Effects, req: DeleteGroupsRequest, version: int, waiter: Waiter) -> None:
    results = []
    for group_id in req.groups_names:
        group = ctx.groups.get(group_id)
        if group is None:
            error = ErrorCode.GROUP_ID_NOT_FOUND
        elif group.state is not GroupState.EMPTY:
            error = ErrorCode.NON_EMPTY_GROUP
        else:
            error = ErrorCode.NONE
            delete_group_records(ctx, fx, group_id)
        results.append(DeletableGroupResult(group_id=group_id, error_code=int(error)))
    failed = [
        DeletableGroupResult(group_id=r.group_id, error_code=int(ErrorCode.COORDINATOR_NOT_AVAILABLE))
        for r in results
    ]
    fx.reply_after_write(
        waiter.token, DeleteGroupsResponse(results=results), DeleteGroupsResponse(results=failed)
    )
