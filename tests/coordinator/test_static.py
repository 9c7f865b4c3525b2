"""Static membership (KIP-345): replacing a member by its group instance id."""

from __future__ import annotations

from moldau.coordinator.group import GroupState
from moldau.coordinator.group.records import decode_group_metadata_value
from moldau.protocol.errors import ErrorCode

from .harness import Harness

E = ErrorCode


def test_static_members_join_without_member_id_required():
    h = Harness()
    token = h.join("g", instance="i1", client_id="app")
    assert h.pending(token)
    h.advance(3_000)
    resp = h.answer(token)
    assert (resp.error_code, resp.member_id) == (E.NONE, "i1-1")
    assert resp.members[0].group_instance_id == "i1"


def test_restart_in_stable_replaces_the_member_without_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, instances=["i1", "i2"])
    group = h.coordinator.group("g")
    records = len(h.log)
    resp = h.answer(h.join("g", instance="i2", client_id="restarted"))
    new_id = resp.member_id
    assert new_id != follower and new_id.startswith("i2-")
    assert (resp.error_code, resp.generation_id, resp.leader, resp.members) == (
        E.NONE,
        generation,
        leader,
        [],
    )
    assert group.state is GroupState.STABLE
    assert len(h.log) == records + 1
    record = decode_group_metadata_value(h.log[-1].value)
    assert [m.member_id for m in record.members] == [leader, new_id]
    assert record.generation == generation
    assert record.members[1].client_id == "client"  # the replaced member's client id is kept
    assert group.working is None and set(group.stored.members) == {leader, new_id}
    # the new id carries on with the old assignment; the old one is fenced
    assert (
        h.answer(h.sync("g", generation, new_id, instance="i2")).assignment == b"assigned" + follower.encode()
    )
    assert h.answer(h.heartbeat("g", generation, follower, instance="i2")).error_code == E.FENCED_INSTANCE_ID
    assert h.answer(h.heartbeat("g", generation, new_id, instance="i2")).error_code == E.NONE
    assert h.answer(h.join("g", follower, instance="i2")).error_code == E.FENCED_INSTANCE_ID


def test_replaced_leader_before_v9_is_told_the_old_leader():
    h = Harness()
    (leader, _follower), _generation = h.form_group("g", 2, instances=["i1", "i2"])
    resp = h.answer(h.join("g", instance="i1", version=8))
    assert resp.leader == leader and resp.member_id != leader and not resp.skip_assignment
    assert h.coordinator.group("g").leader_id == resp.member_id


def test_replaced_leader_from_v9_gets_members_and_skip_assignment():
    h = Harness()
    (_leader, follower), _generation = h.form_group("g", 2, instances=["i1", "i2"])
    resp = h.answer(h.join("g", instance="i1", version=9))
    assert resp.leader == resp.member_id and resp.skip_assignment
    assert {m.member_id for m in resp.members} == {resp.member_id, follower}


def test_replacement_that_changes_the_protocol_rebalances():
    h = Harness()
    (_leader,), generation = h.form_group("g", 1, instances=["i1"])
    # a protocol the group cannot switch to is refused outright
    refused = h.answer(h.join("g", instance="i1", protocols=[("sticky", b"")]))
    assert refused.error_code == E.INCONSISTENT_GROUP_PROTOCOL
    # one it can switch to wins the vote: a rebalance (which completes at once, as the only
    # member has rejoined)
    resp = h.answer(h.join("g", instance="i1", protocols=[("sticky", b""), ("range", b"")]))
    assert (resp.error_code, resp.protocol_name, resp.generation_id) == (E.NONE, "sticky", generation + 1)
    assert h.coordinator.group("g").state is GroupState.COMPLETING_REBALANCE


def test_static_join_in_completing_rebalance_fences_the_old_sync():
    h = Harness()
    tokens = [h.join("g", instance=i) for i in ("i1", "i2")]
    h.advance(6_000)
    old = h.answer(tokens[1]).member_id
    parked_sync = h.sync("g", 1, old, instance="i2")
    again = h.join("g", instance="i2")
    assert h.answer(parked_sync).error_code == E.FENCED_INSTANCE_ID
    assert h.pending(again)
    assert h.coordinator.group("g").state is GroupState.PREPARING_REBALANCE


def test_static_members_that_do_not_rejoin_stay_in_the_group():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, instances=["i1", "i2"], rebalance_ms=8_000)
    token = h.join("g", leader, instance="i1", rebalance_ms=8_000)
    h.advance(5_000)
    h.heartbeat("g", generation, follower, instance="i2")
    h.advance(3_000)  # the rebalance timeout: a dynamic member would be dropped here
    resp = h.answer(token)
    assert resp.generation_id == generation + 1
    assert {m.member_id for m in resp.members} == {leader, follower}


def test_static_member_expires_with_its_session():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, instances=["i1", "i2"])
    for _ in range(3):
        h.advance(5_000)
        h.heartbeat("g", generation, leader, instance="i1")
    group = h.coordinator.group("g")
    assert follower not in group.members
    assert group.static_member_id("i2") is None


def test_failed_replacement_write():
    h = Harness()
    (leader, _follower), _generation = h.form_group("g", 2, instances=["i1", "i2"])
    h.fail_writes = True
    resp = h.answer(h.join("g", instance="i2"))
    assert (resp.error_code, resp.member_id) == (E.COORDINATOR_NOT_AVAILABLE, "")
    h.fail_writes = False
    retry = h.answer(h.join("g", instance="i2"))
    assert retry.error_code == E.NONE
    assert set(h.coordinator.group("g").stored.members) == {leader, retry.member_id}
