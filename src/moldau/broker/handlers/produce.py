"""Produce (0), v3-12 served; v0-2 advertised (old librdkafka enables gzip/snappy only when it
sees v0) and answered UNSUPPORTED_VERSION, as Kafka 4 does.

acks 0 (no response), 1 and -1 (all: on a single node the leader is the whole ISR, so the
append is the commit). Batches stay opaque: the validator reads headers and CRCs (and walks
the records of compressed batches and of compacted topics, whose records need keys), a topic
whose ``compression.type`` names a codec gets the batch recompressed with it, the log assigns
offsets in place (and its producer state answers a retried duplicate with the original
offsets). A transactional batch must belong to a partition of its producer's ongoing
transaction (KIP-890 part 1), so a late write cannot land in a later transaction. Waiting
fetches hear about every append. A batch refused for some of its records names them in
``record_errors`` (v8+, KIP-467).
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.broker.router import NO_RESPONSE
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.produce import (
    PRODUCE,
    BatchIndexAndErrorMessage,
    PartitionProduceData,
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceResponse,
)
from moldau.protocol.records.batch import BatchHeader, unpack_header
from moldau.protocol.records.records import with_codec
from moldau.protocol.records.validate import RecordValidationError, validate_produce
from moldau.storage.config import LogConfig

API = PRODUCE

FIRST_SUPPORTED = 3
ABORTABLE_FROM = 11  # Produce v11 clients understand TRANSACTION_ABORTABLE (KIP-890)


def _verify_transaction(
    ctx: RequestContext, txn_id: str | None, topic: str, partition: int, h: BatchHeader
) -> None:
    """KIP-890 part 1: the batch's producer must be the transactional id's current one and the
    partition part of its ongoing transaction. A fenced (older) epoch is INVALID_PRODUCER_EPOCH,
    another producer id INVALID_PRODUCER_ID_MAPPING, a partition outside the transaction
    TRANSACTION_ABORTABLE (INVALID_TXN_STATE before Produce v11)."""
    if txn_id is None:
        raise KafkaError(ErrorCode.INVALID_RECORD, "transactional records without a transactional id")
    coordinator = ctx.broker.txns.coordinator
    txn = coordinator.transaction(txn_id)
    if txn is not None and txn.producer_id != h.producer_id:
        raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING, f"{txn_id} has another producer id")
    if txn is not None and txn.producer_epoch > h.producer_epoch:
        raise KafkaError(
            ErrorCode.INVALID_PRODUCER_EPOCH, f"producer epoch {h.producer_epoch} of {txn_id} is fenced"
        )
    ongoing = coordinator.ongoing_partitions(txn_id, h.producer_id, h.producer_epoch)
    if ongoing is None or (topic, partition) not in ongoing:
        code = (
            ErrorCode.TRANSACTION_ABORTABLE if ctx.version >= ABORTABLE_FROM else ErrorCode.INVALID_TXN_STATE
        )
        raise KafkaError(code, f"{topic}-{partition} is not part of the ongoing transaction of {txn_id}")


def _converted(
    records: memoryview, h: BatchHeader, config: LogConfig, section: memoryview | None
) -> bytearray:
    """The batch stored with the topic's ``compression.type`` codec instead of the producer's
    (``section``: its records as the validator inflated them, if it did); MESSAGE_TOO_LARGE if
    it then exceeds ``max.message.bytes``, as in Kafka."""
    assert config.codec is not None
    buf = bytearray(with_codec(records, h, config.codec, level=config.codec_level, section=section))
    if len(buf) > config.max_message_bytes:
        raise KafkaError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"record batch of {len(buf)} bytes after compression.type {config.compression_type} "
            f"exceeds max.message.bytes {config.max_message_bytes}",
        )
    return buf


def _append(
    ctx: RequestContext, txn_id: str | None, topic: str, data: PartitionProduceData, now: int
) -> PartitionProduceResponse:
    broker = ctx.broker
    partition = data.index
    try:
        plog = broker.partition_log(topic, partition)
        if data.records is None or len(data.records) == 0:
            raise KafkaError(ErrorCode.CORRUPT_MESSAGE, "produce request without records")
        config = plog.config
        sections: list[memoryview] | None = [] if config.codec is not None else None
        headers = validate_produce(
            data.records,
            compacted=config.compact,
            api_version=ctx.version,
            max_message_bytes=config.max_message_bytes,
            timestamp_type=config.message_timestamp_type,
            timestamp_before_max_ms=config.message_timestamp_before_max_ms,
            timestamp_after_max_ms=config.message_timestamp_after_max_ms,
            now_ms=now,
            sections=sections,
        )
        if headers[0][1].is_transactional:
            _verify_transaction(ctx, txn_id, topic, partition, headers[0][1])
        records = data.records
        buf: bytearray | memoryview
        if config.codec is not None and config.codec != headers[0][1].compression:
            buf = _converted(memoryview(records), headers[0][1], config, sections[0] if sections else None)
            headers = [(0, unpack_header(buf))]
        # Offsets are assigned in place: in the request's own frame buffer when the codec
        # decoded a writable view of it, otherwise in a copy.
        elif isinstance(records, memoryview) and not records.readonly:
            buf = records
        else:
            buf = bytearray(records)
        info = plog.append(
            buf,
            headers,
            leader_epoch=broker.leader_epoch(topic, partition),
            now_ms=now,
            log_append_time=config.message_timestamp_type == "LogAppendTime",
        )
    except RecordValidationError as e:
        return PartitionProduceResponse(
            index=partition,
            error_code=e.code,
            base_offset=-1,
            error_message=e.message,
            record_errors=[
                BatchIndexAndErrorMessage(batch_index=i, batch_index_error_message=m)
                for i, m in e.record_errors
            ],
        )
    except Exception as e:
        code, message = error_of(e, f"Produce to {topic}-{partition}")
        return PartitionProduceResponse(
            index=partition, error_code=code, base_offset=-1, error_message=message
        )
    if not info.duplicate:
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
    now = ctx.broker.clock.time_ms()
    response = ProduceResponse(
        responses=[
            TopicProduceResponse(
                name=t.name,
                partition_responses=[
                    _append(ctx, req.transactional_id, t.name, p, now) for p in t.partition_data
                ],
            )
            for t in req.topic_data
        ]
    )
    if req.acks == 0:
        return NO_RESPONSE
    return response
