"""TxnOffsetCommit (key 28): versions 0-5, flexible from 3.

Sent by a transactional producer to the group coordinator: consumer offsets that become visible
only when the transaction commits (and are dropped if it aborts). The request identifies both
the transaction (ID, producer ID and epoch) and the consumer group.

Version history:

* v0: the baseline: per partition an offset and nullable metadata.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: ``committed_leader_epoch`` per partition (-1 when unknown).
* v3: first flexible version; ``generation_id``, ``member_id`` and ``group_instance_id`` let
  the coordinator fence commits from stale group members (KIP-447), which adds the
  ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and FENCED_INSTANCE_ID errors.
* v4: TRANSACTION_ABORTABLE may be returned; no layout change.
* v5: same layout. Under transactions protocol v2 (KIP-890) this version also enrolls the
  group's offsets partition in the transaction, doing AddOffsetsToTxn's job; a client on the
  older protocol must not send it inside a transaction.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitRequestPartition:
    partition_index: int = field(INT32)
    committed_offset: int = field(INT64)
    committed_leader_epoch: int = field(INT32, "2+", default=-1)
    committed_metadata: str | None = field(STRING, nullable="0+")


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitRequestTopic:
    name: str = field(STRING)
    partitions: list[TxnOffsetCommitRequestPartition] = field(Array(TxnOffsetCommitRequestPartition))


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitRequest:
    transactional_id: str = field(STRING)
    group_id: str = field(STRING)
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT16)
    generation_id: int = field(INT32, "3+", default=-1)
    member_id: str = field(STRING, "3+")
    group_instance_id: str | None = field(STRING, "3+", nullable="3+", default=None)
    topics: list[TxnOffsetCommitRequestTopic] = field(Array(TxnOffsetCommitRequestTopic))


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitResponsePartition:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitResponseTopic:
    name: str = field(STRING)
    partitions: list[TxnOffsetCommitResponsePartition] = field(Array(TxnOffsetCommitResponsePartition))


@datatype(slots=True, kw_only=True)
class TxnOffsetCommitResponse:
    throttle_time_ms: int = field(INT32)
    topics: list[TxnOffsetCommitResponseTopic] = field(Array(TxnOffsetCommitResponseTopic))


TXN_OFFSET_COMMIT = Api(
    key=28,
    name="TxnOffsetCommit",
    request=TxnOffsetCommitRequest,
    response=TxnOffsetCommitResponse,
    min_version=0,
    max_version=5,
    flexible_from=3,
)
