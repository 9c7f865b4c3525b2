"""AddPartitionsToTxn and AddOffsetsToTxn: partitions join the ongoing transaction.

AddPartitionsToTxn v0-3 comes from a producer and names one transaction; every partition of
the request gets the same outcome. From v4 (KIP-890) the request comes from partition
leaders, batches several transactions, and each transaction either adds its partitions (a
transactions-v2 producer no longer adds them itself: its first write to a partition does it
through the leader) or, with ``verify_only`` (KIP-890 part 1), only asks whether they are
already in the ongoing transaction: NONE for those that are, TRANSACTION_ABORTABLE for the
others, so the leader refuses a write the coordinator would not cover with markers. Each
transaction of a batch is answered on its own; one that had to write answers after the write.

Adding, in order of the checks: a change in flight or markers pending ->
CONCURRENT_TRANSACTIONS; an unknown transactional id or another producer id ->
INVALID_PRODUCER_ID_MAPPING; another epoch -> PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before
v2); partitions all in the ongoing transaction already -> NONE without a write; otherwise the
transaction becomes (or stays) ONGOING with the union of the partitions.

AddOffsetsToTxn adds the group's ``__consumer_offsets`` partition (the one
FindCoordinator(GROUP) names) the same way; TxnOffsetCommit then goes to the group
coordinator. It always speaks transactions v0, whatever the client, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable

from moldau.coordinator.group import Token
from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.context import Context
from moldau.coordinator.txn.metadata import TopicPartition
from moldau.coordinator.txn.responses import (
    add_offsets_response,
    add_partitions_batch_response,
    add_partitions_v3_response,
    requested_partitions,
)
from moldau.coordinator.txn.results import Effects
from moldau.coordinator.txn.state import PREPARING, TransactionState
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest
from moldau.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnTransaction,
)

_WRITE_FAILED = ErrorCode.COORDINATOR_NOT_AVAILABLE


def client_transaction_version(add_partitions_version: int) -> int:
    return 2 if add_partitions_version > 3 else 0


def add(
    ctx: Context,
    fx: Effects,
    tid: str,
    producer_id: int,
    producer_epoch: int,
    partitions: Iterable[TopicPartition],
    client_version: int,
) -> tuple[ErrorCode, bool]:
    """Add ``partitions`` to the transaction of ``tid``: (error, whether a record is written)."""
    if not tid:
        return ErrorCode.INVALID_REQUEST, False
    if ctx.busy(fx, tid):
        return ErrorCode.CONCURRENT_TRANSACTIONS, False
    txn = ctx.txns.get(tid)
    if txn is None or txn.producer_id != producer_id:
        return ErrorCode.INVALID_PRODUCER_ID_MAPPING, False
    if txn.producer_epoch != producer_epoch:
        return ErrorCode.PRODUCER_FENCED, False
    wanted = frozenset(partitions)
    if txn.state is TransactionState.ONGOING and wanted <= txn.partitions:
        return ErrorCode.NONE, False
    ctx.write(fx, md.add_partitions(txn, wanted, ctx.now(), client_version))
    return ErrorCode.NONE, True


def verify(
    ctx: Context, tid: str, producer_id: int, producer_epoch: int, partitions: list[TopicPartition]
) -> list[tuple[TopicPartition, ErrorCode]]:
    """KIP-890 part 1: which of ``partitions`` are in the ongoing transaction. Changes in
    flight are not looked at: only what the log already holds counts."""

    def each(code: ErrorCode) -> list[tuple[TopicPartition, ErrorCode]]:
        return [(tp, code) for tp in partitions]

    if not tid:
        return each(ErrorCode.INVALID_REQUEST)
    txn = ctx.txns.get(tid)
    if txn is None or txn.producer_id != producer_id:
        return each(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    if txn.producer_epoch != producer_epoch:
        return each(ErrorCode.PRODUCER_FENCED)
    if txn.state in PREPARING:
        return each(ErrorCode.CONCURRENT_TRANSACTIONS)
    return [
        (tp, ErrorCode.NONE if tp in txn.partitions else ErrorCode.TRANSACTION_ABORTABLE) for tp in partitions
    ]


def add_partitions_to_txn(
    ctx: Context, fx: Effects, req: AddPartitionsToTxnRequest, version: int, token: Token
) -> None:
    if version < 4:
        partitions = requested_partitions(req.v3_and_below_topics)
        code, wrote = add(
            ctx,
            fx,
            req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            partitions,
            client_transaction_version(version),
        )
        response = add_partitions_v3_response(version, partitions, code)
        if wrote:
            failed = add_partitions_v3_response(version, partitions, _WRITE_FAILED)
            fx.reply_after_write(token, response, failed)
        else:
            fx.reply(token, response)
        return

    ok: list[tuple[str, list[tuple[TopicPartition, ErrorCode]]]] = []
    if_failed: list[tuple[str, list[tuple[TopicPartition, ErrorCode]]]] = []
    any_write = False
    for txn in req.transactions:
        codes, wrote = _batch_entry(ctx, fx, txn, version)
        any_write |= wrote
        ok.append((txn.transactional_id, codes))
        if_failed.append((txn.transactional_id, [(tp, _WRITE_FAILED) for tp, _ in codes] if wrote else codes))
    response = add_partitions_batch_response(version, ok)
    if any_write:
        fx.reply_after_write(token, response, add_partitions_batch_response(version, if_failed))
    else:
        fx.reply(token, response)


def _batch_entry(
    ctx: Context, fx: Effects, txn: AddPartitionsToTxnTransaction, version: int
) -> tuple[list[tuple[TopicPartition, ErrorCode]], bool]:
    partitions = requested_partitions(txn.topics)
    if txn.verify_only:
        return verify(ctx, txn.transactional_id, txn.producer_id, txn.producer_epoch, partitions), False
    code, wrote = add(
        ctx,
        fx,
        txn.transactional_id,
        txn.producer_id,
        txn.producer_epoch,
        partitions,
        client_transaction_version(version),
    )
    return [(tp, code) for tp in partitions], wrote


def add_offsets_to_txn(
    ctx: Context, fx: Effects, req: AddOffsetsToTxnRequest, version: int, token: Token
) -> None:
    partition = ctx.offsets_partition(req.group_id)
    code, wrote = add(ctx, fx, req.transactional_id, req.producer_id, req.producer_epoch, [partition], 0)
    if wrote:
        fx.reply_after_write(
            token, add_offsets_response(version), add_offsets_response(version, _WRITE_FAILED)
        )
    else:
        fx.reply(token, add_offsets_response(version, code))
