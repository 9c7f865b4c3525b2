"""OffsetCommit (key 8), OffsetFetch (key 9) and OffsetDelete (key 47).

OffsetCommit: a commit with generation -1 and no member id is an administrative (or
self-managed consumer's) commit, accepted while the group has no members and creating the
group if there is none. Any other commit must come from a current member (UNKNOWN_MEMBER_ID,
FENCED_INSTANCE_ID) of the current generation (ILLEGAL_GENERATION; from v9 a missing group is
GROUP_ID_NOT_FOUND), and not while the group waits for its assignment (REBALANCE_IN_PROGRESS).
A request-level error applies to every partition. Per partition, metadata longer than
``offset.metadata.max.bytes`` (counted as Java counts a String) is OFFSET_METADATA_TOO_LARGE.
Each accepted partition becomes one OffsetCommit record; the answer holds once the records are
durable, and a failed write answers COORDINATOR_NOT_AVAILABLE for every partition. A commit
by a member of a stable or rebalancing group also counts as a heartbeat.

OffsetFetch: one group up to v7, several from v8, each for given partitions or (topics null,
v2+) for everything committed. An unknown partition answers offset -1, leader epoch -1 and
empty metadata; so does every partition of an unknown group, which is not an error for a
classic group. Offsets of open transactions are never answered. With ``require_stable``
(v7+), a partition that has one answers UNSTABLE_OFFSET_COMMIT (offset -1), so the client
retries until the transaction ends instead of starting from an offset about to change; when
fetching everything, only partitions with a committed offset are listed, as in Kafka.

OffsetDelete: GROUP_ID_NOT_FOUND for an unknown group, NON_EMPTY_GROUP for a group with
members unless it uses the ``consumer`` protocol; then partitions of topics it subscribes to
get GROUP_SUBSCRIBED_TO_TOPIC and the others are deleted with tombstones, which also remove
any transaction's pending offset for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.jvm import string_length
from moldau.coordinator.group.offsets import CommittedOffset
from moldau.coordinator.group.records import encode_offset_commit_key, encode_offset_commit_value
from moldau.coordinator.group.responses import commit_response
from moldau.coordinator.group.results import CoordinatorRecord, Effects
from moldau.coordinator.group.state import GroupState
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from moldau.protocol.messages.offset_delete import (
    OffsetDeleteRequest,
    OffsetDeleteResponse,
    OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
)
from moldau.protocol.messages.offset_fetch import (
    OffsetFetchRequest,
    OffsetFetchRequestTopic,
    OffsetFetchRequestTopics,
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
)

_NO_OFFSET = CommittedOffset(offset=-1, leader_epoch=-1, metadata="", commit_timestamp=-1)

# -- OffsetCommit -----------------------------------------------------------------------------


def _commit_error(group: ClassicGroup | None, req: OffsetCommitRequest, version: int) -> ErrorCode:
    generation = req.generation_id_or_member_epoch
    if group is None:
        if generation < 0:
            return ErrorCode.NONE  # the group comes into being when the commit is replayed
        return ErrorCode.GROUP_ID_NOT_FOUND if version >= 9 else ErrorCode.ILLEGAL_GENERATION
    if generation < 0 and group.state is GroupState.EMPTY:
        return ErrorCode.NONE
    if generation >= 0 or req.member_id or req.group_instance_id is not None:
        error = group.validate_member(req.member_id, req.group_instance_id)
        if error is not ErrorCode.NONE:
            return error
        if generation != group.generation:
            return ErrorCode.ILLEGAL_GENERATION
    elif group.state is not GroupState.EMPTY:
        return ErrorCode.UNKNOWN_MEMBER_ID
    if group.state is GroupState.COMPLETING_REBALANCE:
        return ErrorCode.REBALANCE_IN_PROGRESS
    return ErrorCode.NONE


def commit_offsets(ctx: Context, fx: Effects, req: OffsetCommitRequest, version: int, waiter: Waiter) -> None:
    group = ctx.groups.get(req.group_id)
    error = _commit_error(group, req, version)
    if error is not ErrorCode.NONE:
        raise KafkaError(error)
    if group is not None and group.state in (GroupState.STABLE, GroupState.PREPARING_REBALANCE):
        ctx.schedule_heartbeat(group, req.member_id)

    now = ctx.now()
    expire = None if req.retention_time_ms == -1 else now + req.retention_time_ms
    topics: list[OffsetCommitResponseTopic] = []
    for topic in req.topics:
        answers: list[OffsetCommitResponsePartition] = []
        for p in topic.partitions:
            stamp = now if p.commit_timestamp == -1 else p.commit_timestamp
            code = write_offset(ctx, fx, req.group_id, topic.name, p, commit_timestamp=stamp, expire=expire)
            answers.append(
                OffsetCommitResponsePartition(partition_index=p.partition_index, error_code=int(code))
            )
        topics.append(OffsetCommitResponseTopic(name=topic.name, partitions=answers))
    fx.reply_after_write(
        waiter.token,
        OffsetCommitResponse(topics=topics),
        commit_response(req, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )


def write_offset(
    ctx: Context,
    fx: Effects,
    group_id: str,
    topic: str,
    p: Any,
    *,
    commit_timestamp: int,
    expire: int | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
) -> ErrorCode:
    """Write the offset record of one partition of an OffsetCommit or TxnOffsetCommit
    (``producer_id`` >= 0: a transactional record); OFFSET_METADATA_TOO_LARGE instead when
    its metadata is longer than ``offset.metadata.max.bytes``."""
    metadata = p.committed_metadata
    if metadata is not None and string_length(metadata) > ctx.config.offset_metadata_max_bytes:
        return ErrorCode.OFFSET_METADATA_TOO_LARGE
    committed = CommittedOffset(
        offset=p.committed_offset,
        leader_epoch=p.committed_leader_epoch,
        metadata=metadata or "",
        commit_timestamp=commit_timestamp,
        expire_timestamp=expire,
    )
    fx.write(
        CoordinatorRecord(
            ctx.partition_for(group_id),
            encode_offset_commit_key(group_id, topic, p.partition_index),
            encode_offset_commit_value(committed.to_record()),
            producer_id=producer_id,
            producer_epoch=producer_epoch,
        )
    )
    return ErrorCode.NONE


# -- OffsetFetch ------------------------------------------------------------------------------

Wanted = list[tuple[str, list[int]]] | None  # None: every committed partition
Fetched = list[tuple[str, list[tuple[int, CommittedOffset, ErrorCode]]]]


def _fetch(ctx: Context, group_id: str, wanted: Wanted, require_stable: bool) -> Fetched:
    group = ctx.groups.get(group_id)
    known = group is not None

    def answer(
        topic: str, partition: int, stored: CommittedOffset | None
    ) -> tuple[int, CommittedOffset, ErrorCode]:
        if require_stable and ctx.pending.has_pending(group_id, topic, partition):
            return partition, _NO_OFFSET, ErrorCode.UNSTABLE_OFFSET_COMMIT
        return partition, stored if stored is not None else _NO_OFFSET, ErrorCode.NONE

    if wanted is None:
        if not known:
            return []
        by_topic: dict[str, list[tuple[int, CommittedOffset, ErrorCode]]] = {}
        for topic, partition, committed in ctx.offsets.offsets_of(group_id):
            by_topic.setdefault(topic, []).append(answer(topic, partition, committed))
        return list(by_topic.items())
    return [
        (
            topic,
            [
                answer(topic, partition, ctx.offsets.get(group_id, topic, partition) if known else None)
                for partition in partitions
            ],
        )
        for topic, partitions in wanted
    ]


def _wanted(topics: Iterable[OffsetFetchRequestTopic] | Iterable[OffsetFetchRequestTopics] | None) -> Wanted:
    if topics is None:
        return None
    return [(t.name, list(t.partition_indexes)) for t in topics]


def fetch_offsets(ctx: Context, fx: Effects, req: OffsetFetchRequest, version: int, waiter: Waiter) -> None:
    if version >= 8:
        groups = [
            OffsetFetchResponseGroup(
                group_id=g.group_id,
                topics=[
                    OffsetFetchResponseTopics(
                        name=topic,
                        partitions=[
                            OffsetFetchResponsePartitions(
                                partition_index=partition,
                                committed_offset=o.offset,
                                committed_leader_epoch=o.leader_epoch,
                                metadata=o.metadata,
                                error_code=int(code),
                            )
                            for partition, o, code in offsets
                        ],
                    )
                    for topic, offsets in _fetch(ctx, g.group_id, _wanted(g.topics), req.require_stable)
                ],
            )
            for g in req.groups
        ]
        fx.reply(waiter.token, OffsetFetchResponse(groups=groups))
        return
    topics = [
        OffsetFetchResponseTopic(
            name=topic,
            partitions=[
                OffsetFetchResponsePartition(
                    partition_index=partition,
                    committed_offset=o.offset,
                    committed_leader_epoch=o.leader_epoch,
                    metadata=o.metadata,
                    error_code=int(code),
                )
                for partition, o, code in offsets
            ],
        )
        for topic, offsets in _fetch(
            ctx, req.group_id, _wanted(req.topics), version >= 7 and req.require_stable
        )
    ]
    fx.reply(waiter.token, OffsetFetchResponse(topics=topics))


# -- OffsetDelete -----------------------------------------------------------------------------


def delete_offsets(ctx: Context, fx: Effects, req: OffsetDeleteRequest, version: int, waiter: Waiter) -> None:
    if not req.group_id:
        raise KafkaError(ErrorCode.INVALID_GROUP_ID)
    group = ctx.groups.get(req.group_id)
    if group is None:
        raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND)
    if group.state is not GroupState.EMPTY and not group.uses_consumer_protocol():
        raise KafkaError(ErrorCode.NON_EMPTY_GROUP)
    partition = ctx.partition_for(req.group_id)
    topics: list[OffsetDeleteResponseTopic] = []
    for topic in req.topics:
        subscribed = group.is_subscribed_to(topic.name)
        code = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC if subscribed else ErrorCode.NONE
        answers = []
        for p in topic.partitions:
            answers.append(
                OffsetDeleteResponsePartition(partition_index=p.partition_index, error_code=int(code))
            )
            if not subscribed and (
                ctx.offsets.get(req.group_id, topic.name, p.partition_index) is not None
                or ctx.pending.has_pending(req.group_id, topic.name, p.partition_index)
            ):
                key = encode_offset_commit_key(req.group_id, topic.name, p.partition_index)
                fx.write(CoordinatorRecord(partition, key, None))
        topics.append(OffsetDeleteResponseTopic(name=topic.name, partitions=answers))
    fx.reply_after_write(
        waiter.token,
        OffsetDeleteResponse(topics=topics),
        OffsetDeleteResponse(error_code=int(ErrorCode.COORDINATOR_NOT_AVAILABLE)),
    )
