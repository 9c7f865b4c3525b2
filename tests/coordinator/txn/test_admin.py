"""DescribeTransactions and ListTransactions."""

from __future__ import annotations

from typing import Any

from moldau.protocol.errors import ErrorCode
from tests.coordinator.txn.harness import START_MS, Harness

E = ErrorCode


def test_describe() -> None:
    h = Harness()
    pid, epoch = h.ongoing("tx", [("u", 2), ("t", 1), ("t", 0)])
    h.producer("idle")
    answer = h.describe("tx", "idle", "nope", "")
    tx, idle, nope, empty = answer.transaction_states
    assert (tx.error_code, tx.transactional_id, tx.transaction_state) == (0, "tx", "Ongoing")
    assert (tx.producer_id, tx.producer_epoch, tx.transaction_timeout_ms) == (pid, epoch, 60000)
    assert tx.transaction_start_time_ms == START_MS
    assert [(t.topic, t.partitions) for t in tx.topics] == [("t", [0, 1]), ("u", [2])]
    assert (idle.transaction_state, idle.transaction_start_time_ms, idle.topics) == ("Empty", -1, [])
    assert (nope.error_code, nope.transactional_id) == (E.TRANSACTIONAL_ID_NOT_FOUND, "nope")
    assert empty.error_code == E.INVALID_REQUEST


def test_describe_nothing() -> None:
    assert Harness().describe().transaction_states == []


def _listed(answer: Any) -> list[tuple[str, int, str]]:
    return [(t.transactional_id, t.producer_id, t.transaction_state) for t in answer.transaction_states]


def test_list_with_filters() -> None:
    h = Harness()
    a_pid, _ = h.ongoing("a")
    h.clock.advance(5_000)
    b_pid, _ = h.producer("b")
    c_pid, c_epoch = h.ongoing("c")
    h.end("c", c_pid, c_epoch)
    h.write_markers()

    everything = h.list_txns()
    assert everything.error_code == 0 and everything.unknown_state_filters == []
    assert _listed(everything) == [
        ("a", a_pid, "Ongoing"),
        ("b", b_pid, "Empty"),
        ("c", c_pid, "CompleteCommit"),
    ]
    assert _listed(h.list_txns(states=["Ongoing", "CompleteCommit"])) == [
        ("a", a_pid, "Ongoing"),
        ("c", c_pid, "CompleteCommit"),
    ]
    unknown = h.list_txns(states=["Ongoing", "Bogus"])
    assert unknown.unknown_state_filters == ["Bogus"] and _listed(unknown) == [("a", a_pid, "Ongoing")]
    assert _listed(h.list_txns(pids=[b_pid, 12345])) == [("b", b_pid, "Empty")]
    assert _listed(h.list_txns(states=["Empty"], pids=[a_pid])) == []


def _ids(answer: Any) -> list[str]:
    return [t.transactional_id for t in answer.transaction_states]


def test_list_duration_filter_from_v1() -> None:
    h = Harness()
    h.ongoing("old")
    h.clock.advance(5_000)
    h.ongoing("new")
    h.clock.advance(1_000)
    h.producer("idle")
    # running for more than 2 s: only "old" (started 6 s ago)
    assert _ids(h.list_txns(states=["Ongoing"], duration=2_000)) == ["old"]
    assert _ids(h.list_txns(states=["Ongoing"], duration=1_000)) == ["old"]
    assert _ids(h.list_txns(states=["Ongoing"], duration=999)) == ["new", "old"]
    # v0 has no duration filter
    assert _ids(h.list_txns(states=["Ongoing"], duration=2_000, version=0)) == ["new", "old"]
    # an Empty id has no start time (-1) and so counts as running for ever
    assert "idle" in _ids(h.list_txns(duration=2_000))
