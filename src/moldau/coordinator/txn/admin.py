"""DescribeTransactions and ListTransactions: what the coordinator knows, for admin clients.

DescribeTransactions answers per transactional id: INVALID_REQUEST for an empty id,
TRANSACTIONAL_ID_NOT_FOUND for one this coordinator does not hold, else the state, timeout,
start time, producer id and epoch, and the partitions of the current transaction (while the
markers are out, only those still waiting for theirs).

ListTransactions lists every transactional id this coordinator holds, narrowed by the
request's filters, each of which is off when empty: states (by Kafka's display names; names
it does not know are echoed back in ``unknown_state_filters``), producer ids, and, from v1, a
minimum running time: only transactions whose start lies more than ``duration_filter`` ms in
the past (a negative value turns it off).

Kafka iterates hash maps here, so its order is arbitrary; ours is sorted (transactional ids,
topics, partitions).
"""

from __future__ import annotations

from moldau.coordinator.group import Token
from moldau.coordinator.txn.context import Context
from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.coordinator.txn.results import Effects
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    TopicData,
)
from moldau.protocol.messages.describe_transactions import TransactionState as DescribedTransaction
from moldau.protocol.messages.list_transactions import (
    ListTransactionsRequest,
    ListTransactionsResponse,
)
from moldau.protocol.messages.list_transactions import TransactionState as ListedTransaction


def _describe_one(ctx: Context, tid: str) -> DescribedTransaction:
    if not tid:
        return DescribedTransaction(error_code=int(ErrorCode.INVALID_REQUEST), transactional_id=tid)
    txn = ctx.txns.get(tid)
    if txn is None:
        return DescribedTransaction(
            error_code=int(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND), transactional_id=tid
        )
    partitions = set(txn.partitions)
    progress = ctx.markers.get(tid)
    if progress is not None:
        partitions &= progress.waiting
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        by_topic.setdefault(topic, []).append(partition)
    return DescribedTransaction(
        error_code=int(ErrorCode.NONE),
        transactional_id=tid,
        transaction_state=txn.state.display_name,
        transaction_timeout_ms=txn.timeout_ms,
        transaction_start_time_ms=txn.start_ms,
        producer_id=txn.producer_id,
        producer_epoch=txn.producer_epoch,
        topics=[TopicData(topic=t, partitions=p) for t, p in by_topic.items()],
    )


def describe_transactions(
    ctx: Context, fx: Effects, req: DescribeTransactionsRequest, version: int, token: Token
) -> None:
    fx.reply(
        token,
        DescribeTransactionsResponse(
            transaction_states=[_describe_one(ctx, tid) for tid in req.transactional_ids]
        ),
    )


def list_transactions(
    ctx: Context, fx: Effects, req: ListTransactionsRequest, version: int, token: Token
) -> None:
    states: set[TransactionState] = set()
    unknown: list[str] = []
    for name in req.state_filters:
        state = TransactionState.from_name(name)
        if state is None:
            unknown.append(name)
        else:
            states.add(state)
    producer_ids = set(req.producer_id_filters)
    duration = req.duration_filter if version >= 1 else -1
    now = ctx.now()

    def included(txn: TxnMetadata) -> bool:
        if txn.state is TransactionState.DEAD:
            return False
        if producer_ids and txn.producer_id not in producer_ids:
            return False
        if states and txn.state not in states:
            return False
        return not (duration >= 0 and now - txn.start_ms <= duration)

    fx.reply(
        token,
        ListTransactionsResponse(
            error_code=int(ErrorCode.NONE),
            unknown_state_filters=unknown,
            transaction_states=[
                ListedTransaction(
                    transactional_id=txn.transactional_id,
                    producer_id=txn.producer_id,
                    transaction_state=txn.state.display_name,
                )
                for _, txn in sorted(ctx.txns.items())
                if included(txn)
            ],
        ),
    )
