"""Records inside a v2 batch: decode them, and build whole batches from them.

The broker's hot path never comes here (see ``batch.py``); this module serves the places that
must look inside a batch: the validator for compressed batches, compaction, the coordinators'
own records, the internal client, tests.

Record layout (varints are zig-zag encoded, as in the rest of the v2 format)::

    length          varint   bytes of the record after this field
    attributes      int8     unused, written as 0
    timestampDelta  varlong  record timestamp - batch base_timestamp
    offsetDelta     varint   record offset - batch base_offset
    keyLength       varint   -1 for a null key
    key             bytes
    valueLength     varint   -1 for a null value
    value           bytes
    headerCount     varint
    headers         headerCount times:
        headerKeyLength    varint   never negative
        headerKey          UTF-8
        headerValueLength  varint   -1 for a null value
        headerValue        bytes

When the batch's codec is not 0 the whole run of records (everything after the 61-byte
header) is compressed as one stream. In a LogAppendTime batch every record's timestamp is the
batch's max_timestamp, whatever its delta says.

Header keys are decoded and encoded with ``surrogateescape``, so a key that is not valid UTF-8
survives a decode/build round trip byte for byte instead of failing or being altered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import field

from moldau.protocol.primitives import DecodeError, Reader, encode_varint
from moldau.protocol.records.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    NO_TIMESTAMP,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    BatchHeader,
    CorruptBatchError,
    encode_batch,
    parse_header,
)
from moldau.protocol.records.compression import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    Compression,
    codec_of,
    compress,
    decompress,
)
from moldau.protocol.records.scan import record_keys, varint_at
from moldau.util.datatype import datatype

Header = tuple[str, bytes | None]
RecordTuple = tuple[bytes | None, bytes | None, Sequence[Header], int | None]
"""``(key, value, headers, timestamp)``; a timestamp of ``None`` or -1 means "no timestamp"."""

_NULL = encode_varint(-1)


@datatype(frozen=True, slots=True)
class Record:
    """One record. ``offset`` and ``timestamp`` are the absolute values, filled in by
    ``decode_records`` from the batch header; ``build_batch`` reads only the deltas."""

    offset_delta: int
    timestamp_delta: int
    key: bytes | None
    value: bytes | None
    headers: list[Header] = field(default_factory=list)
    attributes: int = 0
    offset: int = -1
    timestamp: int = NO_TIMESTAMP


# -- decoding ------------------------------------------------------------------------------------


def decode_records(
    batch: bytes | bytearray | memoryview, *, max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
) -> list[Record]:
    """Decode every record of the batch that starts at the beginning of ``batch``.

    Checks the framing strictly: each record's length prefix must match the fields it holds,
    the records section must hold exactly ``records_count`` records and nothing after them,
    null markers are only -1, header keys are never null. Does not check the CRC (see
    ``batch.crc_ok``). Bytes after the batch are ignored.

    Raises ``CorruptBatchError`` for a malformed header or records section, and
    ``compression.CompressionError`` (or its ``DecompressedSizeError``, past
    ``max_decompressed_size``) when the compressed section cannot be inflated."""
    mv = memoryview(batch)
    h = parse_header(mv, 0)
    if h.size > len(mv):
        raise CorruptBatchError(f"record batch truncated: header says {h.size} bytes, have {len(mv)}")
    return decode_section(records_section(mv, h, max_decompressed_size=max_decompressed_size), h)


def records_section(
    batch: memoryview, h: BatchHeader, *, max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
) -> memoryview:
    """The records of the batch ``h`` at the start of ``batch``, inflated if compressed (then
    with the errors of ``compression.decompress``)."""
    section = batch[HEADER_SIZE : h.size]
    if h.compression:
        return memoryview(decompress(h.compression, section, max_size=max_decompressed_size))
    return section


def with_codec(
    batch: memoryview,
    h: BatchHeader,
    codec: int,
    *,
    level: int | None = None,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
    section: memoryview | None = None,
) -> bytes:
    """The batch ``h`` at the start of ``batch`` with its records stored with ``codec``: the
    section is inflated (unless the caller has it: ``section``) and compressed again, the
    records themselves (and their offset and timestamp deltas) unchanged; the header keeps
    every field but its codec bits, length and CRC. Snappy is written in the xerial framing,
    as the Java clients and Kafka's broker write it."""
    if section is None:
        section = records_section(batch, h, max_decompressed_size=max_decompressed_size)
    converted = dataclasses.replace(h, attributes=(h.attributes & ~COMPRESSION_MASK) | codec)
    return encode_batch(converted, compress(codec, section, level=level, xerial=True))


