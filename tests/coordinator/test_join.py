"""JoinGroup: errors per version, the MEMBER_ID_REQUIRED round trip, protocol selection."""

from __future__ import annotations

import pytest

from moldau.coordinator.group import GroupState
from moldau.coordinator.group.records import decode_group_metadata_value, decode_key
from moldau.protocol.errors import ErrorCode

from .harness import Harness

E = ErrorCode


def test_empty_group_id_is_invalid():
    h = Harness()
    resp = h.answer(h.join("", "m"))
    assert (resp.error_code, resp.member_id) == (E.INVALID_GROUP_ID, "m")
    assert h.coordinator.group("") is None


@pytest.mark.parametrize("session_ms", [5_999, 1_800_001])
def test_session_timeout_outside_the_bounds(session_ms):
    h = Harness()
    resp = h.answer(h.join("g", "m", session_ms=session_ms))
    assert (resp.error_code, resp.member_id) == (E.INVALID_SESSION_TIMEOUT, "m")
    assert h.coordinator.group("g") is None


def test_session_timeout_bounds_are_inclusive():
    h = Harness()
    assert h.answer(h.join("g", session_ms=6_000)).error_code == E.MEMBER_ID_REQUIRED
    assert h.answer(h.join("g2", session_ms=1_800_000)).error_code == E.MEMBER_ID_REQUIRED


def test_member_id_for_unknown_group():
    h = Harness()
    resp = h.answer(h.join("g", "ghost"))
    assert (resp.error_code, resp.member_id) == (E.UNKNOWN_MEMBER_ID, "ghost")
    assert h.coordinator.group("g") is None


@pytest.mark.parametrize("version", [4, 5, 6, 7, 8, 9])
def test_member_id_required_from_v4(version):
    h = Harness()
    first = h.answer(h.join("g", version=version, client_id="app"))
    assert first.error_code == E.MEMBER_ID_REQUIRED
    assert first.member_id == "app-1"
    group = h.coordinator.group("g")
    assert group.pending_members == {"app-1"} and not group.members
    second = h.join("g", "app-1", version=version)
    assert h.pending(second)  # parked for the initial delay
    h.advance(3_000)
    resp = h.answer(second)
    assert (resp.error_code, resp.member_id, resp.leader, resp.generation_id) == (E.NONE, "app-1", "app-1", 1)
    assert group.state is GroupState.COMPLETING_REBALANCE and not group.pending_members


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_before_v4_a_new_member_is_added_at_once(version):
    h = Harness()
    token = h.join("g", version=version, client_id="old")
    assert h.pending(token)
    assert list(h.coordinator.group("g").members) == ["old-1"]
    h.advance(3_000)
    resp = h.answer(token)
    assert (resp.error_code, resp.member_id, resp.generation_id) == (E.NONE, "old-1", 1)


def test_join_v0_uses_the_session_timeout_as_rebalance_timeout():
    h = Harness()
    h.join("g", version=0, session_ms=7_000, rebalance_ms=-1)
    assert h.coordinator.group("g").members["client-1"].rebalance_timeout_ms == 7_000


def test_creating_a_group_writes_an_empty_group_record():
    h = Harness()
    h.join("g")
    assert len(h.log) == 1
    assert decode_key(h.log[0].key).group == "g"
    value = decode_group_metadata_value(h.log[0].value)
    assert (value.protocol_type, value.generation, value.protocol, value.leader, value.members) == (
        "",
        0,
        None,
        None,
        [],
    )
    assert h.log[0].partition == h.coordinator.partition_for("g")


@pytest.mark.parametrize(
    ("protocol_type", "protocols"),
    [("", [("range", b"")]), ("consumer", [])],
)
def test_new_group_needs_a_protocol_type_and_protocols(protocol_type, protocols):
    h = Harness()
    resp = h.answer(h.join("g", protocol_type=protocol_type, protocols=protocols))
    assert (resp.error_code, resp.member_id) == (E.INCONSISTENT_GROUP_PROTOCOL, "")


def test_protocol_type_and_protocols_must_match_the_group():
    h = Harness()
    members, _generation = h.form_group("g", 1)
    other_type = h.answer(h.join("g", protocol_type="connect"))
    assert other_type.error_code == E.INCONSISTENT_GROUP_PROTOCOL
    unsupported = h.answer(h.join("g", protocols=[("roundrobin", b"")]))
    assert unsupported.error_code == E.INCONSISTENT_GROUP_PROTOCOL
    known = h.answer(h.join("g", members[0], protocols=[("roundrobin", b"")]))
    assert (known.error_code, known.member_id) == (E.INCONSISTENT_GROUP_PROTOCOL, members[0])
    assert h.coordinator.group("g").state is GroupState.STABLE


def test_group_max_size():
    h = Harness(group_max_size=2)
    members, _ = h.form_group("g", 2)
    resp = h.answer(h.join("g"))
    assert (resp.error_code, resp.member_id) == (E.GROUP_MAX_SIZE_REACHED, "")
    # existing members are still welcome
    assert h.answer(h.join("g", members[1])).error_code == E.NONE


def test_group_max_size_while_preparing_counts_parked_members():
    h = Harness(group_max_size=2)
    members, _ = h.form_group("g", 2)
    h.join("g", members[0])  # the leader rejoins: rebalance, one member parked
    joined = h.join("g", version=3)  # a newcomer is parked too: two awaiting
    assert h.pending(joined)
    late = h.answer(h.join("g", members[1]))  # the straggler is shed
    assert (late.error_code, late.member_id) == (E.GROUP_MAX_SIZE_REACHED, "")
    assert members[1] not in h.coordinator.group("g").members


