"""OffsetCommit, OffsetFetch and OffsetDelete."""

from __future__ import annotations

import pytest

from moldau.coordinator.group import GroupState
from moldau.coordinator.group.records import decode_offset_commit_value
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from moldau.protocol.messages.offset_delete import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from moldau.protocol.messages.offset_fetch import (
    OffsetFetchRequest,
    OffsetFetchRequestGroup,
    OffsetFetchRequestTopics,
)

from .harness import START_MS, Harness, subscription

E = ErrorCode


def codes(response) -> list[int]:
    return [p.error_code for t in response.topics for p in t.partitions]


def fetched(response) -> dict[tuple[str, int], tuple[int, int, str | None]]:
    return {
        (t.name, p.partition_index): (p.committed_offset, p.committed_leader_epoch, p.metadata)
        for t in response.topics
        for p in t.partitions
    }


# -- OffsetCommit -----------------------------------------------------------------------------


def test_admin_commit_creates_the_group():
    h = Harness()
    token = h.commit("g", {("t", 0): 10, ("t", 1): 11, ("u", 0): 5}, metadata="m", leader_epoch=3)
    assert codes(h.answer(token)) == [0, 0, 0]
    assert len(h.log) == 3 and all(r.partition == h.coordinator.partition_for("g") for r in h.log)
    group = h.coordinator.group("g")
    assert group.state is GroupState.EMPTY and group.protocol_type is None
    offset = h.coordinator.committed("g", "t", 1)
    assert (offset.offset, offset.leader_epoch, offset.metadata, offset.commit_timestamp) == (
        11,
        3,
        "m",
        START_MS,
    )
    assert offset.expire_timestamp is None


def test_null_metadata_is_stored_empty():
    h = Harness()
    h.commit("g", {("t", 0): 1}, metadata=None)
    assert h.coordinator.committed("g", "t", 0).metadata == ""


def test_generation_minus_one_against_a_group_with_members():
    h = Harness()
    h.form_group("g", 1)
    assert codes(h.answer(h.commit("g", {("t", 0): 1}))) == [E.UNKNOWN_MEMBER_ID]


def test_admin_commit_to_an_emptied_group():
    h = Harness()
    (member,), _ = h.form_group("g", 1)
    h.leave("g", (member, None))
    assert codes(h.answer(h.commit("g", {("t", 0): 1}))) == [E.NONE]


@pytest.mark.parametrize(
    ("version", "code"), [(2, E.ILLEGAL_GENERATION), (8, E.ILLEGAL_GENERATION), (9, E.GROUP_ID_NOT_FOUND)]
)
def test_member_commit_to_unknown_group(version, code):
    h = Harness()
    token = h.commit("g", {("t", 0): 1}, generation=1, member_id="m", version=version)
    assert codes(h.answer(token)) == [code]
    assert h.coordinator.group("g") is None and not h.log


def test_member_commit_checks():
    h = Harness()
    (_leader, follower), generation = h.form_group("g", 2)
    ok = h.commit("g", {("t", 0): 7}, generation=generation, member_id=follower)
    assert codes(h.answer(ok)) == [E.NONE]
    stale = h.commit("g", {("t", 0): 8}, generation=generation - 1, member_id=follower)
    assert codes(h.answer(stale)) == [E.ILLEGAL_GENERATION]
    stranger = h.commit("g", {("t", 0): 8}, generation=generation, member_id="stranger")
    assert codes(h.answer(stranger)) == [E.UNKNOWN_MEMBER_ID]
    assert h.coordinator.committed("g", "t", 0).offset == 7


def test_commits_during_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.join("g", leader)  # PREPARING_REBALANCE: the old generation may still commit
    ok = h.commit("g", {("t", 0): 1}, generation=generation, member_id=follower)
    assert codes(h.answer(ok)) == [E.NONE]
    h.join("g", follower)  # COMPLETING_REBALANCE
    busy = h.commit("g", {("t", 0): 2}, generation=generation + 1, member_id=follower)
    assert codes(h.answer(busy)) == [E.REBALANCE_IN_PROGRESS]


