"""Every deadline: initial delay, rebalance timeout, sessions, pending member ids."""

from __future__ import annotations

from moldau.coordinator.group import GroupState
from moldau.protocol.errors import ErrorCode

from .harness import START_MS, Harness

E = ErrorCode


def test_initial_delay_without_latecomers():
    h = Harness(group_initial_rebalance_delay_ms=3_000)
    _, token = h.join_new("g")
    assert h.coordinator.next_deadline() == START_MS + 3_000
    h.advance(2_999)
    assert h.pending(token)
    h.advance(1)
    assert h.answer(token).generation_id == 1


def test_initial_delay_is_extended_by_latecomers_up_to_the_rebalance_timeout():
    h = Harness(group_initial_rebalance_delay_ms=3_000)
    tokens = [h.join_new("g", rebalance_ms=10_000)[1]]
    # delay 3000, then up to 10000 - 3000 = 7000 more, in steps of at most 3000
    for at in (2_000, 5_000, 8_000):
        h.advance(at - (h.clock.time_ms() - START_MS))
        tokens.append(h.join_new("g", rebalance_ms=10_000)[1])
    h.advance(9_999 - (h.clock.time_ms() - START_MS))
    assert all(h.pending(t) for t in tokens)
    h.advance(1)
    assert {h.answer(t).generation_id for t in tokens} == {1}
    assert len(h.answer(tokens[0]).members) == 4


def test_initial_delay_of_zero():
    h = Harness(group_initial_rebalance_delay_ms=0)
    _, token = h.join_new("g")
    assert h.answer(token).generation_id == 1


def test_rebalance_timeout_drops_members_that_do_not_rejoin():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, rebalance_ms=15_000)
    token = h.join("g", leader, rebalance_ms=15_000)
    for _ in range(2):  # the follower heartbeats (REBALANCE_IN_PROGRESS) but never rejoins
        h.advance(7_000)
        assert h.answer(h.heartbeat("g", generation, follower)).error_code == E.REBALANCE_IN_PROGRESS
    assert h.pending(token)
    h.advance(1_000)
    resp = h.answer(token)
    assert (resp.generation_id, [m.member_id for m in resp.members]) == (generation + 1, [leader])
    assert follower not in h.coordinator.group("g").members


def test_session_timeout_starts_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.advance(9_000)
    h.heartbeat("g", generation, leader)
    h.advance(1_000)  # the follower's 10 s session is over
    group = h.coordinator.group("g")
    assert follower not in group.members
    assert group.state is GroupState.PREPARING_REBALANCE
    assert h.answer(h.heartbeat("g", generation, leader)).error_code == E.REBALANCE_IN_PROGRESS
    resp = h.answer(h.join("g", leader))
    assert (resp.generation_id, len(resp.members)) == (generation + 1, 1)


def test_all_sessions_expiring_empties_the_group():
    h = Harness()
    _, generation = h.form_group("g", 2)
    h.advance(10_000)
    group = h.coordinator.group("g")
    assert group.state is GroupState.EMPTY and not group.members
    assert group.stored.generation == generation + 1


def test_pending_member_expires_after_its_session_timeout():
    h = Harness()
    member_id = h.answer(h.join("g", session_ms=8_000)).member_id
    h.advance(7_999)
    assert h.coordinator.group("g").pending_members == {member_id}
    h.advance(1)
    assert not h.coordinator.group("g").pending_members
    assert h.answer(h.join("g", member_id)).error_code == E.UNKNOWN_MEMBER_ID


def test_pending_member_holds_the_join_phase_until_it_expires():
    h = Harness()
    (leader,), generation = h.form_group("g", 1)
    pending = h.answer(h.join("g", session_ms=8_000)).member_id
    token = h.join("g", leader)  # the leader asks for a rebalance; everyone else has joined
    assert h.pending(token)
    h.advance(8_000)
    assert h.answer(token).generation_id == generation + 1
    assert pending not in h.coordinator.group("g").members


def test_pending_member_that_rejoins_in_time():
    h = Harness()
    (leader,), generation = h.form_group("g", 1)
    pending = h.answer(h.join("g")).member_id
    lead = h.join("g", leader)
    joined = h.join("g", pending)
    assert h.answer(lead).generation_id == generation + 1
    assert {m.member_id for m in h.answer(lead).members} == {leader, pending}
    assert h.answer(joined).leader == leader


def test_new_member_waiting_too_long_is_dropped():
    h = Harness()
    (leader,), generation = h.form_group("g", 1, rebalance_ms=600_000)
    newcomer = h.join("g", version=3, rebalance_ms=600_000)  # starts a rebalance; the leader never rejoins
    for _ in range(40):
        h.advance(9_000)
        h.heartbeat("g", generation, leader)
        if not h.pending(newcomer):
            break
    resp = h.answer(newcomer)
    assert (resp.error_code, resp.member_id) == (E.UNKNOWN_MEMBER_ID, "")
    assert h.clock.time_ms() - START_MS >= 300_000


def test_parked_member_needs_no_heartbeat():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, rebalance_ms=60_000)
    parked = h.join("g", follower, rebalance_ms=60_000, protocols=[("range", b"changed")])
    for _ in range(5):
        h.advance(9_000)
        h.heartbeat("g", generation, leader)
    assert follower in h.coordinator.group("g").members
    h.join("g", leader, rebalance_ms=60_000)
    assert h.answer(parked).generation_id == generation + 1


def test_next_deadline_is_the_earliest_one():
    h = Harness()
    assert h.coordinator.next_deadline() == START_MS + 600_000  # the retention sweep
    h.join("g", session_ms=7_000)
    assert h.coordinator.next_deadline() == START_MS + 7_000  # the pending member
