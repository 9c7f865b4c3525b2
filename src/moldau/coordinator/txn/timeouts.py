"""The coordinator's periodic work, as Kafka schedules it.

Two scans run at fixed intervals from construction:

* every ``transaction.abort.timed.out.transaction.cleanup.interval.ms``: every ONGOING
  transaction that has run longer than its timeout (start + timeout < now) and has no change
  in flight is aborted, fencing its producer (KIP-360: the epoch goes up by one, so the
  producer's further requests are fenced while a new instance can take over); and any
  transaction whose markers are all written but whose COMPLETE record did not make it to the
  log gets it again;
* every ``transaction.remove.expired.transaction.cleanup.interval.ms``: every transactional
  id idle (last update) for ``transactional.id.expiration.ms`` or more, in a state that
  allows expiry (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT) and with nothing in flight, gets a
  tombstone and is forgotten once it is written.
"""

from __future__ import annotations

from moldau.coordinator.txn import metadata as md
from moldau.coordinator.txn.context import Context
from moldau.coordinator.txn.ending import finish_stalled
from moldau.coordinator.txn.init_producer_id import fence_abort
from moldau.coordinator.txn.results import Effects
from moldau.coordinator.txn.state import TransactionState


def abort_timed_out(ctx: Context, fx: Effects) -> None:
    now = ctx.now()
    for tid, txn in list(ctx.txns.items()):
        if txn.state is not TransactionState.ONGOING or ctx.busy(fx, tid):
            continue
        if txn.start_ms + txn.timeout_ms < now:
            fence_abort(ctx, fx, txn)
    finish_stalled(ctx, fx)


def expire_transactional_ids(ctx: Context, fx: Effects) -> None:
    horizon = ctx.now() - ctx.config.transactional_id_expiration_ms
    for tid, txn in list(ctx.txns.items()):
        if txn.state.expiration_allowed and txn.last_update_ms <= horizon and not ctx.busy(fx, tid):
            ctx.write(fx, md.dead(txn))
