"""Fetch (1), v4-17: records from partition logs, served as stored bytes.

Topic ids replace names from v13; fetch sessions (KIP-227) from v7, see ``fetch_session.py``.
When fewer than ``min_bytes`` are available the fetch waits in the purgatory and is woken as
soon as appends bring enough bytes, or at ``max_wait_ms``. ``isolation_level`` 1
(read_committed) reads up to the last stable offset and lists the aborted transactions in what
it returns, so the client can drop their records. Limits: ``partition_max_bytes`` per
partition and ``max_bytes`` for the response (also capped by the broker's ``fetch.max.bytes``),
except that the first batch of the first non-empty partition is returned whole so a consumer
can always make progress (KIP-74).
Not served: fetches from followers (replica_id >= 0) come with replication.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.core import Broker
from moldau.broker.errors import error_of
from moldau.broker.fetch_session import FetchContext, SessionPartition
from moldau.protocol.codegen import tagged_default
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.fetch import (
    FETCH,
    AbortedTransaction,
    EpochEndOffset,
    FetchableTopicResponse,
    FetchRequest,
    FetchResponse,
    LeaderIdAndEpoch,
    PartitionData,
    SnapshotId,
)
from moldau.protocol.primitives import ZERO_UUID
from moldau.util.datatype import datatype

# The tagged fields a partition's answer leaves at their defaults: the encoder's own default
# instances, shared by every answer (never changed in place) rather than three new objects
# per partition of every fetch, and seen to be defaults without a field-by-field comparison.
_NO_DIVERGING_EPOCH = tagged_default(EpochEndOffset)
_NO_LEADER = tagged_default(LeaderIdAndEpoch)
_NO_SNAPSHOT = tagged_default(SnapshotId)

API = FETCH

TOPIC_IDS_FROM = 13
READ_COMMITTED = 1


@datatype(slots=True)
class _Read:
    part: SessionPartition
    data: PartitionData


def _read_all(
    broker: Broker, fctx: FetchContext, max_bytes: int, read_committed: bool
) -> tuple[list[_Read], int, bool]:
    """Read every partition of the fetch; returns the reads, the bytes read and whether any
    partition answered an error (which ends a long poll at once)."""
    reads: list[_Read] = []
    total = 0
    errored = False
    for p in fctx.partitions:
        pd = PartitionData(
            partition_index=p.partition,
            error_code=ErrorCode.NONE,
            high_watermark=-1,
            records=b"",
            diverging_epoch=_NO_DIVERGING_EPOCH,
            current_leader=_NO_LEADER,
            snapshot_id=_NO_SNAPSHOT,
        )
        try:
            if p.topic_id.int and p.topic not in broker.metadata.topics:
                raise KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, None)
            plog = broker.partition_log(p.topic, p.partition)
            if p.current_leader_epoch >= 0:  # -1: the client does not know it, nothing to check
                broker.check_leader_epoch(p.topic, p.partition, p.current_leader_epoch)
            pd.high_watermark = plog.high_watermark
            pd.last_stable_offset = plog.last_stable_offset
            pd.log_start_offset = plog.log_start_offset
            budget = min(p.max_bytes, max_bytes - total)
            limit = pd.last_stable_offset if read_committed else pd.high_watermark
            if plog.read_to_limit(p.fetch_offset, limit):
                pass  # a consumer that has read everything: nothing to read, no error
            elif budget > 0 or total == 0:
                if read_committed:
                    result, aborted = plog.read_committed(p.fetch_offset, max(budget, 0), min_one=total == 0)
                    pd.aborted_transactions = [
                        AbortedTransaction(producer_id=pid, first_offset=first) for pid, first in aborted
                    ]
                else:
                    result = plog.read(
                        p.fetch_offset, max(budget, 0), max_offset=plog.high_watermark, min_one=total == 0
                    )
                pd.records = result.data
                total += len(result.data)
        except Exception as e:
            pd.error_code, _ = error_of(e, f"Fetch {p.topic}-{p.partition}")
            errored = True
        reads.append(_Read(p, pd))
    return reads, total, errored


def _respond(fctx: FetchContext, reads: list[_Read], by_id: bool) -> FetchResponse:
    topics: list[FetchableTopicResponse] = []
    in_session = fctx.session_id != 0  # what a session's partitions were told is remembered
    for r in reads:
        pd = r.data
        if in_session:
            report = r.part.needs_report(pd.high_watermark, pd.last_stable_offset, pd.log_start_offset)
            if fctx.incremental and not (report or pd.records or pd.error_code):
                continue
        if not topics or topics[-1].topic != r.part.topic:
            topics.append(
                FetchableTopicResponse(topic=r.part.topic, topic_id=r.part.topic_id if by_id else ZERO_UUID)
            )
        topics[-1].partitions.append(pd)
    return FetchResponse(error_code=ErrorCode.NONE, session_id=fctx.session_id, responses=topics)


def _requested(broker: Broker, req: FetchRequest, by_id: bool) -> list[SessionPartition]:
    out = []
    for t in req.topics:
        name = t.topic
        if by_id:
            topic = broker.metadata.topics_by_id.get(t.topic_id)
            name = topic.name if topic else f"<unknown topic id {t.topic_id}>"
        for p in t.partitions:
            out.append(
                SessionPartition(
                    topic=name,
                    partition=p.partition,
                    topic_id=t.topic_id if by_id else ZERO_UUID,
                    fetch_offset=p.fetch_offset,
                    max_bytes=p.partition_max_bytes,
                    current_leader_epoch=p.current_leader_epoch,
                )
            )
    return out


def _forgotten(broker: Broker, req: FetchRequest, by_id: bool) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for f in req.forgotten_topics_data:
        name = f.topic
        if by_id:
            topic = broker.metadata.topics_by_id.get(f.topic_id)
            name = topic.name if topic else f"<unknown topic id {f.topic_id}>"
        out.extend((name, p) for p in f.partitions)
    return out


def handle(ctx: RequestContext, req: FetchRequest) -> FetchResponse | object:
    broker = ctx.broker
    by_id = ctx.version >= TOPIC_IDS_FROM
    if req.replica_id >= 0 or req.replica_state.replica_id >= 0:
        return FetchResponse(error_code=ErrorCode.NOT_LEADER_OR_FOLLOWER, session_id=0)
    try:
        fctx = broker.fetch_sessions.resolve(
            req.session_id, req.session_epoch, _requested(broker, req, by_id), _forgotten(broker, req, by_id)
        )
    except KafkaError as e:
        return FetchResponse(error_code=e.code, session_id=0)
    max_bytes = min(req.max_bytes, broker.config.get("fetch.max.bytes"))
    reads, total, errored = _read_all(broker, fctx, max_bytes, req.isolation_level == READ_COMMITTED)
    if total >= req.min_bytes or errored or req.max_wait_ms <= 0 or not fctx.partitions:
        return _respond(fctx, reads, by_id)
    return _wait_and_respond(broker, req, fctx, total, max_bytes, by_id)


async def _wait_and_respond(
    broker: Broker, req: FetchRequest, fctx: FetchContext, have: int, max_bytes: int, by_id: bool
) -> FetchResponse:
    keys = [(p.topic, p.partition) for p in fctx.partitions]
    await broker.purgatory.wait(keys, req.min_bytes - have, req.max_wait_ms)
    reads, _, _ = _read_all(broker, fctx, max_bytes, req.isolation_level == READ_COMMITTED)
    return _respond(fctx, reads, by_id)
