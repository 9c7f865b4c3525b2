"""FindCoordinator (10), v0-6: every group and every transactional id is coordinated by this
broker. The first request of each kind creates ``__consumer_offsets`` or
``__transaction_state``. v4+ batches keys."""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.find_coordinator import (
    FIND_COORDINATOR,
    Coordinator,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)

API = FIND_COORDINATOR

GROUP, TRANSACTION = 0, 1
BATCHED_FROM = 4


def _find(ctx: RequestContext, key: str, key_type: int) -> Coordinator:
    broker = ctx.broker
    ep = broker.endpoint_for(ctx.listener)
    out = Coordinator(key=key, node_id=broker.node_id, host=ep.host, port=ep.port, error_code=ErrorCode.NONE)
    try:
        if key_type not in (GROUP, TRANSACTION):
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unknown coordinator type: {key_type}")
        if not key:
            raise KafkaError(ErrorCode.INVALID_REQUEST, "The coordinator key must not be empty")
        (broker.groups if key_type == GROUP else broker.txns).ensure_topic()
    except Exception as e:
        out.error_code, out.error_message = error_of(e, f"FindCoordinator {key}")
        out.node_id, out.host, out.port = -1, "", -1
    return out


def handle(ctx: RequestContext, req: FindCoordinatorRequest) -> FindCoordinatorResponse:
    if ctx.version >= BATCHED_FROM:
        return FindCoordinatorResponse(
            coordinators=[_find(ctx, k, req.key_type) for k in req.coordinator_keys]
        )
    c = _find(ctx, req.key, req.key_type)
    return FindCoordinatorResponse(
        error_code=c.error_code, error_message=c.error_message, node_id=c.node_id, host=c.host, port=c.port
    )
