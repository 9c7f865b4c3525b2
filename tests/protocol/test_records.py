"""Records: golden bytes against kafka-python's batch builder and reader, framing errors,
control markers, and a property test of build/decode round trips."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

from moldau.protocol.primitives import encode_varint
from moldau.protocol.records.batch import (
    HEADER_SIZE,
    CorruptBatchError,
    crc_ok,
    encode_batch,
    parse_header,
    unpack_header,
)
from moldau.protocol.records.compression import Compression, CompressionError, DecompressedSizeError
from moldau.protocol.records.control import (
    ControlType,
    build_end_txn_marker,
    encode_control_key,
    encode_end_txn_value,
    parse_control_key,
    parse_end_txn_marker,
)
from moldau.protocol.records.records import Record, build_batch, decode_records, with_codec

T0 = 1_700_000_000_000

Row = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]], int]


ROWS: list[Row] = [
    (b"key-0", b"value-0" * 40, [], T0),
    (None, b"value with null key" * 20, [("h1", b"v1"), ("h2", None)], T0 + 5),
    (b"key-2", None, [("ünïcode", b"\x00\xff")], T0 - 3),
    (b"", b"", [("", b"")], T0 + 1000),
]
ROWS += [(f"k{i}".encode(), f"repeated payload {i % 3}".encode() * 30, [], T0 + i) for i in range(4, 40)]


def kafka_python_batch(codec: int, rows: list[Row] = ROWS, **kwargs: Any) -> bytes:
    builder = MemoryRecordsBuilder(magic=2, compression_type=codec, batch_size=1 << 24, **kwargs)
    for key, value, headers, timestamp in rows:
        assert builder.append(timestamp, key, value, headers) is not None
    builder.close()
    return bytes(builder.buffer())


def kafka_python_read(batch: bytes) -> tuple[DefaultRecordBatch, list[Any]]:
    records = MemoryRecords(batch)
    kp_batch = records.next_batch()
    assert kp_batch is not None and not records.has_next()
    assert kp_batch.validate_crc()
    return kp_batch, list(kp_batch)


# -- golden bytes: kafka-python writes, we read ---------------------------------------------------


@pytest.mark.parametrize("codec", list(Compression))
def test_decode_kafka_python_batch(codec: Compression) -> None:
    batch = kafka_python_batch(codec)
    h = parse_header(batch)
    assert h.compression == codec, "rows must compress, or kafka-python falls back to none"
    assert crc_ok(batch, 0, h)
    records = decode_records(batch)
    assert len(records) == len(ROWS) == h.records_count
    for i, (record, (key, value, headers, timestamp)) in enumerate(zip(records, ROWS, strict=True)):
        assert record.offset == record.offset_delta == i
        assert record.key == key
        assert record.value == value
        assert record.headers == headers
        assert record.timestamp == timestamp
        assert record.timestamp_delta == timestamp - T0
        assert record.attributes == 0


def test_decode_kafka_python_idempotent_batch_header() -> None:
    batch = kafka_python_batch(0, ROWS[:3], producer_id=77, producer_epoch=3, base_sequence=10)
    h = parse_header(batch)
    assert (h.producer_id, h.producer_epoch, h.base_sequence) == (77, 3, 10)
    assert [r.key for r in decode_records(batch)] == [row[0] for row in ROWS[:3]]


def test_same_bytes_as_kafka_python() -> None:
    """Uncompressed, our builder and kafka-python's produce the same records section and the
    same header fields (the producer-assigned ones; compressed streams may legitimately differ
    between codec libraries)."""
    ours = build_batch(ROWS, compression=Compression.NONE)
    theirs = kafka_python_batch(Compression.NONE)
    assert ours[HEADER_SIZE:] == theirs[HEADER_SIZE:]
    ours_h, theirs_h = parse_header(ours), parse_header(theirs)
    fields = ("batch_length", "last_offset_delta", "base_timestamp", "max_timestamp", "records_count", "crc")
    for name in fields:
        assert getattr(ours_h, name) == getattr(theirs_h, name), name


# -- golden bytes: we write, kafka-python reads ---------------------------------------------------


@pytest.mark.parametrize("codec", list(Compression))
@pytest.mark.parametrize("xerial", [False, True])
def test_kafka_python_reads_our_batch(codec: Compression, xerial: bool) -> None:
    batch = build_batch(
        ROWS, base_offset=1000, compression=codec, xerial_snappy=xerial, partition_leader_epoch=4
    )
    kp_batch, kp_records = kafka_python_read(batch)
    assert kp_batch.compression_type == codec
    assert kp_batch.base_offset == 1000
    assert kp_batch.leader_epoch == 4
    assert kp_batch.max_timestamp == max(row[3] for row in ROWS)
    assert kp_batch.first_timestamp == ROWS[0][3]
    for i, (kp, (key, value, headers, timestamp)) in enumerate(zip(kp_records, ROWS, strict=True)):
        assert kp.offset == 1000 + i
        assert (kp.key, kp.value, kp.headers, kp.timestamp) == (key, value, headers, timestamp)


def test_kafka_python_reads_transactional_header() -> None:
    batch = build_batch(ROWS[:2], producer_id=9, producer_epoch=2, base_sequence=5, transactional=True)
    kp_batch, _ = kafka_python_read(batch)
    assert kp_batch.is_transactional and not kp_batch.is_control_batch
    assert (kp_batch.producer_id, kp_batch.producer_epoch, kp_batch.base_sequence) == (9, 2, 5)


def test_log_append_time_batch() -> None:
    batch = build_batch(ROWS[:3], log_append_time=True, max_timestamp=T0 + 99_999)
    h = parse_header(batch)
    assert h.log_append_time
    assert {r.timestamp for r in decode_records(batch)} == {T0 + 99_999}
    _, kp_records = kafka_python_read(batch)
    assert {r.timestamp for r in kp_records} == {T0 + 99_999}


def test_no_timestamps() -> None:
    batch = build_batch([(b"k", b"v", [], None), (b"k2", b"v2", [], -1)])
    h = parse_header(batch)
    assert h.base_timestamp == h.max_timestamp == -1
    assert [r.timestamp for r in decode_records(batch)] == [-1, -1]


def test_mixed_timestamps_rejected() -> None:
    with pytest.raises(ValueError, match="mix"):
        build_batch([(b"k", b"v", [], T0), (b"k2", b"v2", [], None)])


def test_records_keep_their_deltas() -> None:
    """Records as compaction would pass them: gaps in offsets, explicit last offset delta."""
    source = decode_records(build_batch(ROWS[:5], base_offset=50))
    kept = [source[0], source[3]]
    batch = build_batch(kept, base_offset=50, last_offset_delta=4)
    h = parse_header(batch)
    assert (h.records_count, h.last_offset_delta, h.base_timestamp) == (2, 4, T0)
    assert h.max_timestamp == max(r.timestamp for r in kept)
    again = decode_records(batch)
    expected = [(50, ROWS[0][0], T0), (53, ROWS[3][0], ROWS[3][3])]
    assert [(r.offset, r.key, r.timestamp) for r in again] == expected


def test_header_key_bytes_survive_round_trip() -> None:
    raw_key = b"\xff\xfe not utf-8"
    record = Record(0, 0, b"k", b"v", [(raw_key.decode("utf-8", "surrogateescape"), b"x")], timestamp=T0)
    batch = build_batch([record])
    assert raw_key in batch
    (decoded,) = decode_records(batch)
    assert decoded.headers[0][0].encode("utf-8", "surrogateescape") == raw_key


def test_decode_ignores_bytes_after_the_batch() -> None:
    batch = build_batch(ROWS[:2])
    assert decode_records(batch + build_batch(ROWS[2:4])) == decode_records(batch)


def test_decode_bounded_decompression() -> None:
    batch = build_batch([(b"k", bytes(1 << 20), [], T0)], compression=Compression.ZSTD)
    with pytest.raises(DecompressedSizeError):
        decode_records(batch, max_decompressed_size=1 << 16)
    assert decode_records(batch, max_decompressed_size=2 << 20)[0].value == bytes(1 << 20)


# -- framing errors -------------------------------------------------------------------------------


def record_bytes(
    *,
    attributes: int = 0,
    ts_delta: int = 0,
    offset_delta: int = 0,
    key: bytes = encode_varint(1) + b"k",
    value: bytes = encode_varint(1) + b"v",
    headers: bytes = encode_varint(0),
    length_adjust: int = 0,
) -> bytes:
    body = bytes([attributes]) + encode_varint(ts_delta) + encode_varint(offset_delta) + key + value + headers
    return encode_varint(len(body) + length_adjust) + body


def batch_of(section: bytes, count: int, codec: int = 0) -> bytes:
    """A batch around a hand-made records section, header from a real build."""
    h = unpack_header(build_batch([(b"k", b"v", [], T0)] * max(count, 1)))
    h.records_count = count
    h.last_offset_delta = max(count - 1, 0)
    h.attributes = codec
    return encode_batch(h, section)


def test_hand_made_section_decodes() -> None:
    (record,) = decode_records(batch_of(record_bytes(offset_delta=0, ts_delta=7), 1))
    assert (record.key, record.value, record.timestamp) == (b"k", b"v", T0 + 7)


@pytest.mark.parametrize(
    ("section", "count", "message"),
    [
        (record_bytes(length_adjust=1), 1, "declares"),
        (record_bytes(length_adjust=-1), 1, "malformed record|declares"),
        (record_bytes(), 2, "malformed record|declares"),
        (record_bytes() + record_bytes(), 1, "remain after"),
        (record_bytes(headers=encode_varint(-1)), 1, "negative header count"),
        (record_bytes(headers=encode_varint(1) + encode_varint(-1) + encode_varint(-1)), 1, "null key"),
        (record_bytes(key=encode_varint(-2)), 1, "invalid key length"),
        (record_bytes(value=encode_varint(5) + b"v"), 1, "malformed record|declares"),
        (encode_varint(-3), 1, "declares"),
        (b"\xff" * 11, 1, "malformed record"),
        (b"", 1, "malformed record"),
    ],
)
def test_malformed_records(section: bytes, count: int, message: str) -> None:
    with pytest.raises(CorruptBatchError, match=message):
        decode_records(batch_of(section, count))


def test_malformed_records_inside_compression() -> None:
    section = bytes(cramjam.gzip.compress(record_bytes() + b"junk"))
    with pytest.raises(CorruptBatchError, match="remain after"):
        decode_records(batch_of(section, 1, Compression.GZIP))


def test_undecompressable_section() -> None:
    with pytest.raises(CompressionError, match=r"^lz4: "):
        decode_records(batch_of(b"not lz4 at all", 1, Compression.LZ4))


@pytest.mark.parametrize("cut", [0, 10, HEADER_SIZE - 1, HEADER_SIZE + 3, -1])
def test_truncated_batch(cut: int) -> None:
    batch = build_batch(ROWS[:3])
    with pytest.raises(CorruptBatchError):
        decode_records(batch[:cut])


def test_bit_flip_detected_by_crc() -> None:
    batch = bytearray(build_batch(ROWS[:3], compression=Compression.SNAPPY))
    h = parse_header(batch)
    assert crc_ok(batch, 0, h)
    for position in (25, HEADER_SIZE + 2, len(batch) - 1):
        flipped = bytearray(batch)
        flipped[position] ^= 0x10
        assert not crc_ok(flipped, 0, parse_header(flipped))


# -- control records ------------------------------------------------------------------------------


@pytest.mark.parametrize("control_type", list(ControlType))
def test_end_txn_marker_round_trip(control_type: ControlType) -> None:
    batch = build_end_txn_marker(
        control_type, producer_id=4242, producer_epoch=7, coordinator_epoch=3, timestamp=T0, base_offset=99
    )
    h = parse_header(batch)
    assert h.is_control and h.is_transactional and h.compression == 0
    assert (h.records_count, h.base_sequence, h.producer_id, h.producer_epoch) == (1, -1, 4242, 7)
    marker = parse_end_txn_marker(batch)
    assert marker.control_type is control_type
    assert marker.committed == (control_type is ControlType.COMMIT)
    assert (marker.coordinator_epoch, marker.producer_id, marker.producer_epoch) == (3, 4242, 7)
    assert (marker.offset, marker.timestamp) == (99, T0)

    kp_batch, (kp_record,) = kafka_python_read(batch)
    assert kp_batch.is_control_batch and kp_batch.is_transactional
    assert kp_record.type == control_type
    assert kp_record.commit == (control_type is ControlType.COMMIT)
    assert kp_record.key == b"\x00\x00\x00" + bytes([control_type])
    assert kp_record.value == b"\x00\x00\x00\x00\x00\x03"


def test_control_key_layout() -> None:
    assert encode_control_key(ControlType.COMMIT) == b"\x00\x00\x00\x01"
    assert encode_end_txn_value(0x01020304) == b"\x00\x00\x01\x02\x03\x04"
    assert parse_control_key(b"\x00\x01\x00\x05extra") == (1, 5)
    for bad in (None, b"\x00\x00\x00", b"\xff\xff\x00\x00"):
        with pytest.raises(CorruptBatchError):
            parse_control_key(bad)


def marker_variant(*, records: list[Record] | None = None, control: bool = True) -> bytes:
    if records is None:
        records = [Record(0, 0, encode_control_key(ControlType.ABORT), encode_end_txn_value(1))]
    return build_batch(records, control=control, transactional=True, producer_id=1)


@pytest.mark.parametrize(
    ("batch_fn", "message"),
    [
        (lambda: marker_variant(control=False), "not a control batch"),
        (lambda: marker_variant(records=[]), "holds 0 records"),
        (
            lambda: marker_variant(
                records=[Record(i, 0, encode_control_key(0), encode_end_txn_value(1)) for i in range(2)]
            ),
            "holds 2 records",
        ),
        (lambda: marker_variant(records=[Record(0, 0, encode_control_key(2), b"")]), "control type 2"),
        (lambda: marker_variant(records=[Record(0, 0, encode_control_key(1), b"\x00\x00")]), "must hold 6"),
        (lambda: marker_variant(records=[Record(0, 0, encode_control_key(1), None)]), "must hold 6"),
        (
            lambda: marker_variant(records=[Record(0, 0, encode_control_key(1), struct.pack(">hi", -1, 0))]),
            "negative version",
        ),
    ],
)
def test_bad_end_txn_marker(batch_fn: Callable[[], bytes], message: str) -> None:
    with pytest.raises(CorruptBatchError, match=message):
        parse_end_txn_marker(batch_fn())


def test_newer_marker_value_version_read_as_v0() -> None:
    batch = marker_variant(records=[Record(0, 0, b"\x00\x03\x00\x01", struct.pack(">hi", 2, 8) + b"more")])
    marker = parse_end_txn_marker(batch)
    assert (marker.control_type, marker.coordinator_epoch) == (ControlType.COMMIT, 8)


# -- property: build/decode round trip -------------------------------------------------------------

header_keys = st.text(st.characters(codec="utf-8"), max_size=12)  # kafka-python decodes keys strictly
nullable_bytes = st.none() | st.binary(max_size=300)
rows_strategy = st.lists(
    st.tuples(
        nullable_bytes,
        nullable_bytes,
        st.lists(st.tuples(header_keys, nullable_bytes), max_size=4),
        st.integers(min_value=0, max_value=2**41),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    rows=rows_strategy,
    codec=st.sampled_from(list(Compression)),
    xerial=st.booleans(),
    base_offset=st.integers(min_value=0, max_value=2**62),
    producer_id=st.integers(min_value=-1, max_value=2**62),
)
def test_property_round_trip(
    rows: list[Row], codec: Compression, xerial: bool, base_offset: int, producer_id: int
) -> None:
    batch = build_batch(
        rows,
        base_offset=base_offset,
        compression=codec,
        xerial_snappy=xerial,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
    )
    h = parse_header(batch)
    assert h.size == len(batch) and crc_ok(batch, 0, h)
    assert h.records_count == len(rows) and h.last_offset_delta == len(rows) - 1
    assert h.max_timestamp == max(row[3] for row in rows)
    records = decode_records(batch)
    assert [(r.key, r.value, r.headers, r.timestamp, r.offset) for r in records] == [
        (key, value, headers, ts, base_offset + i) for i, (key, value, headers, ts) in enumerate(rows)
    ]
    assert build_batch(records, base_offset=base_offset, compression=Compression.NONE) == build_batch(
        rows, base_offset=base_offset
    )
    _, kp_records = kafka_python_read(batch)
    assert [(r.key, r.value, r.headers, r.timestamp) for r in kp_records] == [tuple(row) for row in rows]


# -- another codec: the form a topic's compression.type stores ----------------------------------


@pytest.mark.parametrize("target", list(Compression))
@pytest.mark.parametrize("source", list(Compression))
def test_with_codec_keeps_records_and_header(source: Compression, target: Compression) -> None:
    batch = build_batch(
        ROWS, compression=source, producer_id=41, producer_epoch=2, base_sequence=7, transactional=True
    )
    h = parse_header(batch)
    converted = with_codec(memoryview(batch), h, target)
    c = parse_header(converted)
    assert c.compression == target and crc_ok(converted, 0, c) and c.size == len(converted)
    same = (
        "base_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "records_count",
    )
    assert {f: getattr(c, f) for f in same} == {f: getattr(h, f) for f in same}
    assert c.is_transactional and c.last_offset_delta == h.last_offset_delta
    assert decode_records(converted) == decode_records(batch)
    if target == Compression.SNAPPY:  # the Java clients' framing, as Kafka's broker writes it
        assert converted[HEADER_SIZE : HEADER_SIZE + 8] == b"\x82SNAPPY\x00"
    # kafka-python reads what the conversion wrote
    _, kp_records = kafka_python_read(converted)
    assert [(r.key, r.value) for r in kp_records] == [(k, v) for k, v, _, _ in ROWS]


def test_with_codec_uses_the_level() -> None:
    data = [(None, b"level " * 400, [], T0)] * 20
    batch = build_batch(data)
    h = parse_header(batch)
    fast = with_codec(memoryview(batch), h, Compression.ZSTD, level=1)
    small = with_codec(memoryview(batch), h, Compression.ZSTD, level=19)
    assert len(small) <= len(fast) < len(batch)
    assert decode_records(small) == decode_records(fast) == decode_records(batch)
