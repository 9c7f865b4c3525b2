"""The produce-path validator: every rejection, with Kafka's error code, and the promise that
uncompressed batches are checked without decoding records."""

from __future__ import annotations

import struct
from typing import Any

import cramjam
import pytest
from kafka.record.memory_records import MemoryRecordsBuilder

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.primitives import encode_varint
from moldau.protocol.records import validate as validate_module
from moldau.protocol.records.batch import HEADER_SIZE, encode_batch, parse_header, unpack_header
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.records import Record, build_batch, decode_records, records_section, with_codec
from moldau.protocol.records.validate import RecordValidationError, validate_produce

NOW = 1_700_000_000_000
HOUR = 3_600_000
BEFORE = 7 * 24 * HOUR
AFTER = HOUR
ROWS = [(f"k{i}".encode(), f"value {i}".encode() * 20, [("h", b"x")], NOW - 10 + i) for i in range(10)]


def check(records: bytes | bytearray, **overrides: Any) -> list[tuple[int, Any]]:
    kwargs: dict[str, Any] = {
        "max_message_bytes": 1_048_588,
        "timestamp_type": "CreateTime",
        "timestamp_before_max_ms": BEFORE,
        "timestamp_after_max_ms": AFTER,
        "now_ms": NOW,
    }
    kwargs.update(overrides)
    return validate_produce(memoryview(records), **kwargs)


def rejected(records: bytes | bytearray, code: ErrorCode, **overrides: Any) -> KafkaError:
    with pytest.raises(KafkaError) as info:
        check(records, **overrides)
    assert info.value.code == code, info.value.message
    return info.value


def resealed(batch: bytes, **fields: int) -> bytes:
    """The batch with header fields changed and length/CRC recomputed."""
    h = unpack_header(batch)
    for name, value in fields.items():
        setattr(h, name, value)
    return encode_batch(h, batch[HEADER_SIZE:])


# -- accepted -------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(Compression))
def test_valid_batch(codec: Compression) -> None:
    batch = build_batch(ROWS, compression=codec)
    ((pos, h),) = check(batch)
    assert pos == 0 and h.records_count == len(ROWS) and h.compression == codec
    assert h.size == len(batch)


def test_valid_idempotent_transactional_batch() -> None:
    batch = build_batch(ROWS, producer_id=5, producer_epoch=0, base_sequence=0, transactional=True)
    assert check(batch)[0][1].is_transactional


def test_kafka_python_producer_batch_accepted() -> None:
    builder = MemoryRecordsBuilder(magic=2, compression_type=Compression.LZ4, batch_size=1 << 20)
    for key, value, headers, ts in ROWS:
        builder.append(ts, key, value, headers)
    builder.close()
    assert check(bytes(builder.buffer()))[0][1].compression == Compression.LZ4


# -- framing: what the bytes hold ------------------------------------------------------------------


def test_empty_records() -> None:
    rejected(b"", ErrorCode.INVALID_RECORD)


@pytest.mark.parametrize("cut", [1, 11, 12, 16, 17, 60, 61, -1])
def test_lone_truncated_batch_is_no_batch(cut: int) -> None:
    rejected(build_batch(ROWS)[:cut], ErrorCode.INVALID_RECORD)


@pytest.mark.parametrize("length", [-1, 0, 13])
def test_impossible_length(length: int) -> None:
    batch = bytearray(build_batch(ROWS))
    struct.pack_into(">i", batch, 8, length)
    rejected(batch, ErrorCode.CORRUPT_MESSAGE)


@pytest.mark.parametrize("magic", [3, 0x7F, -1, -128])
def test_invalid_magic(magic: int) -> None:
    batch = bytearray(build_batch(ROWS))
    struct.pack_into(">b", batch, 16, magic)
    rejected(batch, ErrorCode.CORRUPT_MESSAGE)
    rejected(batch[:20], ErrorCode.CORRUPT_MESSAGE)  # seen before the batch is complete


@pytest.mark.parametrize("magic", [0, 1])
def test_legacy_message_format(magic: int) -> None:
    builder = MemoryRecordsBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
    builder.append(NOW, b"k", b"v")
    builder.close()
    legacy = bytes(builder.buffer())
    assert legacy[16] == magic
    error = rejected(legacy, ErrorCode.INVALID_RECORD)
    assert "magic" in (error.message or "")


