"""JoinGroup (key 11), version by version as Kafka's classic coordinator answers it.

* A request without a group id is INVALID_GROUP_ID; a session timeout outside
  ``group.min/max.session.timeout.ms`` is INVALID_SESSION_TIMEOUT.
* An unknown group is created by a member without an id (and its creation is written as an
  empty GroupMetadata record, as Kafka 4.0 does); a member with an id gets UNKNOWN_MEMBER_ID.
* ``group.max.size``: a new member beyond it, or an existing member that has not rejoined a
  rebalance that is already full, gets GROUP_MAX_SIZE_REACHED.
* Protocol type and protocols must be compatible with the group (INCONSISTENT_GROUP_PROTOCOL).
* A dynamic member without an id gets one with MEMBER_ID_REQUIRED from v4 (KIP-394) and must
  rejoin with it within its session timeout; before v4 it is added at once.
* A static member (``group_instance_id``, v5+, KIP-345) without an id takes over the member
  registered under its instance id. In a STABLE group whose protocol the newcomer does not
  change, this is written as a GroupMetadata record and answered without a rebalance; the old
  member id is fenced (FENCED_INSTANCE_ID) from then on.
* A known member's join during PREPARING_REBALANCE is parked; in COMPLETING_REBALANCE or
  STABLE an unchanged follower gets the current generation back at once, while the leader, or
  a member with new metadata, starts a rebalance.
"""

from __future__ import annotations

from moldau.coordinator.group.config import NEW_MEMBER_JOIN_TIMEOUT_MS
from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.member import Member, as_protocols
from moldau.coordinator.group.rebalance import (
    fail_parked,
    maybe_complete_join_phase,
    maybe_prepare_rebalance_or_complete_join,
    prepare_rebalance,
)
from moldau.coordinator.group.records import GroupMetadataValue
from moldau.coordinator.group.responses import generation_join_response, join_error, join_response
from moldau.coordinator.group.results import Effects
from moldau.coordinator.group.state import GroupState
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.join_group import JoinGroupRequest


def join_group(
    ctx: Context,
    fx: Effects,
    req: JoinGroupRequest,
    version: int,
    waiter: Waiter,
    client_id: str,
    client_host: str,
) -> None:
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    cfg = ctx.config
    if not cfg.group_min_session_timeout_ms <= req.session_timeout_ms <= cfg.group_max_session_timeout_ms:
        raise KafkaError(ErrorCode.INVALID_SESSION_TIMEOUT)
    join = _Join(ctx, fx, req, version, waiter, client_id, client_host)
    group = ctx.groups.get(req.group_id)
    created = group is None
    if group is None:
        if req.member_id:
            raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
        group = ClassicGroup(req.group_id, GroupState.EMPTY, ctx.now())
        ctx.groups[req.group_id] = group
    join.run(group)
    if created and not fx.has_records:
        empty = GroupMetadataValue(protocol_type="", generation=0, current_state_timestamp=ctx.now())
        ctx.write_group(fx, group.group_id, empty)


