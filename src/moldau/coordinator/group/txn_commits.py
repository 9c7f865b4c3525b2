"""TxnOffsetCommit (key 28): a transactional producer commits a group's offsets.

The offsets are written as OffsetCommit records carrying the producer id and epoch, which the
runtime appends in a transactional batch of that producer; replayed, they are *pending* (see
:mod:`pending`) until the transaction's marker lands in the group's ``__consumer_offsets``
partition. Whether the producer may write (its epoch, the partition being part of the
transaction) is for the runtime and the transaction coordinator to check, not this module.

Checks, in Kafka's order:

* an empty group id is INVALID_GROUP_ID;
* an unknown group is created (as a group without protocol type, when the records are
  replayed) if the request's generation is negative, else ILLEGAL_GENERATION;
* a negative generation is accepted for an EMPTY group whatever the member fields say;
* otherwise, when the request names a member (v3+: generation, member id or group instance
  id; KIP-447), the member must exist (UNKNOWN_MEMBER_ID), a static member's instance id must
  map to it (FENCED_INSTANCE_ID), and the generation must be the group's
  (ILLEGAL_GENERATION). Before v3 those fields are absent, so nothing is checked.

Unlike OffsetCommit, a request without member fields is accepted by a group with members (old
producers cannot send any), a group waiting for its assignment does not answer
REBALANCE_IN_PROGRESS, and the commit does not count as a heartbeat. Per partition, metadata
longer than ``offset.metadata.max.bytes`` is OFFSET_METADATA_TOO_LARGE; the others become
records, answered once the records are durable (COORDINATOR_NOT_AVAILABLE if the write fails).
"""

from __future__ import annotations

from moldau.coordinator.group.commits import write_offset
from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.responses import txn_commit_response
from moldau.coordinator.group.results import Effects
from moldau.coordinator.group.state import GroupState
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
    TxnOffsetCommitResponsePartition,
    TxnOffsetCommitResponseTopic,
)


def _member_error(group: ClassicGroup | None, req: TxnOffsetCommitRequest) -> ErrorCode:
    generation = req.generation_id
    if group is None:
        return ErrorCode.NONE if generation < 0 else ErrorCode.ILLEGAL_GENERATION
    if generation < 0 and group.state is GroupState.EMPTY:
        return ErrorCode.NONE
    if generation >= 0 or req.member_id or req.group_instance_id is not None:
        error = group.validate_member(req.member_id, req.group_instance_id)
        if error is not ErrorCode.NONE:
            return error
        if generation != group.generation:
            return ErrorCode.ILLEGAL_GENERATION
    return ErrorCode.NONE


def commit_txn_offsets(
    ctx: Context, fx: Effects, req: TxnOffsetCommitRequest, version: int, waiter: Waiter
) -> None:
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    if req.producer_id < 0:
        # without a producer id the records would be plain commits, visible at once
        raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    error = _member_error(ctx.groups.get(req.group_id), req)
    if error is not ErrorCode.NONE:
        raise KafkaError(error)

    now = ctx.now()
    topics: list[TxnOffsetCommitResponseTopic] = []
    for topic in req.topics:
        answers: list[TxnOffsetCommitResponsePartition] = []
        for p in topic.partitions:
            code = write_offset(
                ctx,
                fx,
                req.group_id,
                topic.name,
                p,
                commit_timestamp=now,
                producer_id=req.producer_id,
                producer_epoch=req.producer_epoch,
            )
            answers.append(
                TxnOffsetCommitResponsePartition(partition_index=p.partition_index, error_code=int(code))
            )
        topics.append(TxnOffsetCommitResponseTopic(name=topic.name, partitions=answers))
    fx.reply_after_write(
        waiter.token,
        TxnOffsetCommitResponse(topics=topics),
        txn_commit_response(req, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )
