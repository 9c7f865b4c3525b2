"""SyncGroup (key 14), Heartbeat (key 12) and LeaveGroup (key 13).

SyncGroup: UNKNOWN_MEMBER_ID for an unknown or empty group or member, FENCED_INSTANCE_ID for
a static member under a stale member id, ILLEGAL_GENERATION for another generation,
INCONSISTENT_GROUP_PROTOCOL when v5's protocol type or name is missing or differs from the
group's, REBALANCE_IN_PROGRESS while the group prepares a rebalance. In COMPLETING_REBALANCE
followers are parked; the leader's SyncGroup carries the assignment, which is written as the
generation's GroupMetadata record, and once it is durable the group is STABLE and every parked
member gets its share. In STABLE a SyncGroup gets the member's assignment at once.

Heartbeat: the same member checks; REBALANCE_IN_PROGRESS while preparing a rebalance (the
member must rejoin), NONE otherwise. Every accepted heartbeat restarts the member's session.

LeaveGroup: before v3 one member id, from v3 a batch of members, each by member id or, for
administrative removal of a static member, by group instance id alone; each gets its own
error (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID). Departures start a rebalance, or complete the
join phase under way.
"""

from __future__ import annotations

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.rebalance import (
    fail_parked,
    maybe_complete_join_phase,
    maybe_prepare_rebalance_or_complete_join,
)
from moldau.coordinator.group.responses import leave_response, sync_error, sync_response
from moldau.coordinator.group.results import Effects
from moldau.coordinator.group.state import GroupState
from moldau.coordinator.group.timer import sync_key
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.heartbeat import HeartbeatRequest, HeartbeatResponse
from moldau.protocol.messages.leave_group import LeaveGroupRequest, MemberIdentity, MemberResponse
from moldau.protocol.messages.sync_group import SyncGroupRequest

# -- SyncGroup --------------------------------------------------------------------------------


def _inconsistent(requested: str | None, current: str | None) -> bool:
    return requested is not None and current is not None and requested != current


def sync_group(ctx: Context, fx: Effects, req: SyncGroupRequest, version: int, waiter: Waiter) -> None:
    if version >= 5 and (req.protocol_type is None or req.protocol_name is None):
        raise KafkaError(
            ErrorCode.INCONSISTENT_GROUP_PROTOCOL, "protocol type and name are mandatory from v5"
        )
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    group = ctx.groups.get(req.group_id)
    if group is None or group.state is GroupState.EMPTY:
        raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
    error = group.validate_member(req.member_id, req.group_instance_id)
    if error is not ErrorCode.NONE:
        raise KafkaError(error)
    if req.generation_id != group.generation:
        raise KafkaError(ErrorCode.ILLEGAL_GENERATION)
    if _inconsistent(req.protocol_type, group.protocol_type) or _inconsistent(
        req.protocol_name, group.protocol_name
    ):
        raise KafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

    if group.state is GroupState.PREPARING_REBALANCE:
        raise KafkaError(ErrorCode.REBALANCE_IN_PROGRESS)
    if group.state is GroupState.COMPLETING_REBALANCE:
        previous = group.sync_waiters.get(req.member_id)
        if previous is not None:
            fx.reply(previous.token, sync_error(previous.version, ErrorCode.REBALANCE_IN_PROGRESS))
        group.sync_waiters[req.member_id] = waiter
        _synced(ctx, group, req.member_id)
        if group.is_leader(req.member_id):
            _store_assignment(ctx, fx, group, req)
        return
    # STABLE: the assignment is already known
    _synced(ctx, group, req.member_id)
    member = group.members[req.member_id]
    fx.reply(
        waiter.token,
        sync_response(
            version,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            assignment=member.assignment,
        ),
    )


def _synced(ctx: Context, group: ClassicGroup, member_id: str) -> None:
    group.pending_sync.discard(member_id)
    if not group.pending_sync:
        ctx.timer.cancel(sync_key(group.group_id))


