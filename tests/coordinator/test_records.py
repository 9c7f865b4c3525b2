"""``__consumer_offsets`` record layouts, byte for byte."""

from __future__ import annotations

import pytest

from moldau.coordinator.group.records import (
    GroupMetadataKey,
    GroupMetadataMember,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    decode_group_metadata_value,
    decode_key,
    decode_offset_commit_value,
    encode_group_metadata_key,
    encode_group_metadata_value,
    encode_offset_commit_key,
    encode_offset_commit_value,
)
from moldau.protocol.primitives import DecodeError

TS = 1_700_000_000_000  # 0x0000018BCFE56800
TS_BYTES = bytes.fromhex("0000018bcfe56800")


def test_offset_commit_key_bytes():
    key = encode_offset_commit_key("group-1", "topic", 3)
    assert key == (
        b"\x00\x01"  # key version 1
        + b"\x00\x07group-1"
        + b"\x00\x05topic"
        + b"\x00\x00\x00\x03"
    )
    assert decode_key(key) == OffsetCommitKey(group="group-1", topic="topic", partition=3)


def test_offset_commit_value_v3_bytes():
    value = OffsetCommitValue(offset=42, leader_epoch=7, metadata="meta", commit_timestamp=TS)
    data = encode_offset_commit_value(value)
    assert data == (
        b"\x00\x03"  # value version 3
        + b"\x00\x00\x00\x00\x00\x00\x00\x2a"  # offset
        + b"\x00\x00\x00\x07"  # leader epoch
        + b"\x00\x04meta"
        + TS_BYTES  # commit timestamp
    )
    assert decode_offset_commit_value(data) == value


def test_offset_commit_value_with_expiry_is_v1():
    value = OffsetCommitValue(offset=1, metadata="", commit_timestamp=TS, expire_timestamp=TS + 1)
    data = encode_offset_commit_value(value)
    assert data == (
        b"\x00\x01"
        + b"\x00\x00\x00\x00\x00\x00\x00\x01"
        + b"\x00\x00"
        + TS_BYTES
        + bytes.fromhex("0000018bcfe56801")
    )
    decoded = decode_offset_commit_value(data)
    assert (decoded.leader_epoch, decoded.expire_timestamp) == (-1, TS + 1)


def test_group_metadata_value_v3_bytes():
    value = GroupMetadataValue(
        protocol_type="consumer",
        generation=1,
        protocol="range",
        leader="m1",
        current_state_timestamp=TS,
        members=[
            GroupMetadataMember(
                member_id="m1",
                group_instance_id=None,
                client_id="c",
                client_host="/h",
                rebalance_timeout=30000,
                session_timeout=10000,
                subscription=b"S",
                assignment=b"A",
            )
        ],
    )
    data = encode_group_metadata_value(value)
    assert data == (
        b"\x00\x03"  # value version 3
        + b"\x00\x08consumer"
        + b"\x00\x00\x00\x01"  # generation
        + b"\x00\x05range"
        + b"\x00\x02m1"  # leader
        + TS_BYTES  # current state timestamp
        + b"\x00\x00\x00\x01"  # one member
        + b"\x00\x02m1"
        + b"\xff\xff"  # no group instance id
        + b"\x00\x01c"
        + b"\x00\x02/h"
        + b"\x00\x00\x75\x30"  # rebalance timeout 30000
        + b"\x00\x00\x27\x10"  # session timeout 10000
        + b"\x00\x00\x00\x01S"
        + b"\x00\x00\x00\x01A"
    )
    assert decode_group_metadata_value(data) == value


def test_group_metadata_key_and_empty_group():
    assert encode_group_metadata_key("g") == b"\x00\x02\x00\x01g"
    assert decode_key(b"\x00\x02\x00\x01g") == GroupMetadataKey(group="g")
    empty = GroupMetadataValue(protocol_type="", generation=0, current_state_timestamp=TS)
    assert encode_group_metadata_value(empty) == (
        b"\x00\x03\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff" + TS_BYTES + b"\x00\x00\x00\x00"
    )


def test_reads_legacy_key_version_0():
    assert decode_key(b"\x00\x00\x00\x01g\x00\x01t\x00\x00\x00\x02") == OffsetCommitKey(
        group="g", topic="t", partition=2
    )


def test_other_record_types_are_not_ours():
    # key version 3 is a KIP-848 consumer group record
    assert decode_key(b"\x00\x03\x00\x01g") is None


def test_reads_offset_commit_value_v0_and_v4():
    v0 = b"\x00\x00" + b"\x00" * 7 + b"\x05" + b"\x00\x01m" + TS_BYTES
    decoded = decode_offset_commit_value(v0)
    assert (decoded.offset, decoded.leader_epoch, decoded.metadata, decoded.commit_timestamp) == (
        5,
        -1,
        "m",
        TS,
    )
    # v4 is flexible: compact string (length + 1) and an empty tagged-field section
    v4 = b"\x00\x04" + b"\x00" * 7 + b"\x05" + b"\x00\x00\x00\x09" + b"\x02m" + TS_BYTES + b"\x00"
    decoded = decode_offset_commit_value(v4)
    assert (decoded.offset, decoded.leader_epoch, decoded.metadata) == (5, 9, "m")


def test_reads_group_metadata_value_v0_and_v4():
    v0 = (
        b"\x00\x00"
        + b"\x00\x08consumer"
        + b"\x00\x00\x00\x02"
        + b"\x00\x05range"
        + b"\x00\x02m1"
        + b"\x00\x00\x00\x01"
        + b"\x00\x02m1\x00\x01c\x00\x02/h"
        + b"\x00\x00\x27\x10"  # session timeout only: v0 has no rebalance timeout
        + b"\x00\x00\x00\x01S\x00\x00\x00\x01A"
    )
    decoded = decode_group_metadata_value(v0)
    assert decoded.current_state_timestamp == -1
    assert decoded.members[0].rebalance_timeout == -1
    assert decoded.members[0].session_timeout == 10000
    v4 = (
        b"\x00\x04"
        + b"\x09consumer"
        + b"\x00\x00\x00\x02"
        + b"\x06range"
        + b"\x03m1"
        + TS_BYTES
        + b"\x02"  # one member
        + b"\x03m1\x00\x02c\x03/h"  # instance id null
        + b"\x00\x00\x75\x30\x00\x00\x27\x10"
        + b"\x02S\x02A"
        + b"\x00"  # member tagged fields
        + b"\x00"  # value tagged fields
    )
    decoded = decode_group_metadata_value(v4)
    assert decoded.protocol == "range" and decoded.current_state_timestamp == TS
    assert decoded.members[0].rebalance_timeout == 30000
    assert decoded.members[0].assignment == b"A"


def test_unknown_value_version_is_an_error():
    with pytest.raises(DecodeError):
        decode_offset_commit_value(b"\x00\x05" + b"\x00" * 20)
    with pytest.raises(DecodeError):
        decode_group_metadata_value(b"\xff\xff")