def test_three_member_round():
    h = Harness()
    tokens = {}
    for _ in range(3):
        member_id, token = h.join_new("g", protocols=[("range", b"sub-" + str(len(tokens)).encode())])
        tokens[member_id] = token
    assert h.coordinator.group("g").state is GroupState.PREPARING_REBALANCE
    h.advance(3_000)  # newcomers arrived during the delay: it is extended once
    assert all(h.pending(t) for t in tokens.values())
    h.advance(3_000)
    answers = {m: h.answer(t) for m, t in tokens.items()}
    leader = "client-1"
    assert {a.leader for a in answers.values()} == {leader}
    assert {a.generation_id for a in answers.values()} == {1}
    assert {a.protocol_name for a in answers.values()} == {"range"}
    assert [(m.member_id, m.metadata) for m in answers[leader].members] == [
        ("client-1", b"sub-0"),
        ("client-2", b"sub-1"),
        ("client-3", b"sub-2"),
    ]
    assert all(not answers[m].members for m in tokens if m != leader)
    group = h.coordinator.group("g")
    assert group.state is GroupState.COMPLETING_REBALANCE

    follower_syncs = [h.sync("g", 1, m) for m in tokens if m != leader]
    assert all(h.pending(t) for t in follower_syncs)
    log_size = len(h.log)
    lead = h.sync("g", 1, leader, {m: b"A:" + m.encode() for m in tokens})
    assert len(h.log) == log_size + 1
    record = decode_group_metadata_value(h.log[-1].value)
    assert (record.generation, record.protocol, record.leader) == (1, "range", leader)
    assert {m.member_id: m.assignment for m in record.members} == {m: b"A:" + m.encode() for m in tokens}
    assert group.state is GroupState.STABLE
    for member_id, token in zip([m for m in tokens if m != leader], follower_syncs, strict=True):
        assert h.answer(token).assignment == b"A:" + member_id.encode()
    assert h.answer(lead).assignment == b"A:client-1"


def test_protocol_vote_takes_the_common_protocol_with_most_votes():
    h = Harness()
    prefs = [
        [("range", b""), ("roundrobin", b"")],
        [("range", b""), ("roundrobin", b""), ("sticky", b"")],
        [("roundrobin", b""), ("range", b"")],
    ]
    tokens = [h.join_new("g", protocols=p)[1] for p in prefs]
    h.advance(6_000)
    assert {h.answer(t).protocol_name for t in tokens} == {"range"}

    h2 = Harness()
    prefs = [[("range", b""), ("roundrobin", b"")], [("roundrobin", b"")]]
    tokens = [h2.join_new("g", protocols=p)[1] for p in prefs]
    h2.advance(6_000)
    assert {h2.answer(t).protocol_name for t in tokens} == {"roundrobin"}


def test_unchanged_follower_in_stable_gets_the_current_generation():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    resp = h.answer(h.join("g", follower))
    assert (resp.error_code, resp.generation_id, resp.leader, resp.members) == (
        E.NONE,
        generation,
        leader,
        [],
    )
    assert h.coordinator.group("g").state is GroupState.STABLE


def test_leader_join_in_stable_starts_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    token = h.join("g", leader)
    assert h.pending(token)
    assert h.coordinator.group("g").state is GroupState.PREPARING_REBALANCE
    h.join("g", follower)
    resp = h.answer(token)
    assert (resp.generation_id, len(resp.members)) == (generation + 1, 2)


def test_changed_metadata_starts_a_rebalance():
    h = Harness()
    (leader, follower), generation = h.form_group("g", 2)
    token = h.join("g", follower, protocols=[("range", b"new-topics")])
    assert h.pending(token)
    group = h.coordinator.group("g")
    assert group.state is GroupState.PREPARING_REBALANCE
    assert group.stored.members[follower].metadata("range") == b"range-meta"  # nothing written yet
    lead = h.join("g", leader)
    assert h.answer(lead).generation_id == generation + 1
    assert {m.member_id: m.metadata for m in h.answer(lead).members}[follower] == b"new-topics"


def test_rejoin_in_completing_rebalance():
    h = Harness()
    tokens = [h.join_new("g")[1] for _ in range(2)]
    h.advance(6_000)
    leader, follower = h.answer(tokens[0]).member_id, h.answer(tokens[1]).member_id
    again = h.answer(h.join("g", leader))  # same metadata: the generation as it is
    assert (again.generation_id, len(again.members)) == (1, 2)
    again = h.answer(h.join("g", follower))
    assert (again.generation_id, again.members) == (1, [])
    assert h.coordinator.group("g").state is GroupState.COMPLETING_REBALANCE
    changed = h.join("g", follower, protocols=[("range", b"other")])
    assert h.pending(changed)
    assert h.coordinator.group("g").state is GroupState.PREPARING_REBALANCE


def test_protocol_fields_per_version():
    h = Harness()
    v6 = h.answer(h.join("g", version=6, protocol_type=""))
    v7 = h.answer(h.join("g", version=7, protocol_type=""))
    assert (v6.protocol_name, v7.protocol_name) == ("", None)
    token = h.join_new("h", version=7)[1]
    h.advance(3_000)
    assert (h.answer(token).protocol_type, h.answer(token).protocol_name) == ("consumer", "range")


def test_a_repeated_join_answers_the_one_it_replaces():
    h = Harness()
    (leader, _follower), _ = h.form_group("g", 2)
    first = h.join("g", leader)
    second = h.join("g", leader)
    assert h.answer(first).error_code == E.REBALANCE_IN_PROGRESS
    assert h.pending(second)