def _store_assignment(ctx: Context, fx: Effects, group: ClassicGroup, req: SyncGroupRequest) -> None:
    """The leader's assignment: write it as the generation's record; the parked SyncGroups
    are answered once the record is durable (and with an error if it cannot be written)."""
    assignment = {a.member_id: bytes(a.assignment) for a in req.assignments}
    members = {mid: m.with_changes(assignment=assignment.get(mid, b"")) for mid, m in group.members.items()}
    group.update(group.roster.replace(members=members))
    ctx.write_group(fx, group.group_id, group.roster.to_record(group.state_since))
    for member_id, parked in list(group.sync_waiters.items()):
        answer = sync_response(
            parked.version,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            assignment=group.members[member_id].assignment,
        )
        fx.reply_after_write(
            parked.token, answer, sync_error(parked.version, ErrorCode.COORDINATOR_NOT_AVAILABLE)
        )
        ctx.schedule_heartbeat(group, member_id)
    group.sync_waiters.clear()


# -- Heartbeat --------------------------------------------------------------------------------


def heartbeat(ctx: Context, fx: Effects, req: HeartbeatRequest, version: int, waiter: Waiter) -> None:
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    group = ctx.groups.get(req.group_id)
    if group is None:
        raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
    error = group.validate_member(req.member_id, req.group_instance_id)
    if error is not ErrorCode.NONE:
        raise KafkaError(error)
    if req.generation_id != group.generation:
        raise KafkaError(ErrorCode.ILLEGAL_GENERATION)
    if group.state is GroupState.EMPTY:
        raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
    ctx.schedule_heartbeat(group, req.member_id)
    code = (
        ErrorCode.REBALANCE_IN_PROGRESS if group.state is GroupState.PREPARING_REBALANCE else ErrorCode.NONE
    )
    fx.reply(waiter.token, HeartbeatResponse(error_code=int(code)))


# -- LeaveGroup -------------------------------------------------------------------------------


def leave_group(ctx: Context, fx: Effects, req: LeaveGroupRequest, version: int, waiter: Waiter) -> None:
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    identities = req.members if version >= 3 else [MemberIdentity(member_id=req.member_id)]
    group = ctx.groups.get(req.group_id)
    if group is None:
        unknown = [_member_response(i, ErrorCode.UNKNOWN_MEMBER_ID) for i in identities]
        fx.reply(waiter.token, leave_response(version, unknown))
        return

    responses = [_member_response(i, _leave_one(ctx, fx, group, i)) for i in identities]
    if any(r.error_code == ErrorCode.NONE for r in responses):
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            maybe_prepare_rebalance_or_complete_join(ctx, fx, group)
        elif group.state is GroupState.PREPARING_REBALANCE:
            maybe_complete_join_phase(ctx, fx, group)
    failed = leave_response(version, [], ErrorCode.COORDINATOR_NOT_AVAILABLE)
    fx.reply_after_write(waiter.token, leave_response(version, responses), failed)


def _member_response(identity: MemberIdentity, error: ErrorCode) -> MemberResponse:
    return MemberResponse(
        member_id=identity.member_id, group_instance_id=identity.group_instance_id, error_code=int(error)
    )


def _leave_one(ctx: Context, fx: Effects, group: ClassicGroup, identity: MemberIdentity) -> ErrorCode:
    member_id = identity.member_id
    if not member_id:
        # Administrative removal of a static member by its instance id alone.
        static_id = group.static_member_id(identity.group_instance_id)
        if static_id is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        _remove(ctx, fx, group, static_id)
        return ErrorCode.NONE
    if member_id in group.pending_members:
        group.remove_member(member_id)
        ctx.cancel_heartbeat(group, member_id)
        return ErrorCode.NONE
    error = group.validate_member(member_id, identity.group_instance_id)
    if error is ErrorCode.NONE:
        _remove(ctx, fx, group, member_id)
    return error


def _remove(ctx: Context, fx: Effects, group: ClassicGroup, member_id: str) -> None:
    ctx.cancel_heartbeat(group, member_id)
    fail_parked(fx, group, member_id, ErrorCode.UNKNOWN_MEMBER_ID, "")
    group.remove_member(member_id)
