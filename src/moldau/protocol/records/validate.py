"""Produce-path validation of a partition's record set, before it is appended.

The produce handler calls ``validate_produce`` once per partition with the raw ``records``
bytes of the request. The checks, their order and the error codes follow what a Kafka 4.0
broker does with the same bytes (``ProduceRequest.validateRecords`` in the request handler,
then ``UnifiedLog.analyzeAndValidateRecords``, then ``LogValidator``):

====  ==========================================================  ===========================
step  condition                                                   error
====  ==========================================================  ===========================
 1    no complete batch (empty, or the only batch is cut short)   INVALID_RECORD
 2    batch length field below 14 (smallest legacy message)       CORRUPT_MESSAGE
 3    magic byte outside 0..2                                     CORRUPT_MESSAGE
 4    magic 0 or 1 (message formats removed in Kafka 4)           INVALID_RECORD
 5    zstd on produce below v7 (only if ``api_version`` given)    UNSUPPORTED_COMPRESSION_TYPE
 6    a second complete batch follows the first                   INVALID_RECORD
 7    bytes after the batch that do not form a complete batch     CORRUPT_MESSAGE (*)
 8    base offset other than 0                                    INVALID_RECORD
 9    batch size (all bytes, header included) > max.message.bytes  MESSAGE_TOO_LARGE
10    batch shorter than a v2 header, or CRC-32C mismatch         CORRUPT_MESSAGE
11    codec id 5-7                                                INVALID_RECORD (*)
12    last_offset_delta + 1 <= 0, records_count <= 0, or unequal  INVALID_RECORD
13    control batch                                               INVALID_RECORD
14    producer id set but base sequence negative                  INVALID_RECORD
15    record timestamps out of range / LogAppendTime from client  INVALID_TIMESTAMP
16    compacted topic and a record without key                    INVALID_RECORD
17    compressed section does not inflate                         CORRUPT_MESSAGE (*)
18    inflated section past ``max_decompressed_bytes``            MESSAGE_TOO_LARGE (*)
19    inner records malformed or miscounted                       INVALID_RECORD
====  ==========================================================  ===========================

(*) where Moldau differs from Kafka on purpose: Kafka silently drops trailing bytes that do
not make a batch (7); it fails an unknown codec (11) and a payload its codec rejects (17) with
an internal exception that reaches the client as UNKNOWN_SERVER_ERROR; it has no inflation
limit (18). MESSAGE_TOO_LARGE for (18) lets the Java producer split the batch and retry.

Steps 15 and 16 are record errors: as in Kafka, all records are checked, and the failure is
INVALID_TIMESTAMP if any record's timestamp is bad, INVALID_RECORD otherwise; the raised
``RecordValidationError`` carries the per-record ``(batch_index, message)`` list for the
produce response's ``record_errors``.

Cost. An uncompressed batch is checked from its 61-byte header and its CRC alone; no record
is decoded. Timestamps are then checked on the header's ``base_timestamp`` and
``max_timestamp`` instead of on every record, an approximation of Kafka's per-record check: a
record whose timestamp lies below the base (a negative delta) is not caught, and the header's
max timestamp is trusted rather than recomputed. A compressed batch (or any batch of a
compacted topic, whose keys must be seen) is inflated, within ``max_decompressed_bytes``, and
every record checked exactly as Kafka does: ``scan.section_ok`` walks the records without
building them (about 0.5 us a record); only a batch it turns down is decoded record by record,
for the error and the per-record messages.
"""

from __future__ import annotations

import struct

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import (
    COMPRESSION_MASK,
    CRC_START,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    NO_TIMESTAMP,
    BatchHeader,
    CorruptBatchError,
    unpack_header,
)
from moldau.protocol.records.compression import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    Compression,
    CompressionError,
    DecompressedSizeError,
)
from moldau.protocol.records.crc import crc32c
from moldau.protocol.records.records import decode_section, records_section
from moldau.protocol.records.scan import section_ok

CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"

LEGACY_MIN_BATCH_LENGTH = 14  # the smallest v0 message after its length field
_MIN_ZSTD_PRODUCE_VERSION = 7
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class RecordValidationError(KafkaError):
    """A batch rejected because of some of its records; ``record_errors`` lists
    ``(batch_index, message)`` for each offending record, as the produce response reports them."""

    def __init__(self, code: ErrorCode, message: str, record_errors: list[tuple[int, str]]) -> None:
        super().__init__(code, message)
        self.record_errors = record_errors