def record_offsets_and_keys(batch: memoryview, h: BatchHeader) -> list[tuple[int, bytes | None, bool]]:
    """``(offset, key, is a tombstone)`` of every record of the batch ``h`` at the start of
    ``batch``, without decoding the records (``scan.record_keys``); a batch that walk turns
    down is decoded, for the error ``decode_records`` raises."""
    return section_offsets_and_keys(records_section(batch, h), h)


def section_offsets_and_keys(
    section: bytes | memoryview, h: BatchHeader
) -> list[tuple[int, bytes | None, bool]]:
    """``record_offsets_and_keys`` of a records section (see ``records_section``)."""
    keys = record_keys(section, h.records_count)
    if keys is None:
        return [(r.offset, r.key, r.value is None) for r in decode_section(section, h)]
    base = h.base_offset
    return [(base + delta, key, tombstone) for delta, key, tombstone in keys]


def decode_section(section: bytes | memoryview, h: BatchHeader) -> list[Record]:
    """The records of ``section`` (see ``records_section``), strictly framed as
    ``decode_records`` describes; ``CorruptBatchError`` if they are not.

    A well-formed section is decoded by ``_decode_fast``; one it turns down is decoded again
    field by field, which finds the error and says what it is."""
    try:
        fast = _decode_fast(section, h)
    except IndexError:
        fast = None
    if fast is not None:
        return fast
    try:
        return _decode_section(section, h)
    except DecodeError as e:
        raise CorruptBatchError(f"malformed record: {e}") from None


def _decode_fast(buf: bytes | memoryview, h: BatchHeader) -> list[Record] | None:
    """The records of ``buf``, or None where anything is amiss (``_decode_section`` says
    what). Reads as ``scan.py`` walks: varints of one or two bytes inline (a call per varint
    would cost about half the speed), every read past ``buf`` an IndexError. A field that
    runs past its record's end leaves the position past it, which the end check turns down."""
    out: list[Record] = []
    pos = 0
    end = len(buf)
    base_offset = h.base_offset
    base_timestamp = h.base_timestamp
    log_append_time = h.max_timestamp if h.log_append_time else None
    for _ in range(h.records_count):
        b = buf[pos]
        if b < 0x80:
            length = (b >> 1) ^ -(b & 1)
            pos += 1
        elif buf[pos + 1] < 0x80:
            b = (b & 0x7F) | (buf[pos + 1] << 7)
            length = (b >> 1) ^ -(b & 1)
            pos += 2
        else:
            length, pos = varint_at(buf, pos)
        record_end = pos + length
        if length <= 0 or record_end > end:
            return None
        attributes = buf[pos]
        if attributes > 0x7F:
            attributes -= 0x100
        b = buf[pos + 1]
        if b < 0x80:
            timestamp_delta = (b >> 1) ^ -(b & 1)
            pos += 2
        else:
            timestamp_delta, pos = varint_at(buf, pos + 1)
        b = buf[pos]
        if b < 0x80:
            offset_delta = (b >> 1) ^ -(b & 1)
            pos += 1
        else:
            offset_delta, pos = varint_at(buf, pos)
        b = buf[pos]
        if b < 0x80:
            n = (b >> 1) ^ -(b & 1)
            pos += 1
        else:
            n, pos = varint_at(buf, pos)
        if n >= 0:
            key: bytes | None = bytes(buf[pos : pos + n])
            pos += n
        elif n == -1:
            key = None
        else:
            return None
        b = buf[pos]
        if b < 0x80:
            n = (b >> 1) ^ -(b & 1)
            pos += 1
        elif buf[pos + 1] < 0x80:
            b = (b & 0x7F) | (buf[pos + 1] << 7)
            n = (b >> 1) ^ -(b & 1)
            pos += 2
        else:
            n, pos = varint_at(buf, pos)
        if n >= 0:
            value: bytes | None = bytes(buf[pos : pos + n])
            pos += n
        elif n == -1:
            value = None
        else:
            return None
        headers: list[Header] = []
        if buf[pos] == 0:
            pos += 1
        else:
            count, pos = varint_at(buf, pos)
            if count < 0:
                return None
            for _ in range(count):
                n, pos = varint_at(buf, pos)
                if n < 0:
                    return None
                header_key = str(buf[pos : pos + n], "utf-8", "surrogateescape")
                pos += n
                n, pos = varint_at(buf, pos)
                if n >= 0:
                    headers.append((header_key, bytes(buf[pos : pos + n])))
                    pos += n
                elif n == -1:
                    headers.append((header_key, None))
                else:
                    return None
        if pos != record_end:
            return None
        timestamp = base_timestamp + timestamp_delta if log_append_time is None else log_append_time
        out.append(
            Record(
                offset_delta,
                timestamp_delta,
                key,
                value,
                headers,
                attributes,
                base_offset + offset_delta,
                timestamp,
            )
        )
    return out if pos == end else None


