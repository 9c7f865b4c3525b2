"""Deadlines by key, as Kafka's coordinator timer keeps them.

Each deadline has a key (a member's session, a group's join phase, its pending SyncGroups,
the periodic offsets-retention sweep). Scheduling a key again moves its deadline; cancelling
forgets it. The timer never calls anything: ``tick`` asks for the keys that are due and
dispatches on them, so every expiry runs as a plain synchronous step with a known clock
reading. A handler that finds its group or member gone does nothing, like Kafka's.
"""

from __future__ import annotations

import enum
import heapq
import itertools

from moldau.util.datatype import datatype


class TimerKind(enum.Enum):
    HEARTBEAT = "heartbeat"  # a member's (or a pending member's) session
    JOIN = "join"  # the join phase of a rebalance (initial delay or rebalance timeout)
    SYNC = "sync"  # the SyncGroups expected after a join phase
    OFFSETS_EXPIRY = "offsets-expiry"  # the periodic retention sweep


@datatype(frozen=True, slots=True)
class TimerKey:
    kind: TimerKind
    group_id: str = ""
    member_id: str = ""


def heartbeat_key(group_id: str, member_id: str) -> TimerKey:
    return TimerKey(TimerKind.HEARTBEAT, group_id, member_id)


def join_key(group_id: str) -> TimerKey:
    return TimerKey(TimerKind.JOIN, group_id)


def sync_key(group_id: str) -> TimerKey:
    return TimerKey(TimerKind.SYNC, group_id)


OFFSETS_EXPIRY_KEY = TimerKey(TimerKind.OFFSETS_EXPIRY)


class Timer:
    """A min-heap of deadlines with lazy removal of moved and cancelled entries."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._live: dict[TimerKey, tuple[int, int]] = {}  # key -> (deadline, sequence)
        self._heap: list[tuple[int, int, TimerKey]] = []
        self._seq = itertools.count()

    def schedule(self, key: TimerKey, deadline: int) -> None:
        seq = next(self._seq)
        self._live[key] = (deadline, seq)
        heapq.heappush(self._heap, (deadline, seq, key))
        if len(self._heap) > 2 * len(self._live) + 64:
            # Moved deadlines (every heartbeat moves one) leave stale entries behind: rebuild.
            self._heap = [(d, s, k) for k, (d, s) in self._live.items()]
            heapq.heapify(self._heap)

    def cancel(self, key: TimerKey) -> None:
        self._live.pop(key, None)

    def deadline(self, key: TimerKey) -> int | None:
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            deadline, seq, key = heap[0]
            if self._live.get(key) == (deadline, seq):
                return
            heapq.heappop(heap)

    def next_deadline(self) -> int | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> TimerKey | None:
        """The key with the earliest deadline at or before ``now``, removed; None if none is due."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, key = heapq.heappop(self._heap)
        del self._live[key]
        return key