def test_static_member_commit_fencing():
    h = Harness()
    (member,), generation = h.form_group("g", 1, instances=["i1"])
    fenced = h.commit("g", {("t", 0): 1}, generation=generation, member_id="old", instance="i1", version=7)
    assert codes(h.answer(fenced)) == [E.FENCED_INSTANCE_ID]
    ok = h.commit("g", {("t", 0): 1}, generation=generation, member_id=member, instance="i1", version=7)
    assert codes(h.answer(ok)) == [E.NONE]


def test_commit_counts_as_a_heartbeat():
    h = Harness()
    (member,), generation = h.form_group("g", 1)
    h.advance(9_000)
    h.commit("g", {("t", 0): 1}, generation=generation, member_id=member)
    h.advance(9_000)
    assert member in h.coordinator.group("g").members


def test_metadata_size_limit_counts_utf16_units():
    h = Harness(offset_metadata_max_bytes=10)
    token = h.commit("g", {("t", 0): 1}, metadata="x" * 10)
    assert codes(h.answer(token)) == [E.NONE]
    token = h.commit("g", {("t", 0): 2}, metadata="x" * 11)
    assert codes(h.answer(token)) == [E.OFFSET_METADATA_TOO_LARGE]
    # five emoji are ten UTF-16 units (twenty UTF-8 bytes); six are too many
    assert codes(h.answer(h.commit("g", {("t", 0): 3}, metadata="\U0001f600" * 5))) == [E.NONE]
    assert codes(h.answer(h.commit("g", {("t", 0): 4}, metadata="\U0001f600" * 6))) == [
        E.OFFSET_METADATA_TOO_LARGE
    ]
    assert h.coordinator.committed("g", "t", 0).offset == 3


def test_only_the_acceptable_partitions_are_written():
    h = Harness(offset_metadata_max_bytes=3)
    token = h.call(
        "offset_commit",
        _request("g", [("t", 0, "ok"), ("t", 1, "too long")]),
        8,
    )
    assert codes(h.answer(token)) == [E.NONE, E.OFFSET_METADATA_TOO_LARGE]
    assert h.coordinator.committed("g", "t", 1) is None
    assert len(h.log) == 1


def _request(group: str, partitions: list[tuple[str, int, str]]) -> OffsetCommitRequest:
    return OffsetCommitRequest(
        group_id=group,
        generation_id_or_member_epoch=-1,
        topics=[
            OffsetCommitRequestTopic(
                name=topic,
                partitions=[
                    OffsetCommitRequestPartition(partition_index=p, committed_offset=1, committed_metadata=md)
                    for t, p, md in partitions
                    if t == topic
                ],
            )
            for topic in dict.fromkeys(t for t, _, _ in partitions)
        ],
    )


def test_retention_time_is_written_as_value_v1():
    h = Harness()
    h.commit("g", {("t", 0): 1}, version=2, retention_ms=60_000)
    assert h.log[-1].value[:2] == b"\x00\x01"
    assert decode_offset_commit_value(h.log[-1].value).expire_timestamp == START_MS + 60_000
    assert h.coordinator.committed("g", "t", 0).expire_timestamp == START_MS + 60_000
    h.commit("g", {("t", 0): 2}, version=8)
    assert h.log[-1].value[:2] == b"\x00\x03"


def test_failed_commit_write():
    h = Harness()
    h.fail_writes = True
    resp = h.answer(h.commit("g", {("t", 0): 1, ("t", 1): 2}))
    assert codes(resp) == [E.COORDINATOR_NOT_AVAILABLE] * 2
    assert h.coordinator.group("g") is None


# -- OffsetFetch ------------------------------------------------------------------------------


def test_fetch_unknown_group_and_partitions():
    h = Harness()
    assert fetched(h.fetch("nope", {"t": [0]})) == {("t", 0): (-1, -1, "")}
    assert h.fetch("nope", None).topics == []
    h.commit("g", {("t", 0): 5}, leader_epoch=2, metadata="m")
    assert fetched(h.fetch("g", {"t": [0, 1], "u": [0]})) == {
        ("t", 0): (5, 2, "m"),
        ("t", 1): (-1, -1, ""),
        ("u", 0): (-1, -1, ""),
    }


