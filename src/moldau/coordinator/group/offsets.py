"""Committed offsets: the store ``replay`` fills, and the retention rule that empties it.

The store maps group -> topic -> partition -> :class:`CommittedOffset`. Only ``replay``
calls :meth:`OffsetStore.put` and :meth:`OffsetStore.remove`; operations read it and emit
OffsetCommit records or tombstones. Each offset also keeps the *position* of the record it
came from: a number that grows with every offset record replayed, so it orders records of
one ``__consumer_offsets`` partition as their log offsets do (Kafka keeps the record offset
itself). A transaction's offset replaces a committed one only if its record is the later of
the two (see :mod:`pending`).

Retention (KIP-211, as Kafka's ``OffsetExpirationCondition``): an offset expires once
``offsets.retention.minutes`` have passed since a *base time*, which depends on the group:

* a group with members of a protocol type other than ``consumer``, or rebalancing: never;
* an empty group with a protocol type: the time it became empty (or, when that is unknown
  because an old record did not store it, the offset's commit time);
* a ``consumer`` group that is stable and whose subscriptions are known: the commit time,
  for topics no member subscribes to;
* a group without a protocol type (commits only, no membership): the commit time.

Offsets of topics the group subscribes to never expire, and an offset committed with an
explicit retention (OffsetCommit v2-4) expires at its own expire timestamp instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from moldau.coordinator.group.group import ClassicGroup
from moldau.coordinator.group.records import OffsetCommitValue
from moldau.coordinator.group.state import GroupState
from moldau.util.datatype import datatype


@datatype(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int  # -1: none
    metadata: str
    commit_timestamp: int
    expire_timestamp: int | None = None

    @classmethod
    def from_record(cls, value: OffsetCommitValue) -> CommittedOffset:
        expire = None if value.expire_timestamp == -1 else value.expire_timestamp
        return cls(value.offset, value.leader_epoch, value.metadata, value.commit_timestamp, expire)

    def to_record(self) -> OffsetCommitValue:
        return OffsetCommitValue(
            offset=self.offset,
            leader_epoch=self.leader_epoch,
            metadata=self.metadata,
            commit_timestamp=self.commit_timestamp,
            expire_timestamp=-1 if self.expire_timestamp is None else self.expire_timestamp,
        )


class OffsetStore:
    __slots__ = ("_groups", "_positions")

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, dict[int, CommittedOffset]]] = {}
        self._positions: dict[tuple[str, str, int], int] = {}

    def get(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._groups.get(group_id, {}).get(topic, {}).get(partition)

    def position(self, group_id: str, topic: str, partition: int) -> int | None:
        """The position of the record the committed offset came from (None: no offset)."""
        return self._positions.get((group_id, topic, partition))

    def put(
        self, group_id: str, topic: str, partition: int, offset: CommittedOffset, *, position: int
    ) -> None:
        self._groups.setdefault(group_id, {}).setdefault(topic, {})[partition] = offset
        self._positions[(group_id, topic, partition)] = position

    def remove(self, group_id: str, topic: str, partition: int) -> None:
        topics = self._groups.get(group_id)
        if topics is None or partition not in topics.get(topic, {}):
            return
        del topics[topic][partition]
        del self._positions[(group_id, topic, partition)]
        if not topics[topic]:
            del topics[topic]
        if not topics:
            del self._groups[group_id]

    def has_offsets(self, group_id: str) -> bool:
        return group_id in self._groups

    def offsets_of(self, group_id: str) -> Iterator[tuple[str, int, CommittedOffset]]:
        """Every offset of a group, by topic then partition."""
        topics = self._groups.get(group_id, {})
        for topic in sorted(topics):
            partitions = topics[topic]
            for partition in sorted(partitions):
                yield topic, partition, partitions[partition]

    def snapshot(self) -> dict[str, dict[tuple[str, int], CommittedOffset]]:
        """A copy of everything, for comparing two coordinators."""
        return {
            group: {(topic, partition): offset for topic, partition, offset in self.offsets_of(group)}
            for group in self._groups
        }


def _expiration_base(group: ClassicGroup) -> Callable[[CommittedOffset], int] | None:
    if group.protocol_type is None:
        return lambda offset: offset.commit_timestamp
    if group.state is GroupState.EMPTY:
        since = group.state_since
        return lambda offset: offset.commit_timestamp if since is None else since
    if (
        group.uses_consumer_protocol()
        and group.roster.subscribed_topics is not None
        and group.state is GroupState.STABLE
    ):
        return lambda offset: offset.commit_timestamp
    return None


def expired_offsets(
    group: ClassicGroup, store: OffsetStore, now: int, retention_ms: int
) -> tuple[list[tuple[str, int]], bool]:
    """The offsets of ``group`` that have expired at ``now``, and whether that is all of them
    (True too when the group has no offsets at all)."""
    if not store.has_offsets(group.group_id):
        return [], True
    base = _expiration_base(group)
    if base is None:
        return [], False
    expired: list[tuple[str, int]] = []
    everything = True
    for topic, partition, offset in store.offsets_of(group.group_id):
        if group.is_subscribed_to(topic):
            everything = False
        elif offset.expire_timestamp is not None:
            if now >= offset.expire_timestamp:
                expired.append((topic, partition))
            else:
                everything = False
        elif now - base(offset) >= retention_ms:
            expired.append((topic, partition))
        else:
            everything = False
    return expired, everything
