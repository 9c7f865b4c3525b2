"""Control records: the end-transaction markers the transaction coordinator writes.

A control batch has the control bit (0x20) set in its attributes. The markers that end a
transaction are control batches that are also transactional (0x10), uncompressed, carry the
producer id and epoch of the transaction they end, no base sequence (-1), and exactly one
record. That record's key and value are fixed-width big-endian structs::

    key    (4 bytes)  version INT16 = 0, type INT16 (0 ABORT, 1 COMMIT)
    value  (6 bytes)  version INT16 = 0, coordinator_epoch INT32

Other control types exist (KRaft's leader-change and snapshot records); Moldau does not write
them, and ``parse_control_key`` reports their numeric type as it finds it.

Readers are lenient about versions the way Kafka's are: a key or value whose version is newer
than 0 is read with the version-0 layout; a negative version is rejected.
"""

from __future__ import annotations

import enum
import struct

from moldau.protocol.records.batch import CorruptBatchError, parse_header
from moldau.protocol.records.records import Record, build_batch, decode_records
from moldau.util.datatype import datatype

CONTROL_KEY_VERSION = 0
END_TXN_MARKER_VERSION = 0

_KEY = struct.Struct(">hh")
_END_TXN_VALUE = struct.Struct(">hi")


class ControlType(enum.IntEnum):
    ABORT = 0
    COMMIT = 1


@datatype(frozen=True, slots=True)
class EndTxnMarker:
    """A parsed end-transaction marker and the header fields that place it."""

    control_type: ControlType
    coordinator_epoch: int
    producer_id: int
    producer_epoch: int
    offset: int
    timestamp: int

    @property
    def committed(self) -> bool:
        return self.control_type is ControlType.COMMIT


def encode_control_key(control_type: int) -> bytes:
    return _KEY.pack(CONTROL_KEY_VERSION, control_type)


def parse_control_key(key: bytes | None) -> tuple[int, int]:
    """``(version, type)`` of a control record key. Raises ``CorruptBatchError`` if the key is
    missing, shorter than 4 bytes or of negative version."""
    if key is None or len(key) < _KEY.size:
        raise CorruptBatchError(f"control record key must hold {_KEY.size} bytes")
    version, control_type = _KEY.unpack_from(key)
    if version < 0:
        raise CorruptBatchError(f"control record key has negative version {version}")
    return version, control_type


def encode_end_txn_value(coordinator_epoch: int) -> bytes:
    return _END_TXN_VALUE.pack(END_TXN_MARKER_VERSION, coordinator_epoch)


def build_end_txn_marker(
    control_type: ControlType,
    *,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int,
    timestamp: int,
    base_offset: int = 0,
    partition_leader_epoch: int = -1,
) -> bytes:
    """The marker batch that commits or aborts ``producer_id``'s open transaction."""
    record = Record(
        offset_delta=0,
        timestamp_delta=0,
        key=encode_control_key(control_type),
        value=encode_end_txn_value(coordinator_epoch),
    )
    return build_batch(
        [record],
        base_offset=base_offset,
        base_timestamp=timestamp,
        max_timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        transactional=True,
        control=True,
        partition_leader_epoch=partition_leader_epoch,
    )


def parse_end_txn_marker(batch: bytes | bytearray | memoryview) -> EndTxnMarker:
    """Parse the end-transaction marker batch at the start of ``batch``.

    Raises ``CorruptBatchError`` unless it is a control batch holding one record whose key is an
    ABORT or COMMIT key and whose value is an end-transaction value."""
    h = parse_header(batch, 0)
    if not h.is_control:
        raise CorruptBatchError("not a control batch")
    records = decode_records(batch)
    if len(records) != 1:
        raise CorruptBatchError(f"end transaction marker batch holds {len(records)} records, not 1")
    record = records[0]
    _, raw_type = parse_control_key(record.key)
    try:
        control_type = ControlType(raw_type)
    except ValueError:
        raise CorruptBatchError(f"control type {raw_type} is not an end transaction marker") from None
    value = record.value
    if value is None or len(value) < _END_TXN_VALUE.size:
        raise CorruptBatchError(f"end transaction marker value must hold {_END_TXN_VALUE.size} bytes")
    version, coordinator_epoch = _END_TXN_VALUE.unpack_from(value)
    if version < 0:
        raise CorruptBatchError(f"end transaction marker value has negative version {version}")
    return EndTxnMarker(
        control_type=control_type,
        coordinator_epoch=coordinator_epoch,
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        offset=record.offset,
        timestamp=record.timestamp,
    )
