"""CreatePartitions (37), v0-3: grow a topic's partition count, optionally with assignments."""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.create_partitions import (
    CREATE_PARTITIONS,
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreatePartitionsTopicResult,
)

API = CREATE_PARTITIONS


def handle(ctx: RequestContext, req: CreatePartitionsRequest) -> CreatePartitionsResponse:
    results = []
    for t in req.topics:
        result = CreatePartitionsTopicResult(name=t.name, error_code=ErrorCode.NONE)
        try:
            assignments = [a.broker_ids for a in t.assignments] if t.assignments is not None else None
            topic_admin.create_partitions(ctx.broker, t.name, t.count, assignments, req.validate_only)
        except Exception as e:
            result.error_code, result.error_message = error_of(e, f"CreatePartitions {t.name}")
        results.append(result)
    return CreatePartitionsResponse(results=results)