def test_zstd_needs_produce_v7() -> None:
    batch = build_batch(ROWS, compression=Compression.ZSTD)
    rejected(batch, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, api_version=6)
    assert check(batch, api_version=7)
    assert check(batch)  # version not given: not checked
    assert check(build_batch(ROWS, compression=Compression.LZ4), api_version=3)


def test_two_batches() -> None:
    rejected(build_batch(ROWS) + build_batch(ROWS), ErrorCode.INVALID_RECORD)


@pytest.mark.parametrize("tail", [b"\x00", b"\x00" * 11, build_batch(ROWS)[:40]])
def test_trailing_bytes(tail: bytes) -> None:
    rejected(build_batch(ROWS) + tail, ErrorCode.CORRUPT_MESSAGE)


def test_trailing_impossible_batch() -> None:
    second = bytearray(build_batch(ROWS))
    second[16] = 9
    rejected(build_batch(ROWS) + second, ErrorCode.CORRUPT_MESSAGE)


# -- header checks --------------------------------------------------------------------------------


def test_base_offset_must_be_zero() -> None:
    rejected(build_batch(ROWS, base_offset=1), ErrorCode.INVALID_RECORD)


def test_message_too_large_compares_whole_batch_size() -> None:
    batch = build_batch(ROWS)
    assert check(batch, max_message_bytes=len(batch))
    rejected(batch, ErrorCode.MESSAGE_TOO_LARGE, max_message_bytes=len(batch) - 1)


def test_size_checked_before_crc() -> None:
    batch = bytearray(build_batch(ROWS))
    batch[-1] ^= 1
    rejected(batch, ErrorCode.MESSAGE_TOO_LARGE, max_message_bytes=100)
    rejected(batch, ErrorCode.CORRUPT_MESSAGE)


@pytest.mark.parametrize("length", [14, 30, HEADER_SIZE - 13])
def test_batch_shorter_than_v2_header(length: int) -> None:
    batch = bytearray(build_batch(ROWS)[: 12 + length])
    struct.pack_into(">i", batch, 8, length)
    rejected(batch, ErrorCode.CORRUPT_MESSAGE)


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.GZIP])
@pytest.mark.parametrize("position", [17, 21, 23, 40, 57, HEADER_SIZE, HEADER_SIZE + 5, -1])
def test_bit_flip(codec: Compression, position: int) -> None:
    batch = bytearray(build_batch(ROWS, compression=codec))
    batch[position] ^= 0x04
    rejected(batch, ErrorCode.CORRUPT_MESSAGE)


def test_leader_epoch_is_outside_crc() -> None:
    batch = bytearray(build_batch(ROWS))
    struct.pack_into(">i", batch, 12, 12345)
    assert check(batch)


@pytest.mark.parametrize("codec_id", [5, 6, 7])
def test_unknown_codec(codec_id: int) -> None:
    rejected(resealed(build_batch(ROWS), attributes=codec_id), ErrorCode.INVALID_RECORD)


@pytest.mark.parametrize(
    "fields",
    [
        {"last_offset_delta": -1},
        {"last_offset_delta": -1, "records_count": 0},
        {"records_count": 0},
        {"records_count": -5},
        {"records_count": len(ROWS) + 1},
        {"last_offset_delta": len(ROWS)},
    ],
)
def test_record_count_checks(fields: dict[str, int]) -> None:
    rejected(resealed(build_batch(ROWS), **fields), ErrorCode.INVALID_RECORD)


def test_control_batch_from_client() -> None:
    batch = build_batch(
        ROWS[:1], control=True, transactional=True, producer_id=1, producer_epoch=0, base_sequence=0
    )
    error = rejected(batch, ErrorCode.INVALID_RECORD)
    assert "control" in (error.message or "")


def test_producer_id_without_sequence() -> None:
    rejected(build_batch(ROWS, producer_id=3, producer_epoch=0, base_sequence=-1), ErrorCode.INVALID_RECORD)
    assert check(build_batch(ROWS, producer_id=-1, base_sequence=-1))


# -- timestamps -----------------------------------------------------------------------------------


