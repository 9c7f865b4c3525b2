"""The periodic sweep: expire old offsets, and drop empty groups that have none left.

Every ``offsets.retention.check.interval.ms`` the coordinator looks at every group: offsets
that :func:`~moldau.coordinator.group.offsets.expired_offsets` finds expired get tombstones,
and a group in EMPTY state whose offsets are all gone (or that never had any) gets its
GroupMetadata tombstone. The records take effect when replayed, like any other.

Open transactions hold things back, as in Kafka: an expired offset of a partition with a
pending transactional offset stays (its tombstone would also wipe the pending one), and a
group with any pending offset is not removed.
"""

from __future__ import annotations

from moldau.coordinator.group.context import Context
from moldau.coordinator.group.offsets import expired_offsets
from moldau.coordinator.group.records import encode_offset_commit_key
from moldau.coordinator.group.results import CoordinatorRecord, Effects
from moldau.coordinator.group.state import GroupState
from moldau.coordinator.group.timer import OFFSETS_EXPIRY_KEY


def schedule_sweep(ctx: Context) -> None:
    ctx.timer.schedule(OFFSETS_EXPIRY_KEY, ctx.now() + ctx.config.offsets_retention_check_interval_ms)


def sweep(ctx: Context, fx: Effects) -> None:
    now = ctx.now()
    retention_ms = ctx.config.offsets_retention_ms
    for group in list(ctx.groups.values()):
        expired, nothing_left = expired_offsets(group, ctx.offsets, now, retention_ms)
        if ctx.pending.has_open_transactions(group.group_id):
            nothing_left = False
            expired = [(t, p) for t, p in expired if not ctx.pending.has_pending(group.group_id, t, p)]
        partition = ctx.partition_for(group.group_id)
        for topic, p in expired:
            fx.write(CoordinatorRecord(partition, encode_offset_commit_key(group.group_id, topic, p), None))
        if nothing_left and group.state is GroupState.EMPTY:
            ctx.write_group(fx, group.group_id, None)
    schedule_sweep(ctx)
