"""``replay``: the only way a record changes what the coordinator holds as durable.

Replay runs after the coordinator's own writes and while a ``__transaction_state`` partition
is loaded at start-up, and gives the same durable state either way:

* A record that is the next change this coordinator has in flight for its transactional id
  installs that change as computed (which also keeps the last epoch, a field the log does not
  carry).
* Any other record is taken as the whole truth about its transactional id (this is loading);
  a change still in flight for the id is dropped, since the log has moved past it.
* A tombstone forgets the transactional id.

Entering PREPARE_COMMIT / PREPARE_ABORT starts waiting for the markers of every partition of
the transaction; leaving it (the COMPLETE record) ends the wait. Keys of a version this
coordinator does not know are skipped, as Kafka's loader does.
"""

from __future__ import annotations

from moldau.coordinator.group import CoordinatorRecord
from moldau.coordinator.txn.context import Context, MarkerProgress
from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.coordinator.txn.records import decode_key, decode_value
from moldau.coordinator.txn.state import PREPARING, TransactionState


def replay(ctx: Context, record: CoordinatorRecord) -> None:
    tid = decode_key(record.key)
    if tid is None:
        return
    queue = ctx.pending.get(tid)
    if queue and queue[0].value == record.value:
        after = queue.popleft().metadata
        if not queue:
            del ctx.pending[tid]
    else:
        ctx.pending.pop(tid, None)
        after = None if record.value is None else TxnMetadata.from_value(tid, decode_value(record.value))
    _install(ctx, tid, after)


def _install(ctx: Context, tid: str, after: TxnMetadata | None) -> None:
    if after is None or after.state is TransactionState.DEAD:
        ctx.txns.pop(tid, None)
        ctx.markers.pop(tid, None)
        return
    before = ctx.txns.get(tid)
    ctx.txns[tid] = after
    if after.state not in PREPARING:
        ctx.markers.pop(tid, None)
    elif before is None or before.state not in PREPARING or tid not in ctx.markers:
        ctx.markers[tid] = MarkerProgress(set(after.partitions))
