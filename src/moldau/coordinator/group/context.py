"""What every operation of the coordinator works on, in one place.

The facade (:mod:`coordinator`) owns one :class:`Context`; the operation modules
(``join``, ``membership``, ``rebalance``, ``commits``, ``admin``, ``replay``) are functions
over it. Nothing here is shared between threads: one event loop calls the coordinator.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import field
from typing import Any

from moldau.coordinator.group.config import GroupConfig
from moldau.coordinator.group.group import ClassicGroup
from moldau.coordinator.group.jvm import partition_for
from moldau.coordinator.group.offsets import OffsetStore
from moldau.coordinator.group.pending import PendingOffsets
from moldau.coordinator.group.records import (
    GroupMetadataValue,
    encode_group_metadata_key,
    encode_group_metadata_value,
)
from moldau.coordinator.group.results import CoordinatorRecord, Effects, Token
from moldau.coordinator.group.timer import Timer, heartbeat_key
from moldau.util.clock import Clock
from moldau.util.datatype import datatype


def random_member_id(prefix: str) -> str:
    """Kafka's member ids: the client id (or group instance id), ``-``, a random UUID."""
    return f"{prefix}-{uuid.uuid4()}"


@datatype
class Context:
    clock: Clock
    config: GroupConfig
    groups: dict[str, ClassicGroup] = field(default_factory=dict)
    offsets: OffsetStore = field(default_factory=OffsetStore)
    pending: PendingOffsets = field(default_factory=PendingOffsets)
    # how many offset records replay has seen: the position of the next one
    replayed_offsets: int = 0
    timer: Timer = field(default_factory=Timer)
    # replies settled by replay (parked requests answered once a write is durable); tick sends them
    outbox: list[tuple[Token, Any]] = field(default_factory=list)
    new_member_id: Callable[[str], str] = random_member_id

    def now(self) -> int:
        return self.clock.time_ms()

    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.config.offsets_topic_num_partitions)

    def next_position(self) -> int:
        """The position of the offset record being replayed (replay only); see ``offsets``."""
        self.replayed_offsets += 1
        return self.replayed_offsets

    def write_group(self, fx: Effects, group_id: str, value: GroupMetadataValue | None) -> None:
        """Emit a GroupMetadata record (or, for None, the group's tombstone)."""
        fx.write(
            CoordinatorRecord(
                self.partition_for(group_id),
                encode_group_metadata_key(group_id),
                None if value is None else encode_group_metadata_value(value),
            )
        )

    def schedule_heartbeat(self, group: ClassicGroup, member_id: str, timeout_ms: int | None = None) -> None:
        """(Re)start a member's session: it must be heard from within ``timeout_ms`` (its
        session timeout unless given)."""
        if timeout_ms is None:
            member = group.members.get(member_id)
            if member is None:
                return
            timeout_ms = member.session_timeout_ms
        self.timer.schedule(heartbeat_key(group.group_id, member_id), self.now() + timeout_ms)

    def cancel_heartbeat(self, group: ClassicGroup, member_id: str) -> None:
        self.timer.cancel(heartbeat_key(group.group_id, member_id))
