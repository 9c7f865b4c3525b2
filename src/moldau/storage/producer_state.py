"""Producer state: what one partition remembers about each idempotent or transactional producer.

Theory of operation. For every producer id that wrote to the partition the log keeps a
``ProducerEntry``: the producer epoch, the last ``NUM_BATCHES_TO_RETAIN`` (5) batches it wrote
(first and last sequence, first and last offset, timestamp), the epoch of the transaction
coordinator that wrote its last marker, the timestamp of its last write, and the first offset
of its open transaction, if one is open. This module is the only place where that state
changes, and it does no I/O: ``producer_store.py`` loads, saves and rebuilds it,
``log_append.py`` feeds it the batches a log appends.

An append goes in two phases, so that a rejected or failed append leaves no trace:

1. ``ProducerStateManager.begin()`` returns a ``PendingAppend``; the log offers it each batch
   (``validate_append`` for data, ``validate_marker`` for an end-transaction marker) with the
   offsets the batch is about to get. Each call checks the batch against a scratch copy of
   the producer's entry, raises ``KafkaError`` with Kafka's code on a violation, and records
   the batch in the scratch copy, so the next batch of the same append is checked against it.
   A data batch that repeats one of the last 5 batches instead returns ``DuplicateOf`` with
   the offsets it was written at the first time: the log writes nothing and answers with
   those offsets.
2. After the bytes are written, ``apply()`` installs the scratch entries, opens the
   transactions that the append started and closes the ones its markers ended, returning each
   ``CompletedTxn`` with the last stable offset to record for it in the transaction index
   (``completions()`` tells the same beforehand, so that the index can be written first).

Checks on a data batch, in Kafka's order (``ProducerAppendInfo``)::

    condition                                                          outcome
    same epoch and same (first, last) sequence as a retained batch      DuplicateOf
    epoch older than the producer's                                    INVALID_PRODUCER_EPOCH
    verified transactions-v2 producer, no batches here, sequence != 0  OUT_OF_ORDER_SEQUENCE_NUMBER
    newer epoch of a known producer, first sequence != 0               OUT_OF_ORDER_SEQUENCE_NUMBER
    same epoch, first sequence != last sequence + 1                    OUT_OF_ORDER_SEQUENCE_NUMBER
    producer without state here (new, expired, or never seen)          accepted at any sequence
    non-transactional batch while the producer's transaction is open   INVALID_TXN_STATE
    transactional batch while no transaction is open                   opens one at its first offset

Sequences wrap: after 2147483647 comes 0. UNKNOWN_PRODUCER_ID is never raised: since KIP-360
(Kafka 2.5) a partition accepts a producer it has no state for at whatever sequence it sends,
because its state may have gone with the segments retention deleted; a producer that starts a
new epoch (after InitProducerId bumped it) must start that epoch at sequence 0. The only
Kafka 4 exception is the transactions-v2 row above, which needs the coordinator's
verification of the producer (``supports_epoch_bump``).

Checks on an end-transaction marker: an epoch older than the producer's is
INVALID_PRODUCER_EPOCH (with transactions v2, where the coordinator bumps the epoch for every
marker, an epoch not newer than the producer's, except the retry of a marker already written:
same epoch and no open transaction); a coordinator epoch older than the last marker's is
TRANSACTION_COORDINATOR_FENCED. A marker ends the producer's open transaction (if any: a
marker for a producer that wrote nothing here completes nothing) as committed or aborted.

Who is checked how depends on where the append comes from (``AppendOrigin``): a client's
produce gets every check and duplicate detection; the coordinators' own writes (transactional
offset commits, markers) get the epoch checks only; a follower's copy and the rebuilding of
state from the log get no checks (the leader made them). A batch without a base sequence
(-1) is never checked for sequences or duplicates whatever its origin: the produce validation
refuses such batches from clients, so only the broker's own coordinator writes carry one.

The last stable offset (LSO) is the first offset a read_committed consumer may not see yet:
the first offset of the earliest transaction that is still open, or that is completed but
whose marker is not yet below the high watermark (a follower may not have it), and at most the
high watermark.

Producers idle for ``producer.id.expiration.ms`` (default a day, measured from the timestamp of
their last batch or marker, as Kafka does) are forgotten by ``remove_expired``, except those with
an open transaction.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import field
from typing import NamedTuple

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import NO_SEQUENCE, BatchHeader
from moldau.protocol.records.control import EndTxnMarker
from moldau.util.datatype import datatype

NO_PRODUCER_EPOCH = -1
NUM_BATCHES_TO_RETAIN = 5
DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000  # producer.id.expiration.ms
MAX_SEQUENCE = (1 << 31) - 1


class AppendOrigin(enum.Enum):
    """Where an append comes from; decides which checks apply (see the module docstring)."""

    CLIENT = "client"
    COORDINATOR = "coordinator"
    REPLICATION = "replication"


class BatchMetadata(NamedTuple):
    """One retained batch of a producer."""

    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp: int


class DuplicateOf(NamedTuple):
    """A retried batch that is already in the log, with the offsets it has there."""

    first_offset: int
    last_offset: int
    timestamp: int


class CompletedTxn(NamedTuple):
    """A transaction that a marker ended: its first offset and the marker's offset."""

    producer_id: int
    first_offset: int
    last_offset: int
    is_aborted: bool


