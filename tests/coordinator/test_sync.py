"""SyncGroup: errors, parking followers until the leader's assignment is durable."""

from __future__ import annotations

import pytest

from moldau.coordinator.group import GroupState
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.sync_group import SyncGroupRequest, SyncGroupRequestAssignment

from .harness import Harness

E = ErrorCode


def completing(h: Harness, count: int = 2, **kwargs) -> tuple[list[str], int]:
    """A group whose join phase is over (COMPLETING_REBALANCE); leader first."""
    tokens = [h.join_new("g", **kwargs)[1] for _ in range(count)]
    h.advance(6_000)
    answers = [h.answer(t) for t in tokens]
    leader = answers[0].leader
    return [leader, *[a.member_id for a in answers if a.member_id != leader]], answers[0].generation_id


def test_empty_group_id():
    h = Harness()
    assert h.answer(h.sync("", 1, "m")).error_code == E.INVALID_GROUP_ID


@pytest.mark.parametrize("version", [0, 3, 4])
def test_unknown_group_or_member(version):
    h = Harness()
    assert h.answer(h.sync("nope", 1, "m", version=version)).error_code == E.UNKNOWN_MEMBER_ID
    (_leader, _), generation = h.form_group("g", 2)
    assert h.answer(h.sync("g", generation, "stranger", version=version)).error_code == E.UNKNOWN_MEMBER_ID


def test_empty_group_is_unknown_member():
    h = Harness()
    h.commit("g", {("t", 0): 1})  # a group with offsets only
    assert h.coordinator.group("g").state is GroupState.EMPTY
    assert h.answer(h.sync("g", 0, "m")).error_code == E.UNKNOWN_MEMBER_ID


def test_illegal_generation():
    h = Harness()
    (leader, _), generation = h.form_group("g", 2)
    assert h.answer(h.sync("g", generation + 1, leader)).error_code == E.ILLEGAL_GENERATION


def test_rebalance_in_progress():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.join("g", leader)
    assert h.answer(h.sync("g", generation, follower)).error_code == E.REBALANCE_IN_PROGRESS


def test_v5_protocol_type_and_name_are_mandatory_and_checked():
    h = Harness()
    (_leader, follower), generation = h.form_group("g", 2)
    missing = h.sync("g", generation, follower, version=5, protocol_type="consumer")
    assert h.answer(missing).error_code == E.INCONSISTENT_GROUP_PROTOCOL
    missing_on_bad_group = h.sync("", generation, follower, version=5)
    assert h.answer(missing_on_bad_group).error_code == E.INCONSISTENT_GROUP_PROTOCOL
    wrong = h.sync("g", generation, follower, version=5, protocol_type="consumer", protocol_name="sticky")
    assert h.answer(wrong).error_code == E.INCONSISTENT_GROUP_PROTOCOL
    wrong = h.sync("g", generation, follower, version=5, protocol_type="connect", protocol_name="range")
    assert h.answer(wrong).error_code == E.INCONSISTENT_GROUP_PROTOCOL
    right = h.answer(
        h.sync("g", generation, follower, version=5, protocol_type="consumer", protocol_name="range")
    )
    assert (right.error_code, right.protocol_type, right.protocol_name) == (E.NONE, "consumer", "range")
    assert right.assignment == b"assigned" + follower.encode()


def test_fenced_instance_id():
    h = Harness()
    (leader,), generation = h.form_group("g", 1, instances=["inst-a"])
    assert h.answer(h.sync("g", generation, "other-id", instance="inst-a")).error_code == E.FENCED_INSTANCE_ID
    assert h.answer(h.sync("g", generation, leader, instance="inst-b")).error_code == E.UNKNOWN_MEMBER_ID


def test_followers_wait_for_the_leader():
    h = Harness()
    (leader, follower), generation = completing(h)
    parked = h.sync("g", generation, follower)
    assert h.pending(parked)
    h.advance(6_000)
    h.heartbeat("g", generation, leader)
    h.advance(6_000)  # the follower's session has passed: parked, it needs no heartbeat
    assert h.pending(parked)
    assert follower in h.coordinator.group("g").members
    h.sync("g", generation, leader, {leader: b"L"})  # no assignment for the follower
    assert h.answer(parked).error_code == E.NONE
    assert h.answer(parked).assignment == b""
    assert h.coordinator.group("g").state is GroupState.STABLE


def test_stable_group_answers_at_once():
    h = Harness()
    (_leader, follower), generation = h.form_group("g", 2)
    resp = h.answer(h.sync("g", generation, follower))
    assert (resp.error_code, resp.assignment) == (E.NONE, b"assigned" + follower.encode())


def test_leader_assignment_is_answered_after_the_write():
    h = Harness()
    (leader, follower), generation = completing(h)
    parked = h.sync("g", generation, follower)
    req = SyncGroupRequest(
        group_id="g",
        generation_id=generation,
        member_id=leader,
        assignments=[
            SyncGroupRequestAssignment(member_id=leader, assignment=b"L"),
            SyncGroupRequestAssignment(member_id=follower, assignment=b"F"),
        ],
    )
    result = h.coordinator.sync_group(req, 3, "leader-token")
    assert len(result.records) == 1
    assert {token for token, _ in result.replies} == {"leader-token", parked}
    assert {r.error_code for _, r in result.replies_if_write_fails} == {E.COORDINATOR_NOT_AVAILABLE}
    group = h.coordinator.group("g")
    assert group.state is GroupState.COMPLETING_REBALANCE  # not durable yet
    h.apply(result)
    assert group.state is GroupState.STABLE and group.working is None
    assert h.answer(parked).assignment == b"F"


def test_a_sync_arriving_during_the_write_is_answered_by_tick():
    h = Harness()
    (leader, follower), generation = completing(h)
    lead_req = SyncGroupRequest(
        group_id="g",
        generation_id=generation,
        member_id=leader,
        assignments=[SyncGroupRequestAssignment(member_id=follower, assignment=b"F")],
    )
    in_flight = h.coordinator.sync_group(lead_req, 3, "lead")
    parked = h.sync("g", generation, follower)
    assert h.pending(parked)
    for record in in_flight.records:
        h.coordinator.replay(record)
    assert h.coordinator.next_deadline() == h.clock.time_ms()
    h.apply(h.coordinator.tick())
    assert h.answer(parked).assignment == b"F"
    assert h.coordinator.next_deadline() != h.clock.time_ms()


def test_failed_assignment_write():
    h = Harness()
    (leader, follower), generation = completing(h)
    parked = h.sync("g", generation, follower)
    h.fail_writes = True
    lead = h.sync("g", generation, leader, {leader: b"L", follower: b"F"})
    assert h.answer(lead).error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.answer(parked).error_code == E.COORDINATOR_NOT_AVAILABLE
    group = h.coordinator.group("g")
    assert group.state is GroupState.COMPLETING_REBALANCE
    assert group.stored.generation == 0
    # the clients rejoin (nothing changed, so no new rebalance) and sync again
    h.fail_writes = False
    assert h.answer(h.join("g", leader)).generation_id == generation
    again = h.sync("g", generation, follower)
    h.sync("g", generation, leader, {leader: b"L", follower: b"F2"})
    assert h.answer(again).assignment == b"F2"
    assert group.state is GroupState.STABLE


def test_missing_sync_removes_members_after_the_rebalance_timeout():
    h = Harness()
    (leader, follower), generation = completing(h, rebalance_ms=20_000)
    h.sync("g", generation, leader, {leader: b"L", follower: b"F"})
    group = h.coordinator.group("g")
    assert group.state is GroupState.STABLE
    for _ in range(4):  # the leader keeps its session; the follower heartbeats but never syncs
        h.advance(5_000)
        h.heartbeat("g", generation, leader)
        h.heartbeat("g", generation, follower)
    assert follower not in group.members
    assert group.state is GroupState.PREPARING_REBALANCE
