"""Produce (0), v3-12 served; v0-2 advertised (old librdkafka enables gzip/snappy only when it
sees v0) and answered UNSUPPORTED_VERSION, as Kafka 4 does.

acks 0 (no response), 1 and -1 (all: on a single node the leader is the whole ISR, so the
append is the commit). Batches stay opaque: the validator reads headers and CRCs, the log
assigns offsets in place. Waiting fetches hear about every append.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.broker.router import NO_RESPONSE
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.produce import (
    PRODUCE,
    PartitionProduceData,
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceResponse,
)
from moldau.protocol.records.validate import validate_produce

API = PRODUCE

FIRST_SUPPORTED = 3


def _append(
    ctx: RequestContext, topic: str, data: PartitionProduceData, now: int
) -> PartitionProduceResponse:
    broker = ctx.broker
    partition = data.index
    try:
        plog = broker.partition_log(topic, partition)
        if data.records is None or len(data.records) == 0:
            raise KafkaError(ErrorCode.CORRUPT_MESSAGE, "produce request without records")
        config = plog.config
        headers = validate_produce(
            memoryview(data.records),
            max_message_bytes=config.max_message_bytes,
            timestamp_type=config.message_timestamp_type,
            timestamp_before_max_ms=config.message_timestamp_before_max_ms,
            timestamp_after_max_ms=config.message_timestamp_after_max_ms,
            now_ms=now,
        )
        buf = bytearray(data.records)
        info = plog.append(
            buf,
            headers,
            leader_epoch=broker.leader_epoch(topic, partition),
            now_ms=now,
            log_append_time=config.message_timestamp_type == "LogAppendTime",
        )
    except Exception as e:
        code, message = error_of(e, f"Produce to {topic}-{partition}")
        return PartitionProduceResponse(
            index=partition, error_code=code, base_offset=-1, error_message=message
        )
    broker.purgatory.notify(topic, partition, len(buf))
    return PartitionProduceResponse(
        index=partition,
        error_code=ErrorCode.NONE,
        base_offset=info.first_offset,
        log_append_time_ms=info.log_append_time_ms,
        log_start_offset=info.log_start_offset,
    )


def _refuse(req: ProduceRequest, code: ErrorCode, message: str | None) -> ProduceResponse:
    return ProduceResponse(
        responses=[
            TopicProduceResponse(
                name=t.name,
                partition_responses=[
                    PartitionProduceResponse(
                        index=p.index, error_code=code, base_offset=-1, error_message=message
                    )
                    for p in t.partition_data
                ],
            )
            for t in req.topic_data
        ]
    )


def handle(ctx: RequestContext, req: ProduceRequest) -> ProduceResponse:
    if ctx.version < FIRST_SUPPORTED:
        return _refuse(req, ErrorCode.UNSUPPORTED_VERSION, "Produce v0-2 are not supported; use v3 or later")
    if req.acks not in (-1, 0, 1):
        return _refuse(req, ErrorCode.INVALID_REQUIRED_ACKS, None)
    if req.transactional_id is not None:
        return _refuse(
            req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "transactions are not supported yet"
        )
    now = ctx.broker.clock.time_ms()
    response = ProduceResponse(
        responses=[
            TopicProduceResponse(
                name=t.name, partition_responses=[_append(ctx, t.name, p, now) for p in t.partition_data]
            )
            for t in req.topic_data
        ]
    )
    if req.acks == 0:
        return NO_RESPONSE
    return response
