"""DescribeGroups, ListGroups, DeleteGroups."""

from __future__ import annotations

from moldau.coordinator.group import GroupState
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_groups import DeleteGroupsRequest
from moldau.protocol.messages.describe_groups import DescribeGroupsRequest
from moldau.protocol.messages.list_groups import ListGroupsRequest

from .harness import Harness

E = ErrorCode


def describe(h: Harness, *groups: str, version: int = 5):
    return h.answer(h.call("describe_groups", DescribeGroupsRequest(groups=list(groups)), version)).groups


def list_groups(h: Harness, version: int = 5, states=(), types=()):
    req = ListGroupsRequest(states_filter=list(states), types_filter=list(types))
    return h.answer(h.call("list_groups", req, version))


def delete_groups(h: Harness, *groups: str):
    return h.answer(h.call("delete_groups", DeleteGroupsRequest(groups_names=list(groups)), 2)).results


def test_describe_stable_group_shows_metadata_and_assignment():
    h = Harness()
    (leader, follower), _ = h.form_group("g", 2, instances=["i1", "i2"])
    (group,) = describe(h, "g")
    assert (group.error_code, group.group_state, group.protocol_type, group.protocol_data) == (
        E.NONE,
        "Stable",
        "consumer",
        "range",
    )
    assert [(m.member_id, m.group_instance_id, m.client_id, m.client_host) for m in group.members] == [
        (leader, "i1", "client", "/127.0.0.1"),
        (follower, "i2", "client", "/127.0.0.1"),
    ]
    assert [(m.member_metadata, m.member_assignment) for m in group.members] == [
        (b"range-meta", b"assigned" + leader.encode()),
        (b"range-meta", b"assigned" + follower.encode()),
    ]


def test_describe_rebalancing_group_has_no_metadata():
    h = Harness()
    (leader, _follower), _ = h.form_group("g", 2)
    h.join("g", leader)
    (group,) = describe(h, "g")
    assert (group.group_state, group.protocol_data) == ("PreparingRebalance", "")
    assert {m.member_metadata for m in group.members} == {b""}


def test_describe_empty_and_unknown_groups():
    h = Harness()
    h.commit("offsets-only", {("t", 0): 1})
    empty, unknown = describe(h, "offsets-only", "nope")
    assert (empty.error_code, empty.group_state, empty.protocol_type, empty.members) == (
        E.NONE,
        "Empty",
        "",
        [],
    )
    assert (unknown.error_code, unknown.group_state, unknown.error_message) == (E.NONE, "Dead", None)
    (unknown,) = describe(h, "nope", version=6)
    assert (unknown.error_code, unknown.group_state) == (E.GROUP_ID_NOT_FOUND, "Dead")
    assert unknown.error_message == "Group nope not found."


def test_list_groups_with_filters():
    h = Harness()
    h.form_group("stable", 1)
    h.commit("empty", {("t", 0): 1})
    h.join("preparing")
    h.join("preparing", h.coordinator.group("preparing").pending_members.copy().pop())
    everything = list_groups(h, version=3)
    assert {(g.group_id, g.protocol_type) for g in everything.groups} == {
        ("stable", "consumer"),
        ("empty", ""),
        ("preparing", "consumer"),
    }
    by_state = list_groups(h, version=4, states=["STABLE", " empty "])
    assert {(g.group_id, g.group_state) for g in by_state.groups} == {
        ("stable", "Stable"),
        ("empty", "Empty"),
    }
    assert list_groups(h, version=4, states=["Dead"]).groups == []
    assert {g.group_type for g in list_groups(h, types=["Classic"]).groups} == {"classic"}
    assert list_groups(h, types=["consumer"]).groups == []
    # filters a version does not have are ignored
    assert len(list_groups(h, version=3, states=["Dead"]).groups) == 3


def test_delete_groups():
    h = Harness()
    h.form_group("busy", 1)
    h.commit("idle", {("t", 0): 1, ("u", 1): 2})
    results = delete_groups(h, "idle", "busy", "nope")
    assert [(r.group_id, r.error_code) for r in results] == [
        ("idle", E.NONE),
        ("busy", E.NON_EMPTY_GROUP),
        ("nope", E.GROUP_ID_NOT_FOUND),
    ]
    assert [r.value for r in h.log[-3:]] == [None, None, None]  # two offsets, then the group
    assert h.coordinator.group("idle") is None
    assert h.coordinator.committed("idle", "t", 0) is None
    assert h.coordinator.group("busy").state is GroupState.STABLE


def test_failed_delete_groups_write():
    h = Harness()
    h.commit("idle", {("t", 0): 1})
    h.fail_writes = True
    (result,) = delete_groups(h, "idle")
    assert result.error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.coordinator.group("idle") is not None


def test_deleting_a_group_answers_requests_parked_in_it():
    h = Harness()
    h.commit("g", {("t", 0): 1})
    result = h.coordinator.delete_groups(DeleteGroupsRequest(groups_names=["g"]), 2, "delete")
    joiner = h.join("g", version=3)  # arrives while the tombstones are being written
    assert h.pending(joiner)
    h.apply(result)
    h.run_due()
    assert h.answer(joiner).error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.coordinator.group("g") is None
