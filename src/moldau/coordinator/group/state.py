"""The states of a classic group and the table of legal moves between them.

Theory of operation
-------------------

A classic group is negotiated in rounds. Members announce themselves with JoinGroup; once
every known member has (re)joined, or the rebalance timeout runs out, the coordinator closes
the *join phase*: it bumps the generation, picks the protocol (assignor) and the leader, and
answers every parked JoinGroup. The leader computes the assignment and sends it with its
SyncGroup; once that assignment is durable in ``__consumer_offsets`` the generation is
complete and every member gets its share.

::

               join                 all joined, or the          leader's assignment
      EMPTY ──────────▶ PREPARING ──────────────────────▶ COMPLETING ───────────────────▶ STABLE
        ▲               REBALANCE   rebalance timeout     REBALANCE                         │
        │                │  ▲  ▲                               │                            │
        └────────────────┘  │  └───────────────────────────────┘                            │
       nobody is left       │       join / leave / member expiry                            │
                            └───────────────────────────────────────────────────────────────┘
                                    join / leave / member expiry

      any state ──▶ DEAD        (the group's tombstone is replayed)

The table below is Kafka's (``ClassicGroupState``): for each state, the states a group may
come *from*. Every transition goes through :func:`check_transition`; a move the table does not
list is a lookup failure, turned into an error with a wire code (UNKNOWN_SERVER_ERROR, what
Kafka answers for its ``IllegalStateException``), so the request that provoked it fails
instead of leaving the group half-changed.

Who moves the state: operations move a group into PREPARING_REBALANCE, COMPLETING_REBALANCE
and EMPTY (these are in-memory negotiation steps); ``replay`` moves it into STABLE (the
leader's assignment has been written) and into DEAD (a tombstone for the group has been
written; the group is removed in the same step, so no operation ever meets a DEAD group).
Loading a group from its record is not a transition: the group is born EMPTY or STABLE, as
Kafka's loader constructs it.
"""

from __future__ import annotations

import enum

from moldau.protocol.errors import ErrorCode, KafkaError


class GroupState(enum.Enum):
    """A classic group's state; the value is Kafka's display name (DescribeGroups, ListGroups)."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"

    @property
    def display_name(self) -> str:
        return self.value


# target state -> the states a group may be in to move there
VALID_PREVIOUS_STATES: dict[GroupState, frozenset[GroupState]] = {
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY}
    ),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(GroupState),
}


class IllegalTransition(KafkaError):
    """A state change the table does not allow: a coordinator bug, never the client's fault."""

    def __init__(self, group_id: str, current: GroupState, target: GroupState) -> None:
        super().__init__(
            ErrorCode.UNKNOWN_SERVER_ERROR,
            f"group {group_id!r} cannot move from {current.value} to {target.value}",
        )
        self.current = current
        self.target = target


def can_transition(current: GroupState, target: GroupState) -> bool:
    return current in VALID_PREVIOUS_STATES[target]


def check_transition(group_id: str, current: GroupState, target: GroupState) -> None:
    """Raise :class:`IllegalTransition` unless the table allows ``current -> target``."""
    if current not in VALID_PREVIOUS_STATES[target]:
        raise IllegalTransition(group_id, current, target)
