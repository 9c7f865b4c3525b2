"""Offsets retention (offsets.retention.minutes, KIP-211) and the removal of empty groups."""

from __future__ import annotations

from moldau.coordinator.group import GroupConfig
from moldau.coordinator.group.records import decode_key

from .harness import Harness, subscription

MINUTE = 60_000
CHECK = 10 * MINUTE  # offsets.retention.check.interval.ms


def harness() -> Harness:
    return Harness(GroupConfig(offsets_retention_minutes=60))


def test_offsets_of_a_group_without_members_expire_after_commit_time_plus_retention():
    h = harness()
    h.commit("simple", {("t", 0): 1})
    h.advance(30 * MINUTE)
    h.commit("simple", {("t", 1): 1})
    h.advance(30 * MINUTE)  # the sweep at 60 min: t-0 is exactly 60 min old
    assert h.coordinator.committed("simple", "t", 0) is None
    assert h.coordinator.committed("simple", "t", 1) is not None
    assert h.coordinator.group("simple") is not None
    h.advance(30 * MINUTE)  # t-1 is 60 min old at the 90 min sweep: nothing left
    assert h.coordinator.committed("simple", "t", 1) is None
    assert h.coordinator.group("simple") is None
    assert h.log[-1].value is None and decode_key(h.log[-1].key).group == "simple"


def test_empty_group_counts_from_when_it_became_empty():
    h = harness()
    (member,), generation = h.form_group("g", 1, session_ms=10 * MINUTE)
    h.commit("g", {("t", 0): 1}, generation=generation, member_id=member)
    for _ in range(15):  # 75 minutes of activity: the offset is old, the group is not empty
        h.advance(5 * MINUTE)
        h.heartbeat("g", generation, member)
    assert h.coordinator.committed("g", "t", 0) is not None
    h.leave("g", (member, None))
    emptied_at = h.clock.time_ms()
    h.advance(59 * MINUTE)
    assert h.coordinator.committed("g", "t", 0) is not None
    h.advance(CHECK)
    assert h.coordinator.committed("g", "t", 0) is None
    assert h.coordinator.group("g") is None
    assert h.clock.time_ms() - emptied_at >= 60 * MINUTE


def test_stable_consumer_group_expires_only_unsubscribed_topics():
    h = harness()
    (member,), generation = h.form_group(
        "g", 1, session_ms=10 * MINUTE, protocols=[("range", subscription("orders"))]
    )
    h.commit("g", {("orders", 0): 1, ("legacy", 0): 1}, generation=generation, member_id=member)
    for _ in range(14):
        h.advance(5 * MINUTE)
        h.heartbeat("g", generation, member)
    assert h.coordinator.committed("g", "legacy", 0) is None
    assert h.coordinator.committed("g", "orders", 0) is not None
    assert h.coordinator.group("g") is not None


def test_other_protocol_types_keep_offsets_while_they_have_members():
    h = harness()
    (member,), generation = h.form_group("g", 1, session_ms=10 * MINUTE, protocol_type="connect")
    h.commit("g", {("t", 0): 1}, generation=generation, member_id=member)
    for _ in range(14):
        h.advance(5 * MINUTE)
        h.heartbeat("g", generation, member)
    assert h.coordinator.committed("g", "t", 0) is not None


def test_explicit_retention_time_wins():
    h = harness()
    h.commit("g", {("t", 0): 1}, version=2, retention_ms=5 * MINUTE)
    h.advance(CHECK)
    assert h.coordinator.committed("g", "t", 0) is None


def test_empty_group_without_offsets_is_removed_at_the_next_sweep():
    h = harness()
    (member,), _ = h.form_group("g", 1)
    h.leave("g", (member, None))
    assert h.coordinator.group("g") is not None
    h.advance(CHECK)
    assert h.coordinator.group("g") is None


def test_sweep_runs_every_check_interval():
    h = harness()
    start = h.clock.time_ms()
    assert h.coordinator.next_deadline() == start + CHECK
    h.advance(CHECK)
    assert h.coordinator.next_deadline() == start + 2 * CHECK
