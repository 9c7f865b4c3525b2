"""Ending a transaction: EndTxn, the markers, and the record that completes it.

A transaction ends in three steps:

1. PREPARE_COMMIT or PREPARE_ABORT is written (EndTxn; or an abort the coordinator starts,
   see ``init_producer_id.fence_abort`` and ``timeouts``). The client's answer follows this
   write: from here on the outcome is decided.
2. The markers go out, one per partition of the transaction, stamped with the producer id and
   epoch of the PREPARE record; the runtime reports them with ``markers_written``. Partitions
   whose leader could not take the marker yet (not the leader, not enough replicas, timed
   out, ...) get it again, and so does any error not named here; a partition that cannot take
   markers at all (UNSUPPORTED_FOR_MESSAGE_FORMAT, UNSUPPORTED_VERSION) counts as done, and
   the runtime should report NONE for a partition whose topic was deleted (Kafka drops those
   before sending); INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED mean that a newer
   producer or coordinator owns the partition, and sending stops (the transaction is
   completed by whoever loads it next).
3. With every marker written, COMPLETE_COMMIT or COMPLETE_ABORT is written. A transaction
   with no partitions (an abort with nothing added) writes it together with step 1.

Between 1 and 3 the transactional id is busy: other changes answer CONCURRENT_TRANSACTIONS.

EndTxn follows the client's transaction version, which the request version tells: v5 speaks
transactions v2 (KIP-890 part 2), lower versions v0.

* v0 (EndTxn v0-4): the epoch must be the current one (else PRODUCER_FENCED). An ONGOING
  transaction is prepared. A retry after completion answers NONE for the outcome that was
  reached and INVALID_TXN_STATE for the other one; an EMPTY transaction has nothing to end
  (INVALID_TXN_STATE).
* v2 (EndTxn v5): every transaction ends with an epoch bump, so the markers fence the
  requests of the transaction that ends, and the answer carries the producer id and epoch to
  use next. A retry comes with the epoch before the bump (or, when the bump exhausted the
  epoch and moved to a new producer id, with the old id and epoch). The client may abort
  whatever state it is in, so EMPTY and COMPLETE_* accept an abort with the current epoch:

    state             abort, retry        abort, current   commit, retry       commit, current
    EMPTY             PRODUCER_FENCED     bump             PRODUCER_FENCED     INVALID_TXN_STATE
    COMPLETE_ABORT    NONE                bump             INVALID_TXN_STATE   INVALID_TXN_STATE
    COMPLETE_COMMIT   INVALID_TXN_STATE   bump             NONE                INVALID_TXN_STATE

  ("retry": the epoch before the bump; "bump": an abort with nothing added, prepared and
  completed in one write, with an epoch bump.)
"""

from __future__ import annotations

from moldau.coordinator.group import Token
from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.context import Context, MarkerProgress
from moldau.coordinator.txn.metadata import TopicPartition, TxnMetadata
from moldau.coordinator.txn.responses import end_txn_response
from moldau.coordinator.txn.results import Effects
from moldau.coordinator.txn.state import COMPLETED, PREPARING, TransactionState
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.end_txn import EndTxnRequest

_S = TransactionState

# Marker errors (from the partition leader) that mean "try that partition again".
_RETRIABLE = frozenset(
    {
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.NOT_ENOUGH_REPLICAS,
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode.REQUEST_TIMED_OUT,
        ErrorCode.KAFKA_STORAGE_ERROR,
    }
)
# ... that mean "this partition is done with".
_DONE = frozenset({ErrorCode.NONE, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, ErrorCode.UNSUPPORTED_VERSION})
# ... that mean "someone newer owns this; stop sending".
_STOP = frozenset({ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTION_COORDINATOR_FENCED})


def client_transaction_version(end_txn_version: int) -> int:
    return 2 if end_txn_version > 4 else 0


def begin_completion(ctx: Context, fx: Effects, prepared: TxnMetadata) -> TxnMetadata:
    """Write ``prepared`` (PREPARE_*) and ask for its markers; with no partitions, write the
    COMPLETE record right behind it. Returns the metadata the transaction completes to."""
    ctx.write(fx, prepared)
    completed = md.complete(prepared, ctx.now())
    if prepared.partitions:
        ctx.send_markers(fx, prepared, set(prepared.partitions))
    else:
        ctx.write(fx, completed)
    return completed


def end_txn(ctx: Context, fx: Effects, req: EndTxnRequest, version: int, token: Token) -> None:
    tid = req.transactional_id
    if not tid:
        raise KafkaError(ErrorCode.INVALID_REQUEST, "empty transactional id")
    txn = ctx.txns.get(tid)
    if txn is None:
        raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING, f"no transaction for {tid!r}")
    client_version = client_transaction_version(version)
    if client_version >= 2:
        _end_v2(ctx, fx, txn, req, version, token)
    else:
        _end_v0(ctx, fx, txn, req, version, token)


def _end_v0(
    ctx: Context, fx: Effects, txn: TxnMetadata, req: EndTxnRequest, version: int, token: Token
) -> None:
    if txn.producer_id != req.producer_id:
        raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    if req.producer_epoch != txn.producer_epoch:
        raise KafkaError(ErrorCode.PRODUCER_FENCED, f"epoch {req.producer_epoch} is not {txn.producer_epoch}")
    if ctx.busy(fx, txn.transactional_id):
        raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
    commit = req.committed
    state = txn.state
    if state is _S.ONGOING:
        target = _S.PREPARE_COMMIT if commit else _S.PREPARE_ABORT
        prepared = md.prepare_end(txn, target, client_version=0, now=ctx.now(), bump_epoch=False)
        begin_completion(ctx, fx, prepared)
        fx.reply_after_write(
            token, end_txn_response(version), end_txn_response(version, ErrorCode.COORDINATOR_NOT_AVAILABLE)
        )
        return
    if state is (_S.COMPLETE_COMMIT if commit else _S.COMPLETE_ABORT):
        fx.reply(token, end_txn_response(version))
        return
    raise KafkaError(ErrorCode.INVALID_TXN_STATE, f"cannot {_verb(commit)} in state {state.value}")


