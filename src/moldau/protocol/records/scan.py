"""Walks over a records section that build nothing: a fast yes/no check for the produce
path, and the records' keys (with whether each is a tombstone) for the cleaner.

Validating a compressed batch (or any batch of a compacted topic) means walking its records:
Kafka checks every record's framing, timestamp and, on compacted topics, its key.
``records.decode_records`` does that walk by building a ``Record`` per record, which costs
about 2.8 us a record; this module walks the same bytes without building anything, the way
Kafka's broker skips over keys, values and headers, at a fraction of that.

``section_ok`` only says whether a section passes. It accepts nothing that the full decode
would reject, so a caller that gets False decodes the section the slow way for the exact
error and the per-record messages, which are rare enough not to matter for speed.
``record_keys`` gives each record's offset delta, key and whether its value is null, skipping
the rest of each record by its length prefix: the cleaner builds its offset map from it and
decides which records a batch keeps. ``record_spans`` gives where each record's fields lie and
its timestamp delta, so that the cleaner rebuilds a batch by copying the bytes of the records
it keeps, rewriting only their timestamp deltas.

The varints are read inline where they fit in one or two bytes (lengths below 8 KiB, counts,
deltas) and through ``varint_at`` otherwise; the inline read is written out at each field, since
a call per varint would cost the walk half its speed. ``record_spans`` reads two varints a
record, only for batches being rebuilt, and calls ``varint_at`` for both. Every read past the
section raises ``IndexError``, which the walk turns into False.
"""

from __future__ import annotations

from moldau.protocol.records.batch import NO_TIMESTAMP

Section = bytes | memoryview


def varint_at(buf: Section, pos: int) -> tuple[int, int]:
    """The zig-zag varint at ``pos``, and the position after it (the walks read varints of one
    or two bytes inline and call this for the rest)."""
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def section_ok(
    buf: Section,
    count: int,
    *,
    base_timestamp: int,
    low: int | None,
    high: int,
    keys_required: bool,
) -> bool:
    """True if ``buf`` holds exactly ``count`` well-formed records, each with a timestamp in
    ``[low, high]`` (or no timestamp; ``low`` None skips the check) and, if
    ``keys_required``, a key."""
    try:
        return _walk(buf, count, base_timestamp, low, high, keys_required)
    except IndexError:
        return False


def _walk(
    buf: Section, count: int, base_timestamp: int, low: int | None, high: int, keys_required: bool
) -> bool:
    pos = 0
    end = len(buf)
    for _ in range(count):
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
            return False
        pos += 1  # attributes
        b = buf[pos]
        if b < 0x80:
            delta = (b >> 1) ^ -(b & 1)
            pos += 1
        elif buf[pos + 1] < 0x80:
            b = (b & 0x7F) | (buf[pos + 1] << 7)
            delta = (b >> 1) ^ -(b & 1)
            pos += 2
        else:
            delta, pos = varint_at(buf, pos)
        if low is not None:
            timestamp = base_timestamp + delta
            if (timestamp < low or timestamp > high) and timestamp != NO_TIMESTAMP:
                return False
        if buf[pos] < 0x80:  # offset delta: its value is not checked
            pos += 1
        elif buf[pos + 1] < 0x80:
            pos += 2
        else:
            pos = varint_at(buf, pos)[1]
        # key, value
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
            pos += n
        elif n != -1 or keys_required:
            return False
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
            pos += n
        elif n != -1:
            return False
        # headers
        b = buf[pos]
        if b == 0:
            pos += 1
        else:
            if b < 0x80:
                headers = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                headers, pos = varint_at(buf, pos)
            if headers < 0:
                return False
            for _ in range(headers):
                n, pos = _varint1(buf, pos)
                if n < 0:
                    return False
                pos += n
                n, pos = _varint1(buf, pos)
                if n >= 0:
                    pos += n
                elif n != -1:
                    return False
                if pos > record_end:
                    return False
        if pos != record_end:
            return False
    return pos == end


def _varint1(buf: Section, pos: int) -> tuple[int, int]:
    """The zig-zag varint at ``pos``, of any length, and the position after it."""
    b = buf[pos]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    return varint_at(buf, pos)


def record_keys(buf: Section, count: int) -> list[tuple[int, bytes | None, bool]] | None:
    """``(offset delta, key, is a tombstone)`` of each of the ``count`` records of ``buf``, for
    the cleaner (its offset map, and which records a batch keeps); None if the section is not
    well formed as far as that walk sees (decode it for the error). Values are not copied and
    headers are skipped by the record's length prefix."""
    try:
        return _keys(buf, count)
    except IndexError:
        return None


def _keys(buf: Section, count: int) -> list[tuple[int, bytes | None, bool]] | None:
    out: list[tuple[int, bytes | None, bool]] = []
    pos = 0
    end = len(buf)
    for _ in range(count):
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
        # attributes (one byte), then the timestamp delta: skipped
        pos = pos + 2 if buf[pos + 1] < 0x80 else varint_at(buf, pos + 1)[1]
        b = buf[pos]
        if b < 0x80:
            delta = (b >> 1) ^ -(b & 1)
            pos += 1
        elif buf[pos + 1] < 0x80:  # offset deltas from 64 to 8191
            b = (b & 0x7F) | (buf[pos + 1] << 7)
            delta = (b >> 1) ^ -(b & 1)
            pos += 2
        else:
            delta, pos = varint_at(buf, pos)
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
        if pos >= record_end:
            return None
        b = buf[pos]  # the value's length: -1 (zig-zag 1) is a tombstone
        if b < 0x80:
            tombstone = b == 0x01
        elif buf[pos + 1] < 0x80:  # values of 64 to 8191 bytes; -1 only padded, as 0x81 0x00
            tombstone = b == 0x81 and buf[pos + 1] == 0
        else:
            tombstone = varint_at(buf, pos)[0] == -1
        out.append((delta, key, tombstone))
        pos = record_end
    return out if pos == end else None


def record_spans(buf: Section, count: int) -> list[tuple[int, int, int, int]] | None:
    """``(attributes position, timestamp delta, position after the timestamp delta, end)`` of
    each of the ``count`` records of ``buf``; None if the walk finds them not laid out as
    records (call it on a section ``section_ok`` passed, which checks every field)."""
    try:
        return _spans(buf, count)
    except IndexError:
        return None


def _spans(buf: Section, count: int) -> list[tuple[int, int, int, int]] | None:
    out: list[tuple[int, int, int, int]] = []
    pos = 0
    end = len(buf)
    for _ in range(count):
        length, pos = varint_at(buf, pos)
        record_end = pos + length
        if length <= 0 or record_end > end:
            return None
        delta, rest = varint_at(buf, pos + 1)  # after the attributes byte: the timestamp delta
        if rest >= record_end:
            return None
        out.append((pos, delta, rest, record_end))
        pos = record_end
    return out if pos == end else None
