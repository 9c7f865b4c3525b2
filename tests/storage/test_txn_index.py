"""The ``.txnindex`` files: Kafka's 34-byte entries, the search a read_committed fetch makes,
and the file operations the log needs (append, rewrite, truncate, merge, delete)."""

from __future__ import annotations

import os
import struct

import pytest

from moldau.storage.txn_index import (
    ENTRY,
    AbortedTxn,
    CorruptTxnIndexError,
    TransactionIndexes,
    decode_entries,
    encode_entries,
    parse_txn_index_name,
)
from moldau.util.fs import LOCAL


@pytest.fixture
def indexes(tmp_path) -> TransactionIndexes:
    return TransactionIndexes(LOCAL, str(tmp_path))


def test_an_entry_is_kafkas_34_bytes():
    assert ENTRY.size == 34
    data = encode_entries([AbortedTxn(7, 100, 150, 120)])
    assert data == struct.pack(">hqqqq", 0, 7, 100, 150, 120)
    assert decode_entries(data, "x") == [AbortedTxn(7, 100, 150, 120)]


def test_a_partial_last_entry_is_ignored_and_a_foreign_version_refused(caplog):
    data = encode_entries([AbortedTxn(1, 2, 3, 4), AbortedTxn(5, 6, 7, 8)])
    assert decode_entries(data[:-5], "x") == [AbortedTxn(1, 2, 3, 4)]
    assert "partial entry" in caplog.text
    with pytest.raises(CorruptTxnIndexError):
        decode_entries(struct.pack(">h", 1) + data[2:], "x")


def test_append_creates_the_file_and_reads_come_back(indexes, tmp_path):
    assert indexes.empty and indexes.entries(0) == []
    indexes.append(0, AbortedTxn(1, 0, 5, 6))
    indexes.entries(0)  # cached from here on
    indexes.append(0, AbortedTxn(2, 3, 9, 10))
    path = tmp_path / "00000000000000000000.txnindex"
    assert path.stat().st_size == 68
    assert indexes.entries(0) == [AbortedTxn(1, 0, 5, 6), AbortedTxn(2, 3, 9, 10)]
    fresh = TransactionIndexes(LOCAL, str(tmp_path))
    fresh.discover(os.listdir(tmp_path))
    assert fresh.bases == [0] and fresh.entries(0) == indexes.entries(0)
    assert parse_txn_index_name("00000000000000000000.txnindex") == 0
    assert parse_txn_index_name("00000000000000000000.txnindex.deleted") is None


def test_append_after_a_torn_entry_cuts_it_off(indexes, tmp_path):
    indexes.append(0, AbortedTxn(1, 0, 5, 6))
    with open(tmp_path / "00000000000000000000.txnindex", "ab") as f:
        f.write(b"\x00" * 10)
    indexes.append(0, AbortedTxn(2, 3, 9, 10))
    fresh = TransactionIndexes(LOCAL, str(tmp_path))
    fresh.discover(os.listdir(tmp_path))
    assert fresh.entries(0) == [AbortedTxn(1, 0, 5, 6), AbortedTxn(2, 3, 9, 10)]


def test_collect_picks_the_transactions_overlapping_the_range(indexes):
    # segment 0: two aborts; segment 100: one; segment 200: one
    indexes.append(0, AbortedTxn(1, 10, 20, 21))
    indexes.append(0, AbortedTxn(2, 15, 60, 61))
    indexes.append(100, AbortedTxn(3, 90, 130, 131))
    indexes.append(200, AbortedTxn(4, 210, 220, 221))
    every = [0, 100, 200]

    def pids(fetch: int, upper: int, bases: list[int] = every) -> list[int]:
        return [t.producer_id for t in indexes.collect(bases, fetch, upper)]

    assert pids(0, 300) == [1, 2, 3, 4]
    assert pids(21, 300) == [2, 3, 4]  # the first ended before the fetch
    assert pids(0, 15) == [1]  # the second started at the upper bound
    assert pids(100, 131, [100, 200]) == [3]
    assert pids(140, 210, [100, 200]) == []
    assert pids(140, 211, [100, 200]) == [4]


def test_collect_stops_at_an_entry_whose_lso_reaches_the_upper_bound(indexes):
    indexes.append(0, AbortedTxn(1, 10, 20, 50))
    indexes.append(100, AbortedTxn(2, 5, 120, 121))  # started earlier, but past the stop
    assert [t.producer_id for t in indexes.collect([0, 100], 0, 50)] == [1]
    assert [t.producer_id for t in indexes.collect([0, 100], 0, 51)] == [1, 2]


def test_truncate_drops_entries_at_and_after_the_offset_and_files_of_gone_segments(indexes, tmp_path):
    indexes.append(0, AbortedTxn(1, 10, 20, 21))
    indexes.append(0, AbortedTxn(2, 15, 60, 61))
    indexes.append(100, AbortedTxn(3, 90, 130, 131))
    indexes.truncate(60, live_bases={0})
    assert indexes.entries(0) == [AbortedTxn(1, 10, 20, 21)]
    assert indexes.bases == [0]
    assert not (tmp_path / "00000000000000000100.txnindex").exists()
    indexes.truncate(20, live_bases={0})
    assert indexes.empty and os.listdir(tmp_path) == []


def test_merge_moves_entries_in_marker_order_without_repeats(indexes, tmp_path):
    indexes.append(0, AbortedTxn(1, 10, 20, 21))
    indexes.append(50, AbortedTxn(2, 45, 55, 56))
    indexes.append(50, AbortedTxn(1, 10, 20, 21))  # as if a merge had half happened
    indexes.merge([0, 50], 0)
    assert indexes.bases == [0]
    assert indexes.entries(0) == [AbortedTxn(1, 10, 20, 21), AbortedTxn(2, 45, 55, 56)]
    assert sorted(os.listdir(tmp_path)) == ["00000000000000000000.txnindex"]


def test_mark_deleted_renames_and_flush_reports_directory_changes(indexes, tmp_path):
    assert indexes.mark_deleted(0) is None
    indexes.append(0, AbortedTxn(1, 10, 20, 21))
    assert indexes.flush() is True  # a file was created
    assert indexes.flush() is False
    path = indexes.mark_deleted(0)
    assert path is not None and path.endswith(".txnindex.deleted") and os.path.exists(path)
    assert indexes.empty and indexes.flush() is True