def in_sequence(last_seq: int, next_seq: int) -> bool:
    """Whether ``next_seq`` directly follows ``last_seq`` (0 follows 2147483647)."""
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == MAX_SEQUENCE)


def first_sequence(last_seq: int, offset_delta: int) -> int:
    """The first sequence of a batch from its last sequence and size, wrapping below 0."""
    if last_seq == NO_SEQUENCE:
        return NO_SEQUENCE
    return (last_seq - offset_delta) & MAX_SEQUENCE


def _retained() -> deque[BatchMetadata]:
    return deque(maxlen=NUM_BATCHES_TO_RETAIN)


@datatype(slots=True)
class ProducerEntry:
    """The state of one producer id in one partition; ``batches`` oldest first."""

    producer_id: int
    epoch: int = NO_PRODUCER_EPOCH
    batches: deque[BatchMetadata] = field(default_factory=_retained)
    coordinator_epoch: int = -1
    last_timestamp: int = -1
    current_txn_first_offset: int | None = None

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def copy(self) -> ProducerEntry:
        return ProducerEntry(
            self.producer_id,
            self.epoch,
            deque(self.batches, maxlen=NUM_BATCHES_TO_RETAIN),
            self.coordinator_epoch,
            self.last_timestamp,
            self.current_txn_first_offset,
        )

    def set_epoch(self, epoch: int) -> None:
        """A new epoch starts with no retained batches."""
        if epoch != self.epoch:
            self.batches.clear()
            self.epoch = epoch

    def add_batch(self, epoch: int, batch: BatchMetadata) -> None:
        self.set_epoch(epoch)
        self.batches.append(batch)
        self.last_timestamp = batch.timestamp

    def find_duplicate(self, epoch: int, first_seq: int, last_seq: int) -> BatchMetadata | None:
        if epoch != self.epoch:
            return None
        for batch in self.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        return None