def test_fetch_everything_with_null_topics():
    h = Harness()
    h.commit("g", {("b", 1): 4, ("a", 0): 1, ("b", 0): 3})
    resp = h.fetch("g", None, version=2)
    assert resp.error_code == E.NONE
    assert [(t.name, [p.partition_index for p in t.partitions]) for t in resp.topics] == [
        ("a", [0]),
        ("b", [0, 1]),
    ]


def test_fetch_v1():
    h = Harness()
    h.commit("g", {("t", 0): 9})
    assert fetched(h.fetch("g", {"t": [0]}, version=1)) == {("t", 0): (9, -1, "")}


def test_fetch_v8_several_groups():
    h = Harness()
    h.commit("g1", {("t", 0): 1})
    h.commit("g2", {("t", 0): 2, ("u", 3): 4})
    req = OffsetFetchRequest(
        groups=[
            OffsetFetchRequestGroup(
                group_id="g1", topics=[OffsetFetchRequestTopics(name="t", partition_indexes=[0, 1])]
            ),
            OffsetFetchRequestGroup(group_id="g2", topics=None),
            OffsetFetchRequestGroup(group_id="nope", topics=None),
        ]
    )
    resp = h.answer(h.call("offset_fetch", req, 8))
    by_group = {
        g.group_id: {(t.name, p.partition_index): p.committed_offset for t in g.topics for p in t.partitions}
        for g in resp.groups
    }
    assert by_group == {"g1": {("t", 0): 1, ("t", 1): -1}, "g2": {("t", 0): 2, ("u", 3): 4}, "nope": {}}
    assert {g.error_code for g in resp.groups} == {E.NONE}


# -- OffsetDelete -----------------------------------------------------------------------------


def delete(h: Harness, group: str, topics: dict[str, list[int]]):
    req = OffsetDeleteRequest(
        group_id=group,
        topics=[
            OffsetDeleteRequestTopic(
                name=t, partitions=[OffsetDeleteRequestPartition(partition_index=p) for p in parts]
            )
            for t, parts in topics.items()
        ],
    )
    return h.answer(h.call("offset_delete", req, 0))


def test_offset_delete_group_errors():
    h = Harness()
    assert delete(h, "", {"t": [0]}).error_code == E.INVALID_GROUP_ID
    assert delete(h, "nope", {"t": [0]}).error_code == E.GROUP_ID_NOT_FOUND
    h.form_group("g", 1, protocol_type="connect")
    assert delete(h, "g", {"t": [0]}).error_code == E.NON_EMPTY_GROUP


def test_offset_delete_of_an_empty_group():
    h = Harness()
    h.commit("g", {("t", 0): 1, ("t", 1): 2})
    resp = delete(h, "g", {"t": [0, 5]})
    assert (resp.error_code, codes(resp)) == (E.NONE, [E.NONE, E.NONE])
    assert h.log[-1].value is None  # one tombstone, for the partition that had an offset
    assert h.coordinator.committed("g", "t", 0) is None
    assert h.coordinator.committed("g", "t", 1).offset == 2


def test_offset_delete_of_a_consumer_group_spares_subscribed_topics():
    h = Harness()
    (member,), generation = h.form_group("g", 1, protocols=[("range", subscription("orders"))])
    h.commit("g", {("orders", 0): 1, ("old", 0): 2}, generation=generation, member_id=member)
    resp = delete(h, "g", {"orders": [0], "old": [0]})
    assert codes(resp) == [E.GROUP_SUBSCRIBED_TO_TOPIC, E.NONE]
    assert h.coordinator.committed("g", "orders", 0).offset == 1
    assert h.coordinator.committed("g", "old", 0) is None


def test_offset_delete_when_subscriptions_cannot_be_read():
    h = Harness()
    (member,), generation = h.form_group("g", 1, protocols=[("range", b"\xff")])
    h.commit("g", {("any", 0): 1}, generation=generation, member_id=member)
    assert codes(delete(h, "g", {"any": [0]})) == [E.GROUP_SUBSCRIBED_TO_TOPIC]


def test_failed_offset_delete_write():
    h = Harness()
    h.commit("g", {("t", 0): 1})
    h.fail_writes = True
    assert delete(h, "g", {"t": [0]}).error_code == E.COORDINATOR_NOT_AVAILABLE
    assert h.coordinator.committed("g", "t", 0) is not None
