"""Pending transactional offsets: written by an open transaction, visible to nobody yet.

TxnOffsetCommit writes ordinary OffsetCommit records, but in a transactional batch of the
producer. Replaying such a record stores the offset here, under the producer, and not in the
committed store; the transaction's end decides its fate. A transaction marker is written to
every partition the transaction touched, so the marker that lands in one ``__consumer_offsets``
partition settles that producer's pending offsets *in that partition*: offsets are kept per
(``__consumer_offsets`` partition, producer id), which is Kafka's per-shard map.

COMMIT
    Each pending offset becomes the committed one, unless the partition's committed offset
    came from a later record (a plain commit, or another transaction's offset, written after
    this transaction's record): the latest record wins, as in Kafka, so the outcome is what
    compaction of the log would keep.
ABORT
    The pending offsets are dropped.
OffsetCommit tombstone
    Drops the committed offset and every transaction's pending offset for that partition
    (this is how DeleteGroups and OffsetDelete reach pending offsets).

While a partition has a pending offset, OffsetFetch with ``require_stable`` answers
UNSTABLE_OFFSET_COMMIT for it, the retention sweep leaves its committed offset alone, and a
group with any pending offset is not removed for being empty.
"""

from __future__ import annotations

from collections.abc import Iterator

from moldau.coordinator.group.offsets import CommittedOffset
from moldau.util.datatype import datatype

Where = tuple[str, str, int]  # group, topic, partition
Producer = tuple[int, int]  # __consumer_offsets partition, producer id


@datatype(frozen=True, slots=True)
class PendingOffset:
    offset: CommittedOffset
    position: int  # of its record, comparable with OffsetStore.position


class PendingOffsets:
    """Only ``replay`` (records and markers) changes this store; operations read it."""

    __slots__ = ("_by_producer", "_open")

    def __init__(self) -> None:
        self._by_producer: dict[Producer, dict[Where, PendingOffset]] = {}
        # group -> (topic, partition) -> the producers with a pending offset there
        self._open: dict[str, dict[tuple[str, int], set[Producer]]] = {}

    def put(self, producer: Producer, where: Where, pending: PendingOffset) -> None:
        """A transactional offset record was replayed (a later one of the same producer for the
        same partition replaces the earlier)."""
        self._by_producer.setdefault(producer, {})[where] = pending
        group, topic, partition = where
        self._open.setdefault(group, {}).setdefault((topic, partition), set()).add(producer)

    def discard(self, group: str, topic: str, partition: int) -> None:
        """An OffsetCommit tombstone: every producer's pending offset for the partition goes."""
        partitions = self._open.get(group)
        if partitions is None:
            return
        producers = partitions.pop((topic, partition), set())
        for producer in producers:
            offsets = self._by_producer[producer]
            del offsets[(group, topic, partition)]
            if not offsets:
                del self._by_producer[producer]
        if not partitions:
            del self._open[group]

    def end(self, producer: Producer) -> dict[Where, PendingOffset]:
        """A transaction marker: forget the producer's pending offsets and return them, in the
        order their records were replayed."""
        offsets = self._by_producer.pop(producer, {})
        for group, topic, partition in offsets:
            partitions = self._open[group]
            producers = partitions[(topic, partition)]
            producers.discard(producer)
            if not producers:
                del partitions[(topic, partition)]
            if not partitions:
                del self._open[group]
        return offsets

    def has_pending(self, group: str, topic: str, partition: int) -> bool:
        return (topic, partition) in self._open.get(group, {})

    def has_open_transactions(self, group: str) -> bool:
        return group in self._open

    def partitions_of(self, group: str) -> Iterator[tuple[str, int]]:
        """The partitions with a pending offset in ``group``, by topic then partition."""
        yield from sorted(self._open.get(group, {}))

    def snapshot(self) -> dict[Producer, dict[Where, CommittedOffset]]:
        """A copy of everything (without positions), for comparing two coordinators."""
        return {
            producer: {where: pending.offset for where, pending in offsets.items()}
            for producer, offsets in self._by_producer.items()
        }
