"""DeleteRecords (21), v0-2: move a partition's log start offset forward.

An offset of -1 means the high watermark. An offset above the high watermark is
OFFSET_OUT_OF_RANGE. The answer's ``low_watermark`` is the new log start offset.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_records import (
    DELETE_RECORDS,
    DeleteRecordsPartitionResult,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
    DeleteRecordsTopicResult,
)

API = DELETE_RECORDS


def _delete(ctx: RequestContext, topic: str, partition: int, offset: int) -> DeleteRecordsPartitionResult:
    result = DeleteRecordsPartitionResult(
        partition_index=partition, low_watermark=-1, error_code=ErrorCode.NONE
    )
    try:
        plog = ctx.broker.partition_log(topic, partition)
        plog.delete_records_before(offset)  # checks the offset; -1 is the high watermark
        result.low_watermark = plog.log_start_offset
    except Exception as e:
        result.error_code, _ = error_of(e, f"DeleteRecords {topic}-{partition}")
    return result


def handle(ctx: RequestContext, req: DeleteRecordsRequest) -> DeleteRecordsResponse:
    return DeleteRecordsResponse(
        topics=[
            DeleteRecordsTopicResult(
                name=t.name,
                partitions=[_delete(ctx, t.name, p.partition_index, p.offset) for p in t.partitions],
            )
            for t in req.topics
        ]
    )