class PendingAppend:
    """The producer-state half of one append, checked batch by batch before anything is
    written and installed by ``ProducerStateManager.apply`` after the write. Discarding it
    (on an error, or a duplicate) changes nothing."""

    def __init__(
        self,
        state: ProducerStateManager,
        origin: AppendOrigin,
        *,
        supports_epoch_bump: bool = False,
        transaction_version: int = 0,
    ) -> None:
        self._state = state
        self.origin = origin
        self.supports_epoch_bump = supports_epoch_bump
        self.transaction_version = transaction_version
        self.entries: dict[int, ProducerEntry] = {}
        self.started: list[tuple[int, int]] = []  # (first offset, producer id), in offset order
        self.completed: list[CompletedTxn] = []

    def _entry(self, producer_id: int) -> ProducerEntry:
        entry = self.entries.get(producer_id)
        if entry is None:
            current = self._state.producers.get(producer_id)
            entry = current.copy() if current is not None else ProducerEntry(producer_id)
            self.entries[producer_id] = entry
        return entry

    def validate_append(self, h: BatchHeader, *, first_offset: int, timestamp: int) -> DuplicateOf | None:
        """Check the data batch ``h`` (producer id >= 0), about to be written at ``first_offset``
        with max timestamp ``timestamp``, and record it. Returns ``DuplicateOf`` when it repeats
        a retained batch (nothing recorded); raises KafkaError as the module docstring lists."""
        producer_id, epoch = h.producer_id, h.producer_epoch
        sequenced = self.origin is AppendOrigin.CLIENT and h.base_sequence != NO_SEQUENCE
        current = self._state.producers.get(producer_id)
        if sequenced and current is not None:
            duplicate = current.find_duplicate(epoch, h.base_sequence, h.last_sequence)
            if duplicate is not None:
                return DuplicateOf(duplicate.first_offset, duplicate.last_offset, duplicate.timestamp)
        entry = self._entry(producer_id)
        if self.origin is not AppendOrigin.REPLICATION:
            if epoch < entry.epoch:
                raise KafkaError(
                    ErrorCode.INVALID_PRODUCER_EPOCH,
                    f"epoch {epoch} of producer {producer_id} at offset {first_offset} is older than "
                    f"its last epoch {entry.epoch}",
                )
            if sequenced:
                self._check_sequence(entry, current, epoch, h.base_sequence, first_offset)
        last_offset = first_offset + h.last_offset_delta
        entry.add_batch(
            epoch, BatchMetadata(h.base_sequence, h.last_sequence, first_offset, last_offset, timestamp)
        )
        if entry.current_txn_first_offset is not None:
            if not h.is_transactional and self.origin is not AppendOrigin.REPLICATION:
                raise KafkaError(
                    ErrorCode.INVALID_TXN_STATE,
                    f"producer {producer_id} wrote a non-transactional batch at offset {first_offset} "
                    f"while its transaction from offset {entry.current_txn_first_offset} is open",
                )
        elif h.is_transactional:
            entry.current_txn_first_offset = first_offset
            self.started.append((first_offset, producer_id))
        return None

    def _check_sequence(
        self, entry: ProducerEntry, current: ProducerEntry | None, epoch: int, first_seq: int, offset: int
    ) -> None:
        producer_id = entry.producer_id
        if self.supports_epoch_bump and first_seq != 0 and (current is None or not current.batches):
            raise KafkaError(
                ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"producer {producer_id} has no state in this partition; its first batch at offset "
                f"{offset} must start at sequence 0, not {first_seq}",
            )
        if epoch != entry.epoch:
            if first_seq != 0 and entry.epoch != NO_PRODUCER_EPOCH:
                raise KafkaError(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"new epoch {epoch} of producer {producer_id} at offset {offset} starts at sequence "
                    f"{first_seq}, not 0 (last epoch {entry.epoch})",
                )
            return
        known = current is not None and current.epoch != NO_PRODUCER_EPOCH
        if known and not in_sequence(entry.last_seq, first_seq):
            raise KafkaError(
                ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"out of order sequence for producer {producer_id} at offset {offset}: {first_seq} "
                f"follows {entry.last_seq}",
            )

    def validate_marker(self, marker: EndTxnMarker, *, offset: int, timestamp: int) -> CompletedTxn | None:
        """Check the end-transaction ``marker`` about to be written at ``offset`` and record it.
        Returns the transaction it completes, None when the producer had none open here."""
        entry = self._entry(marker.producer_id)
        epoch = marker.producer_epoch
        if self.origin is not AppendOrigin.REPLICATION:
            if self.transaction_version >= 2:
                stale = epoch <= entry.epoch
                retry = epoch == entry.epoch and entry.current_txn_first_offset is None
            else:
                stale, retry = epoch < entry.epoch, False
            if stale and not retry:
                raise KafkaError(
                    ErrorCode.INVALID_PRODUCER_EPOCH,
                    f"marker epoch {epoch} of producer {marker.producer_id} at offset {offset} is "
                    f"{'not newer than' if self.transaction_version >= 2 else 'older than'} its epoch "
                    f"{entry.epoch}",
                )
            if entry.coordinator_epoch > marker.coordinator_epoch:
                raise KafkaError(
                    ErrorCode.TRANSACTION_COORDINATOR_FENCED,
                    f"marker for producer {marker.producer_id} at offset {offset} comes from coordinator "
                    f"epoch {marker.coordinator_epoch}, older than {entry.coordinator_epoch}",
                )
        completed = None
        if entry.current_txn_first_offset is not None:
            completed = CompletedTxn(
                marker.producer_id, entry.current_txn_first_offset, offset, not marker.committed
            )
            self.completed.append(completed)
        entry.set_epoch(epoch)
        entry.coordinator_epoch = marker.coordinator_epoch
        entry.current_txn_first_offset = None
        entry.last_timestamp = timestamp
        return completed


