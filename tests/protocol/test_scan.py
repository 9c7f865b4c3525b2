"""``scan.section_ok`` answers exactly as decoding the section record by record and checking
each record would, ``scan.record_keys`` reads the keys decoding reads, and ``decode_section``
(whose inline walk comes first) returns what the field-by-field decoder returns: for
well-formed sections of every shape, and for sections damaged at random (bytes changed, cut
short, lengthened), which is where a walk that skips over bytes could go astray."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from moldau.protocol.records import records
from moldau.protocol.records.batch import (
    HEADER_SIZE,
    NO_TIMESTAMP,
    BatchHeader,
    CorruptBatchError,
    parse_header,
)
from moldau.protocol.records.records import build_batch, decode_section
from moldau.protocol.records.scan import record_keys, section_ok

T0 = 1_700_000_000_000
LOW, HIGH = T0 - 1_000, T0 + 1_000


def section_of(rows: list[Any]) -> tuple[bytes, BatchHeader]:
    batch = build_batch(rows, base_timestamp=T0 if rows else None)
    return batch[HEADER_SIZE:], parse_header(batch)


def decoded_ok(section: bytes, count: int, h: BatchHeader, low: int | None, keys_required: bool) -> bool:
    """What ``section_ok`` must answer, the slow way."""
    try:
        records = decode_section(section, dataclasses.replace(h, records_count=count))
    except CorruptBatchError:
        return False
    for r in records:
        if keys_required and r.key is None:
            return False
        if low is not None and r.timestamp != NO_TIMESTAMP and not low <= r.timestamp <= HIGH:
            return False
    return True


def fast(section: bytes, count: int, low: int | None = LOW, keys_required: bool = False) -> bool:
    return section_ok(section, count, base_timestamp=T0, low=low, high=HIGH, keys_required=keys_required)


def test_shapes_that_pass() -> None:
    rows = [
        (b"k", b"v", [], T0),
        (None, b"v", [], T0 - 500),  # negative timestamp delta
        (b"k", None, [], T0 + 500),
        (b"", b"", [("", b"")], T0),
        (b"k", b"v" * 70_000, [("h1", None), ("h2", b"x" * 300)], T0),  # three-byte lengths
    ]
    rows += [(b"k%d" % i, b"x" * 100, [], T0 + i % 900) for i in range(20_000)]  # three-byte offset deltas
    section, h = section_of(rows)
    assert fast(section, h.records_count)
    assert fast(memoryview(section), h.records_count)
    assert not fast(section, h.records_count, keys_required=True)  # one key is null
    assert fast(section[: -len(section) // 2], h.records_count) is False
    keys = record_keys(section, h.records_count)
    assert keys == [(i, row[0], row[1] is None) for i, row in enumerate(rows)]
    assert record_keys(section[:-1], h.records_count) is None


def test_each_rule() -> None:
    section, h = section_of([(b"k", b"v", [("h", b"x")], T0)])
    n = h.records_count
    assert fast(section, n)
    assert not fast(section, n + 1)  # fewer records than declared
    assert not fast(section + b"\x00", n)  # bytes after the last record
    assert not fast(section[:-1], n)
    assert not fast(section, n, low=T0 + 1)  # timestamp before the accepted range
    assert fast(section, n, low=None)  # LogAppendTime topics do not check it
    late, h = section_of([(b"k", b"v", [], T0 + 5_000)])
    assert not fast(late, 1)
    untimed = build_batch([(b"k", b"v", [], None)])
    assert fast(untimed[HEADER_SIZE:], 1)  # no timestamp passes
    assert not fast(b"", 1)
    assert fast(b"", 0)


row = st.tuples(
    st.one_of(st.none(), st.binary(max_size=200)),
    st.one_of(st.none(), st.binary(max_size=300)),
    st.lists(st.tuples(st.text(max_size=5), st.one_of(st.none(), st.binary(max_size=20))), max_size=3),
    st.integers(min_value=T0 - 1_500, max_value=T0 + 1_500),
)
damage = st.one_of(
    st.tuples(st.just("set"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("cut"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("add"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
)


def damaged(section: bytes, damages: list[Any]) -> bytes:
    data = bytearray(section)
    for kind, where, value in damages:
        pos = where % (len(data) + 1)
        if kind == "set" and pos < len(data):
            data[pos] = value
        elif kind == "cut":
            del data[pos:]
        elif kind == "add":
            data.insert(pos, value)
    return bytes(data)


@settings(max_examples=600, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=8),
    damages=st.lists(damage, max_size=3),
    count_offset=st.sampled_from([0, 0, 0, -1, 1]),
    check_timestamps=st.booleans(),
    keys_required=st.booleans(),
)
def test_agrees_with_decoding(
    rows: list[Any], damages: list[Any], count_offset: int, check_timestamps: bool, keys_required: bool
) -> None:
    section, h = section_of(rows)
    data = damaged(section, damages)
    count = h.records_count + count_offset
    low = LOW if check_timestamps else None
    expected = decoded_ok(data, count, h, low, keys_required)
    event(f"passes: {expected}")
    assert fast(data, count, low, keys_required) is expected
    # The cleaner's key walk reads what decoding reads wherever decoding succeeds.
    try:
        decoded = decode_section(data, dataclasses.replace(h, records_count=count))
    except CorruptBatchError:
        return
    assert record_keys(data, count) == [(r.offset_delta, r.key, r.value is None) for r in decoded]


@settings(max_examples=200, deadline=None)
@given(
    deltas=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=6, unique=True),
    values=st.lists(st.one_of(st.none(), st.binary(min_size=60, max_size=9_000)), min_size=6, max_size=6),
)
def test_keys_agree_with_decoding_for_large_deltas_and_values(
    deltas: list[int], values: list[bytes | None]
) -> None:
    """Offset deltas and value lengths of one, two and three varint bytes (the walk reads the
    first two kinds inline)."""
    rows = [records.Record(delta, 0, b"k%d" % i, values[i], []) for i, delta in enumerate(sorted(deltas))]
    section, h = section_of(rows)
    expected = [(r.offset_delta, r.key, r.value is None) for r in decode_section(section, h)]
    assert record_keys(section, h.records_count) == expected


def test_keys_read_padded_varints_as_decoding_does() -> None:
    """A value length of -1 written in two bytes (0x81 0x00, longer than it needs) is still a
    tombstone, and a padded offset delta still its number."""
    body = bytes([0, 0]) + bytes([0x82, 0x00]) + bytes([2]) + b"k" + bytes([0x81, 0x00]) + bytes([0])
    section = bytes([len(body) * 2]) + body  # zig-zag length, one byte
    h = dataclasses.replace(section_of([(b"k", None, [], T0)])[1], last_offset_delta=1)
    assert [(r.offset_delta, r.key, r.value) for r in decode_section(section, h)] == [(1, b"k", None)]
    assert record_keys(section, 1) == [(1, b"k", True)]


def strict(section: bytes, h: BatchHeader) -> list[Any] | str:
    """The field-by-field decode of ``section``, or its error's message."""
    try:
        return records._decode_section(section, h)
    except (CorruptBatchError, records.DecodeError) as e:
        return str(e)


