"""The rebalance machinery shared by every path that changes a group's membership.

JoinGroup, LeaveGroup, session expiry and missing SyncGroups all end in the same few steps,
Kafka's: *prepare* a rebalance (leave STABLE or COMPLETING_REBALANCE, or EMPTY for a new
group), wait until every known member has rejoined or the rebalance timeout has passed,
then *complete the join phase*: drop the dynamic members that did not rejoin, make sure the
leader is among those who did, bump the generation, vote for a protocol and answer every
parked JoinGroup (the leader's with all members' metadata). From then on the coordinator
waits, up to the rebalance timeout, for a SyncGroup from every member.

The first rebalance of an empty group waits ``group.initial.rebalance.delay.ms`` before
completing, and waits again (up to the rebalance timeout in total) as long as new members
keep arriving, so that a group of consumers started together forms one generation.

Nothing here writes a record except the completion of a join phase that leaves the group
with no members: that is the GroupMetadata record of the now EMPTY group.
"""

from __future__ import annotations

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup
from moldau.coordinator.group.responses import generation_join_response, join_error, sync_error
from moldau.coordinator.group.results import Effects
from moldau.coordinator.group.state import GroupState
from moldau.coordinator.group.timer import join_key, sync_key
from moldau.protocol.errors import ErrorCode


