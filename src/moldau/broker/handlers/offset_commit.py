"""OffsetCommit (8), v2-9: commits go to the group coordinator; partitions of topics this
broker does not know are answered UNKNOWN_TOPIC_OR_PARTITION here, before the coordinator sees
the request, as Kafka does."""

from __future__ import annotations

import dataclasses
from typing import Any

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.offset_commit import (
    OFFSET_COMMIT,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)

API = OFFSET_COMMIT


def _merge(response: OffsetCommitResponse, unknown: list[OffsetCommitResponseTopic]) -> OffsetCommitResponse:
    response.topics.extend(unknown)
    return response


async def _merge_later(pending: Any, unknown: list[OffsetCommitResponseTopic]) -> OffsetCommitResponse:
    return _merge(await pending, unknown)


def handle(ctx: RequestContext, req: OffsetCommitRequest) -> Any:
    topics = ctx.broker.metadata.topics
    known, unknown = [], []
    for t in req.topics:
        info = topics.get(t.name)
        count = len(info.partitions) if info is not None else 0
        ok = [p for p in t.partitions if 0 <= p.partition_index < count]
        bad = [p for p in t.partitions if not 0 <= p.partition_index < count]
        if ok:
            known.append(dataclasses.replace(t, partitions=ok))
        if bad:
            unknown.append(
                OffsetCommitResponseTopic(
                    name=t.name,
                    partitions=[
                        OffsetCommitResponsePartition(
                            partition_index=p.partition_index, error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                        )
                        for p in bad
                    ],
                )
            )
    groups = ctx.broker.groups
    filtered = dataclasses.replace(req, topics=known)
    result = groups.call(lambda token: groups.coordinator.offset_commit(filtered, ctx.version, token))
    if isinstance(result, OffsetCommitResponse):
        return _merge(result, unknown)
    return _merge_later(result, unknown)
