"""InitProducerId (22), v0-5: an idempotent producer gets a fresh producer id with epoch 0, or
(v3+, KIP-360) an epoch bump when it presents its current id and epoch; a transactional
producer is answered by the transaction coordinator (fencing older producers with the same
``transactional.id``)."""

from __future__ import annotations

from typing import Any

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.init_producer_id import (
    INIT_PRODUCER_ID,
    InitProducerIdRequest,
    InitProducerIdResponse,
)

API = INIT_PRODUCER_ID

MAX_EPOCH = 32767


def handle(ctx: RequestContext, req: InitProducerIdRequest) -> Any:
    if req.transactional_id is not None:
        txns = ctx.broker.txns
        txns.ensure_topic()
        return txns.call(lambda token: txns.coordinator.init_producer_id(req, ctx.version, token))
    if req.producer_id >= 0 and 0 <= req.producer_epoch < MAX_EPOCH - 1:
        return InitProducerIdResponse(
            error_code=ErrorCode.NONE, producer_id=req.producer_id, producer_epoch=req.producer_epoch + 1
        )
    pid = ctx.broker.producer_ids.allocate()
    return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=pid, producer_epoch=0)
