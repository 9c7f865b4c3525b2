"""DeleteTopics (20), v1-6: by name, and from v6 by name or topic id."""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.delete_topics import (
    DELETE_TOPICS,
    DeletableTopicResult,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)
from moldau.protocol.primitives import ZERO_UUID

API = DELETE_TOPICS


def handle(ctx: RequestContext, req: DeleteTopicsRequest) -> DeleteTopicsResponse:
    broker = ctx.broker
    wanted = [(n, ZERO_UUID) for n in req.topic_names] + [(t.name, t.topic_id) for t in req.topics]
    results = []
    for name, topic_id in wanted:
        result = DeletableTopicResult(name=name, topic_id=topic_id, error_code=ErrorCode.NONE)
        try:
            if not name:  # v6+: by topic id
                name = broker.topic_by_id(topic_id).name
                result.name = name
            result.topic_id = topic_admin.delete_topic(broker, name).topic_id
        except Exception as e:
            result.error_code, result.error_message = error_of(e, f"DeleteTopics {name or topic_id}")
        results.append(result)
    return DeleteTopicsResponse(responses=results)
