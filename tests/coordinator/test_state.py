"""The classic group state machine: Kafka's table of valid previous states."""

from __future__ import annotations

import itertools

import pytest

from moldau.coordinator.group.group import ClassicGroup
from moldau.coordinator.group.state import (
    VALID_PREVIOUS_STATES,
    GroupState,
    IllegalTransition,
    can_transition,
)
from moldau.protocol.errors import ErrorCode

from .harness import Harness

S = GroupState
LEGAL = {
    (S.PREPARING_REBALANCE, S.EMPTY),
    (S.EMPTY, S.PREPARING_REBALANCE),
    (S.STABLE, S.PREPARING_REBALANCE),
    (S.COMPLETING_REBALANCE, S.PREPARING_REBALANCE),
    (S.PREPARING_REBALANCE, S.COMPLETING_REBALANCE),
    (S.COMPLETING_REBALANCE, S.STABLE),
    *((state, S.DEAD) for state in S),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_follows_the_table(current, target):
    assert can_transition(current, target) == ((current, target) in LEGAL)
    group = ClassicGroup("g", current, 0)
    if (current, target) in LEGAL:
        group.transition(target, 5)
        assert (group.state, group.previous_state, group.state_since) == (target, current, 5)
    else:
        with pytest.raises(IllegalTransition) as raised:
            group.transition(target, 5)
        assert raised.value.code is ErrorCode.UNKNOWN_SERVER_ERROR
        assert group.state is current


def test_table_is_kafkas():
    assert VALID_PREVIOUS_STATES[S.STABLE] == {S.COMPLETING_REBALANCE}
    assert VALID_PREVIOUS_STATES[S.DEAD] == set(S)


def test_display_names():
    assert [s.display_name for s in S] == [
        "Empty",
        "PreparingRebalance",
        "CompletingRebalance",
        "Stable",
        "Dead",
    ]


def test_a_group_walks_every_transition():
    """Empty -> PreparingRebalance -> CompletingRebalance -> Stable -> PreparingRebalance ->
    CompletingRebalance -> PreparingRebalance -> Empty -> Dead, each move made by the request
    or deadline that makes it in Kafka."""
    h = Harness()
    seen = []

    def state() -> GroupState | None:
        group = h.coordinator.group("g")
        return None if group is None else group.state

    def note() -> None:
        if not seen or seen[-1] is not state():
            seen.append(state())

    leader, follower = _two_members(h, note)
    h.join("g", leader)  # the leader asks for a rebalance
    note()
    h.join("g", follower)  # everyone is back: the join phase completes
    note()
    h.leave("g", (follower, None))  # a departure while waiting for the assignment
    note()
    h.leave("g", (leader, None))  # nobody is left
    note()
    h.advance(600_000)  # the retention sweep removes the empty group
    note()
    assert seen == [
        S.EMPTY,
        S.PREPARING_REBALANCE,
        S.COMPLETING_REBALANCE,
        S.STABLE,
        S.PREPARING_REBALANCE,
        S.COMPLETING_REBALANCE,
        S.PREPARING_REBALANCE,
        S.EMPTY,
        None,  # Dead, and gone
    ]


def _two_members(h: Harness, note) -> tuple[str, str]:
    first = h.answer(h.join("g")).member_id
    note()
    token = h.join("g", first)
    note()
    second = h.answer(h.join("g")).member_id
    other = h.join("g", second)
    h.advance(6_000)
    note()
    generation = h.answer(token).generation_id
    h.sync("g", generation, second)
    h.sync("g", generation, first, {first: b"a", second: b"b"})
    note()
    assert h.answer(other).generation_id == generation
    return first, second