class ProducerStateManager:
    """Every producer's entry in one partition, the open transactions and the completed ones
    whose markers may still be above the high watermark. See the module docstring."""

    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}
        self._ongoing: dict[int, int] = {}  # first offset -> producer id; kept in offset order
        self._unreplicated: dict[int, CompletedTxn] = {}  # by first offset
        self.version = 0  # moves on every change, so a snapshot knows whether it is current

    def __len__(self) -> int:
        return len(self.producers)

    # -- appending ---------------------------------------------------------------------------

    def begin(
        self,
        origin: AppendOrigin = AppendOrigin.CLIENT,
        *,
        supports_epoch_bump: bool = False,
        transaction_version: int = 0,
    ) -> PendingAppend:
        return PendingAppend(
            self, origin, supports_epoch_bump=supports_epoch_bump, transaction_version=transaction_version
        )

    def completions(self, pending: PendingAppend) -> list[tuple[CompletedTxn, int]]:
        """The transactions ``pending`` completes, each with the last stable offset to record
        for it in the transaction index (Kafka's rule: the first offset of the earliest
        transaction of another producer still open, else the marker's offset + 1). Changes
        nothing; ``apply`` returns the same list."""
        if not pending.completed:
            return []
        ongoing = dict(self._ongoing)
        ongoing.update(pending.started)
        out = []
        for txn in pending.completed:
            others = (first for first, pid in ongoing.items() if pid != txn.producer_id)
            lso = next(others, txn.last_offset + 1)
            ongoing.pop(txn.first_offset, None)
            out.append((txn, lso))
        return out

    def apply(self, pending: PendingAppend) -> list[tuple[CompletedTxn, int]]:
        """Install a pending append whose batches are in the log; returns ``completions``."""
        if not pending.entries:
            return []
        completed = self.completions(pending)
        self.producers.update(pending.entries)
        self._ongoing.update(pending.started)
        for txn in pending.completed:
            self._ongoing.pop(txn.first_offset, None)
            self._unreplicated[txn.first_offset] = txn
        self.version += 1
        return completed

    # -- reading -----------------------------------------------------------------------------

    def entry(self, producer_id: int) -> ProducerEntry | None:
        return self.producers.get(producer_id)

    @property
    def ongoing_transactions(self) -> list[tuple[int, int]]:
        """``(producer id, first offset)`` of every open transaction, earliest first."""
        return [(pid, first) for first, pid in self._ongoing.items()]

    def first_unstable_offset(self, high_watermark: int) -> int | None:
        """The first offset of the earliest transaction that is open or whose marker is not
        below ``high_watermark`` yet; None when there is none. Forgets completed transactions
        the high watermark has passed."""
        if not self._unreplicated:
            return next(iter(self._ongoing)) if self._ongoing else None
        for first, txn in list(self._unreplicated.items()):
            if txn.last_offset < high_watermark:
                del self._unreplicated[first]
        candidates = [first for first in self._unreplicated]
        if self._ongoing:
            candidates.append(next(iter(self._ongoing)))
        return min(candidates) if candidates else None

    def last_stable_offset(self, high_watermark: int) -> int:
        first = self.first_unstable_offset(high_watermark)
        return first if first is not None and first < high_watermark else high_watermark

    # -- expiry, loading ---------------------------------------------------------------------

    def remove_expired(
        self, now_ms: int, expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS
    ) -> list[int]:
        """Forget producers whose last write is ``expiration_ms`` or more old and that have no
        open transaction; returns their ids."""
        expired = [
            pid
            for pid, entry in self.producers.items()
            if entry.current_txn_first_offset is None and now_ms - entry.last_timestamp >= expiration_ms
        ]
        for pid in expired:
            del self.producers[pid]
        if expired:
            self.version += 1
        return expired

    def load(self, entries: Iterable[ProducerEntry]) -> None:
        """Replace the whole state with ``entries`` (from a snapshot)."""
        self.clear()
        for entry in entries:
            self.producers[entry.producer_id] = entry
        opened = sorted(
            (e.current_txn_first_offset, e.producer_id)
            for e in self.producers.values()
            if e.current_txn_first_offset is not None
        )
        self._ongoing = dict(opened)

    def clear(self) -> None:
        self.producers = {}
        self._ongoing = {}
        self._unreplicated = {}
        self.version += 1
