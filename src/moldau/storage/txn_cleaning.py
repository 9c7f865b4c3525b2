"""What compaction does with transactions: aborted data goes, markers go once they are empty.

A cleaning pass (clean_job.py) walks the log in offset order and shows every batch to a
``TransactionTracker``, which answers two questions, as Kafka's cleaner does:

* **Is this data batch aborted?** The tracker starts from the aborted transactions of the
  transaction index (``AbortedTxn``: producer id, first offset, offset of the ABORT marker)
  sorted by first offset. Once the walk reaches a transaction's first offset, that producer's
  transactional batches are aborted until its ABORT marker. Their records are dropped whole and
  never enter the offset map. Any other transactional batch belongs to a committed transaction
  (the cleanable range ends at the last stable offset, so every transaction in it is complete)
  and is compacted like plain data.
* **May this marker go?** A COMMIT or ABORT marker whose transaction has no data batch left
  between its start and the marker (this walk saw none) is *empty*. An empty marker is kept
  until its delete horizon, set by the first cleaning that finds it empty
  (``now + delete.retention.ms``, stored as Kafka 4 stores a tombstone's horizon: attribute
  bit 6 and the base timestamp), and removed by the first cleaning after it. A marker whose
  transaction still shows data stays, and so does its transaction index entry.

An ABORT marker that goes takes its transaction index entry with it: a read_committed consumer
that is told of an aborted transaction skips that producer's transactional batches until it
meets the marker, so an entry without its marker would hide the producer's later, committed
data. ``forget_aborted`` edits the indexes of the segments a cleaned group replaces before the
swap (swap.py): should the swap roll back, the old segments still hold the marker but none of
the transaction's data, which a reader treats the same.

Control batches that are not end-transaction markers, and empty control batches (a marker the
cleaner emptied), are not markers of any transaction: the first are kept, the second go
unless the pass must keep an empty batch there.

Used by one cleaning job on the cleaner's worker thread (the tracker) and by the cleaner on
the event loop (``forget_aborted``); the tracker is not shared.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from moldau.protocol.records.batch import BatchHeader, CorruptBatchError
from moldau.protocol.records.control import ControlType, parse_control_key
from moldau.protocol.records.records import decode_records
from moldau.storage.txn_index import AbortedTxn, TransactionIndexes

Batch = bytes | bytearray | memoryview


def marker_type(batch: Batch, h: BatchHeader) -> ControlType | None:
    """The end-transaction type of the control batch ``batch``; None for an empty control
    batch or another control type."""
    if not h.is_control or h.records_count == 0:
        return None
    records = decode_records(batch)
    if not records:
        return None
    try:
        _, raw = parse_control_key(records[0].key)
        return ControlType(raw)
    except (CorruptBatchError, ValueError):
        return None


class _OpenAbort:
    __slots__ = ("saw_data", "txn")

    def __init__(self, txn: AbortedTxn) -> None:
        self.txn = txn
        self.saw_data = False


class TransactionTracker:
    """Transaction state along one walk of the log in offset order (module docstring).

    ``aborted`` are the aborted transactions that may overlap the walk; those whose marker lies
    before ``start`` (the first offset walked) are ignored, as their data is behind the walk."""

    def __init__(self, aborted: Iterable[AbortedTxn], start: int) -> None:
        self._pending = deque(
            sorted(
                (t for t in aborted if t.last_offset >= start), key=lambda t: (t.first_offset, t.last_offset)
            )
        )
        self._aborting: dict[int, _OpenAbort] = {}  # producer id → its aborted transaction under way
        self._committing: set[int] = set()  # producers with data of a committed transaction seen

    def _reach(self, offset: int) -> None:
        while self._pending and self._pending[0].first_offset <= offset:
            txn = self._pending.popleft()
            self._aborting.setdefault(txn.producer_id, _OpenAbort(txn))

    def data_batch(self, h: BatchHeader) -> bool:
        """Note the data batch ``h``; returns whether it belongs to an aborted transaction."""
        self._reach(h.last_offset)
        if not h.is_transactional:
            return False
        aborting = self._aborting.get(h.producer_id)
        if aborting is not None:
            aborting.saw_data = True
            return True
        self._committing.add(h.producer_id)
        return False

    def marker(self, h: BatchHeader, control_type: ControlType | None) -> tuple[bool, AbortedTxn | None]:
        """Note the control batch ``h`` of type ``control_type`` (``marker_type``). Returns
        whether it is an empty marker (it may go once its delete horizon has passed) and, for
        an ABORT marker, the transaction index entry it ends (None when the index has none)."""
        self._reach(h.last_offset)
        if control_type is ControlType.ABORT:
            aborting = self._aborting.pop(h.producer_id, None)
            if aborting is None:
                return True, None
            return not aborting.saw_data, aborting.txn
        if control_type is ControlType.COMMIT:
            if h.producer_id in self._committing:
                self._committing.discard(h.producer_id)
                return False, None
            return True, None
        return False, None


def forget_aborted(indexes: TransactionIndexes, bases: Iterable[int], gone: Iterable[AbortedTxn]) -> None:
    """Remove the entries ``gone`` (their ABORT markers were cleaned away) from the transaction
    indexes of the segments at ``bases``. Raises OSError."""
    drop = set(gone)
    if not drop:
        return
    for base in bases:
        entries = indexes.entries(base)
        kept = [t for t in entries if t not in drop]
        if len(kept) != len(entries):
            indexes.replace(base, kept)
