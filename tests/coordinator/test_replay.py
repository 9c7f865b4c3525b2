"""Replay: the records a coordinator writes rebuild the same groups and offsets elsewhere."""

from __future__ import annotations

from moldau.coordinator.group import CoordinatorRecord, GroupConfig, GroupCoordinator, GroupState
from moldau.coordinator.group.records import encode_group_metadata_key
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_groups import DeleteGroupsRequest
from moldau.protocol.messages.heartbeat import HeartbeatRequest
from moldau.protocol.messages.offset_delete import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from moldau.protocol.messages.sync_group import SyncGroupRequest
from moldau.util.clock import ManualClock

from .harness import Harness, subscription

E = ErrorCode


def reload(
    h: Harness, at_ms: int | None = None, config: GroupConfig | None = None, clock: ManualClock | None = None
) -> GroupCoordinator:
    """A coordinator that starts at ``at_ms`` (or now) and loads everything ``h`` wrote."""
    if clock is None:
        clock = ManualClock(time_ms=at_ms if at_ms is not None else h.clock.time_ms())
    fresh = GroupCoordinator(clock, config or h.coordinator.config)
    for record in h.log:
        fresh.replay(record)
    return fresh


def durable_view(coordinator: GroupCoordinator) -> dict[str, tuple[object, ...]]:
    view = {}
    for group_id in coordinator.group_ids():
        group = coordinator.group(group_id)
        assert group.working is None, f"{group_id} is still negotiating"
        view[group_id] = (
            group.state,
            group.generation,
            group.protocol_type,
            group.protocol_name,
            group.leader_id,
            group.roster.persisted_form(),
            group.roster.subscribed_topics,
        )
    return view


def busy_history(h: Harness) -> None:
    members, generation = h.form_group("stable", 3, protocols=[("range", subscription("orders"))])
    h.commit(
        "stable",
        {("orders", 0): 10, ("orders", 1): 11},
        generation=generation,
        member_id=members[1],
        metadata="checkpoint",
        leader_epoch=4,
    )
    h.form_group("static", 2, instances=["i1", "i2"])
    h.join("static", instance="i2", client_id="restarted")  # replaced without a rebalance
    h.commit("simple", {("t", 0): 1, ("t", 1): 2, ("t", 2): 3})
    h.commit("simple", {("t", 0): 5}, version=2, retention_ms=3_600_000)
    req = OffsetDeleteRequest(
        group_id="simple",
        topics=[
            OffsetDeleteRequestTopic(name="t", partitions=[OffsetDeleteRequestPartition(partition_index=2)])
        ],
    )
    h.call("offset_delete", req, 0)
    (solo,), solo_generation = h.form_group("emptied", 1)
    h.commit("emptied", {("x", 0): 7}, generation=solo_generation, member_id=solo)
    h.leave("emptied", (solo, None))
    h.commit("deleted", {("y", 0): 1})
    h.call("delete_groups", DeleteGroupsRequest(groups_names=["deleted"]), 2)
    h.heartbeat("stable", generation, members[0])


def test_replaying_the_log_rebuilds_groups_and_offsets():
    h = Harness()
    busy_history(h)
    fresh = reload(h)
    assert sorted(fresh.group_ids()) == ["emptied", "simple", "stable", "static"]
    assert durable_view(fresh) == durable_view(h.coordinator)
    assert fresh.offsets_snapshot() == h.coordinator.offsets_snapshot()
    assert fresh.group("stable").state is GroupState.STABLE
    assert fresh.group("emptied").state is GroupState.EMPTY
    assert fresh.group("simple").protocol_type is None
    assert fresh.committed("stable", "orders", 1).metadata == "checkpoint"
    assert fresh.committed("stable", "orders", 1).leader_epoch == 4
    assert fresh.committed("simple", "t", 0).expire_timestamp is not None


def test_loaded_members_get_fresh_sessions():
    h = Harness()
    members, _generation = h.form_group("g", 2)
    later = h.clock.time_ms() + 3_600_000
    clock = ManualClock(time_ms=later)
    fresh = reload(h, clock=clock)
    assert {fresh.session_deadline("g", m) for m in members} == {later + 10_000}
    clock.advance(5_000)  # loading took a while
    fresh.loaded()
    assert {fresh.session_deadline("g", m) for m in members} == {later + 15_000}


def test_loaded_group_answers_its_members():
    h = Harness()
    (_leader, follower), generation = h.form_group("g", 2)
    fresh = reload(h)
    result = fresh.heartbeat(_heartbeat("g", generation, follower), 3, "t")
    assert result.replies[0][1].error_code == E.NONE
    result = fresh.sync_group(_sync("g", generation, follower), 3, "s")
    assert result.replies[0][1].assignment == b"assigned" + follower.encode()


def test_a_crash_during_a_rebalance_falls_back_to_the_last_written_generation():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.join("g", leader)
    h.join("g", follower)  # generation + 1 formed in memory, never written
    assert h.coordinator.group("g").generation == generation + 1
    fresh = reload(h)
    group = fresh.group("g")
    assert (group.state, group.generation) == (GroupState.STABLE, generation)
    result = fresh.heartbeat(_heartbeat("g", generation + 1, follower), 3, "t")
    assert result.replies[0][1].error_code == E.ILLEGAL_GENERATION  # the member rejoins


def test_loaded_over_capacity_group_rebalances():
    h = Harness()
    _members, _generation = h.form_group("g", 3)
    fresh = reload(h, config=GroupConfig(group_max_size=2))
    fresh.loaded()
    assert fresh.group("g").state is GroupState.PREPARING_REBALANCE


def test_legacy_v0_group_record():
    value = (
        b"\x00\x00"
        + b"\x00\x08consumer"
        + b"\x00\x00\x00\x04"
        + b"\x00\x05range"
        + b"\x00\x02m1"
        + b"\x00\x00\x00\x01"
        + b"\x00\x02m1\x00\x01c\x00\x02/h"
        + b"\x00\x00\x27\x10"
        + b"\x00\x00\x00\x01S\x00\x00\x00\x01A"
    )
    coordinator = GroupCoordinator(ManualClock())
    coordinator.replay(CoordinatorRecord(0, encode_group_metadata_key("g"), value))
    group = coordinator.group("g")
    assert (group.state, group.generation, group.leader_id, group.state_since) == (
        GroupState.STABLE,
        4,
        "m1",
        None,
    )
    member = group.members["m1"]
    assert (member.rebalance_timeout_ms, member.session_timeout_ms, member.assignment) == (
        10_000,
        10_000,
        b"A",
    )


def test_records_of_other_group_types_are_ignored():
    coordinator = GroupCoordinator(ManualClock())
    coordinator.replay(CoordinatorRecord(0, b"\x00\x03\x00\x01g", b"\x00\x00anything"))
    assert coordinator.group_ids() == []


def _heartbeat(group: str, generation: int, member: str) -> HeartbeatRequest:
    return HeartbeatRequest(group_id=group, generation_id=generation, member_id=member)


def _sync(group: str, generation: int, member: str) -> SyncGroupRequest:
    return SyncGroupRequest(group_id=group, generation_id=generation, member_id=member)
