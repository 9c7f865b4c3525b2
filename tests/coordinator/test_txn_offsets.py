"""TxnOffsetCommit, transaction markers, and what pending offsets mean for the other APIs."""

from __future__ import annotations

from typing import Any

import pytest

from moldau.coordinator.group import CoordinatorRecord, GroupConfig, GroupCoordinator, GroupState
from moldau.coordinator.group.records import decode_key, decode_offset_commit_value
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_groups import DeleteGroupsRequest
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
from moldau.util.clock import ManualClock

from .harness import START_MS, Harness, Marker, subscription

E = ErrorCode
PID = 1000
OTHER_PID = 2000


def codes(response: Any) -> list[int]:
    return [p.error_code for t in response.topics for p in t.partitions]


def fetched(response: Any) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (offset, error code)."""
    return {
        (t.name, p.partition_index): (p.committed_offset, p.error_code)
        for t in response.topics
        for p in t.partitions
    }


# -- TxnOffsetCommit and markers ------------------------------------------------------------


def test_transactional_commit_writes_records_of_the_producer():
    h = Harness()
    token = h.txn_commit("g", {("t", 0): 10, ("t", 1): 11}, producer_epoch=3, leader_epoch=2, metadata="m")
    assert codes(h.answer(token)) == [E.NONE, E.NONE]
    assert len(h.log) == 2
    for record in h.log:
        assert (record.partition, record.producer_id, record.producer_epoch) == (
            h.coordinator.partition_for("g"),
            PID,
            3,
        )
        assert record.is_transactional
    value = decode_offset_commit_value(h.log[0].value)
    assert (value.offset, value.leader_epoch, value.metadata, value.commit_timestamp) == (
        10,
        2,
        "m",
        START_MS,
    )
    assert value.expire_timestamp == -1


def test_pending_offsets_are_invisible_until_the_commit_marker():
    h = Harness()
    h.txn_commit("g", {("t", 0): 10}, leader_epoch=2, metadata="m")
    assert h.coordinator.committed("g", "t", 0) is None
    assert h.coordinator.has_pending_offset("g", "t", 0)
    assert fetched(h.fetch("g", {"t": [0]})) == {("t", 0): (-1, E.NONE)}
    assert h.fetch("g", None).topics == []
    h.end_txn("g", committed=True)
    offset = h.coordinator.committed("g", "t", 0)
    assert (offset.offset, offset.leader_epoch, offset.metadata) == (10, 2, "m")
    assert not h.coordinator.has_pending_offset("g", "t", 0)
    assert fetched(h.fetch("g", {"t": [0]})) == {("t", 0): (10, E.NONE)}


def test_abort_drops_pending_offsets_and_keeps_the_committed_one():
    h = Harness()
    h.commit("g", {("t", 0): 5})
    h.txn_commit("g", {("t", 0): 10, ("t", 1): 11})
    h.end_txn("g", committed=False)
    assert h.coordinator.committed("g", "t", 0).offset == 5
    assert h.coordinator.committed("g", "t", 1) is None
    assert h.coordinator.pending_snapshot() == {}
    h.end_txn("g", committed=True)  # a second marker finds nothing to settle
    assert h.coordinator.committed("g", "t", 0).offset == 5


def test_transactional_commit_creates_a_simple_group_that_outlives_an_abort():
    h = Harness()
    h.txn_commit("fresh", {("t", 0): 1})
    group = h.coordinator.group("fresh")
    assert group.state is GroupState.EMPTY and group.protocol_type is None
    h.end_txn("fresh", committed=False)
    assert h.coordinator.group("fresh") is not None


def test_a_marker_settles_only_its_producer_in_its_partition():
    h = Harness(offsets_topic_num_partitions=50)
    a, b = "group-a", "group-b"
    assert h.coordinator.partition_for(a) != h.coordinator.partition_for(b)
    h.txn_commit(a, {("t", 0): 1}, producer_id=PID)
    h.txn_commit(b, {("t", 0): 2}, producer_id=PID)
    h.txn_commit(a, {("t", 1): 3}, producer_id=OTHER_PID)
    h.end_txn(a, PID, committed=True)
    assert h.coordinator.committed(a, "t", 0).offset == 1
    assert h.coordinator.committed(a, "t", 1) is None  # the other producer's
    assert h.coordinator.committed(b, "t", 0) is None  # the marker in b's partition is still to come
    h.end_txn(b, PID, committed=True)
    h.end_txn(a, OTHER_PID, committed=True)
    assert (h.coordinator.committed(b, "t", 0).offset, h.coordinator.committed(a, "t", 1).offset) == (2, 3)


def test_a_later_transactional_record_of_the_same_producer_wins():
    h = Harness()
    h.txn_commit("g", {("t", 0): 10})
    h.txn_commit("g", {("t", 0): 12})
    h.end_txn("g", committed=True)
    assert h.coordinator.committed("g", "t", 0).offset == 12


def test_a_plain_commit_written_after_the_transactional_one_wins():
    h = Harness()
    h.txn_commit("g", {("t", 0): 10, ("t", 1): 10})
    h.commit("g", {("t", 0): 20})
    assert h.coordinator.committed("g", "t", 0).offset == 20  # plain commits are visible at once
    h.end_txn("g", committed=True)
    assert h.coordinator.committed("g", "t", 0).offset == 20
    assert h.coordinator.committed("g", "t", 1).offset == 10


def test_a_transactional_commit_written_after_the_plain_one_wins():
    h = Harness()
    h.commit("g", {("t", 0): 20})
    h.txn_commit("g", {("t", 0): 10})
    h.end_txn("g", committed=True)
    assert h.coordinator.committed("g", "t", 0).offset == 10


def test_between_two_transactions_the_later_record_wins_whatever_the_commit_order():
    h = Harness()
    h.txn_commit("g", {("t", 0): 1}, producer_id=PID)
    h.txn_commit("g", {("t", 0): 2}, producer_id=OTHER_PID)
    h.end_txn("g", OTHER_PID, committed=True)
    h.end_txn("g", PID, committed=True)
    assert h.coordinator.committed("g", "t", 0).offset == 2


def test_a_failed_write_answers_coordinator_not_available_and_leaves_nothing_pending():
    h = Harness()
    h.fail_writes = True
    token = h.txn_commit("g", {("t", 0): 1, ("u", 3): 2})
    assert codes(h.answer(token)) == [E.COORDINATOR_NOT_AVAILABLE] * 2
    assert h.coordinator.pending_snapshot() == {}
    assert h.coordinator.group("g") is None


def test_metadata_too_large_is_answered_per_partition():
    h = Harness(offset_metadata_max_bytes=4)
    token = h.txn_commit("g", {("t", 0): 1}, metadata="12345")
    assert codes(h.answer(token)) == [E.OFFSET_METADATA_TOO_LARGE]
    assert h.log == []
    token = h.txn_commit("g", {("t", 0): 1}, metadata=None)
    assert codes(h.answer(token)) == [E.NONE]
    h.end_txn("g", committed=True)
    assert h.coordinator.committed("g", "t", 0).metadata == ""


def test_empty_group_id_is_invalid():
    h = Harness()
    assert codes(h.answer(h.txn_commit("", {("t", 0): 1, ("t", 1): 1}))) == [E.INVALID_GROUP_ID] * 2
    assert h.log == []


def test_a_request_without_a_producer_id_is_refused():
    h = Harness()
    token = h.txn_commit("g", {("t", 0): 1}, producer_id=-1)
    assert codes(h.answer(token)) == [E.INVALID_PRODUCER_ID_MAPPING]
    assert h.log == []


# -- member and generation checks -----------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4, 5])
def test_without_member_fields_a_group_with_members_accepts(version: int):
    """Before v3 there are no member fields; from v3 a producer that sends none is accepted
    too (OffsetCommit would answer UNKNOWN_MEMBER_ID)."""
    h = Harness()
    h.form_group("g", 2)
    assert codes(h.answer(h.txn_commit("g", {("t", 0): 1}, version=version))) == [E.NONE]


@pytest.mark.parametrize("version", [3, 4, 5])
def test_member_checks_from_v3(version: int):
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2, protocols=[("range", subscription("t"))])

    def answer(**kwargs: Any) -> list[int]:
        return codes(h.answer(h.txn_commit("g", {("t", 0): 1}, version=version, **kwargs)))

    assert answer(generation=generation, member_id=follower) == [E.NONE]
    assert answer(generation=generation, member_id="stranger") == [E.UNKNOWN_MEMBER_ID]
    assert answer(generation=generation + 1, member_id=leader) == [E.ILLEGAL_GENERATION]
    assert answer(generation=generation - 1, member_id=leader) == [E.ILLEGAL_GENERATION]
    assert answer(member_id=leader) == [E.ILLEGAL_GENERATION]  # a member id with generation -1
    assert answer(generation=generation, member_id="", instance=None) == [E.UNKNOWN_MEMBER_ID]


def test_static_member_checks():
    h = Harness()
    (first, _second), generation = h.form_group("g", 2, instances=["i1", "i2"])
    assert codes(
        h.answer(h.txn_commit("g", {("t", 0): 1}, generation=generation, member_id=first, instance="i1"))
    ) == [E.NONE]
    token = h.txn_commit(
        "g", {("t", 0): 1}, generation=generation, member_id="old-incarnation", instance="i1"
    )
    assert codes(h.answer(token)) == [E.FENCED_INSTANCE_ID]
    token = h.txn_commit("g", {("t", 0): 1}, generation=generation, member_id=first, instance="unknown")
    assert codes(h.answer(token)) == [E.UNKNOWN_MEMBER_ID]


def test_unknown_group_with_a_generation_is_illegal_generation():
    h = Harness()
    token = h.txn_commit("nobody", {("t", 0): 1}, generation=3, member_id="m")
    assert codes(h.answer(token)) == [E.ILLEGAL_GENERATION]
    assert h.coordinator.group("nobody") is None


def test_empty_group_accepts_generation_minus_one_whatever_the_member_id():
    h = Harness()
    (member,), _ = h.form_group("g", 1)
    h.leave("g", (member, None))
    token = h.txn_commit("g", {("t", 0): 1}, member_id="gone")
    assert codes(h.answer(token)) == [E.NONE]


def test_accepted_while_the_group_awaits_its_assignment():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    h.join("g", leader)
    h.join("g", follower)
    group = h.coordinator.group("g")
    assert group.state is GroupState.COMPLETING_REBALANCE
    token = h.txn_commit("g", {("t", 0): 1}, generation=group.generation, member_id=follower)
    assert codes(h.answer(token)) == [E.NONE]  # OffsetCommit would answer REBALANCE_IN_PROGRESS
    token = h.txn_commit("g", {("t", 0): 1}, generation=generation, member_id=follower)
    assert codes(h.answer(token)) == [E.ILLEGAL_GENERATION]


def test_a_transactional_commit_is_not_a_heartbeat():
    h = Harness()
    (member,), generation = h.form_group("g", 1)
    deadline = h.coordinator.session_deadline("g", member)
    h.advance(1_000)
    h.txn_commit("g", {("t", 0): 1}, generation=generation, member_id=member)
    assert h.coordinator.session_deadline("g", member) == deadline


# -- OffsetFetch require_stable -------------------------------------------------------------


def test_require_stable_answers_unstable_offset_commit_until_the_marker():
    h = Harness()
    h.commit("g", {("t", 0): 5, ("t", 1): 6})
    h.txn_commit("g", {("t", 0): 10, ("u", 0): 1})
    wanted = {"t": [0, 1, 2], "u": [0]}
    assert fetched(h.fetch("g", wanted, require_stable=True)) == {
        ("t", 0): (-1, E.UNSTABLE_OFFSET_COMMIT),
        ("t", 1): (6, E.NONE),
        ("t", 2): (-1, E.NONE),
        ("u", 0): (-1, E.UNSTABLE_OFFSET_COMMIT),
    }
    assert h.fetch("g", wanted, require_stable=True).error_code == E.NONE
    # without require_stable the last committed offset is answered
    assert fetched(h.fetch("g", wanted)) == {
        ("t", 0): (5, E.NONE),
        ("t", 1): (6, E.NONE),
        ("t", 2): (-1, E.NONE),
        ("u", 0): (-1, E.NONE),
    }
    h.end_txn("g", committed=True)
    assert fetched(h.fetch("g", wanted, require_stable=True)) == {
        ("t", 0): (10, E.NONE),
        ("t", 1): (6, E.NONE),
        ("t", 2): (-1, E.NONE),
        ("u", 0): (1, E.NONE),
    }


def test_require_stable_after_an_abort():
    h = Harness()
    h.commit("g", {("t", 0): 5})
    h.txn_commit("g", {("t", 0): 10})
    h.end_txn("g", committed=False)
    assert fetched(h.fetch("g", {"t": [0]}, require_stable=True)) == {("t", 0): (5, E.NONE)}


def test_require_stable_when_fetching_everything_lists_committed_partitions_only():
    h = Harness()
    h.commit("g", {("t", 0): 5, ("t", 1): 6})
    h.txn_commit("g", {("t", 0): 10, ("u", 0): 1})
    assert fetched(h.fetch("g", None, require_stable=True)) == {
        ("t", 0): (-1, E.UNSTABLE_OFFSET_COMMIT),
        ("t", 1): (6, E.NONE),
    }


def test_require_stable_does_not_exist_before_v7():
    h = Harness()
    h.commit("g", {("t", 0): 5})
    h.txn_commit("g", {("t", 0): 10})
    assert fetched(h.fetch("g", {"t": [0]}, version=6, require_stable=True)) == {("t", 0): (5, E.NONE)}


def test_require_stable_with_several_groups():
    h = Harness()
    h.commit("a", {("t", 0): 5})
    h.txn_commit("a", {("t", 0): 10})
    h.commit("b", {("t", 0): 7})
    req = OffsetFetchRequest(
        groups=[
            OffsetFetchRequestGroup(
                group_id=g, topics=[OffsetFetchRequestTopics(name="t", partition_indexes=[0])]
            )
            for g in ("a", "b")
        ],
        require_stable=True,
    )
    response = h.answer(h.call("offset_fetch", req, 8))
    answers = {
        g.group_id: [(p.committed_offset, p.error_code) for t in g.topics for p in t.partitions]
        for g in response.groups
    }
    assert answers == {"a": [(-1, E.UNSTABLE_OFFSET_COMMIT)], "b": [(7, E.NONE)]}
    assert [g.error_code for g in response.groups] == [E.NONE, E.NONE]


# -- deletion and expiry --------------------------------------------------------------------


def _offset_tombstones(records: list[CoordinatorRecord]) -> list[tuple[str, int]]:
    found = []
    for record in records:
        key = decode_key(record.key)
        if record.value is None and hasattr(key, "topic"):
            found.append((key.topic, key.partition))
    return found


def test_delete_groups_removes_pending_offsets_too():
    h = Harness()
    h.commit("g", {("t", 0): 5})
    h.txn_commit("g", {("t", 0): 10, ("t", 1): 11})
    before = len(h.log)
    token = h.call("delete_groups", DeleteGroupsRequest(groups_names=["g"]), 2)
    assert [r.error_code for r in h.answer(token).results] == [E.NONE]
    # one tombstone per partition, written once even where both kinds of offset exist
    assert _offset_tombstones(h.log[before:]) == [("t", 0), ("t", 1)]
    assert h.coordinator.group("g") is None
    assert h.coordinator.pending_snapshot() == {}
    h.end_txn("g", committed=True)
    assert h.coordinator.offsets_snapshot() == {}


def test_offset_delete_reaches_a_partition_with_only_a_pending_offset():
    h = Harness()
    h.txn_commit("g", {("t", 0): 10, ("t", 1): 11})
    before = len(h.log)
    req = OffsetDeleteRequest(
        group_id="g",
        topics=[
            OffsetDeleteRequestTopic(name="t", partitions=[OffsetDeleteRequestPartition(partition_index=0)])
        ],
    )
    h.call("offset_delete", req, 0)
    assert _offset_tombstones(h.log[before:]) == [("t", 0)]
    assert not h.coordinator.has_pending_offset("g", "t", 0)
    h.end_txn("g", committed=True)
    assert h.coordinator.committed("g", "t", 0) is None
    assert h.coordinator.committed("g", "t", 1).offset == 11


MINUTE = 60_000


def test_expiry_waits_for_the_transaction_and_keeps_the_group():
    h = Harness(GroupConfig(offsets_retention_minutes=60))
    h.commit("g", {("t", 0): 5, ("t", 1): 6})
    h.txn_commit("g", {("t", 0): 10})
    h.txn_commit("only-pending", {("t", 0): 1})
    h.advance(70 * MINUTE)  # both offsets of g are past retention; t-0 has a pending offset
    assert h.coordinator.committed("g", "t", 0).offset == 5
    assert h.coordinator.committed("g", "t", 1) is None
    assert h.coordinator.group("g") is not None
    assert h.coordinator.group("only-pending") is not None
    h.end_txn("g", committed=False)
    h.end_txn("only-pending", committed=False)
    h.advance(10 * MINUTE)
    assert h.coordinator.group("g") is None
    assert h.coordinator.group("only-pending") is None


# -- replay ----------------------------------------------------------------------------------


def load(h: Harness, history: list[CoordinatorRecord | Marker]) -> GroupCoordinator:
    fresh = GroupCoordinator(ManualClock(time_ms=h.clock.time_ms()), h.coordinator.config)
    for event in history:
        if isinstance(event, Marker):
            fresh.replay_marker(event.partition, event.producer_id, event.committed)
        else:
            fresh.replay(event)
    return fresh


def txn_history(h: Harness) -> None:
    members, generation = h.form_group("members", 2, protocols=[("range", subscription("in"))])
    h.commit("plain", {("t", 0): 1})
    h.txn_commit("plain", {("t", 0): 2, ("t", 1): 3}, producer_id=PID)
    h.txn_commit("members", {("out", 0): 7}, producer_id=PID, generation=generation, member_id=members[1])
    h.txn_commit("plain", {("t", 1): 4}, producer_id=OTHER_PID)
    h.commit("plain", {("t", 1): 5})  # after both transactional records of t-1
    h.txn_commit("aborted", {("x", 0): 9}, producer_id=3000)
    h.end_txn("plain", PID, committed=True)
    h.end_txn("members", PID, committed=True)
    h.end_txn("aborted", 3000, committed=False)
    h.txn_commit("plain", {("t", 2): 6}, producer_id=PID)  # the producer's next transaction
    h.txn_commit("members", {("out", 1): 8}, producer_id=4000)  # left open


def test_records_and_markers_in_log_order_rebuild_the_same_state():
    h = Harness()
    txn_history(h)
    assert h.coordinator.committed("plain", "t", 0).offset == 2
    assert h.coordinator.committed("plain", "t", 1).offset == 5
    assert h.coordinator.committed("members", "out", 0).offset == 7
    assert h.coordinator.committed("aborted", "x", 0) is None
    fresh = load(h, h.history)
    assert fresh.offsets_snapshot() == h.coordinator.offsets_snapshot()
    assert fresh.pending_snapshot() == h.coordinator.pending_snapshot()
    assert set(fresh.pending_snapshot()) == {
        (h.coordinator.partition_for("plain"), PID),
        (h.coordinator.partition_for("plain"), OTHER_PID),
        (h.coordinator.partition_for("members"), 4000),
    }
    assert sorted(fresh.group_ids()) == sorted(h.coordinator.group_ids())
    # the open transactions settle the same way after loading
    for coordinator in (fresh, h.coordinator):
        coordinator.replay_marker(h.coordinator.partition_for("plain"), OTHER_PID, True)
        coordinator.replay_marker(h.coordinator.partition_for("members"), 4000, True)
    assert fresh.offsets_snapshot() == h.coordinator.offsets_snapshot()
    assert fresh.committed("plain", "t", 1).offset == 5  # the plain commit came later
    assert fresh.committed("members", "out", 1).offset == 8


def test_loading_one_partition_after_another_gives_the_same_state():
    """The runtime loads partition by partition; live, the partitions interleave."""
    h = Harness(offsets_topic_num_partitions=4)
    txn_history(h)
    partitions = [event.partition for event in h.history]
    by_partition = sorted(h.history, key=lambda event: event.partition)
    assert len(set(partitions)) > 1 and by_partition != h.history
    fresh = load(h, by_partition)
    assert fresh.offsets_snapshot() == h.coordinator.offsets_snapshot()
    assert fresh.pending_snapshot() == h.coordinator.pending_snapshot()
