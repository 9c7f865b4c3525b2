"""The ``__transaction_state`` record formats, as Kafka writes and reads them.

Every key and value starts with an INT16 *version*; the rest is the struct of that version.
Strings are INT16 length + UTF-8 in classic versions, UNSIGNED_VARINT (length + 1) + UTF-8 in
flexible ones; arrays likewise INT32 count or UNSIGNED_VARINT (count + 1), where a null array
is count -1 (classic) or 0 (flexible).

TransactionLogKey, version 0 (the only one)::

    transactional_id   STRING

TransactionLogValue, versions 0-1 (1 is flexible: compact strings and arrays, and a
tagged-field section after every struct)::

    producer_id                      INT64
    producer_epoch                   INT16
    transaction_timeout_ms           INT32
    transaction_status               INT8     (the state's id, see ``state.TransactionState.id``)
    transaction_partitions           ARRAY of (null in state Empty)
        topic                        STRING
        partition_ids                ARRAY of INT32
    transaction_last_update_timestamp_ms   INT64
    transaction_start_timestamp_ms   INT64    (-1: no transaction has started)
    tagged fields (v1 only; written only when they differ from the default):
        tag 0  previous_producer_id       INT64  (default -1)
        tag 1  next_producer_id           INT64  (default -1)
        tag 2  client_transaction_version INT16  (default 0)

Which value version is written follows the cluster's ``transaction.version``: 1 from level 1,
0 below (Kafka 4.0 formats new clusters at level 2, so it writes version 1). Tagged fields of
other numbers are skipped on read, as in any flexible struct. A tombstone (null value)
deletes the transactional id.

The producer ids in tags 0 and 1 carry what this coordinator needs to replay a record alone:
``previous_producer_id`` is the id the transactional id used before its last producer-id
rotation (set while a retry of that rotation may still arrive), ``next_producer_id`` the id
allocated for after a transaction whose epoch ran out (transactions v2). Both are -1, and so
absent from the bytes, in every other case.

Topics and partitions are written in sorted order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from moldau.protocol.codegen import decode, encode
from moldau.protocol.primitives import DecodeError, Reader, Writer
from moldau.protocol.schema import INT8, INT16, INT32, INT64, STRING, Array, field
from moldau.util.datatype import datatype

KEY_VERSION = 0
MAX_VALUE_VERSION = 1
FLEXIBLE_FROM = 1


@datatype(slots=True, kw_only=True)
class TransactionLogKey:
    transactional_id: str = field(STRING)


@datatype(slots=True, kw_only=True)
class TransactionLogPartitions:
    topic: str = field(STRING)
    partition_ids: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class TransactionLogValue:
    producer_id: int = field(INT64)
    previous_producer_id: int = field(INT64, "1+", tag=0, default=-1)
    next_producer_id: int = field(INT64, "1+", tag=1, default=-1)
    producer_epoch: int = field(INT16)
    transaction_timeout_ms: int = field(INT32)
    transaction_status: int = field(INT8)
    transaction_partitions: list[TransactionLogPartitions] | None = field(
        Array(TransactionLogPartitions), nullable="0+"
    )
    transaction_last_update_timestamp_ms: int = field(INT64)
    transaction_start_timestamp_ms: int = field(INT64)
    client_transaction_version: int = field(INT16, "1+", tag=2, default=0)


def value_version(transaction_version: int) -> int:
    """The TransactionLogValue version written at a ``transaction.version`` feature level."""
    return 1 if transaction_version >= 1 else 0


def _with_version(version: int, body: bytes) -> bytes:
    w = Writer()
    w.write_int16(version)
    return w.getvalue() + body


def encode_key(transactional_id: str) -> bytes:
    return _with_version(KEY_VERSION, encode(TransactionLogKey(transactional_id=transactional_id), 0, False))


def encode_value(value: TransactionLogValue, version: int) -> bytes:
    return _with_version(version, encode(value, version, version >= FLEXIBLE_FROM))


def _split_version(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    view = memoryview(data)
    return Reader(view).read_int16(), view[2:]


def decode_key(data: bytes | bytearray | memoryview) -> str | None:
    """The transactional id of a ``__transaction_state`` key, or None for a key version this
    coordinator does not know (Kafka skips those while loading)."""
    version, body = _split_version(data)
    if version != KEY_VERSION:
        return None
    key: TransactionLogKey = decode(TransactionLogKey, body, 0, False)
    return key.transactional_id


def decode_value(data: bytes | bytearray | memoryview) -> TransactionLogValue:
    version, body = _split_version(data)
    if not 0 <= version <= MAX_VALUE_VERSION:
        raise DecodeError(f"unknown TransactionLogValue version {version}")
    value: TransactionLogValue = decode(TransactionLogValue, body, version, version >= FLEXIBLE_FROM)
    return value


def group_partitions(partitions: Iterable[tuple[str, int]]) -> list[TransactionLogPartitions]:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for topic, partition in partitions:
        by_topic[topic].append(partition)
    return [
        TransactionLogPartitions(topic=topic, partition_ids=sorted(ids))
        for topic, ids in sorted(by_topic.items())
    ]


def ungroup_partitions(groups: Iterable[TransactionLogPartitions] | None) -> frozenset[tuple[str, int]]:
    return frozenset((g.topic, p) for g in groups or () for p in g.partition_ids)
