"""OffsetForLeaderEpoch (23), v2-4: the end offset of a leader epoch, which consumers use to
detect log truncation after a leader change (KIP-320). The answer is the largest epoch not
greater than the one asked for, and the start offset of the next epoch (or the log end offset
for the current epoch)."""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.offset_for_leader_epoch import (
    OFFSET_FOR_LEADER_EPOCH,
    EpochEndOffset,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
    OffsetForLeaderPartition,
    OffsetForLeaderTopicResult,
)

API = OFFSET_FOR_LEADER_EPOCH


def _end_offset(ctx: RequestContext, topic: str, p: OffsetForLeaderPartition) -> EpochEndOffset:
    out = EpochEndOffset(error_code=ErrorCode.NONE, partition=p.partition)
    try:
        plog = ctx.broker.partition_log(topic, p.partition)
        ctx.broker.check_leader_epoch(topic, p.partition, p.current_leader_epoch)
        out.leader_epoch, out.end_offset = plog.end_offset_for_epoch(p.leader_epoch)
    except Exception as e:
        out.error_code, _ = error_of(e, f"OffsetForLeaderEpoch {topic}-{p.partition}")
    return out


def handle(ctx: RequestContext, req: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse:
    return OffsetForLeaderEpochResponse(
        topics=[
            OffsetForLeaderTopicResult(
                topic=t.topic, partitions=[_end_offset(ctx, t.topic, p) for p in t.partitions]
            )
            for t in req.topics
        ]
    )