def rows_at(*timestamps: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes | None]], int]]:
    return [(b"k", b"value" * 30, [], ts) for ts in timestamps]


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.SNAPPY])
def test_timestamp_window_is_inclusive(codec: Compression) -> None:
    assert check(build_batch(rows_at(NOW - BEFORE, NOW + AFTER), compression=codec))
    rejected(build_batch(rows_at(NOW, NOW + AFTER + 1), compression=codec), ErrorCode.INVALID_TIMESTAMP)
    rejected(build_batch(rows_at(NOW - BEFORE - 1, NOW), compression=codec), ErrorCode.INVALID_TIMESTAMP)


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.ZSTD])
def test_no_timestamp_passes(codec: Compression) -> None:
    assert check(build_batch([(b"k", b"v", [], None)] * 3, compression=codec))


def test_log_append_time_topic_ignores_create_times() -> None:
    far = build_batch(rows_at(0, NOW + 10 * AFTER))
    assert check(far, timestamp_type="LogAppendTime")
    rejected(far, ErrorCode.INVALID_TIMESTAMP)


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.LZ4])
def test_client_may_not_claim_log_append_time(codec: Compression) -> None:
    batch = build_batch(rows_at(NOW), compression=codec, log_append_time=True)
    rejected(batch, ErrorCode.INVALID_TIMESTAMP, timestamp_type="LogAppendTime")
    # On a CreateTime topic Kafka judges such a batch by the timestamp it carries.
    assert check(batch)
    rejected(
        build_batch(rows_at(NOW), compression=codec, log_append_time=True, max_timestamp=-1),
        ErrorCode.INVALID_TIMESTAMP,
    )


def test_header_approximation_misses_record_below_base() -> None:
    """Uncompressed batches are judged by base and max timestamp only (documented); the same
    records compressed are decoded and caught."""
    records = [Record(0, 0, b"k", b"v" * 50), Record(1, -BEFORE - 5, b"k", b"v" * 50)]
    plain = build_batch(records, base_timestamp=NOW, max_timestamp=NOW)
    assert check(plain)
    packed = build_batch(records, base_timestamp=NOW, max_timestamp=NOW, compression=Compression.GZIP)
    error = rejected(packed, ErrorCode.INVALID_TIMESTAMP)
    assert isinstance(error, RecordValidationError)
    assert [index for index, _ in error.record_errors] == [1]


# -- records inside compressed batches / compacted topics -------------------------------------------


def compressed_batch_around(section: bytes, count: int, codec: Compression = Compression.GZIP) -> bytes:
    h = unpack_header(build_batch(rows_at(*[NOW] * count)))
    h.attributes = codec
    payload = {
        Compression.GZIP: lambda: bytes(cramjam.gzip.compress(section)),
        Compression.ZSTD: lambda: bytes(cramjam.zstd.compress(section)),
    }[codec]()
    return encode_batch(h, payload)


@pytest.mark.parametrize("codec", [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD])
def test_corrupt_compressed_payload(codec: Compression) -> None:
    batch = build_batch(ROWS, compression=codec)
    h = unpack_header(batch)
    payload = bytearray(batch[HEADER_SIZE:])
    del payload[len(payload) // 2 :]  # cut the stream; CRC is recomputed so only decoding can tell
    rejected(encode_batch(h, payload), ErrorCode.CORRUPT_MESSAGE)


def test_garbage_compressed_payload() -> None:
    h = unpack_header(build_batch(ROWS, compression=Compression.SNAPPY))
    rejected(encode_batch(h, b"\xff\xff\xff\xff\xff\xffnonsense"), ErrorCode.CORRUPT_MESSAGE)


def test_malformed_records_inside_compression() -> None:
    one = encode_varint(6) + b"\x00\x00\x00\x00\x00\x00"  # a record with key length 0, value 0, 0 headers
    assert check(compressed_batch_around(one, 1))
    rejected(compressed_batch_around(one + b"\x01", 1), ErrorCode.INVALID_RECORD)  # bytes left over
    rejected(compressed_batch_around(one, 2), ErrorCode.INVALID_RECORD)  # fewer records than declared
    rejected(compressed_batch_around(encode_varint(7) + one[1:], 1), ErrorCode.INVALID_RECORD)


def test_zip_bomb_refused() -> None:
    bomb_record = Record(0, 0, b"k", bytes(8 << 20))
    batch = build_batch([bomb_record], base_timestamp=NOW, compression=Compression.ZSTD)
    assert len(batch) < 4096
    rejected(batch, ErrorCode.MESSAGE_TOO_LARGE, max_decompressed_bytes=1 << 20)
    assert check(batch, max_decompressed_bytes=16 << 20)


def test_compacted_topic_needs_keys() -> None:
    rows: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]], int]] = [
        (b"k", b"v", [], NOW),
        (None, b"v", [], NOW),
        (None, None, [], NOW),
    ]
    for codec in (Compression.NONE, Compression.GZIP):
        batch = build_batch(rows, compression=codec)
        assert check(batch)
        error = rejected(batch, ErrorCode.INVALID_RECORD, compacted=True)
        assert isinstance(error, RecordValidationError)
        assert [index for index, _ in error.record_errors] == [1, 2]
    assert check(build_batch(rows[:1]), compacted=True)


def test_timestamp_error_outranks_key_error() -> None:
    batch = build_batch([(None, b"v", [], NOW), (b"k", b"v", [], NOW + 2 * AFTER)])
    error = rejected(batch, ErrorCode.INVALID_TIMESTAMP, compacted=True)
    assert isinstance(error, RecordValidationError)
    assert [index for index, _ in error.record_errors] == [0, 1]


# -- cost -------------------------------------------------------------------------------------------


def test_uncompressed_batch_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("records walked on the uncompressed path")

    monkeypatch.setattr(validate_module, "records_section", refuse)
    assert check(build_batch(ROWS))
    with pytest.raises(AssertionError):
        check(build_batch(ROWS, compression=Compression.GZIP))


def test_records_are_decoded_only_for_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compressed batch that passes is walked without building records; one that fails is
    decoded for its per-record messages."""
    decoded: list[int] = []
    real = validate_module.decode_section

    def counting(section: Any, h: Any) -> Any:
        decoded.append(h.records_count)
        return real(section, h)

    monkeypatch.setattr(validate_module, "decode_section", counting)
    assert check(build_batch(ROWS, compression=Compression.LZ4))
    assert decoded == []
    keyless = [(None, value, headers, ts) for _, value, headers, ts in ROWS]
    with pytest.raises(RecordValidationError) as e:
        check(build_batch(keyless, compression=Compression.LZ4), compacted=True)
    assert decoded == [len(ROWS)]
    assert e.value.code == ErrorCode.INVALID_RECORD
    assert [i for i, _ in e.value.record_errors] == list(range(len(ROWS)))


def test_unknown_timestamp_type() -> None:
    with pytest.raises(ValueError, match="timestamp type"):
        check(build_batch(ROWS), timestamp_type="create_time")


def test_accepts_bytes_and_bytearray() -> None:
    batch = build_batch(ROWS)
    kwargs: dict[str, Any] = {
        "max_message_bytes": 1 << 20,
        "timestamp_type": "CreateTime",
        "timestamp_before_max_ms": BEFORE,
        "timestamp_after_max_ms": AFTER,
        "now_ms": NOW,
    }
    for form in (batch, bytearray(batch), memoryview(batch)):
        ((_, h),) = validate_produce(form, **kwargs)
        assert h == parse_header(batch)


@pytest.mark.parametrize("codec", list(Compression))
@pytest.mark.parametrize("compacted", [False, True])
def test_the_walked_section_is_handed_back(codec: Compression, compacted: bool) -> None:
    """A caller that stores the batch with another codec gets the records the validator
    inflated (or walked), so that it does not inflate them again; with_codec takes them."""
    batch = build_batch(ROWS, compression=codec)
    sections: list[memoryview] = []
    ((_, h),) = check(batch, compacted=compacted, sections=sections)
    walked = codec != Compression.NONE or compacted
    assert len(sections) == (1 if walked else 0)
    if walked:
        assert bytes(sections[0]) == bytes(records_section(memoryview(batch), h))
        for target in Compression:
            given = with_codec(memoryview(batch), h, target, section=sections[0])
            assert decode_records(given) == decode_records(with_codec(memoryview(batch), h, target))
