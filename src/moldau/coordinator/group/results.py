"""What an operation hands back to the runtime: records to write and replies to send.

Contract with the runtime (the asyncio layer that owns sockets and the log):

1. Call an operation; it returns a :class:`Result`.
2. If ``records`` is non-empty, append them, in order, to ``__consumer_offsets`` (each names
   its partition). Then either
   * the append succeeded: pass every record to ``replay`` (in order), then send ``replies``;
   * the append failed: send ``replies_if_write_fails`` instead, and replay nothing.
   With no records, send ``replies``.
3. After every call (operation, ``replay``, ``tick``), ask ``next_deadline`` when to call
   ``tick`` next. ``replay`` may settle requests that were parked while a write was in
   flight; their replies come out of the next ``tick``, and ``next_deadline`` says "now".

Each list is complete on its own: a reply that does not depend on the write (say, a parked
JoinGroup answered because a rebalance finished) is in both. A token is answered at most once
across all results.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import field
from typing import Any

from moldau.util.datatype import datatype

Token = Hashable  # opaque, given by the runtime with each request; echoed with its reply


@datatype(frozen=True, slots=True)
class CoordinatorRecord:
    """One record of ``__consumer_offsets``: key and value in Kafka's layout (see ``records``).

    A record with a producer id belongs to that producer's open transaction: the runtime
    writes it in a transactional batch carrying the producer id and epoch, and hands it back
    to ``replay`` with them (when loading, from the batch header). Such a record takes effect
    only when the transaction's COMMIT marker is replayed, and never if it aborts.
    """

    partition: int  # the __consumer_offsets partition
    key: bytes
    value: bytes | None  # None = tombstone
    producer_id: int = -1  # -1: not transactional
    producer_epoch: int = -1

    @property
    def is_transactional(self) -> bool:
        return self.producer_id >= 0


@datatype
class Result:
    records: list[CoordinatorRecord] = field(default_factory=list)
    replies: list[tuple[Token, Any]] = field(default_factory=list)
    replies_if_write_fails: list[tuple[Token, Any]] = field(default_factory=list)


class Effects:
    """Collects what one operation produces, in order; :meth:`result` freezes it."""

    __slots__ = ("_failed", "_records", "_replies")

    def __init__(self) -> None:
        self._records: list[CoordinatorRecord] = []
        self._replies: list[tuple[Token, Any]] = []
        self._failed: list[tuple[Token, Any]] = []

    def write(self, record: CoordinatorRecord) -> None:
        self._records.append(record)

    def reply(self, token: Token, response: Any) -> None:
        """A reply that stands whether or not this operation's records are written."""
        self._replies.append((token, response))
        self._failed.append((token, response))

    def reply_after_write(self, token: Token, response: Any, if_write_fails: Any) -> None:
        """A reply that holds only once the records are durable; ``if_write_fails`` otherwise."""
        self._replies.append((token, response))
        self._failed.append((token, if_write_fails))

    @property
    def has_records(self) -> bool:
        return bool(self._records)

    def result(self) -> Result:
        return Result(list(self._records), list(self._replies), list(self._failed))