class _Join:
    """One JoinGroup request on its way through the group."""

    def __init__(
        self,
        ctx: Context,
        fx: Effects,
        req: JoinGroupRequest,
        version: int,
        waiter: Waiter,
        client_id: str,
        client_host: str,
    ) -> None:
        self.ctx = ctx
        self.fx = fx
        self.req = req
        self.version = version
        self.waiter = waiter
        self.client_id = client_id
        self.client_host = client_host
        self.protocols = as_protocols((p.name, p.metadata) for p in req.protocols)
        # JoinGroup v0 has no rebalance timeout: the session timeout serves as one.
        self.rebalance_timeout_ms = req.rebalance_timeout_ms if version >= 1 else req.session_timeout_ms

    def reply_error(self, error: ErrorCode, member_id: str) -> None:
        self.fx.reply(self.waiter.token, join_error(self.version, error, member_id))

    def run(self, group: ClassicGroup) -> None:
        member_id = self.req.member_id
        if not self._accepts(group, member_id):
            group.remove_member(member_id)
            self.reply_error(ErrorCode.GROUP_MAX_SIZE_REACHED, "")
        elif not group.supports_protocols(self.req.protocol_type, {name for name, _ in self.protocols}):
            self.reply_error(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, member_id)
        elif not member_id:
            self._join_new_member(group)
        else:
            self._join_known_member(group, member_id)

    def _accepts(self, group: ClassicGroup, member_id: str) -> bool:
        """``group.max.size`` (Kafka's ``acceptJoiningMember``). While preparing a rebalance
        the members already parked are counted, so that a shrunk limit sheds the stragglers."""
        limit = self.ctx.config.group_max_size
        if group.state is GroupState.EMPTY:
            return True
        if group.state is GroupState.PREPARING_REBALANCE:
            return (
                group.has_member(member_id) and group.is_awaiting_join(member_id)
            ) or group.awaiting_join_count() < limit
        return group.has_member(member_id) or len(group.members) < limit

    # -- members without an id ---------------------------------------------------------------

    def _join_new_member(self, group: ClassicGroup) -> None:
        instance_id = self.req.group_instance_id
        new_id = self.ctx.new_member_id(instance_id if instance_id is not None else self.client_id)
        if instance_id is not None:
            existing = group.static_member_id(instance_id)
            if existing is not None:
                self._replace_static_member(group, existing, new_id)
            else:
                self._add_member(group, new_id)
        elif self.version >= 4:
            group.pending_members.add(new_id)
            self.ctx.schedule_heartbeat(group, new_id, self.req.session_timeout_ms)
            self.fx.reply(self.waiter.token, join_error(self.version, ErrorCode.MEMBER_ID_REQUIRED, new_id))
        else:
            self._add_member(group, new_id)

    def _add_member(self, group: ClassicGroup, member_id: str) -> None:
        member = Member(
            member_id=member_id,
            group_instance_id=self.req.group_instance_id,
            client_id=self.client_id,
            client_host=self.client_host,
            rebalance_timeout_ms=self.rebalance_timeout_ms,
            session_timeout_ms=self.req.session_timeout_ms,
            protocol_type=self.req.protocol_type,
            protocols=self.protocols,
        )
        if group.state is GroupState.PREPARING_REBALANCE and group.previous_state is GroupState.EMPTY:
            group.new_member_added = True  # extends the initial delay
        group.add_member(member, self.waiter)
        group.new_members.add(member_id)
        # A new member cannot heartbeat before it has its generation: bound its wait instead.
        self.ctx.schedule_heartbeat(group, member_id, NEW_MEMBER_JOIN_TIMEOUT_MS)
        maybe_prepare_rebalance_or_complete_join(self.ctx, self.fx, group)

    # -- members with an id ------------------------------------------------------------------

    def _join_known_member(self, group: ClassicGroup, member_id: str) -> None:
        if member_id in group.pending_members:
            if self.req.group_instance_id is not None:
                raise KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "a pending member cannot be static")
            self._add_member(group, member_id)
            return
        error = group.validate_member(member_id, self.req.group_instance_id)
        if error is not ErrorCode.NONE:
            self.reply_error(error, member_id)
            return
        member = group.members[member_id]
        unchanged = member.matches(self.protocols)
        if group.state is GroupState.PREPARING_REBALANCE:
            self._update_member(group, member)
        elif group.state is GroupState.COMPLETING_REBALANCE and unchanged:
            # A lost JoinGroup answer, asked for again: the current generation as it is.
            response = generation_join_response(
                group, self.version, member_id, with_members=group.is_leader(member_id)
            )
            self.fx.reply(self.waiter.token, response)
        elif group.state is GroupState.STABLE and unchanged and not group.is_leader(member_id):
            response = generation_join_response(group, self.version, member_id, with_members=False)
            self.fx.reply(self.waiter.token, response)
        elif group.state in (GroupState.COMPLETING_REBALANCE, GroupState.STABLE):
            # New metadata, or the leader asking for a rebalance (e.g. topic metadata changed).
            self._update_member(group, member)
        else:
            self.reply_error(ErrorCode.UNKNOWN_MEMBER_ID, member_id)

    def _update_member(self, group: ClassicGroup, member: Member) -> None:
        self._park(group, member.member_id)
        group.put_member(
            member.with_changes(
                protocols=self.protocols,
                rebalance_timeout_ms=self.rebalance_timeout_ms,
                session_timeout_ms=self.req.session_timeout_ms,
            )
        )
        maybe_prepare_rebalance_or_complete_join(self.ctx, self.fx, group)

    def _park(self, group: ClassicGroup, member_id: str) -> None:
        """Park this request as the member's JoinGroup; a join it replaces (the client gave
        up on it) is answered so that no request is left hanging."""
        previous = group.join_waiters.get(member_id)
        if previous is not None and previous.token != self.waiter.token:
            self.fx.reply(
                previous.token, join_error(previous.version, ErrorCode.REBALANCE_IN_PROGRESS, member_id)
            )
        group.join_waiters[member_id] = self.waiter

    # -- static members ----------------------------------------------------------------------

    def _replace_static_member(self, group: ClassicGroup, old_id: str, new_id: str) -> None:
        old = group.members[old_id]
        replacement = old.with_changes(
            member_id=new_id,
            protocols=self.protocols,
            rebalance_timeout_ms=self.rebalance_timeout_ms,
            session_timeout_ms=self.req.session_timeout_ms,
        )
        if group.state is GroupState.STABLE:
            prospective = group.roster.renamed(old_id, replacement)
            if group.protocol_name == group.select_protocol(prospective.members.values()):
                self._replace_without_rebalance(group, old_id, replacement)
                return
        if group.state is GroupState.EMPTY:
            raise KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, f"static member in a {group.state.value} group")
        self._swap(group, old_id, replacement)
        self._park(group, new_id)
        if group.state is GroupState.PREPARING_REBALANCE:
            maybe_complete_join_phase(self.ctx, self.fx, group)
        elif group.state is GroupState.COMPLETING_REBALANCE:
            # The leader may already be assigning to the old id: start over.
            prepare_rebalance(self.ctx, self.fx, group)
        else:
            maybe_prepare_rebalance_or_complete_join(self.ctx, self.fx, group)

    def _swap(self, group: ClassicGroup, old_id: str, replacement: Member) -> None:
        """Put ``replacement`` in ``old_id``'s place; the old id's parked requests are fenced."""
        fail_parked(self.fx, group, old_id, ErrorCode.FENCED_INSTANCE_ID, old_id)
        session_ms = group.members[old_id].session_timeout_ms
        group.update(group.roster.renamed(old_id, replacement))
        group.pending_sync.discard(old_id)
        group.new_members.discard(old_id)
        self.ctx.cancel_heartbeat(group, old_id)
        self.ctx.schedule_heartbeat(group, replacement.member_id, session_ms)

    def _replace_without_rebalance(self, group: ClassicGroup, old_id: str, replacement: Member) -> None:
        previous_leader = group.leader_id
        self._swap(group, old_id, replacement)
        self.ctx.write_group(self.fx, group.group_id, group.roster.to_record(group.state_since))
        new_id = replacement.member_id
        if self.version >= 9:
            # KIP-345's skip_assignment: a replaced leader learns it leads, but must not
            # reassign, since a stable group would not pass a new assignment on.
            is_leader = group.is_leader(new_id)
            response = generation_join_response(group, self.version, new_id, with_members=is_leader)
            response.skip_assignment = is_leader
        else:
            # Older clients would assign if told they lead: they are told the old leader id.
            response = generation_join_response(group, self.version, new_id, with_members=False)
            response.leader = previous_leader or ""
        failed = join_response(
            self.version,
            member_id="",
            error=ErrorCode.COORDINATOR_NOT_AVAILABLE,
            generation=group.generation,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader=previous_leader,
        )
        self.fx.reply_after_write(self.waiter.token, response, failed)
