"""The ``__consumer_offsets`` record formats the classic group coordinator reads and writes.

Every record's key and value start with an INT16 *version*; the rest is the struct of that
version, classic (non-flexible) encoding except where noted. Strings are INT16 length + UTF-8
(-1 = null where nullable), bytes INT32 length + data, arrays INT32 count + elements.

Keys::

    version 0 or 1   OffsetCommitKey     group: STRING, topic: STRING, partition: INT32
    version 2        GroupMetadataKey    group: STRING

Kafka 4.0 writes key version 1 for offsets and 2 for groups; version 0 (same layout as 1) is
read. Keys of other versions belong to other record types (KIP-848 consumer groups, share
groups, ...) and are not this coordinator's business: :func:`decode_key` returns None.

OffsetCommitValue, versions 0-4 (4 is flexible: compact strings and a tagged-field section)::

    offset            INT64
    leader_epoch      INT32       v3+   (-1: none)
    metadata          STRING
    commit_timestamp  INT64
    expire_timestamp  INT64       v1 only (-1: none)

Kafka 4.0 writes version 3, or version 1 when the commit carried an explicit retention
(OffsetCommit v2-4 ``retention_time_ms`` other than -1), since only v1 has an expire timestamp.

GroupMetadataValue, versions 0-4 (4 is flexible)::

    protocol_type            STRING
    generation               INT32
    protocol                 NULLABLE_STRING
    leader                   NULLABLE_STRING
    current_state_timestamp  INT64           v2+   (-1: unknown)
    members                  ARRAY of
        member_id            STRING
        group_instance_id    NULLABLE_STRING v3+
        client_id            STRING
        client_host          STRING
        rebalance_timeout    INT32           v1+   (absent or -1: the session timeout serves)
        session_timeout      INT32
        subscription         BYTES           (the member's metadata for ``protocol``)
        assignment           BYTES

Kafka 4.0 writes version 3. A tombstone (null value) deletes the offset or the group.
"""

from __future__ import annotations

from moldau.protocol.codegen import decode, encode
from moldau.protocol.primitives import DecodeError, Reader, Writer
from moldau.protocol.schema import BYTES, INT32, INT64, STRING, Array, field
from moldau.util.datatype import datatype

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1
GROUP_METADATA_VALUE_VERSION = 3

_MAX_VALUE_VERSION = 4
_FLEXIBLE_FROM = 4


@datatype(slots=True, kw_only=True)
class OffsetCommitKey:
    group: str = field(STRING)
    topic: str = field(STRING)
    partition: int = field(INT32)


@datatype(slots=True, kw_only=True)
class OffsetCommitValue:
    offset: int = field(INT64)
    leader_epoch: int = field(INT32, "3+", default=-1)
    metadata: str = field(STRING)
    commit_timestamp: int = field(INT64)
    expire_timestamp: int = field(INT64, "1", default=-1)


@datatype(slots=True, kw_only=True)
class GroupMetadataKey:
    group: str = field(STRING)


@datatype(slots=True, kw_only=True)
class GroupMetadataMember:
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "3+", nullable="3+", default=None)
    client_id: str = field(STRING)
    client_host: str = field(STRING)
    rebalance_timeout: int = field(INT32, "1+", default=-1)
    session_timeout: int = field(INT32)
    subscription: bytes = field(BYTES)
    assignment: bytes = field(BYTES)


@datatype(slots=True, kw_only=True)
class GroupMetadataValue:
    protocol_type: str = field(STRING)
    generation: int = field(INT32)
    protocol: str | None = field(STRING, nullable="0+", default=None)
    leader: str | None = field(STRING, nullable="0+", default=None)
    current_state_timestamp: int = field(INT64, "2+", default=-1)
    members: list[GroupMetadataMember] = field(Array(GroupMetadataMember))


RecordKey = OffsetCommitKey | GroupMetadataKey


def _with_version(version: int, body: bytes) -> bytes:
    w = Writer()
    w.write_int16(version)
    return w.getvalue() + body


def encode_offset_commit_key(group: str, topic: str, partition: int) -> bytes:
    key = OffsetCommitKey(group=group, topic=topic, partition=partition)
    return _with_version(OFFSET_COMMIT_KEY_VERSION, encode(key, 0, False))


def encode_group_metadata_key(group: str) -> bytes:
    return _with_version(GROUP_METADATA_KEY_VERSION, encode(GroupMetadataKey(group=group), 0, False))


def encode_offset_commit_value(value: OffsetCommitValue) -> bytes:
    version = (
        OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY
        if value.expire_timestamp != -1
        else OFFSET_COMMIT_VALUE_VERSION
    )
    return _with_version(version, encode(value, version, False))


def encode_group_metadata_value(value: GroupMetadataValue) -> bytes:
    return _with_version(GROUP_METADATA_VALUE_VERSION, encode(value, GROUP_METADATA_VALUE_VERSION, False))


def _split_version(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    view = memoryview(data)
    version = Reader(view).read_int16()
    return version, view[2:]


def decode_key(data: bytes | bytearray | memoryview) -> RecordKey | None:
    """The key of a group-coordinator record, or None for record types owned by others."""
    version, body = _split_version(data)
    if version in (0, 1):
        key: RecordKey = decode(OffsetCommitKey, body, 0, False)
        return key
    if version == GROUP_METADATA_KEY_VERSION:
        return decode(GroupMetadataKey, body, 0, False)
    return None


def _decode_value(cls: type, data: bytes | bytearray | memoryview) -> tuple[int, object]:
    version, body = _split_version(data)
    if not 0 <= version <= _MAX_VALUE_VERSION:
        raise DecodeError(f"unknown {cls.__name__} version {version}")
    return version, decode(cls, body, version, version >= _FLEXIBLE_FROM)


def decode_offset_commit_value(data: bytes | bytearray | memoryview) -> OffsetCommitValue:
    _, value = _decode_value(OffsetCommitValue, data)
    assert isinstance(value, OffsetCommitValue)
    return value


def decode_group_metadata_value(data: bytes | bytearray | memoryview) -> GroupMetadataValue:
    _, value = _decode_value(GroupMetadataValue, data)
    assert isinstance(value, GroupMetadataValue)
    return value
