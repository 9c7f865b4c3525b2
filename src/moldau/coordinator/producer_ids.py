"""Producer id allocation: ids are never handed out twice, also across restarts.

Ids are reserved in blocks; the end of the reserved block is persisted (in the metadata image)
before any id of the block is used. After a restart allocation resumes at the persisted end, so
the unused rest of a block is skipped rather than risked.
"""

from __future__ import annotations

from collections.abc import Callable

BLOCK_SIZE = 1000


class ProducerIdAllocator:
    def __init__(self, block_end: int, persist: Callable[[int], None]) -> None:
        """``block_end``: the persisted end of the last reserved block; ``persist(end)`` durably
        records a new end before it is used."""
        self._next = block_end
        self._end = block_end
        self._persist = persist

    def allocate(self) -> int:
        if self._next >= self._end:
            new_end = self._end + BLOCK_SIZE
            self._persist(new_end)
            self._end = new_end
        pid = self._next
        self._next += 1
        return pid