def _decode_section(section: bytes | memoryview, h: BatchHeader) -> list[Record]:
    r = Reader(section)
    base_offset = h.base_offset
    base_timestamp = h.base_timestamp
    log_append_time = h.max_timestamp if h.log_append_time else None
    out: list[Record] = []
    for index in range(h.records_count):
        length = r.read_varint()
        if length < 0 or length > r.remaining():
            raise CorruptBatchError(
                f"record {index} declares {length} bytes, {r.remaining()} remain in the batch"
            )
        end = r.pos + length
        rec = Reader(r.buf, r.pos, end)
        attributes = rec.read_int8()
        timestamp_delta = rec.read_varint()
        offset_delta = rec.read_varint()
        key = _read_nullable(rec, "key")
        value = _read_nullable(rec, "value")
        header_count = rec.read_varint()
        if header_count < 0:
            raise CorruptBatchError(f"record {index} has a negative header count {header_count}")
        headers: list[Header] = []
        for _ in range(header_count):
            key_length = rec.read_varint()
            if key_length < 0:
                raise CorruptBatchError(f"record {index} has a header with a null key")
            header_key = str(rec.read_raw(key_length), "utf-8", "surrogateescape")
            headers.append((header_key, _read_nullable(rec, "header value")))
        if rec.pos != end:
            raise CorruptBatchError(
                f"record {index} declares {length} bytes but its fields use {rec.pos - (end - length)}"
            )
        r.pos = end
        timestamp = base_timestamp + timestamp_delta if log_append_time is None else log_append_time
        out.append(
            Record(
                offset_delta,
                timestamp_delta,
                key,
                value,
                headers,
                attributes,
                base_offset + offset_delta,
                timestamp,
            )
        )
    if r.remaining():
        raise CorruptBatchError(
            f"{r.remaining()} bytes remain after the {h.records_count} records the header declares"
        )
    return out


def _read_nullable(r: Reader, what: str) -> bytes | None:
    n = r.read_varint()
    if n == -1:
        return None
    if n < 0:
        raise CorruptBatchError(f"invalid {what} length {n}")
    return bytes(r.read_raw(n))


# -- building ------------------------------------------------------------------------------------