def _end_v2(
    ctx: Context, fx: Effects, txn: TxnMetadata, req: EndTxnRequest, version: int, token: Token
) -> None:
    producer_id, epoch, commit = req.producer_id, req.producer_epoch, req.committed
    retry_on_overflow = (
        txn.previous_producer_id == producer_id and epoch == md.MAX_EPOCH - 1 and txn.producer_epoch == 0
    )
    retry_on_bump = txn.producer_epoch == epoch + 1
    if txn.producer_id != producer_id and not retry_on_overflow:
        raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    if ctx.busy(fx, txn.transactional_id):
        raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
    state = txn.state
    if state in COMPLETED:
        valid_epoch = retry_on_bump or retry_on_overflow or epoch == txn.producer_epoch
    else:
        valid_epoch = epoch == txn.producer_epoch
    if not valid_epoch:
        raise KafkaError(ErrorCode.PRODUCER_FENCED, f"epoch {epoch} does not match {txn.producer_epoch}")
    retry = retry_on_bump or retry_on_overflow

    if state is _S.ONGOING:
        _prepare_v2(ctx, fx, txn, _S.PREPARE_COMMIT if commit else _S.PREPARE_ABORT, version, token)
        return
    reached = state is (_S.COMPLETE_COMMIT if commit else _S.COMPLETE_ABORT)
    if state in COMPLETED and retry:
        if not reached:
            raise KafkaError(ErrorCode.INVALID_TXN_STATE, f"cannot {_verb(commit)}: it is {state.value}")
        fx.reply(
            token, end_txn_response(version, producer_id=txn.producer_id, producer_epoch=txn.producer_epoch)
        )
        return
    if not commit and (state is _S.EMPTY or state in COMPLETED):
        _prepare_v2(ctx, fx, txn, _S.PREPARE_ABORT, version, token, nothing_added=True)
        return
    raise KafkaError(ErrorCode.INVALID_TXN_STATE, f"cannot {_verb(commit)} in state {state.value}")


def _prepare_v2(
    ctx: Context,
    fx: Effects,
    txn: TxnMetadata,
    target: TransactionState,
    version: int,
    token: Token,
    *,
    nothing_added: bool = False,
) -> None:
    next_producer_id = ctx.allocate_producer_id() if txn.epoch_exhausted else md.NO_PRODUCER_ID
    prepared = md.prepare_end(
        txn,
        target,
        client_version=2,
        now=ctx.now(),
        bump_epoch=True,
        next_producer_id=next_producer_id,
        nothing_added=nothing_added,
    )
    completed = begin_completion(ctx, fx, prepared)
    fx.reply_after_write(
        token,
        end_txn_response(version, producer_id=completed.producer_id, producer_epoch=completed.producer_epoch),
        end_txn_response(version, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )


def _verb(commit: bool) -> str:
    return "commit" if commit else "abort"


# -- markers ------------------------------------------------------------------------------------


def markers_written(
    ctx: Context,
    fx: Effects,
    transactional_id: str,
    producer_id: int,
    producer_epoch: int,
    errors: dict[TopicPartition, int],
) -> None:
    """The outcome of markers for the transaction of ``transactional_id`` that ended with
    ``producer_id``/``producer_epoch``. Reports that do not match the transaction being
    completed (it completed already, or another one is ending) are ignored."""
    txn = ctx.txns.get(transactional_id)
    progress = ctx.markers.get(transactional_id)
    if (
        txn is None
        or progress is None
        or progress.abandoned
        or txn.state not in PREPARING
        or (txn.producer_id, txn.producer_epoch) != (producer_id, producer_epoch)
        or transactional_id in ctx.pending
    ):
        return
    retry: set[TopicPartition] = set()
    for partition, raw in errors.items():
        if partition not in progress.waiting:
            continue
        code = ErrorCode.from_code(raw)
        if code in _DONE:
            progress.waiting.discard(partition)
        elif code in _STOP:
            progress.abandoned = True
            return
        else:  # retriable, and anything unexpected: the marker must get there eventually
            retry.add(partition)
    if retry:
        ctx.send_markers(fx, txn, retry)
    elif not progress.waiting:
        ctx.write(fx, md.complete(txn, ctx.now()))


def finish_stalled(ctx: Context, fx: Effects) -> None:
    """Write the COMPLETE record of every transaction whose markers are all written but whose
    COMPLETE write failed; ``tick`` calls this at every abort scan."""
    for tid, progress in ctx.markers.items():
        txn = ctx.txns.get(tid)
        if txn is None or progress.abandoned or progress.waiting or ctx.busy_writing(fx, tid):
            continue
        if txn.state in PREPARING:
            ctx.write(fx, md.complete(txn, ctx.now()))


def resend_all(ctx: Context, fx: Effects) -> None:
    """After loading: markers for every transaction left in PREPARE_*, or its COMPLETE record
    when it has no partitions."""
    for tid, txn in ctx.txns.items():
        if txn.state not in PREPARING or ctx.busy_writing(fx, tid):
            continue
        progress = ctx.markers.setdefault(tid, MarkerProgress(set(txn.partitions)))
        progress.abandoned = False
        progress.waiting = set(txn.partitions)
        if progress.waiting:
            ctx.send_markers(fx, txn, progress.waiting)
        else:
            ctx.write(fx, md.complete(txn, ctx.now()))
