"""A stand-in for the broker runtime: drives a GroupCoordinator with a ManualClock.

It follows the runtime contract of ``moldau.coordinator.group.results``: records of a result
are appended to an in-memory log and replayed, then its replies are delivered (or, with
``fail_writes`` set, the records are dropped and ``replies_if_write_fails`` delivered), and
``tick`` runs whenever ``next_deadline`` has passed. It also checks that no token is ever
answered twice. ``history`` is the log as a loader would read it: the records and the
transaction markers, in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from moldau.coordinator.group import CoordinatorRecord, GroupConfig, GroupCoordinator, Result
from moldau.protocol.messages.heartbeat import HeartbeatRequest
from moldau.protocol.messages.join_group import JoinGroupRequest, JoinGroupRequestProtocol
from moldau.protocol.messages.leave_group import LeaveGroupRequest, MemberIdentity
from moldau.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from moldau.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestTopic
from moldau.protocol.messages.sync_group import SyncGroupRequest, SyncGroupRequestAssignment
from moldau.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitRequestPartition,
    TxnOffsetCommitRequestTopic,
)
from moldau.protocol.primitives import Writer
from moldau.util.clock import ManualClock

START_MS = 1_700_000_000_000
DEFAULT_PROTOCOLS = (("range", b"range-meta"),)


@dataclass(frozen=True)
class Marker:
    """A transaction's COMMIT (``committed``) or ABORT marker in a ``__consumer_offsets`` partition."""

    partition: int
    producer_id: int
    committed: bool


def subscription(*topics: str, version: int = 0, user_data: bytes | None = None) -> bytes:
    """A ConsumerProtocolSubscription (version 0 layout) naming ``topics``."""
    w = Writer()
    w.write_int16(version)
    w.write_int32(len(topics))
    for topic in topics:
        w.write_string(topic)
    w.write_nullable_bytes(user_data)
    return w.getvalue()


