"""InitProducerId (22), v0-5, for idempotent producers: a fresh producer id with epoch 0, or
(v3+, KIP-360) an epoch bump for a producer that presents its current id and epoch.

Transactional ids need the transaction coordinator, which is not served yet: such requests
answer COORDINATOR_NOT_AVAILABLE.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.init_producer_id import (
    INIT_PRODUCER_ID,
    InitProducerIdRequest,
    InitProducerIdResponse,
)

API = INIT_PRODUCER_ID

MAX_EPOCH = 32767


def handle(ctx: RequestContext, req: InitProducerIdRequest) -> InitProducerIdResponse:
    if req.transactional_id is not None:
        return InitProducerIdResponse(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if req.producer_id >= 0 and 0 <= req.producer_epoch < MAX_EPOCH - 1:
        return InitProducerIdResponse(
            error_code=ErrorCode.NONE, producer_id=req.producer_id, producer_epoch=req.producer_epoch + 1
        )
    pid = ctx.broker.producer_ids.allocate()
    return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=pid, producer_epoch=0)
