"""What an operation hands back to the runtime: records, replies, and markers to write.

Contract with the runtime (the asyncio layer that owns sockets and the logs); it is the group
coordinator's, plus markers:

1. Call an operation (or ``tick``, ``loaded``, ``markers_written``); it returns a
   :class:`TxnResult`.
2. If ``records`` is non-empty, append them, in order, to ``__transaction_state`` (each names
   its partition). Then either
   * the append succeeded: pass every record to ``replay`` (in order), send ``replies``, and
     write ``markers``;
   * the append failed: call ``write_failed(records)``, send ``replies_if_write_fails``
     instead, replay nothing and write no markers.
   With no records, send ``replies`` and write ``markers``.
3. A marker is a COMMIT or ABORT control batch for one data partition (WriteTxnMarkers to the
   partition's leader). Once the markers of one transaction (one transactional id, producer
   id and epoch) have been attempted, report the outcome per partition with
   ``markers_written``; its result may ask for some markers again, or carry the record that
   completes the transaction.
4. After every call, ask ``next_deadline`` when to call ``tick`` next.

``write_failed`` matters: a change whose record is in flight blocks other changes of the same
transactional id (they answer CONCURRENT_TRANSACTIONS, which clients retry), as Kafka's
pending state does, and only replay or ``write_failed`` lifts that.

Each reply list is complete on its own; a token is answered at most once across all results.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from moldau.coordinator.group import CoordinatorRecord, Token
from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.util.datatype import datatype


@datatype(frozen=True, slots=True)
class MarkerRequest:
    """A COMMIT (``committed``) or ABORT marker the runtime must write to a data partition."""

    topic: str
    partition: int
    producer_id: int
    producer_epoch: int
    coordinator_epoch: int
    committed: bool
    transactional_id: str


@datatype
class TxnResult:
    records: list[CoordinatorRecord] = field(default_factory=list)
    replies: list[tuple[Token, Any]] = field(default_factory=list)
    replies_if_write_fails: list[tuple[Token, Any]] = field(default_factory=list)
    markers: list[MarkerRequest] = field(default_factory=list)


@datatype(frozen=True, slots=True)
class Pending:
    """A change whose record is on its way to the log: the metadata it installs (None for a
    tombstone) and the exact value bytes that identify it when replayed."""

    metadata: TxnMetadata | None
    value: bytes | None


class Effects:
    """Collects what one operation produces, in order; the facade commits the pending changes
    and :meth:`result` freezes the rest."""

    __slots__ = ("_failed", "_markers", "_records", "_replies", "pending")

    def __init__(self) -> None:
        self._records: list[CoordinatorRecord] = []
        self._replies: list[tuple[Token, Any]] = []
        self._failed: list[tuple[Token, Any]] = []
        self._markers: list[MarkerRequest] = []
        self.pending: list[tuple[str, Pending]] = []

    def write(self, record: CoordinatorRecord, transactional_id: str, pending: Pending) -> None:
        self._records.append(record)
        self.pending.append((transactional_id, pending))

    def writes(self, transactional_id: str) -> bool:
        """Whether this operation already writes a change of ``transactional_id``."""
        return any(tid == transactional_id for tid, _ in self.pending)

    def reply(self, token: Token, response: Any) -> None:
        """A reply that stands whether or not this operation's records are written."""
        self._replies.append((token, response))
        self._failed.append((token, response))

    def reply_after_write(self, token: Token, response: Any, if_write_fails: Any) -> None:
        """A reply that holds only once the records are durable; ``if_write_fails`` otherwise."""
        self._replies.append((token, response))
        self._failed.append((token, if_write_fails))

    def marker(self, marker: MarkerRequest) -> None:
        self._markers.append(marker)

    def result(self) -> TxnResult:
        return TxnResult(list(self._records), list(self._replies), list(self._failed), list(self._markers))
