"""A batch that keeps some of its records is rebuilt from their bytes (``rebuild_kept``), and
the result is the batch ``rebuild_batch`` builds from the same records decoded: for every
codec, timestamp type, delete horizon and choice of records; a section that is not well
formed raises what decoding raises."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moldau.protocol.records.batch import HEADER_SIZE, CorruptBatchError, parse_header
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.records import (
    Record,
    build_batch,
    decode_records,
    decode_section,
    records_section,
)
from moldau.storage.compaction import rebuild_batch, rebuild_kept

T0 = 1_700_000_000_000

row = st.tuples(
    st.one_of(st.none(), st.binary(max_size=20)),
    st.one_of(st.none(), st.binary(max_size=300)),
    st.lists(st.tuples(st.text(max_size=4), st.one_of(st.none(), st.binary(max_size=8))), max_size=2),
    st.integers(min_value=-100_000, max_value=100_000),
    st.integers(min_value=0, max_value=3),  # record attributes: unused by Kafka, but kept
)
codecs = st.sampled_from(list(Compression))


def comparable(batch: bytes) -> tuple[Any, ...]:
    """The header without its length and CRC, and the records as decoded."""
    h = parse_header(batch)
    return dataclasses.replace(h, batch_length=0, crc=0), decode_records(batch)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=12),
    picks=st.lists(st.booleans(), min_size=12, max_size=12),
    codec=codecs,
    xerial=st.booleans(),
    log_append_time=st.booleans(),
    transactional=st.booleans(),
    had_horizon=st.booleans(),
    horizon=st.one_of(st.none(), st.integers(min_value=T0, max_value=T0 + 10**9)),
)
def test_rebuilt_from_bytes_as_from_records(
    rows: list[Any],
    picks: list[bool],
    codec: Compression,
    xerial: bool,
    log_append_time: bool,
    transactional: bool,
    had_horizon: bool,
    horizon: int | None,
) -> None:
    records = [
        Record(i, delta, key, value, list(headers), attributes)
        for i, (key, value, headers, delta, attributes) in enumerate(rows)
    ]
    batch = build_batch(
        records,
        base_timestamp=T0,
        base_offset=1_000,
        compression=codec,
        producer_id=7 if transactional else -1,
        producer_epoch=1 if transactional else -1,
        base_sequence=3 if transactional else -1,
        transactional=transactional,
        partition_leader_epoch=5,
        log_append_time=log_append_time,
        xerial_snappy=xerial,
    )
    h = parse_header(batch)
    if had_horizon:  # a batch kept by an earlier cleaning, its tombstones' horizon set
        batch = rebuild_batch(batch, h, decode_records(batch), T0 + 5_000)
        h = parse_header(batch)
        horizon = T0 + 5_000
    kept = picks[: len(rows)]
    if not any(kept):
        kept[-1] = True
    section = records_section(memoryview(batch), h)
    chosen = [r for r, keep in zip(decode_section(section, h), kept, strict=True) if keep]
    expected = rebuild_batch(batch, h, chosen, horizon)
    got = rebuild_kept(batch, h, section, kept, horizon)
    assert comparable(got) == comparable(expected)
    if codec == Compression.NONE:
        assert got == expected


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_damaged_section_raises_as_decoding_does(cut: int) -> None:
    rows = [(b"k%d" % i, b"v" * 40, [("h", b"x")], T0 + i) for i in range(4)]
    batch = build_batch(rows)
    h = parse_header(batch)
    section = bytes(batch[HEADER_SIZE : len(batch) - cut])
    with pytest.raises(CorruptBatchError):
        decode_section(section, h)
    with pytest.raises(CorruptBatchError):
        rebuild_kept(batch, h, section, [True, False, True, False], None)