class Harness:
    def __init__(self, config: GroupConfig | None = None, **overrides: int) -> None:
        if config is None:
            config = GroupConfig(**overrides)
        self.clock = ManualClock(time_ms=START_MS)
        counter = itertools.count(1)
        self.coordinator = GroupCoordinator(
            self.clock, config, member_id_factory=lambda prefix: f"{prefix}-{next(counter)}"
        )
        self.log: list[CoordinatorRecord] = []
        self.history: list[CoordinatorRecord | Marker] = []
        self.replies: dict[int, Any] = {}
        self.fail_writes = False
        self._tokens = itertools.count(1)

    # -- runtime ------------------------------------------------------------------------------

    def apply(self, result: Result) -> list[tuple[Any, Any]]:
        if result.records and self.fail_writes:
            sent = result.replies_if_write_fails
        else:
            for record in result.records:
                self.log.append(record)
                self.history.append(record)
                self.coordinator.replay(record)
            sent = result.replies
        for token, response in sent:
            assert token not in self.replies, f"token {token} answered twice"
            self.replies[token] = response
        return sent

    def call(self, method: str, request: Any, version: int, **kwargs: Any) -> int:
        token = next(self._tokens)
        self.apply(getattr(self.coordinator, method)(request, version, token, **kwargs))
        self.run_due()
        return token

    def run_due(self) -> None:
        while (deadline := self.coordinator.next_deadline()) is not None and deadline <= self.clock.time_ms():
            self.apply(self.coordinator.tick())

    def advance(self, ms: int) -> None:
        """Move time forward, firing every deadline on the way in order."""
        target = self.clock.time_ms() + ms
        while True:
            deadline = self.coordinator.next_deadline()
            if deadline is None or deadline > target:
                break
            if deadline > self.clock.time_ms():
                self.clock.advance(deadline - self.clock.time_ms())
            self.apply(self.coordinator.tick())
        self.clock.advance(target - self.clock.time_ms())
        self.run_due()

    def answer(self, token: int) -> Any:
        return self.replies.get(token)

    def pending(self, token: int) -> bool:
        return token not in self.replies

    # -- requests -----------------------------------------------------------------------------

    def join(
        self,
        group: str,
        member_id: str = "",
        *,
        version: int = 5,
        protocols: Iterable[tuple[str, bytes]] = DEFAULT_PROTOCOLS,
        protocol_type: str = "consumer",
        session_ms: int = 10_000,
        rebalance_ms: int = 30_000,
        instance: str | None = None,
        client_id: str = "client",
    ) -> int:
        req = JoinGroupRequest(
            group_id=group,
            session_timeout_ms=session_ms,
            rebalance_timeout_ms=rebalance_ms,
            member_id=member_id,
            group_instance_id=instance,
            protocol_type=protocol_type,
            protocols=[JoinGroupRequestProtocol(name=n, metadata=m) for n, m in protocols],
        )
        return self.call("join_group", req, version, client_id=client_id, client_host="/127.0.0.1")

    def join_new(self, group: str, **kwargs: Any) -> tuple[str, int]:
        """Join as a new dynamic member through the MEMBER_ID_REQUIRED round trip (v4+);
        returns the member id and the token of the (usually parked) second JoinGroup."""
        if kwargs.get("instance") is not None:
            token = self.join(group, **kwargs)
            member_id = self.coordinator.group(group).static_member_id(kwargs["instance"])
            assert member_id is not None
            return member_id, token
        first = self.join(group, **kwargs)
        member_id = self.answer(first).member_id
        assert self.answer(first).error_code == 79, self.answer(first)
        return member_id, self.join(group, member_id, **kwargs)

    def sync(
        self,
        group: str,
        generation: int,
        member_id: str,
        assignments: dict[str, bytes] | None = None,
        *,
        version: int = 3,
        instance: str | None = None,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> int:
        req = SyncGroupRequest(
            group_id=group,
            generation_id=generation,
            member_id=member_id,
            group_instance_id=instance,
            protocol_type=protocol_type,
            protocol_name=protocol_name,
            assignments=[
                SyncGroupRequestAssignment(member_id=m, assignment=a) for m, a in (assignments or {}).items()
            ],
        )
        return self.call("sync_group", req, version)

    def heartbeat(
        self, group: str, generation: int, member_id: str, *, version: int = 3, instance: str | None = None
    ) -> int:
        req = HeartbeatRequest(
            group_id=group, generation_id=generation, member_id=member_id, group_instance_id=instance
        )
        return self.call("heartbeat", req, version)

    def leave(self, group: str, *members: tuple[str, str | None], version: int = 3) -> int:
        if version >= 3:
            req = LeaveGroupRequest(
                group_id=group,
                members=[MemberIdentity(member_id=m, group_instance_id=i) for m, i in members],
            )
        else:
            req = LeaveGroupRequest(group_id=group, member_id=members[0][0])
        return self.call("leave_group", req, version)

    def commit(
        self,
        group: str,
        offsets: dict[tuple[str, int], int],
        *,
        generation: int = -1,
        member_id: str = "",
        instance: str | None = None,
        version: int = 8,
        metadata: str | None = "",
        leader_epoch: int = -1,
        retention_ms: int = -1,
    ) -> int:
        topics: dict[str, list[OffsetCommitRequestPartition]] = {}
        for (topic, partition), offset in offsets.items():
            topics.setdefault(topic, []).append(
                OffsetCommitRequestPartition(
                    partition_index=partition,
                    committed_offset=offset,
                    committed_leader_epoch=leader_epoch,
                    committed_metadata=metadata,
                )
            )
        req = OffsetCommitRequest(
            group_id=group,
            generation_id_or_member_epoch=generation,
            member_id=member_id,
            group_instance_id=instance,
            retention_time_ms=retention_ms,
            topics=[OffsetCommitRequestTopic(name=t, partitions=p) for t, p in topics.items()],
        )
        return self.call("offset_commit", req, version)

    def fetch(
        self,
        group: str,
        topics: dict[str, list[int]] | None,
        *,
        version: int = 7,
        require_stable: bool = False,
    ) -> Any:
        req = OffsetFetchRequest(
            group_id=group,
            topics=None
            if topics is None
            else [OffsetFetchRequestTopic(name=t, partition_indexes=p) for t, p in topics.items()],
            require_stable=require_stable,
        )
        return self.answer(self.call("offset_fetch", req, version))

    def txn_commit(
        self,
        group: str,
        offsets: dict[tuple[str, int], int],
        *,
        producer_id: int = 1000,
        producer_epoch: int = 0,
        generation: int = -1,
        member_id: str = "",
        instance: str | None = None,
        version: int = 3,
        metadata: str | None = "",
        leader_epoch: int = -1,
    ) -> int:
        topics: dict[str, list[TxnOffsetCommitRequestPartition]] = {}
        for (topic, partition), offset in offsets.items():
            topics.setdefault(topic, []).append(
                TxnOffsetCommitRequestPartition(
                    partition_index=partition,
                    committed_offset=offset,
                    committed_leader_epoch=leader_epoch,
                    committed_metadata=metadata,
                )
            )
        req = TxnOffsetCommitRequest(
            transactional_id=f"txn-{producer_id}",
            group_id=group,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            generation_id=generation,
            member_id=member_id,
            group_instance_id=instance,
            topics=[TxnOffsetCommitRequestTopic(name=t, partitions=p) for t, p in topics.items()],
        )
        return self.call("txn_offset_commit", req, version)

    def end_txn(self, group: str, producer_id: int = 1000, *, committed: bool) -> None:
        """The transaction's marker lands in the partition of ``group``."""
        marker = Marker(self.coordinator.partition_for(group), producer_id, committed)
        self.history.append(marker)
        self.coordinator.replay_marker(marker.partition, marker.producer_id, marker.committed)
        self.run_due()

    # -- whole rounds ------------------------------------------------------------------------

    def form_group(
        self,
        group: str,
        count: int,
        *,
        version: int = 5,
        assignment: bytes = b"assigned",
        instances: list[str] | None = None,
        **kwargs: Any,
    ) -> tuple[list[str], int]:
        """Bring ``count`` members (static ones with ``instances``) to a STABLE generation;
        returns the member ids (leader first) and the generation."""
        tokens = {}
        for i in range(count):
            instance = instances[i] if instances else None
            member_id, token = self.join_new(group, version=version, instance=instance, **kwargs)
            tokens[member_id] = token
        for _ in range(20):
            if not any(self.pending(t) for t in tokens.values()):
                break
            self.advance(max(self.coordinator.config.group_initial_rebalance_delay_ms, 1))
        answers = {m: self.answer(t) for m, t in tokens.items()}
        assert all(a is not None and a.error_code == 0 for a in answers.values()), answers
        leader = next(iter(answers.values())).leader
        generation = answers[leader].generation_id
        others = [m for m in tokens if m != leader]
        sync_tokens = [self.sync(group, generation, m, version=3) for m in others]
        lead = self.sync(group, generation, leader, {m: assignment + m.encode() for m in tokens}, version=3)
        for token in [*sync_tokens, lead]:
            assert self.answer(token).error_code == 0, self.answer(token)
        return [leader, *others], generation
