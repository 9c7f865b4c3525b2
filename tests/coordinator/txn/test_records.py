"""``__transaction_state`` record formats, byte by byte."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.coordinator.txn.records import (
    TransactionLogPartitions,
    TransactionLogValue,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
    value_version,
)
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.primitives import DecodeError

ONGOING = TxnMetadata(
    transactional_id="tx-1",
    producer_id=1000,
    producer_epoch=5,
    timeout_ms=60000,
    state=TransactionState.ONGOING,
    last_update_ms=1_700_000_000_123,
    partitions=frozenset({("orders", 2), ("orders", 0)}),
    start_ms=1_700_000_000_000,
    client_version=2,
)

# TransactionLogValue v1 (flexible) of ONGOING, worked out by hand from the schema.
ONGOING_V1 = bytes.fromhex(
    "0001"  # value version 1
    "00000000000003e8"  # producer_id 1000
    "0005"  # producer_epoch 5
    "0000ea60"  # transaction_timeout_ms 60000
    "01"  # transaction_status 1 = Ongoing
    "02"  # transaction_partitions: compact array, 1 element
    "07"
    + b"orders".hex()  # topic: compact string, length 6
    + "03"  # partition_ids: compact array, 2 elements
    "00000000"  # 0
    "00000002"  # 2
    "00"  # no tagged fields in the element
    "0000018bcfe5687b"  # transaction_last_update_timestamp_ms 1700000000123
    "0000018bcfe56800"  # transaction_start_timestamp_ms 1700000000000
    "01"  # one tagged field:
    "02"  # tag 2 = client_transaction_version
    "02"  # 2 bytes
    "0002"  # transactions v2
)

# The same in version 0 (classic): no tagged fields, INT16/INT32 lengths.
ONGOING_V0 = bytes.fromhex(
    "0000"  # value version 0
    "00000000000003e8"
    "0005"
    "0000ea60"
    "01"
    "00000001"  # array of 1
    "0006"
    + b"orders".hex()  # topic: INT16 length 6
    + "00000002"  # array of 2
    "00000000"
    "00000002"
    "0000018bcfe5687b"
    "0000018bcfe56800"
)


def test_key_bytes() -> None:
    assert encode_key("tx-1") == bytes.fromhex("00000004") + b"tx-1"
    assert decode_key(encode_key("tx-1")) == "tx-1"


def test_unknown_key_version_is_skipped() -> None:
    assert decode_key(bytes.fromhex("00010004") + b"tx-1") is None


def test_value_v1_bytes_by_hand() -> None:
    assert encode_value(ONGOING.to_value(), 1) == ONGOING_V1


def test_value_v0_bytes_by_hand() -> None:
    assert encode_value(ONGOING.to_value(), 0) == ONGOING_V0


def test_value_round_trip() -> None:
    assert TxnMetadata.from_value("tx-1", decode_value(ONGOING_V1)) == ONGOING
    # version 0 has no client transaction version: it reads as 0
    assert TxnMetadata.from_value("tx-1", decode_value(ONGOING_V0)) == replace(ONGOING, client_version=0)


def test_empty_state_writes_null_partitions_and_ignores_them_on_read() -> None:
    empty = TxnMetadata(
        transactional_id="tx",
        producer_id=7,
        producer_epoch=0,
        timeout_ms=1000,
        state=TransactionState.EMPTY,
        last_update_ms=0,
    )
    raw = encode_value(empty.to_value(), 1)
    # version, pid, epoch, timeout, status, then a null compact array (0)
    assert raw[: 2 + 8 + 2 + 4 + 1 + 1] == bytes.fromhex("000100000000000000070000000003e80000")
    assert decode_value(raw).transaction_partitions is None
    legacy = TransactionLogValue(
        producer_id=7,
        producer_epoch=0,
        transaction_timeout_ms=1000,
        transaction_status=0,
        transaction_partitions=[TransactionLogPartitions(topic="t", partition_ids=[1])],
    )
    assert TxnMetadata.from_value("tx", decode_value(encode_value(legacy, 0))).partitions == frozenset()


def test_producer_id_tags_are_written_only_when_set() -> None:
    rotated = TxnMetadata(
        transactional_id="tx",
        producer_id=8,
        producer_epoch=0,
        timeout_ms=1000,
        state=TransactionState.EMPTY,
        last_update_ms=0,
        previous_producer_id=7,
    )
    raw = encode_value(rotated.to_value(), 1)
    assert raw.endswith(bytes.fromhex("0100080000000000000007"))
    assert TxnMetadata.from_value("tx", decode_value(raw)).previous_producer_id == 7
    v0 = encode_value(rotated.to_value(), 0)  # version 0 cannot carry it
    assert len(v0) == 2 + 8 + 2 + 4 + 1 + 4 + 8 + 8
    assert TxnMetadata.from_value("tx", decode_value(v0)).previous_producer_id == -1


def test_unknown_tags_are_skipped() -> None:
    raw = ONGOING_V1[:-5] + bytes.fromhex("020202000203027ffe")
    assert TxnMetadata.from_value("tx-1", decode_value(raw)) == ONGOING


def test_unknown_value_version() -> None:
    with pytest.raises(DecodeError):
        decode_value(bytes.fromhex("0002") + ONGOING_V1[2:])


def test_value_version_follows_transaction_version() -> None:
    assert [value_version(level) for level in (0, 1, 2)] == [0, 1, 1]
