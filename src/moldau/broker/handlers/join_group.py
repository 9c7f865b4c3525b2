"""JoinGroup (11), v2-9 served; v0-1 advertised for old librdkafka's probe and answered
UNSUPPORTED_VERSION, as Kafka 4 does. The group coordinator parks the request until the
rebalance completes."""

from __future__ import annotations

from typing import Any

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.join_group import JOIN_GROUP, JoinGroupRequest, JoinGroupResponse

API = JOIN_GROUP


def handle(ctx: RequestContext, req: JoinGroupRequest) -> Any:
    if ctx.version < API.min_version:
        return JoinGroupResponse(error_code=ErrorCode.UNSUPPORTED_VERSION, member_id=req.member_id)
    groups = ctx.broker.groups
    client_id = ctx.client_id or ""
    return groups.call(
        lambda t: groups.coordinator.join_group(
            req, ctx.version, t, client_id=client_id, client_host=ctx.client_host
        )
    )