def prepare_rebalance(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    if group.state is GroupState.COMPLETING_REBALANCE:
        reset_and_propagate_error(ctx, fx, group, ErrorCode.REBALANCE_IN_PROGRESS)
    cancel_sync_deadline(ctx, group)
    group.update(group.roster)  # a rebalance always negotiates on a working copy
    initial = group.state is GroupState.EMPTY
    if initial:
        delay = ctx.config.group_initial_rebalance_delay_ms
        group.initial_delay = (delay, max(group.rebalance_timeout_ms() - delay, 0))
        ctx.timer.schedule(join_key(group.group_id), ctx.now() + delay)
    group.transition(GroupState.PREPARING_REBALANCE, ctx.now())
    if not initial:
        maybe_complete_join_else_schedule(ctx, fx, group)


def maybe_prepare_rebalance_or_complete_join(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    if group.can_rebalance():
        prepare_rebalance(ctx, fx, group)
    else:
        maybe_complete_join_phase(ctx, fx, group)


def maybe_complete_join_phase(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    """Complete the join phase if everyone is in, except during the initial delay, which
    only its own deadline ends."""
    if (
        group.state is GroupState.PREPARING_REBALANCE
        and group.previous_state is not GroupState.EMPTY
        and group.has_all_members_joined()
    ):
        complete_join(ctx, fx, group)


def maybe_complete_join_else_schedule(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    if group.has_all_members_joined():
        complete_join(ctx, fx, group)
    else:
        group.initial_delay = None
        ctx.timer.schedule(join_key(group.group_id), ctx.now() + group.rebalance_timeout_ms())


def on_join_deadline(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    """The join phase's deadline: the initial delay (which new arrivals extend, Kafka's
    ``InitialDelayedJoin``) or the rebalance timeout."""
    if group.initial_delay is not None:
        delay, remaining = group.initial_delay
        if group.new_member_added and remaining != 0:
            group.new_member_added = False
            next_delay = min(ctx.config.group_initial_rebalance_delay_ms, remaining)
            group.initial_delay = (next_delay, max(remaining - delay, 0))
            ctx.timer.schedule(join_key(group.group_id), ctx.now() + next_delay)
            return
    complete_join(ctx, fx, group)


def complete_join(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    ctx.timer.cancel(join_key(group.group_id))
    group.initial_delay = None
    for member_id, member in list(group.members.items()):
        if not group.is_awaiting_join(member_id) and not member.is_static:
            group.remove_member(member_id)
            ctx.cancel_heartbeat(group, member_id)
    if not _elect_joined_leader(group) and group.members:
        # Only static members that did not rejoin are left: wait for them (or their expiry).
        ctx.timer.schedule(join_key(group.group_id), ctx.now() + group.rebalance_timeout_ms())
        return
    _init_next_generation(ctx, group)
    if group.state is GroupState.EMPTY:
        ctx.write_group(fx, group.group_id, group.roster.to_record(group.state_since))
        return
    for member_id in group.members:
        waiter = group.join_waiters.pop(member_id, None)
        if waiter is not None:
            response = generation_join_response(
                group, waiter.version, member_id, with_members=group.is_leader(member_id)
            )
            fx.reply(waiter.token, response)
        ctx.schedule_heartbeat(group, member_id)
        group.new_members.discard(member_id)
        group.pending_sync.add(member_id)
    group.sync_generation = group.generation
    ctx.timer.schedule(sync_key(group.group_id), ctx.now() + group.rebalance_timeout_ms())


def _elect_joined_leader(group: ClassicGroup) -> bool:
    """Keep the leader if it rejoined, else make the first member that did the leader.
    False when there is no leader or nobody rejoined."""
    leader = group.leader_id
    if leader is None:
        return False
    if group.is_awaiting_join(leader):
        return True
    for member_id in group.members:
        if group.is_awaiting_join(member_id):
            group.update(group.roster.replace(leader_id=member_id))
            return True
    return False


def _init_next_generation(ctx: Context, group: ClassicGroup) -> None:
    roster = group.roster.replace(generation=group.generation + 1)
    if roster.members:
        roster = roster.replace(protocol_name=group.select_protocol(roster.members.values()))
        target = GroupState.COMPLETING_REBALANCE
    else:
        roster = roster.replace(protocol_name=None)
        target = GroupState.EMPTY
    group.update(roster.replace(subscribed_topics=roster.compute_subscribed_topics()))
    group.transition(target, ctx.now())
    group.pending_sync.clear()


def reset_and_propagate_error(ctx: Context, fx: Effects, group: ClassicGroup, error: ErrorCode) -> None:
    """A generation that will not complete: forget its assignment, fail the parked SyncGroups."""
    members = {mid: m.with_changes(assignment=b"") for mid, m in group.members.items()}
    group.update(group.roster.replace(members=members))
    for member_id, waiter in list(group.sync_waiters.items()):
        fx.reply(waiter.token, sync_error(waiter.version, error))
        ctx.schedule_heartbeat(group, member_id)
    group.sync_waiters.clear()


def cancel_sync_deadline(ctx: Context, group: ClassicGroup) -> None:
    group.pending_sync.clear()
    ctx.timer.cancel(sync_key(group.group_id))


def on_sync_deadline(ctx: Context, fx: Effects, group: ClassicGroup) -> None:
    """The rebalance timeout after a join phase: members that never sent SyncGroup are out."""
    if group.sync_generation != group.generation:
        return
    if group.state in (GroupState.COMPLETING_REBALANCE, GroupState.STABLE) and group.pending_sync:
        for member_id in list(group.pending_sync):
            group.remove_member(member_id)
            ctx.cancel_heartbeat(group, member_id)
        prepare_rebalance(ctx, fx, group)


def has_satisfied_heartbeat(group: ClassicGroup, member_id: str) -> bool:
    """A member parked in JoinGroup or SyncGroup needs no heartbeat, unless it is new."""
    if member_id in group.new_members:
        return False
    return group.is_awaiting_join(member_id) or group.is_awaiting_sync(member_id)


def on_heartbeat_deadline(ctx: Context, fx: Effects, group: ClassicGroup, member_id: str) -> None:
    """A session (or a MEMBER_ID_REQUIRED grace period) ran out."""
    if member_id in group.pending_members:
        group.remove_member(member_id)
        if group.state is GroupState.PREPARING_REBALANCE and group.has_all_members_joined():
            complete_join(ctx, fx, group)
        return
    if group.has_member(member_id) and not has_satisfied_heartbeat(group, member_id):
        remove_member_and_update(ctx, fx, group, member_id)


def fail_parked(
    fx: Effects, group: ClassicGroup, member_id: str, error: ErrorCode, join_member_id: str
) -> None:
    """Answer a member's parked JoinGroup and SyncGroup, if any, with ``error``."""
    join = group.join_waiters.pop(member_id, None)
    if join is not None:
        fx.reply(join.token, join_error(join.version, error, join_member_id))
    sync = group.sync_waiters.pop(member_id, None)
    if sync is not None:
        fx.reply(sync.token, sync_error(sync.version, error))


def remove_member_and_update(ctx: Context, fx: Effects, group: ClassicGroup, member_id: str) -> None:
    fail_parked(fx, group, member_id, ErrorCode.UNKNOWN_MEMBER_ID, "")
    group.remove_member(member_id)
    if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
        maybe_prepare_rebalance_or_complete_join(ctx, fx, group)
    elif group.state is GroupState.PREPARING_REBALANCE and group.has_all_members_joined():
        complete_join(ctx, fx, group)
