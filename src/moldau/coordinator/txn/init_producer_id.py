"""InitProducerId with a transactional id: a producer (re)joins its transactional id.

The transactional id gets a producer id (allocated the first time) and a new epoch; the bump
fences every older producer instance of the same id. What happens depends on the state:

* EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT: bump the epoch, or, once the epoch is exhausted,
  move to a fresh producer id at epoch 0. The answer follows the write.
* ONGOING: the transaction of the old producer is aborted first. Its epoch is bumped (fencing
  it), a PREPARE_ABORT is written, the abort markers go out, and this request answers
  CONCURRENT_TRANSACTIONS; the client retries, and once the abort is complete the retry bumps
  the epoch again (or moves to a new producer id if the fence used the last epoch).
* PREPARE_COMMIT, PREPARE_ABORT (markers pending) or a change in flight:
  CONCURRENT_TRANSACTIONS.

From v3 a producer may present its current producer id and epoch (KIP-360) to recover
without being treated as a new instance: see :func:`metadata.increment_epoch`. A producer id
that is neither the current one, nor (with an exhausted epoch) the previous one, is fenced.
Errors: INVALID_REQUEST (empty id; only one of producer id and epoch given),
INVALID_TRANSACTION_TIMEOUT (not in 1..transaction.max.timeout.ms), PRODUCER_FENCED
(INVALID_PRODUCER_EPOCH before v4).

A null transactional id is the broker's business (a plain idempotent producer) and never
reaches this module.
"""

from __future__ import annotations

from moldau.coordinator.group import Token
from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.context import Context
from moldau.coordinator.txn.ending import begin_completion
from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.coordinator.txn.responses import init_producer_id_response
from moldau.coordinator.txn.results import Effects
from moldau.coordinator.txn.state import COMPLETED, PREPARING, TransactionState
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.init_producer_id import InitProducerIdRequest

_S = TransactionState


def _expected(req: InitProducerIdRequest, version: int) -> tuple[int, int] | None:
    if version < 3 or (req.producer_id == md.NO_PRODUCER_ID and req.producer_epoch == md.NO_PRODUCER_EPOCH):
        return None
    if req.producer_id == md.NO_PRODUCER_ID or req.producer_epoch == md.NO_PRODUCER_EPOCH:
        raise KafkaError(ErrorCode.INVALID_REQUEST, "producer id and epoch must be given together")
    return req.producer_id, req.producer_epoch


def _valid_producer_id(txn: TxnMetadata, expected: tuple[int, int]) -> bool:
    producer_id, epoch = expected
    return (
        txn.producer_epoch == md.NO_PRODUCER_EPOCH
        or producer_id == txn.producer_id
        or (producer_id == txn.previous_producer_id and md.epoch_exhausted(epoch))
    )


def init_producer_id(
    ctx: Context, fx: Effects, req: InitProducerIdRequest, version: int, token: Token
) -> None:
    expected = _expected(req, version)
    tid = req.transactional_id
    if not tid:
        raise KafkaError(ErrorCode.INVALID_REQUEST, "empty transactional id")
    timeout = req.transaction_timeout_ms
    if not 0 < timeout <= ctx.config.transaction_max_timeout_ms:
        raise KafkaError(ErrorCode.INVALID_TRANSACTION_TIMEOUT, f"transaction timeout {timeout} ms")
    if ctx.busy(fx, tid):
        raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
    now = ctx.now()
    txn = ctx.txns.get(tid)
    if txn is None:
        txn = md.new_transaction(tid, ctx.allocate_producer_id(), timeout, now)
    if expected is not None and not _valid_producer_id(txn, expected):
        raise KafkaError(ErrorCode.PRODUCER_FENCED, f"producer id {expected[0]} no longer owns {tid!r}")

    if txn.state in PREPARING:
        raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
    if txn.state is _S.ONGOING:
        _fence_and_abort(ctx, fx, txn, version, token)
        return
    if txn.state is not _S.EMPTY and txn.state not in COMPLETED:
        raise KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, f"transaction {tid!r} is {txn.state.value}")

    if txn.epoch_exhausted and (expected is None or expected[1] == txn.producer_epoch):
        after = md.rotate_producer_id(
            txn, ctx.allocate_producer_id(), timeout, now, record_last_epoch=expected is not None
        )
    else:
        after = md.increment_epoch(txn, timeout, None if expected is None else expected[1], now)
    ctx.write(fx, after)
    fx.reply_after_write(
        token,
        init_producer_id_response(
            version, producer_id=after.producer_id, producer_epoch=after.producer_epoch
        ),
        init_producer_id_response(version, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )


def _fence_and_abort(ctx: Context, fx: Effects, txn: TxnMetadata, version: int, token: Token) -> None:
    fence_abort(ctx, fx, txn)
    fx.reply_after_write(
        token,
        init_producer_id_response(version, ErrorCode.CONCURRENT_TRANSACTIONS),
        init_producer_id_response(version, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )


def fence_abort(ctx: Context, fx: Effects, txn: TxnMetadata) -> None:
    """Fence the producer of an ongoing transaction and abort the transaction: the epoch goes
    up by one (PREPARE_EPOCH_FENCE, never written) and PREPARE_ABORT is written with it. The
    abort is recorded with the cluster's transaction version, as Kafka does for aborts it
    starts itself; unlike a client's transactions-v2 abort it does not bump the epoch a second
    time."""
    fenced = md.fence_epoch(txn)
    aborting = md.prepare_end(
        fenced,
        _S.PREPARE_ABORT,
        client_version=ctx.config.transaction_version,
        now=ctx.now(),
        bump_epoch=False,
    )
    begin_completion(ctx, fx, aborting)
