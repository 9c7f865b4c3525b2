"""``replay``: the only way a record changes what the coordinator holds as durable.

Replay runs both after the coordinator's own writes and when a ``__consumer_offsets``
partition is loaded at start-up, and must give the same result either way. Per record type:

OffsetCommit value
    Store the offset. A group that does not exist yet comes into being, EMPTY and without a
    protocol type: that is how commits without group membership create their group.
    A record of a transaction (it carries a producer id) does the same, except that the
    offset is stored as pending for that producer, invisible until the transaction ends.
OffsetCommit tombstone
    Forget the offset, and any transaction's pending offset for the partition.
GroupMetadata value
    The group's stored roster becomes the record's. If the group is not negotiating anything
    (no working roster), the record *is* the group: it is (re)born EMPTY or STABLE, and
    members the record introduces get a fresh session deadline (this is how a loaded group's
    members get theirs). If a negotiation runs ahead of the log, the record is checked
    against it: the leader's assignment of the current generation completes the rebalance
    (COMPLETING_REBALANCE -> STABLE, parked SyncGroups answered through the outbox), and a
    record equal to the working roster retires it; anything else leaves the negotiation be.
GroupMetadata tombstone
    The group is DEAD and removed. Requests still parked in it (they can only have arrived
    after the deletion was decided) are answered COORDINATOR_NOT_AVAILABLE, so their clients
    find the coordinator again and start afresh.

Transaction markers are not records: :func:`replay_marker` settles a producer's pending
offsets in one partition (see :mod:`pending` for the rules). Records and markers replayed in
log order give the same state whether they arrive live or while loading.
"""

from __future__ import annotations

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Roster
from moldau.coordinator.group.offsets import CommittedOffset
from moldau.coordinator.group.pending import PendingOffset
from moldau.coordinator.group.records import (
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    decode_group_metadata_value,
    decode_key,
    decode_offset_commit_value,
)
from moldau.coordinator.group.responses import join_error, sync_error, sync_response
from moldau.coordinator.group.results import CoordinatorRecord
from moldau.coordinator.group.state import GroupState
from moldau.coordinator.group.timer import heartbeat_key, join_key, sync_key
from moldau.protocol.errors import ErrorCode


def replay(ctx: Context, record: CoordinatorRecord) -> None:
    key = decode_key(record.key)
    if isinstance(key, OffsetCommitKey):
        if record.value is None:
            ctx.offsets.remove(key.group, key.topic, key.partition)
            ctx.pending.discard(key.group, key.topic, key.partition)
        else:
            _replay_offset(ctx, record, key, decode_offset_commit_value(record.value))
    elif isinstance(key, GroupMetadataKey):
        value = None if record.value is None else decode_group_metadata_value(record.value)
        _replay_group(ctx, key.group, value)


def _ensure_group(ctx: Context, group_id: str) -> None:
    if group_id not in ctx.groups:
        ctx.groups[group_id] = ClassicGroup(group_id, GroupState.EMPTY, ctx.now())


def _replay_offset(
    ctx: Context, record: CoordinatorRecord, key: OffsetCommitKey, value: OffsetCommitValue
) -> None:
    _ensure_group(ctx, key.group)
    offset = CommittedOffset.from_record(value)
    position = ctx.next_position()
    if record.is_transactional:
        pending = PendingOffset(offset, position)
        ctx.pending.put(
            (record.partition, record.producer_id), (key.group, key.topic, key.partition), pending
        )
    else:
        ctx.offsets.put(key.group, key.topic, key.partition, offset, position=position)


def replay_marker(ctx: Context, partition: int, producer_id: int, committed: bool) -> None:
    """A COMMIT or ABORT marker of ``producer_id`` in ``__consumer_offsets`` partition
    ``partition``. A marker with nothing pending (the transaction wrote no offsets here, or a
    tombstone removed them) changes nothing."""
    ended = ctx.pending.end((partition, producer_id))
    if not committed:
        return
    for (group_id, topic, p), pending in ended.items():
        current = ctx.offsets.position(group_id, topic, p)
        if current is not None and current > pending.position:
            continue  # a later record committed this partition: it stays
        _ensure_group(ctx, group_id)
        ctx.offsets.put(group_id, topic, p, pending.offset, position=pending.position)


def _replay_group(ctx: Context, group_id: str, value: GroupMetadataValue | None) -> None:
    group = ctx.groups.get(group_id)
    if value is None:
        if group is not None:
            _bury(ctx, group)
        return
    roster = Roster.from_record(value)
    since = None if value.current_state_timestamp == -1 else value.current_state_timestamp
    if group is None:
        group = ClassicGroup(group_id, GroupState.EMPTY, since)
        ctx.groups[group_id] = group
    work = group.working
    if work is None:
        _rebirth(ctx, group, roster, since)
        return
    group.stored = roster
    if work.persisted_form() != roster.persisted_form():
        return  # the negotiation has moved past this record
    if group.state is GroupState.COMPLETING_REBALANCE and work.generation == roster.generation:
        group.transition(GroupState.STABLE, ctx.now())
        for member_id, parked in group.sync_waiters.items():
            answer = sync_response(
                parked.version,
                protocol_type=group.protocol_type,
                protocol_name=group.protocol_name,
                assignment=group.members[member_id].assignment,
            )
            ctx.outbox.append((parked.token, answer))
            ctx.schedule_heartbeat(group, member_id)
        group.sync_waiters.clear()
    if group.state in (GroupState.STABLE, GroupState.EMPTY):
        group.settle()


def _rebirth(ctx: Context, group: ClassicGroup, roster: Roster, since: int | None) -> None:
    """A group with nothing under negotiation takes the record as its whole truth."""
    before = set(group.stored.members)
    group.load(roster, since)
    for member_id in roster.members:
        if member_id not in before:
            ctx.schedule_heartbeat(group, member_id)
    for member_id in before - set(roster.members):
        ctx.cancel_heartbeat(group, member_id)


def _bury(ctx: Context, group: ClassicGroup) -> None:
    group.transition(GroupState.DEAD, ctx.now())
    for member_id, parked in group.join_waiters.items():
        ctx.outbox.append(
            (parked.token, join_error(parked.version, ErrorCode.COORDINATOR_NOT_AVAILABLE, member_id))
        )
    for parked in group.sync_waiters.values():
        ctx.outbox.append((parked.token, sync_error(parked.version, ErrorCode.COORDINATOR_NOT_AVAILABLE)))
    group.join_waiters.clear()
    group.sync_waiters.clear()
    for member_id in set(group.members) | group.pending_members:
        ctx.timer.cancel(heartbeat_key(group.group_id, member_id))
    ctx.timer.cancel(join_key(group.group_id))
    ctx.timer.cancel(sync_key(group.group_id))
    del ctx.groups[group.group_id]
