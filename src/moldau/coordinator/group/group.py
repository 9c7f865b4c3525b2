"""One classic group: its durable roster, the roster being negotiated, and its waiting room.

A group has three layers, each changed by a different hand:

``stored`` (a :class:`Roster`)
    What ``__consumer_offsets`` says about the group: generation, protocol type and name,
    leader and members with their subscriptions and assignments. Only ``replay`` sets it.

the working roster (``_work``)
    A rebalance is a negotiation that runs ahead of the log: members join and leave, the
    join phase bumps the generation and picks a protocol and a leader, all before anything
    is written. The first change after the stored roster makes a working copy (rosters are
    immutable, so a change is a new roster); operations read and change that copy. When a
    record that says the same as the working copy is replayed, the copy is dropped and the
    stored roster is all there is again. :attr:`roster` is whichever is current.

the waiting room (transient, operations only)
    Parked JoinGroup and SyncGroup requests, member ids handed out with MEMBER_ID_REQUIRED
    that have not joined yet, members that joined this round for the first time, members
    the coordinator still expects a SyncGroup from. Session and rebalance deadlines live in
    the coordinator's timer.

The state (:mod:`state`) belongs to the negotiation and changes through
:meth:`ClassicGroup.transition`, except when a record is loaded into a group that negotiates
nothing (:meth:`ClassicGroup.load`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from moldau.coordinator.group.jvm import hash_map_order
from moldau.coordinator.group.member import CONSUMER_PROTOCOL_TYPE, Member, subscribed_topics
from moldau.coordinator.group.records import GroupMetadataMember, GroupMetadataValue
from moldau.coordinator.group.results import Token
from moldau.coordinator.group.state import VALID_PREVIOUS_STATES, GroupState, check_transition
from moldau.protocol.errors import ErrorCode
from moldau.util.datatype import datatype


@datatype(frozen=True, slots=True)
class Waiter:
    """A parked request: the token to answer and the version to answer it in."""

    token: Token
    version: int


@datatype(frozen=True, slots=True)
class Roster:
    """The membership of one generation. Immutable; ``members`` is never changed in place."""

    generation: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: Mapping[str, Member] = dataclasses.field(default_factory=dict)
    subscribed_topics: frozenset[str] | None = None
    _static: dict[str, str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        static = {
            m.group_instance_id: mid for mid, m in self.members.items() if m.group_instance_id is not None
        }
        object.__setattr__(self, "_static", static)

    def static_member_id(self, group_instance_id: str) -> str | None:
        return self._static.get(group_instance_id)

    def replace(self, **changes: Any) -> Roster:
        return dataclasses.replace(self, **changes)

    def with_member(self, member: Member) -> Roster:
        """Add ``member`` (or replace the member with its id). The first member of an empty
        roster sets the protocol type; a roster without a leader takes the newcomer."""
        members = dict(self.members)
        members[member.member_id] = member
        protocol_type = member.protocol_type if not self.members else self.protocol_type
        leader = self.leader_id if self.leader_id is not None else member.member_id
        return self.replace(members=members, protocol_type=protocol_type, leader_id=leader)

    def without_member(self, member_id: str) -> Roster:
        """Remove a member; a leaving leader hands over to the next member, if any."""
        if member_id not in self.members:
            return self
        members = {mid: m for mid, m in self.members.items() if mid != member_id}
        leader = self.leader_id
        if leader == member_id:
            leader = next(iter(members), None)
        return self.replace(members=members, leader_id=leader)

    def renamed(self, old_id: str, member: Member) -> Roster:
        """``member`` takes ``old_id``'s place (and leadership), keeping the member order."""
        members = {
            (member.member_id if mid == old_id else mid): (member if mid == old_id else m)
            for mid, m in self.members.items()
        }
        leader = member.member_id if self.leader_id == old_id else self.leader_id
        return self.replace(members=members, leader_id=leader)

    def compute_subscribed_topics(self) -> frozenset[str] | None:
        """The topics the members subscribe to, known only for the ``consumer`` protocol type
        once a protocol is chosen (Kafka's ``computeSubscribedTopics``)."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None
        if not self.members:
            return frozenset()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            parsed = subscribed_topics(member.metadata(self.protocol_name))
            if parsed is None:
                return None
            topics |= parsed
        return frozenset(topics)

    def to_record(self, state_timestamp: int | None) -> GroupMetadataValue:
        protocol = self.protocol_name
        return GroupMetadataValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation,
            protocol=protocol,
            leader=self.leader_id,
            current_state_timestamp=-1 if state_timestamp is None else state_timestamp,
            members=[
                GroupMetadataMember(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout=m.rebalance_timeout_ms,
                    session_timeout=m.session_timeout_ms,
                    subscription=m.metadata(protocol) if protocol is not None else b"",
                    assignment=m.assignment,
                )
                for m in self.members.values()
            ],
        )

    @classmethod
    def from_record(cls, value: GroupMetadataValue) -> Roster:
        protocol_type = value.protocol_type or None
        members: dict[str, Member] = {}
        for m in value.members:
            members[m.member_id] = Member(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                rebalance_timeout_ms=m.session_timeout if m.rebalance_timeout == -1 else m.rebalance_timeout,
                session_timeout_ms=m.session_timeout,
                protocol_type=value.protocol_type,
                protocols=((value.protocol, m.subscription),) if value.protocol is not None else (),
                assignment=m.assignment,
            )
        roster = cls(value.generation, protocol_type, value.protocol, value.leader, members)
        return roster.replace(subscribed_topics=roster.compute_subscribed_topics())

    def persisted_form(self) -> tuple[object, ...]:
        """What a GroupMetadata record of this roster says (without the state timestamp)."""
        record = self.to_record(None)
        members = sorted(
            (
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.rebalance_timeout,
                m.session_timeout,
                m.subscription,
                m.assignment,
            )
            for m in record.members
        )
        return (record.protocol_type, record.generation, record.protocol, record.leader, tuple(members))


class ClassicGroup:
    def __init__(
        self, group_id: str, state: GroupState, state_since: int | None, stored: Roster | None = None
    ) -> None:
        self.group_id = group_id
        self.state = state
        self.previous_state = GroupState.DEAD
        self.state_since = state_since  # when the group entered its state (None: unknown)
        self.stored = stored if stored is not None else Roster()
        self._work: Roster | None = None
        # the waiting room
        self.join_waiters: dict[str, Waiter] = {}
        self.sync_waiters: dict[str, Waiter] = {}
        self.pending_members: set[str] = set()  # ids handed out with MEMBER_ID_REQUIRED
        self.new_members: set[str] = set()  # joined this round for the first time
        self.pending_sync: set[str] = set()  # members a SyncGroup is still expected from
        self.new_member_added = False  # a member arrived during the initial delay
        self.initial_delay: tuple[int, int] | None = None  # (delay, remaining) of the delayed join
        self.sync_generation = -1  # the generation whose SyncGroups the sync deadline awaits

    # -- the current roster ------------------------------------------------------------------

    @property
    def roster(self) -> Roster:
        return self._work if self._work is not None else self.stored

    @property
    def working(self) -> Roster | None:
        """The roster under negotiation, if it differs from the stored one."""
        return self._work

    def update(self, roster: Roster) -> None:
        """Replace the working roster (operations only; ``stored`` is untouched)."""
        self._work = roster

    def load(self, roster: Roster, state_since: int | None) -> None:
        """Take a replayed record as the whole group (replay only, and only while nothing is
        under negotiation). Like Kafka's loader this is not a transition: the group is born
        EMPTY or STABLE."""
        assert self._work is None, "a negotiating group cannot be reloaded"
        self.stored = roster
        self.state = GroupState.STABLE if roster.members else GroupState.EMPTY
        self.state_since = state_since

    def settle(self) -> None:
        """The stored roster has caught up with the working one: drop the copy (replay only)."""
        if self._work is not None:
            self.stored = self._work
            self._work = None

    @property
    def members(self) -> Mapping[str, Member]:
        return self.roster.members

    @property
    def generation(self) -> int:
        return self.roster.generation

    @property
    def leader_id(self) -> str | None:
        return self.roster.leader_id

    @property
    def protocol_type(self) -> str | None:
        return self.roster.protocol_type

    @property
    def protocol_name(self) -> str | None:
        return self.roster.protocol_name

    def is_leader(self, member_id: str) -> bool:
        return self.roster.leader_id == member_id

    def uses_consumer_protocol(self) -> bool:
        return self.roster.protocol_type == CONSUMER_PROTOCOL_TYPE

    def is_subscribed_to(self, topic: str) -> bool:
        topics = self.roster.subscribed_topics
        return self.uses_consumer_protocol() if topics is None else topic in topics

    # -- state -------------------------------------------------------------------------------

    def transition(self, target: GroupState, now: int) -> None:
        check_transition(self.group_id, self.state, target)
        self.previous_state = self.state
        self.state = target
        self.state_since = now

    def can_rebalance(self) -> bool:
        return self.state in VALID_PREVIOUS_STATES[GroupState.PREPARING_REBALANCE]

    # -- membership --------------------------------------------------------------------------

    def has_member(self, member_id: str) -> bool:
        return member_id in self.roster.members

    def static_member_id(self, group_instance_id: str | None) -> str | None:
        return None if group_instance_id is None else self.roster.static_member_id(group_instance_id)

    def validate_member(self, member_id: str, group_instance_id: str | None) -> ErrorCode:
        """Kafka's ``validateMember``: a static member's instance id must map to this member id
        (FENCED_INSTANCE_ID otherwise), and the member must exist (UNKNOWN_MEMBER_ID)."""
        if group_instance_id is not None:
            existing = self.static_member_id(group_instance_id)
            if existing is None:
                return ErrorCode.UNKNOWN_MEMBER_ID
            if existing != member_id:
                return ErrorCode.FENCED_INSTANCE_ID
        if not self.has_member(member_id):
            return ErrorCode.UNKNOWN_MEMBER_ID
        return ErrorCode.NONE

    def is_awaiting_join(self, member_id: str) -> bool:
        return member_id in self.join_waiters

    def is_awaiting_sync(self, member_id: str) -> bool:
        return member_id in self.sync_waiters

    def awaiting_join_count(self) -> int:
        return sum(1 for mid in self.members if mid in self.join_waiters)

    def has_all_members_joined(self) -> bool:
        return self.awaiting_join_count() == len(self.members) and not self.pending_members

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def add_member(self, member: Member, waiter: Waiter | None) -> None:
        self.update(self.roster.with_member(member))
        if waiter is not None:
            self.join_waiters[member.member_id] = waiter
        self.pending_members.discard(member.member_id)

    def put_member(self, member: Member) -> None:
        """Replace an existing member's description (same id) in the working roster."""
        members = dict(self.roster.members)
        members[member.member_id] = member
        self.update(self.roster.replace(members=members))

    def remove_member(self, member_id: str) -> None:
        """Forget a member everywhere. Callers answer its parked requests first."""
        if member_id in self.roster.members:
            self.update(self.roster.without_member(member_id))
        self.join_waiters.pop(member_id, None)
        self.sync_waiters.pop(member_id, None)
        self.pending_members.discard(member_id)
        self.pending_sync.discard(member_id)
        self.new_members.discard(member_id)

    # -- protocols ---------------------------------------------------------------------------

    def supports_protocols(self, protocol_type: str, names: set[str]) -> bool:
        """Kafka's ``supportsProtocols``: an empty group takes any non-empty protocol type with
        at least one protocol; otherwise the type must match and one of the protocols must be
        supported by every current member."""
        if self.state is GroupState.EMPTY:
            return bool(protocol_type) and bool(names)
        if self.roster.protocol_type != protocol_type:
            return False
        members = list(self.members.values())
        return any(all(name in m.protocol_names() for m in members) for name in names)

    def select_protocol(self, members: Iterable[Member] | None = None) -> str:
        """Kafka's vote: among the protocols every member supports, each member votes for its
        most preferred; the most votes win (a tie goes to the first in HashMap order)."""
        voters = list(self.members.values() if members is None else members)
        if not voters:
            raise ValueError(f"cannot select a protocol for empty group {self.group_id}")
        candidates = set.intersection(*(m.protocol_names() for m in voters))
        votes: dict[str, int] = {}
        for member in voters:
            choice = member.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        best: str | None = None
        for name in hash_map_order(votes):
            if best is None or votes[name] > votes[best]:
                best = name
        assert best is not None
        return best
