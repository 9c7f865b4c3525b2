"""Incremental fetch sessions (KIP-227), sans-IO.

A client that fetches many partitions opens a session with a full fetch (session id 0, epoch 0);
we answer with a session id. Later requests carry (id, epoch + 1) and list only partitions whose
fetch position changed, plus partitions to forget; responses list only partitions with news:
records, a changed high watermark, last stable offset or log start offset, or an error.

Request (session_id, epoch) table, as KIP-227 defines it:

    (0, -1)   full fetch, no session
    (0,  0)   full fetch, open a new session
    (id, 0)   close session id, open a new one with this full fetch
    (id, -1)  close session id; full fetch, no session
    (id, n)   incremental fetch in session id; n must be the session's next epoch

Unknown ids answer FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_FETCH_SESSION_EPOCH.

When the cache is full, a new session may take the place of the least recently used one only
if that one has been idle for ``min.incremental.fetch.session.eviction.ms`` (Kafka's default
120 s); otherwise the new client fetches without a session. So a crowd of short-lived clients
never evicts the session of a consumer that is still fetching (which would cost that consumer
a FETCH_SESSION_ID_NOT_FOUND, a back-off and a full fetch).
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.util.datatype import datatype

TopicPartition = tuple[str, int]

FINAL_EPOCH = -1
INITIAL_EPOCH = 0


@datatype(slots=True)
class SessionPartition:
    """What the client asked for one partition, and what it last heard from us about it."""

    topic: str
    partition: int
    topic_id: uuid.UUID
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1
    sent_high_watermark: int = -1
    sent_last_stable_offset: int = -1
    sent_log_start_offset: int = -1

    def needs_report(self, high_watermark: int, last_stable: int, log_start: int) -> bool:
        """True when these figures differ from those last sent; remembers them either way."""
        changed = (
            high_watermark != self.sent_high_watermark
            or last_stable != self.sent_last_stable_offset
            or log_start != self.sent_log_start_offset
        )
        self.sent_high_watermark = high_watermark
        self.sent_last_stable_offset = last_stable
        self.sent_log_start_offset = log_start
        return changed


@datatype(slots=True)
class FetchSession:
    session_id: int
    epoch: int  # the epoch the next request must carry
    partitions: OrderedDict[TopicPartition, SessionPartition]
    last_used: float = 0.0  # monotonic seconds


@datatype(slots=True)
class FetchContext:
    """The outcome of resolving a request against the cache."""

    session_id: int  # to put in the response (0 = no session)
    incremental: bool
    partitions: list[SessionPartition]  # in the order to read them


class FetchSessionCache:
    def __init__(
        self,
        max_sessions: int = 1000,
        eviction_ms: int = 120_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: OrderedDict[int, FetchSession] = OrderedDict()
        self._max = max_sessions
        self._eviction_s = eviction_ms / 1000.0
        self._monotonic = monotonic
        self._ids = itertools.count(random.randint(1, 1 << 20))

    def __len__(self) -> int:
        return len(self._sessions)

    def resolve(
        self,
        session_id: int,
        epoch: int,
        requested: list[SessionPartition],
        forgotten: list[TopicPartition],
    ) -> FetchContext:
        """Apply a request to the cache. Raises KafkaError with a session error code."""
        if session_id == 0:
            if epoch == FINAL_EPOCH:
                return FetchContext(0, False, requested)
            if epoch != INITIAL_EPOCH:
                raise KafkaError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, f"epoch {epoch} without a session")
            return self._open(requested)
        session = self._sessions.get(session_id)
        if session is None:
            raise KafkaError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, f"fetch session {session_id} not found")
        if epoch == FINAL_EPOCH:
            del self._sessions[session_id]
            return FetchContext(0, False, requested)
        if epoch == INITIAL_EPOCH:
            del self._sessions[session_id]
            return self._open(requested)
        if epoch != session.epoch:
            raise KafkaError(
                ErrorCode.INVALID_FETCH_SESSION_EPOCH,
                f"fetch session {session_id} expected epoch {session.epoch}, got {epoch}",
            )
        session.epoch = _next_epoch(epoch)
        session.last_used = self._monotonic()
        self._sessions.move_to_end(session_id)
        for key in forgotten:
            session.partitions.pop(key, None)
        for p in requested:
            key = (p.topic, p.partition)
            known = session.partitions.get(key)
            if known is None:
                session.partitions[key] = p
            else:
                known.fetch_offset = p.fetch_offset
                known.max_bytes = p.max_bytes
                known.current_leader_epoch = p.current_leader_epoch
        return FetchContext(session_id, True, list(session.partitions.values()))

    def _open(self, requested: list[SessionPartition]) -> FetchContext:
        if self._max <= 0:
            return FetchContext(0, False, requested)
        now = self._monotonic()
        if len(self._sessions) >= self._max:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_used < self._eviction_s:
                return FetchContext(0, False, requested)  # full of live sessions: no session
            self._sessions.popitem(last=False)
        sid = next(self._ids) & 0x7FFFFFFF or next(self._ids)
        parts: OrderedDict[TopicPartition, SessionPartition] = OrderedDict(
            ((p.topic, p.partition), p) for p in requested
        )
        self._sessions[sid] = FetchSession(sid, 1, parts, now)
        return FetchContext(sid, False, requested)

    def forget_topic(self, topic: str) -> None:
        """A deleted topic leaves every session."""
        for session in self._sessions.values():
            for key in [k for k in session.partitions if k[0] == topic]:
                del session.partitions[key]


def _next_epoch(epoch: int) -> int:
    return 1 if epoch >= 0x7FFFFFFF else epoch + 1