@settings(max_examples=600, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=8),
    damages=st.lists(damage, max_size=3),
    count_offset=st.sampled_from([0, 0, 0, -1, 1]),
    log_append_time=st.booleans(),
)
def test_decoding_agrees_with_the_field_by_field_decoder(
    rows: list[Any], damages: list[Any], count_offset: int, log_append_time: bool
) -> None:
    section, h = section_of(rows)
    data = damaged(section, damages)
    h = dataclasses.replace(h, records_count=h.records_count + count_offset)
    if log_append_time:
        h = dataclasses.replace(h, attributes=h.attributes | 0x08, max_timestamp=T0 + 7)
    expected = strict(data, h)
    event(f"decodes: {not isinstance(expected, str)}")
    for form in (data, memoryview(data)):
        try:
            got: list[Any] | str = decode_section(form, h)
        except CorruptBatchError as e:
            got = str(e)
        if isinstance(expected, str):
            assert isinstance(got, str)  # the same refusal, its message from the strict decoder
        else:
            assert got == expected
            assert records._decode_fast(form, h) == expected  # decoded by the walk itself


def test_decoding_reads_every_field_of_every_shape() -> None:
    rows = [
        (b"k", b"v", [], T0),
        (None, b"v", [], T0 - 500),
        (b"k", None, [("h", None), ("\u00e9", b"x" * 300)], T0 + 500),
        (b"", b"", [("", b"")], T0),
        (b"k" * 200, b"v" * 70_000, [], T0),  # two- and three-byte lengths
    ]
    rows += [(b"%d" % i, b"x", [], T0 + i) for i in range(300)]  # two-byte offset deltas
    section, h = section_of(rows)
    got = decode_section(section, h)
    assert got == records._decode_section(section, h) == records._decode_fast(section, h)
    assert [(r.key, r.value, r.headers, r.timestamp, r.offset) for r in got[:3]] == [
        (b"k", b"v", [], T0, 0),
        (None, b"v", [], T0 - 500, 1),
        (b"k", None, [("h", None), ("\u00e9", b"x" * 300)], T0 + 500, 2),
    ]
