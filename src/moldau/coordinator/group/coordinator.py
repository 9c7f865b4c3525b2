"""The classic group coordinator: the face the broker's runtime talks to.

One :class:`GroupCoordinator` serves every ``__consumer_offsets`` partition of a node. It is
sans-IO: requests go in as the protocol dataclasses, with an opaque token each; out come
:class:`~moldau.coordinator.group.results.Result` values that say what to append to the log
and whom to answer (see :mod:`results` for the contract). Time comes from the clock given at
construction; expiries happen only inside :meth:`tick`, which the runtime calls at
:meth:`next_deadline`.

Start-up: replay the whole of each partition through :meth:`replay`, and its transaction
markers through :meth:`replay_marker`, in log order; then call :meth:`loaded` (members of
loaded groups get fresh session deadlines as their records are replayed; ``loaded`` restarts
them from the end of loading and rebalances groups that are over ``group.max.size``).

Any :class:`~moldau.protocol.errors.KafkaError` an operation raises becomes that API's error
response here, and only here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from moldau.coordinator.group import admin, commits, join, membership, rebalance, retention, txn_commits
from moldau.coordinator.group.config import GroupConfig
from moldau.coordinator.group.context import Context, random_member_id
from moldau.coordinator.group.group import ClassicGroup, Waiter
from moldau.coordinator.group.offsets import CommittedOffset
from moldau.coordinator.group.replay import replay as replay_record
from moldau.coordinator.group.replay import replay_marker
from moldau.coordinator.group.responses import error_response
from moldau.coordinator.group.results import CoordinatorRecord, Effects, Result, Token
from moldau.coordinator.group.timer import TimerKind, heartbeat_key
from moldau.protocol.errors import KafkaError
from moldau.protocol.messages.delete_groups import DeleteGroupsRequest
from moldau.protocol.messages.describe_groups import DescribeGroupsRequest
from moldau.protocol.messages.heartbeat import HeartbeatRequest
from moldau.protocol.messages.join_group import JoinGroupRequest
from moldau.protocol.messages.leave_group import LeaveGroupRequest
from moldau.protocol.messages.list_groups import ListGroupsRequest
from moldau.protocol.messages.offset_commit import OffsetCommitRequest
from moldau.protocol.messages.offset_delete import OffsetDeleteRequest
from moldau.protocol.messages.offset_fetch import OffsetFetchRequest
from moldau.protocol.messages.sync_group import SyncGroupRequest
from moldau.protocol.messages.txn_offset_commit import TxnOffsetCommitRequest
from moldau.util.clock import Clock

Req = TypeVar("Req")
Operation = Callable[[Context, Effects, Req, int, Waiter], None]


class GroupCoordinator:
    def __init__(
        self,
        clock: Clock,
        config: GroupConfig | None = None,
        *,
        member_id_factory: Callable[[str], str] = random_member_id,
    ) -> None:
        """``member_id_factory(prefix)`` makes member ids (tests pass a predictable one)."""
        self._ctx = Context(clock, config or GroupConfig(), new_member_id=member_id_factory)
        retention.schedule_sweep(self._ctx)

    @property
    def config(self) -> GroupConfig:
        return self._ctx.config

    def partition_for(self, group_id: str) -> int:
        """The ``__consumer_offsets`` partition that owns ``group_id`` (FindCoordinator)."""
        return self._ctx.partition_for(group_id)

    # -- operations --------------------------------------------------------------------------

    def _run(self, api: str, op: Operation[Req], req: Req, version: int, token: Token) -> Result:
        """Run one operation. Operations raise only before they change anything, so a raised
        error replaces whatever the operation had collected with the API's error response."""
        fx = Effects()
        try:
            op(self._ctx, fx, req, version, Waiter(token, version))
        except KafkaError as e:
            fx = Effects()
            fx.reply(token, error_response(api, req, version, e.code))
        return fx.result()

    def join_group(
        self, req: JoinGroupRequest, version: int, token: Token, *, client_id: str, client_host: str
    ) -> Result:
        def op(ctx: Context, fx: Effects, r: JoinGroupRequest, v: int, w: Waiter) -> None:
            join.join_group(ctx, fx, r, v, w, client_id, client_host)

        return self._run("join_group", op, req, version, token)

    def sync_group(self, req: SyncGroupRequest, version: int, token: Token) -> Result:
        return self._run("sync_group", membership.sync_group, req, version, token)

    def heartbeat(self, req: HeartbeatRequest, version: int, token: Token) -> Result:
        return self._run("heartbeat", membership.heartbeat, req, version, token)

    def leave_group(self, req: LeaveGroupRequest, version: int, token: Token) -> Result:
        return self._run("leave_group", membership.leave_group, req, version, token)

    def offset_commit(self, req: OffsetCommitRequest, version: int, token: Token) -> Result:
        return self._run("offset_commit", commits.commit_offsets, req, version, token)

    def offset_fetch(self, req: OffsetFetchRequest, version: int, token: Token) -> Result:
        return self._run("offset_fetch", commits.fetch_offsets, req, version, token)

    def txn_offset_commit(self, req: TxnOffsetCommitRequest, version: int, token: Token) -> Result:
        """TxnOffsetCommit: the records carry ``req.producer_id``/``producer_epoch`` and must be
        appended in a transactional batch of that producer."""
        return self._run("txn_offset_commit", txn_commits.commit_txn_offsets, req, version, token)

    def offset_delete(self, req: OffsetDeleteRequest, version: int, token: Token) -> Result:
        return self._run("offset_delete", commits.delete_offsets, req, version, token)

    def describe_groups(self, req: DescribeGroupsRequest, version: int, token: Token) -> Result:
        return self._run("describe_groups", admin.describe_groups, req, version, token)

    def list_groups(self, req: ListGroupsRequest, version: int, token: Token) -> Result:
        return self._run("list_groups", admin.list_groups, req, version, token)

    def delete_groups(self, req: DeleteGroupsRequest, version: int, token: Token) -> Result:
        return self._run("delete_groups", admin.delete_groups, req, version, token)

    # -- time --------------------------------------------------------------------------------

    def tick(self) -> Result:
        """Do everything due at ``clock.time_ms()``: deliver replies settled by replay, expire
        sessions, pending member ids, join phases (initial delay or rebalance timeout) and
        SyncGroup waits, and run the offsets-retention sweep. Deadlines are handled in the
        order they fall due."""
        ctx = self._ctx
        fx = Effects()
        for token, response in ctx.outbox:
            fx.reply(token, response)
        ctx.outbox.clear()
        now = ctx.now()
        while (key := ctx.timer.pop_due(now)) is not None:
            if key.kind is TimerKind.OFFSETS_EXPIRY:
                retention.sweep(ctx, fx)
                continue
            group = ctx.groups.get(key.group_id)
            if group is None:
                continue
            if key.kind is TimerKind.HEARTBEAT:
                rebalance.on_heartbeat_deadline(ctx, fx, group, key.member_id)
            elif key.kind is TimerKind.JOIN:
                rebalance.on_join_deadline(ctx, fx, group)
            else:
                rebalance.on_sync_deadline(ctx, fx, group)
        return fx.result()

    def next_deadline(self) -> int | None:
        """The earliest ``time_ms`` at which :meth:`tick` has work (now, if replies wait)."""
        if self._ctx.outbox:
            return self._ctx.now()
        return self._ctx.timer.next_deadline()

    # -- the log -----------------------------------------------------------------------------

    def replay(self, record: CoordinatorRecord) -> None:
        """Apply one record of ``__consumer_offsets``: after the runtime appended it, or while
        loading a partition. The only mutator of durable state."""
        replay_record(self._ctx, record)

    def replay_marker(self, partition: int, producer_id: int, committed: bool) -> None:
        """Apply a transaction marker (COMMIT if ``committed``, else ABORT) of ``producer_id``
        found in ``__consumer_offsets`` partition ``partition``, live or while loading: the
        producer's pending offsets there become committed, or are dropped."""
        replay_marker(self._ctx, partition, producer_id, committed)

    def loaded(self) -> Result:
        """Loading is over: every member's session restarts now, and a group larger than
        ``group.max.size`` (the limit may have shrunk) rebalances, as Kafka does on load."""
        ctx = self._ctx
        fx = Effects()
        for group in list(ctx.groups.values()):
            for member_id in group.members:
                ctx.schedule_heartbeat(group, member_id)
            if len(group.members) > ctx.config.group_max_size and group.can_rebalance():
                rebalance.prepare_rebalance(ctx, fx, group)
        return fx.result()

    # -- inspection --------------------------------------------------------------------------

    def group(self, group_id: str) -> ClassicGroup | None:
        """The group's live object, for inspection (the admin API and tests); do not mutate."""
        return self._ctx.groups.get(group_id)

    def group_ids(self) -> list[str]:
        return list(self._ctx.groups)

    def committed(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._ctx.offsets.get(group_id, topic, partition)

    def offsets_snapshot(self) -> dict[str, dict[tuple[str, int], CommittedOffset]]:
        return self._ctx.offsets.snapshot()

    def has_pending_offset(self, group_id: str, topic: str, partition: int) -> bool:
        """Whether an open transaction has written an offset for the partition."""
        return self._ctx.pending.has_pending(group_id, topic, partition)

    def pending_snapshot(self) -> dict[tuple[int, int], dict[tuple[str, str, int], CommittedOffset]]:
        """Pending transactional offsets: (``__consumer_offsets`` partition, producer id) ->
        (group, topic, partition) -> offset."""
        return self._ctx.pending.snapshot()

    def session_deadline(self, group_id: str, member_id: str) -> int | None:
        return self._ctx.timer.deadline(heartbeat_key(group_id, member_id))
