"""ListOffsets (2), v1-10: offsets by timestamp.

Special timestamps: -2 earliest (log start), -1 latest (high watermark, or the last stable
offset for read_committed), -3 (v7+) the record with the largest timestamp, -4 (v8+) earliest
local offset (the log start without tiered storage), -5 (v9+) earliest offset pending upload to
tiered storage (none here: -1). Any other timestamp finds the first offset whose timestamp is at
least that; if none, offset and timestamp are -1.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.list_offsets import (
    LIST_OFFSETS,
    ListOffsetsPartition,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    ListOffsetsTopicResponse,
)

API = LIST_OFFSETS

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL, EARLIEST_PENDING_UPLOAD = -1, -2, -3, -4, -5
READ_COMMITTED = 1


def _lookup(
    ctx: RequestContext, topic: str, p: ListOffsetsPartition, isolation_level: int
) -> ListOffsetsPartitionResponse:
    broker = ctx.broker
    out = ListOffsetsPartitionResponse(partition_index=p.partition_index, error_code=ErrorCode.NONE)
    try:
        plog = broker.partition_log(topic, p.partition_index)
        epoch = broker.check_leader_epoch(topic, p.partition_index, p.current_leader_epoch)
        ts = p.timestamp
        if ts == LATEST:
            out.offset = plog.last_stable_offset if isolation_level == READ_COMMITTED else plog.high_watermark
        elif ts in (EARLIEST, EARLIEST_LOCAL):
            out.offset = plog.log_start_offset
        elif ts == EARLIEST_PENDING_UPLOAD:
            out.offset = -1
        elif ts == MAX_TIMESTAMP:
            found = plog.max_timestamp_offset()
            if found is not None:
                out.offset, out.timestamp = found
        elif ts < 0:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"invalid timestamp {ts}")
        else:
            found = plog.offset_for_timestamp(ts)
            if found is not None and found[0] < plog.high_watermark:
                out.offset, out.timestamp = found
        if out.offset >= 0:
            out.leader_epoch = epoch
    except Exception as e:
        out.error_code, _ = error_of(e, f"ListOffsets {topic}-{p.partition_index}")
    return out


def handle(ctx: RequestContext, req: ListOffsetsRequest) -> ListOffsetsResponse:
    return ListOffsetsResponse(
        topics=[
            ListOffsetsTopicResponse(
                name=t.name, partitions=[_lookup(ctx, t.name, p, req.isolation_level) for p in t.partitions]
            )
            for t in req.topics
        ]
    )
