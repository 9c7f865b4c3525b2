"""Heartbeat and LeaveGroup."""

from __future__ import annotations

import pytest

from moldau.coordinator.group import GroupState
from moldau.coordinator.group.records import decode_group_metadata_value
from moldau.protocol.errors import ErrorCode

from .harness import Harness

E = ErrorCode


# -- Heartbeat --------------------------------------------------------------------------------


def test_heartbeat_errors():
    h = Harness()
    assert h.answer(h.heartbeat("", 1, "m")).error_code == E.INVALID_GROUP_ID
    assert h.answer(h.heartbeat("nope", 1, "m")).error_code == E.UNKNOWN_MEMBER_ID
    (_leader, follower), generation = h.form_group("g", 2)
    assert h.answer(h.heartbeat("g", generation, "stranger")).error_code == E.UNKNOWN_MEMBER_ID
    assert h.answer(h.heartbeat("g", generation + 1, follower)).error_code == E.ILLEGAL_GENERATION
    assert h.answer(h.heartbeat("g", generation, follower)).error_code == E.NONE


def test_heartbeat_static_member_checks():
    h = Harness()
    (member,), generation = h.form_group("g", 1, instances=["i1"])
    assert h.answer(h.heartbeat("g", generation, "old-id", instance="i1")).error_code == E.FENCED_INSTANCE_ID
    assert h.answer(h.heartbeat("g", generation, member, instance="i2")).error_code == E.UNKNOWN_MEMBER_ID
    assert h.answer(h.heartbeat("g", generation, member, instance="i1")).error_code == E.NONE


def test_heartbeat_during_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.join("g", leader)
    assert h.answer(h.heartbeat("g", generation, follower)).error_code == E.REBALANCE_IN_PROGRESS
    h.join("g", follower)  # join phase complete: generation + 1, COMPLETING_REBALANCE
    assert h.coordinator.group("g").state is GroupState.COMPLETING_REBALANCE
    assert h.answer(h.heartbeat("g", generation + 1, follower)).error_code == E.NONE
    assert h.answer(h.heartbeat("g", generation, follower)).error_code == E.ILLEGAL_GENERATION


def test_heartbeats_keep_the_session_alive():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    for _ in range(5):
        h.advance(8_000)
        assert h.answer(h.heartbeat("g", generation, leader)).error_code == E.NONE
        assert h.answer(h.heartbeat("g", generation, follower)).error_code == E.NONE
    assert h.coordinator.group("g").state is GroupState.STABLE
    assert h.coordinator.session_deadline("g", leader) == h.clock.time_ms() + 10_000


# -- LeaveGroup -------------------------------------------------------------------------------


def test_leave_empty_group_id():
    h = Harness()
    assert h.answer(h.leave("", ("m", None))).error_code == E.INVALID_GROUP_ID


@pytest.mark.parametrize("version", [0, 1, 2])
def test_leave_before_v3_reports_the_member_error_at_the_top(version):
    h = Harness()
    resp = h.answer(h.leave("nope", ("m", None), version=version))
    assert (resp.error_code, resp.members) == (E.UNKNOWN_MEMBER_ID, [])
    (_leader, follower), _ = h.form_group("g", 2)
    assert h.answer(h.leave("g", ("stranger", None), version=version)).error_code == E.UNKNOWN_MEMBER_ID
    assert h.answer(h.leave("g", (follower, None), version=version)).error_code == E.NONE
    assert follower not in h.coordinator.group("g").members


def test_leave_v3_batch_with_errors_per_member():
    h = Harness()
    unknown_group = h.answer(h.leave("nope", ("a", None), ("b", "i")))
    assert unknown_group.error_code == E.NONE
    assert [(m.member_id, m.group_instance_id, m.error_code) for m in unknown_group.members] == [
        ("a", None, E.UNKNOWN_MEMBER_ID),
        ("b", "i", E.UNKNOWN_MEMBER_ID),
    ]
    (m1, _m2, m3), _ = h.form_group("g", 3, instances=["i1", "i2", "i3"])
    resp = h.answer(h.leave("g", (m1, None), ("", "i2"), ("stale-id", "i3"), ("", "i9")))
    assert [m.error_code for m in resp.members] == [
        E.NONE,
        E.NONE,
        E.FENCED_INSTANCE_ID,
        E.UNKNOWN_MEMBER_ID,
    ]
    group = h.coordinator.group("g")
    assert list(group.members) == [m3]
    assert group.state is GroupState.PREPARING_REBALANCE


def test_leave_of_a_pending_member():
    h = Harness()
    pending = h.answer(h.join("g")).member_id
    assert h.answer(h.leave("g", (pending, None))).members[0].error_code == E.NONE
    assert not h.coordinator.group("g").pending_members
    assert h.answer(h.join("g", pending)).error_code == E.UNKNOWN_MEMBER_ID


def test_leave_answers_the_parked_join_of_the_leaver():
    h = Harness()
    (leader, _follower), _ = h.form_group("g", 2)
    parked = h.join("g", leader)
    h.leave("g", (leader, None))
    resp = h.answer(parked)
    assert (resp.error_code, resp.member_id) == (E.UNKNOWN_MEMBER_ID, "")


def test_leave_during_completing_rebalance_fails_the_parked_syncs():
    h = Harness()
    tokens = [h.join_new("g")[1] for _ in range(3)]
    h.advance(6_000)
    ids = [h.answer(t).member_id for t in tokens]
    parked = h.sync("g", 1, ids[1])
    h.leave("g", (ids[2], None))
    assert h.answer(parked).error_code == E.REBALANCE_IN_PROGRESS
    assert h.coordinator.group("g").state is GroupState.PREPARING_REBALANCE


def test_last_member_leaving_empties_the_group():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.clock.advance(1_000)
    h.leave("g", (leader, None), (follower, None))
    group = h.coordinator.group("g")
    assert group.state is GroupState.EMPTY
    record = decode_group_metadata_value(h.log[-1].value)
    assert (record.generation, record.protocol, record.leader, record.members) == (
        generation + 1,
        None,
        None,
        [],
    )
    assert record.protocol_type == "consumer"
    assert record.current_state_timestamp == h.clock.time_ms()
    assert group.working is None and group.stored.generation == generation + 1


def test_leave_whose_empty_record_fails():
    h = Harness()
    (member,), _ = h.form_group("g", 1)
    h.fail_writes = True
    resp = h.answer(h.leave("g", (member, None)))
    assert resp.error_code == E.COORDINATOR_NOT_AVAILABLE
    group = h.coordinator.group("g")
    assert group.state is GroupState.EMPTY and not group.members
    assert group.stored.members  # what the log still says
    h.fail_writes = False
    token = h.join_new("g")[1]
    h.advance(3_000)
    assert h.answer(token).generation_id == 3
