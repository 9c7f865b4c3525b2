"""DescribeProducers (61), v0: the producers a partition knows (from its producer state), with
their epoch, last sequence and timestamp, and the first offset of their open transaction; the
way admin tools find hanging transactions."""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.describe_producers import (
    DESCRIBE_PRODUCERS,
    DescribeProducersRequest,
    DescribeProducersResponse,
    PartitionResponse,
    ProducerState,
    TopicResponse,
)

API = DESCRIBE_PRODUCERS


def _describe(ctx: RequestContext, topic: str, partition: int) -> PartitionResponse:
    out = PartitionResponse(partition_index=partition, error_code=ErrorCode.NONE)
    try:
        state = ctx.broker.partition_log(topic, partition).producer_state
        out.active_producers = [
            ProducerState(
                producer_id=e.producer_id,
                producer_epoch=e.epoch,
                last_sequence=e.last_seq,
                last_timestamp=e.last_timestamp,
                coordinator_epoch=e.coordinator_epoch,
                current_txn_start_offset=-1
                if e.current_txn_first_offset is None
                else e.current_txn_first_offset,
            )
            for e in state.producers.values()
        ]
    except Exception as e:
        out.error_code, out.error_message = error_of(e, f"DescribeProducers {topic}-{partition}")
    return out


def handle(ctx: RequestContext, req: DescribeProducersRequest) -> DescribeProducersResponse:
    return DescribeProducersResponse(
        topics=[
            TopicResponse(name=t.name, partitions=[_describe(ctx, t.name, p) for p in t.partition_indexes])
            for t in req.topics
        ]
    )