def validate_produce(
    records: bytes | bytearray | memoryview,
    *,
    max_message_bytes: int,
    timestamp_type: str,
    timestamp_before_max_ms: int,
    timestamp_after_max_ms: int,
    now_ms: int,
    compacted: bool = False,
    api_version: int | None = None,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
    sections: list[memoryview] | None = None,
) -> list[tuple[int, BatchHeader]]:
    """Check one partition's produce ``records`` and return ``[(position, header)]`` for the
    batch they hold (Kafka accepts exactly one per partition). Raises ``KafkaError`` (or its
    ``RecordValidationError``) with the code Kafka would answer; see the module docstring.

    ``timestamp_type`` is the topic's ``message.timestamp.type``; the two bounds are
    ``message.timestamp.before.max.ms`` and ``message.timestamp.after.max.ms``; ``compacted``
    is whether ``cleanup.policy`` includes ``compact``; ``api_version`` is the Produce request
    version, when the caller wants the zstd-before-v7 check. When ``sections`` is given, the
    records section of a batch whose records were walked (inflated, if compressed) is
    appended to it, for a caller that stores the batch with another codec."""
    if timestamp_type not in (CREATE_TIME, LOG_APPEND_TIME):
        raise ValueError(f"unknown timestamp type {timestamp_type!r}")
    buf = memoryview(records)
    size = _first_batch_size(buf)
    if size is None:
        raise KafkaError(ErrorCode.INVALID_RECORD, "the produce data holds no complete record batch")
    magic = _magic(buf, 0)
    if magic != 2:
        raise KafkaError(
            ErrorCode.INVALID_RECORD, f"record batch has magic {magic}; produce accepts only magic 2"
        )
    if size >= HEADER_SIZE:
        codec = _I16.unpack_from(buf, CRC_START)[0] & COMPRESSION_MASK
        if api_version is not None and api_version < _MIN_ZSTD_PRODUCE_VERSION and codec == Compression.ZSTD:
            raise KafkaError(
                ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
                f"zstd compression needs produce version {_MIN_ZSTD_PRODUCE_VERSION} or later",
            )
    if size < len(buf):
        if _first_batch_size(buf[size:]) is not None:
            raise KafkaError(ErrorCode.INVALID_RECORD, "produce data may hold only one record batch")
        raise KafkaError(
            ErrorCode.CORRUPT_MESSAGE, f"{len(buf) - size} bytes after the record batch are not a batch"
        )

    base_offset = _I64.unpack_from(buf, 0)[0]
    if base_offset != 0:
        raise KafkaError(ErrorCode.INVALID_RECORD, f"record batch base offset must be 0, not {base_offset}")
    if size > max_message_bytes:
        raise KafkaError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"record batch of {size} bytes exceeds max.message.bytes {max_message_bytes}",
        )
    if size < HEADER_SIZE:
        raise KafkaError(
            ErrorCode.CORRUPT_MESSAGE, f"record batch of {size} bytes is shorter than its header"
        )
    h = unpack_header(buf, 0)
    if crc32c(buf[CRC_START:size]) != h.crc:
        raise KafkaError(ErrorCode.CORRUPT_MESSAGE, f"record batch CRC mismatch (stored {h.crc})")
    if h.compression > Compression.ZSTD:
        raise KafkaError(ErrorCode.INVALID_RECORD, f"unknown compression codec id {h.compression}")

    _check_batch(h)
    if h.compression or compacted:
        _check_records(
            buf[:size],
            h,
            compacted=compacted,
            timestamp_type=timestamp_type,
            low=now_ms - timestamp_before_max_ms,
            high=now_ms + timestamp_after_max_ms,
            max_decompressed_bytes=max_decompressed_bytes,
            sections=sections,
        )
    else:
        _check_header_timestamps(
            h, timestamp_type, now_ms - timestamp_before_max_ms, now_ms + timestamp_after_max_ms
        )
    return [(0, h)]


def _first_batch_size(buf: memoryview) -> int | None:
    """The size of the complete batch at the start of ``buf``; None if there is none yet.
    Raises CORRUPT_MESSAGE for a length or magic no batch can have, as Kafka's batch iterator
    does as soon as it can see them."""
    n = len(buf)
    if n < LOG_OVERHEAD:
        return None
    length = _I32.unpack_from(buf, 8)[0]
    if length < LEGACY_MIN_BATCH_LENGTH:
        raise KafkaError(ErrorCode.CORRUPT_MESSAGE, f"record batch length {length} is impossible")
    if n <= MAGIC_OFFSET:
        return None
    magic = _magic(buf, 0)
    if magic < 0 or magic > 2:
        raise KafkaError(ErrorCode.CORRUPT_MESSAGE, f"record batch has invalid magic {magic}")
    size = LOG_OVERHEAD + length
    return size if size <= n else None


