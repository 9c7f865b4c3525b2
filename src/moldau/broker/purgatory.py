"""Delayed operations: fetches waiting for data.

A fetch that finds fewer than ``min_bytes`` parks here with the partitions it reads. Every
append calls ``notify(topic, partition, nbytes)``; a waiter whose partitions have received
enough new bytes is woken at once, otherwise its timer (``max_wait_ms``) wakes it. The woken
fetch then reads again, so a long poll answers as soon as data lands, not at ``max_wait``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

TopicPartition = tuple[str, int]


class _Waiter:
    __slots__ = ("future", "keys", "needed", "timer")

    def __init__(self, future: asyncio.Future[None], keys: list[TopicPartition], needed: int) -> None:
        self.future = future
        self.keys = keys
        self.needed = needed
        self.timer: asyncio.TimerHandle | None = None

    def wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class FetchPurgatory:
    def __init__(self) -> None:
        self._by_partition: dict[TopicPartition, set[_Waiter]] = {}

    async def wait(self, keys: Iterable[TopicPartition], needed_bytes: int, timeout_ms: int) -> None:
        """Return when ``needed_bytes`` more bytes were appended to ``keys``, or at the timeout."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), list(keys), max(1, needed_bytes))
        for key in waiter.keys:
            self._by_partition.setdefault(key, set()).add(waiter)
        waiter.timer = loop.call_later(max(0, timeout_ms) / 1000.0, waiter.wake)
        try:
            await waiter.future
        finally:
            waiter.timer.cancel()
            for key in waiter.keys:
                waiters = self._by_partition.get(key)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._by_partition[key]

    def notify(self, topic: str, partition: int, nbytes: int) -> None:
        waiters = self._by_partition.get((topic, partition))
        if not waiters:
            return
        for waiter in list(waiters):
            waiter.needed -= nbytes
            if waiter.needed <= 0:
                waiter.wake()

    def wake_all(self) -> None:
        for waiters in list(self._by_partition.values()):
            for waiter in list(waiters):
                waiter.wake()

    def __len__(self) -> int:
        return len({w for ws in self._by_partition.values() for w in ws})
