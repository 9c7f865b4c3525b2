"""The ``.snapshot`` format: Kafka's version-1 layout byte for byte, Moldau's trailing section
of earlier batches, and every way a file can be refused."""

from __future__ import annotations

import struct
from collections import deque

import pytest

from moldau.protocol.records.crc import crc32c
from moldau.storage.producer_snapshot import (
    CorruptSnapshotError,
    decode_snapshot,
    encode_snapshot,
    parse_snapshot_file_name,
    snapshot_file_name,
)
from moldau.storage.producer_state import MAX_SEQUENCE, BatchMetadata, ProducerEntry


def entry(pid: int, batches: list[BatchMetadata], **fields: int | None) -> ProducerEntry:
    e = ProducerEntry(
        pid, epoch=2, coordinator_epoch=4, last_timestamp=batches[-1].timestamp if batches else 9
    )
    e.batches.extend(batches)
    for name, value in fields.items():
        setattr(e, name, value)
    return e


def as_tuples(entries: list[ProducerEntry]) -> list[tuple[object, ...]]:
    return [
        (
            e.producer_id,
            e.epoch,
            [tuple(b) for b in e.batches],
            e.coordinator_epoch,
            e.last_timestamp,
            e.current_txn_first_offset,
        )
        for e in sorted(entries, key=lambda e: e.producer_id)
    ]


def test_file_names():
    assert snapshot_file_name(1234) == "00000000000000001234.snapshot"
    assert parse_snapshot_file_name("00000000000000001234.snapshot") == 1234
    assert parse_snapshot_file_name("00000000000000001234.snapshot.deleted") is None
    assert parse_snapshot_file_name("00000000000000001234.log") is None


def test_an_empty_state_is_ten_bytes():
    data = encode_snapshot([])
    assert data == struct.pack(">hIi", 1, crc32c(struct.pack(">i", 0)), 0)
    assert decode_snapshot(data) == []


def test_one_batch_per_producer_is_exactly_kafkas_layout():
    e = entry(5, [BatchMetadata(10, 14, 100, 104, 777)], current_txn_first_offset=90)
    data = encode_snapshot([e])
    body = struct.pack(">i", 1) + struct.pack(">qhiqiqiq", 5, 2, 14, 104, 4, 777, 4, 90)
    assert data == struct.pack(">hI", 1, crc32c(body)) + body
    assert len(data) == 10 + 46


def test_round_trip_keeps_all_five_batches_and_the_transaction():
    batches = [BatchMetadata(s, s + 1, 100 + s, 101 + s, 1000 + s) for s in range(0, 10, 2)]
    entries = [
        entry(1, batches, current_txn_first_offset=100),
        entry(2, [BatchMetadata(MAX_SEQUENCE - 1, 0, 500, 502, 1500)]),  # wraps
        entry(3, []),  # known from a marker only
    ]
    decoded = decode_snapshot(encode_snapshot(entries))
    assert as_tuples(decoded) == as_tuples(entries)
    # the last batch carries the producer's last timestamp, as in Kafka's entry
    assert decoded[0].batches[-1].timestamp == decoded[0].last_timestamp


def test_a_file_written_by_kafka_loads_with_one_batch_per_producer():
    body = struct.pack(">i", 2)
    body += struct.pack(">qhiqiqiq", 5, 0, 9, 59, 4, 123, -1, -1)
    body += struct.pack(">qhiqiqiq", 6, 1, -1, -1, 0, 456, 3, 70)
    (a, b) = decode_snapshot(struct.pack(">hI", 1, crc32c(body)) + body)
    assert [tuple(x) for x in a.batches] == [(5, 9, 55, 59, 123)]
    assert a.current_txn_first_offset is None and a.coordinator_epoch == -1
    assert not b.batches and b.epoch == 1 and b.current_txn_first_offset == 70 and b.last_timestamp == 456


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:8], "too short"),
        (lambda d: d[:-3], "CRC"),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "CRC"),
        (lambda d: struct.pack(">h", 2) + d[2:], "version"),
        (lambda d: b"", "too short"),
    ],
)
def test_damaged_files_are_refused(damage, reason):
    batches = [BatchMetadata(s, s, s, s, s) for s in range(3)]
    data = encode_snapshot([entry(1, batches), entry(2, batches[:1])])
    with pytest.raises(CorruptSnapshotError, match=reason):
        decode_snapshot(damage(data))


def resealed(body: bytes) -> bytes:
    return struct.pack(">hI", 1, crc32c(body)) + body


def test_inconsistent_content_with_a_good_crc_is_refused():
    one = struct.pack(">qhiqiqiq", 5, 0, 9, 59, 4, 123, -1, -1)
    with pytest.raises(CorruptSnapshotError, match="entry count"):
        decode_snapshot(resealed(struct.pack(">i", 2) + one))
    with pytest.raises(CorruptSnapshotError, match="stray bytes"):
        decode_snapshot(resealed(struct.pack(">i", 1) + one + b"\x00\x01"))
    earlier_of_unknown = struct.pack(">i", 1) + struct.pack(">qiqiq", 6, 1, 1, 0, 0)
    with pytest.raises(CorruptSnapshotError, match="no last batch"):
        decode_snapshot(resealed(struct.pack(">i", 1) + one + earlier_of_unknown))
    out_of_order = struct.pack(">i", 1) + struct.pack(">qiqiq", 5, 1, 70, 0, 0)
    with pytest.raises(CorruptSnapshotError, match="offset order"):
        decode_snapshot(resealed(struct.pack(">i", 1) + one + out_of_order))


def test_decoded_entries_keep_at_most_five_batches():
    e = entry(1, [BatchMetadata(s, s, s, s, s) for s in range(5)])
    (decoded,) = decode_snapshot(encode_snapshot([e]))
    assert isinstance(decoded.batches, deque) and decoded.batches.maxlen == 5
