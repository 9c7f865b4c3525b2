"""OffsetCommit (8), v2-9: commits go to the group coordinator; partitions of topics this
broker does not know are answered UNKNOWN_TOPIC_OR_PARTITION here, before the coordinator sees
the request, as Kafka does. ``commit_known`` serves TxnOffsetCommit the same way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.offset_commit import (
    OFFSET_COMMIT,
    OffsetCommitRequest,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)

API = OFFSET_COMMIT


async def _extend_later(pending: Any, extra: list[Any]) -> Any:
    response = await pending
    response.topics.extend(extra)
    return response


def commit_known(
    ctx: RequestContext, req: Any, operation: str, unknown_topic: Callable[[str, list[int]], Any]
) -> Any:
    """Pass ``req`` with only the known partitions to the group coordinator's ``operation``;
    answer the others with ``unknown_topic(name, partitions)`` entries in the same response."""
    topics = ctx.broker.metadata.topics
    known, unknown = [], []
    for t in req.topics:
        info = topics.get(t.name)
        count = len(info.partitions) if info is not None else 0
        ok = [p for p in t.partitions if 0 <= p.partition_index < count]
        bad = [p.partition_index for p in t.partitions if not 0 <= p.partition_index < count]
        if ok:
            known.append(dataclasses.replace(t, partitions=ok))
        if bad:
            unknown.append(unknown_topic(t.name, bad))
    groups = ctx.broker.groups
    op = getattr(groups.coordinator, operation)
    filtered = dataclasses.replace(req, topics=known)
    result = groups.call(lambda token: op(filtered, ctx.version, token))
    if hasattr(result, "topics"):
        result.topics.extend(unknown)
        return result
    return _extend_later(result, unknown)


def _unknown(name: str, partitions: list[int]) -> OffsetCommitResponseTopic:
    return OffsetCommitResponseTopic(
        name=name,
        partitions=[
            OffsetCommitResponsePartition(partition_index=p, error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
            for p in partitions
        ],
    )


def handle(ctx: RequestContext, req: OffsetCommitRequest) -> Any:
    return commit_known(ctx, req, "offset_commit", _unknown)