def _magic(buf: memoryview, pos: int) -> int:
    b = buf[pos + MAGIC_OFFSET]
    return b - 256 if b > 127 else b


def _check_batch(h: BatchHeader) -> None:
    """Kafka's per-batch checks on a batch from a client."""
    count_from_offsets = h.last_offset_delta + 1
    if count_from_offsets <= 0:
        raise KafkaError(
            ErrorCode.INVALID_RECORD, f"record batch last offset delta {h.last_offset_delta} is negative"
        )
    if h.records_count <= 0:
        raise KafkaError(ErrorCode.INVALID_RECORD, f"record batch declares {h.records_count} records")
    if count_from_offsets != h.records_count:
        raise KafkaError(
            ErrorCode.INVALID_RECORD,
            f"record batch spans {count_from_offsets} offsets but declares {h.records_count} records",
        )
    if h.is_control:
        raise KafkaError(ErrorCode.INVALID_RECORD, "clients may not write control batches")
    if h.producer_id >= 0 and h.base_sequence < 0:
        raise KafkaError(
            ErrorCode.INVALID_RECORD,
            f"record batch of producer {h.producer_id} has invalid base sequence {h.base_sequence}",
        )


def _timestamp_error(
    timestamp: int, log_append_time: bool, timestamp_type: str, low: int, high: int
) -> str | None:
    """Kafka's rule for one record's timestamp; None when it passes."""
    if timestamp_type == CREATE_TIME and timestamp != NO_TIMESTAMP:
        if timestamp < low or timestamp > high:
            return f"timestamp {timestamp} is outside the accepted range [{low}, {high}]"
        return None
    if log_append_time:
        return "producers may not set the LogAppendTime timestamp type"
    return None


def _check_header_timestamps(h: BatchHeader, timestamp_type: str, low: int, high: int) -> None:
    """The header-only approximation of the per-record timestamp check (module docstring)."""
    if timestamp_type == CREATE_TIME and not h.log_append_time:  # the usual case, in one test
        first, last = h.base_timestamp, h.max_timestamp
        if (low <= first <= high or first == NO_TIMESTAMP) and (low <= last <= high or last == NO_TIMESTAMP):
            return
    if h.log_append_time:
        candidates = [h.max_timestamp]
    else:
        candidates = [t for t in (h.base_timestamp, h.max_timestamp) if t != NO_TIMESTAMP]
    for timestamp in candidates:
        message = _timestamp_error(timestamp, h.log_append_time, timestamp_type, low, high)
        if message is not None:
            raise RecordValidationError(ErrorCode.INVALID_TIMESTAMP, message, [])


def _check_records(
    batch: memoryview,
    h: BatchHeader,
    *,
    compacted: bool,
    timestamp_type: str,
    low: int,
    high: int,
    max_decompressed_bytes: int,
    sections: list[memoryview] | None,
) -> None:
    try:
        section = records_section(batch, h, max_decompressed_size=max_decompressed_bytes)
    except DecompressedSizeError as e:
        raise KafkaError(ErrorCode.MESSAGE_TOO_LARGE, f"record batch inflates too far: {e}") from None
    except CompressionError as e:
        raise KafkaError(ErrorCode.CORRUPT_MESSAGE, f"record batch does not decompress: {e}") from None
    if sections is not None:
        sections.append(section)
    # The fast walk answers for the batches that pass; the others are decoded record by record
    # below, for the exact error and the per-record messages.
    if not h.log_append_time and section_ok(
        section,
        h.records_count,
        base_timestamp=h.base_timestamp,
        low=low if timestamp_type == CREATE_TIME else None,
        high=high,
        keys_required=compacted,
    ):
        return
    try:
        records = decode_section(section, h)
    except CorruptBatchError as e:
        raise KafkaError(ErrorCode.INVALID_RECORD, f"malformed records in batch: {e}") from None

    errors: list[tuple[int, str]] = []
    bad_timestamp = False
    for index, record in enumerate(records):
        if compacted and record.key is None:
            errors.append((index, "a compacted topic needs a key on every record"))
            continue
        message = _timestamp_error(record.timestamp, h.log_append_time, timestamp_type, low, high)
        if message is not None:
            errors.append((index, message))
            bad_timestamp = True
    if not errors:
        return
    if bad_timestamp:
        raise RecordValidationError(
            ErrorCode.INVALID_TIMESTAMP, "records rejected for invalid timestamps", errors
        )
    shown = "; ".join(f"record {i}: {m}" for i, m in errors[:3])
    raise RecordValidationError(ErrorCode.INVALID_RECORD, f"{len(errors)} records rejected ({shown})", errors)