def build_batch(
    records: Iterable[Record | RecordTuple],
    *,
    base_offset: int = 0,
    compression: int = Compression.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    transactional: bool = False,
    control: bool = False,
    partition_leader_epoch: int = -1,
    log_append_time: bool = False,
    base_timestamp: int | None = None,
    max_timestamp: int | None = None,
    last_offset_delta: int | None = None,
    compression_level: int | None = None,
    xerial_snappy: bool = False,
) -> bytes:
    """Build one v2 batch, CRC included.

    ``records`` holds ``Record`` objects, ``(key, value, headers, timestamp)`` tuples, or both.
    A tuple gets the next offset delta (its index) and an absolute timestamp; a ``Record`` is
    written with its own deltas. ``base_timestamp`` defaults to the first record's timestamp
    (a ``Record``'s ``timestamp - timestamp_delta``, -1 if it has none), as the Java producer
    does; ``max_timestamp`` to the largest record timestamp; ``last_offset_delta`` to the last
    record's offset delta. With ``log_append_time`` the timestamp-type bit is set and readers
    take ``max_timestamp`` as every record's timestamp.

    Raises ``ValueError`` for tuples that mix ``None`` and real timestamps."""
    items = list(records)
    base_ts = _base_timestamp(items) if base_timestamp is None else base_timestamp
    built: list[Record] = []
    for index, item in enumerate(items):
        if isinstance(item, Record):
            built.append(item)
            continue
        key, value, headers, ts = item
        timestamp = NO_TIMESTAMP if ts is None else ts
        if (timestamp == NO_TIMESTAMP) != (base_ts == NO_TIMESTAMP):
            raise ValueError("records mix missing and present timestamps")
        delta = 0 if timestamp == NO_TIMESTAMP else timestamp - base_ts
        built.append(Record(index, delta, key, value, list(headers)))

    section = bytearray()
    for rec in built:
        _encode_record(section, rec)
    codec = codec_of(compression)
    payload = (
        compress(codec, section, level=compression_level, xerial=xerial_snappy)
        if codec is not Compression.NONE
        else section
    )

    if max_timestamp is None:
        max_timestamp = (
            max(base_ts + rec.timestamp_delta for rec in built)
            if built and base_ts != NO_TIMESTAMP
            else NO_TIMESTAMP
        )
    if last_offset_delta is None:
        last_offset_delta = built[-1].offset_delta if built else 0
    attributes = int(codec)
    if log_append_time:
        attributes |= TIMESTAMP_TYPE_BIT
    if transactional:
        attributes |= TRANSACTIONAL_BIT
    if control:
        attributes |= CONTROL_BIT
    header = BatchHeader(
        base_offset=base_offset,
        batch_length=0,
        partition_leader_epoch=partition_leader_epoch,
        magic=2,
        crc=0,
        attributes=attributes,
        last_offset_delta=last_offset_delta,
        base_timestamp=base_ts,
        max_timestamp=max_timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        records_count=len(built),
    )
    return encode_batch(header, payload)


def _base_timestamp(items: list[Record | RecordTuple]) -> int:
    if not items:
        return NO_TIMESTAMP
    first = items[0]
    if isinstance(first, Record):
        if first.timestamp == NO_TIMESTAMP:
            return NO_TIMESTAMP
        return first.timestamp - first.timestamp_delta
    timestamp = first[3]
    return NO_TIMESTAMP if timestamp is None else timestamp


def _encode_record(out: bytearray, rec: Record) -> None:
    body = bytearray()
    body.append(rec.attributes & 0xFF)
    body += encode_varint(rec.timestamp_delta)
    body += encode_varint(rec.offset_delta)
    _write_nullable(body, rec.key)
    _write_nullable(body, rec.value)
    body += encode_varint(len(rec.headers))
    for header_key, header_value in rec.headers:
        raw = header_key.encode("utf-8", "surrogateescape")
        body += encode_varint(len(raw))
        body += raw
        _write_nullable(body, header_value)
    out += encode_varint(len(body))
    out += body


def _write_nullable(out: bytearray, data: bytes | None) -> None:
    if data is None:
        out += _NULL
    else:
        out += encode_varint(len(data))
        out += data
