"""The cleaner's offset map: for each key of the dirty part of a log, its latest offset.

Kafka's ``SkimpyOffsetMap`` packs each entry into 24 bytes (an MD5 of the key and the
offset) in a fixed buffer of ``log.cleaner.dedupe.buffer.size`` bytes shared by the cleaner
threads. Here an entry is a 16-byte BLAKE2b digest of the key (as a Python int) mapped to the
offset in a plain ``dict``, which costs about ``ENTRY_BYTES`` (measured on CPython 3.11-3.13,
dict growth included). The map's capacity is the memory it is given divided by that cost,
times ``log.cleaner.io.buffer.load.factor`` (Kafka's name for how full the map may get), so
the memory bound holds; the price is about six times fewer keys per pass than Kafka for the
same buffer. A pass whose dirty part has more distinct keys than that cleans up to the last
offset it could map and leaves the rest for the next pass, as Kafka does.

Two different keys with the same 128-bit digest would make the older record of one look
superseded by the other; the odds are those of an MD5 collision in Kafka's map, negligible.
A key of at most ``SHORT_KEY`` bytes is its own entry instead (a ``bytes`` of up to 16 bytes
costs 49 bytes against the digest's 44, and no hashing): keys that are serialised numbers or
short identifiers, common in compacted topics, need no digest and cannot collide.

Used by one cleaning job on the cleaner's worker thread; not shared.
"""

from __future__ import annotations

import hashlib

ENTRY_BYTES = 160
"""Memory one entry costs, rounded up: the dict slot and index (~40 bytes at the worst fill),
the 128-bit int key (44, or a short key itself: at most 49) and the offset int (32), with
room for the dict's doubling."""


SHORT_KEY = 16


class OffsetMap:
    def __init__(self, memory_bytes: int, load_factor: float = 0.9) -> None:
        self.capacity = max(1, int(memory_bytes // ENTRY_BYTES * load_factor))
        self._offsets: dict[int | bytes, int] = {}
        self.latest_offset = -1  # the last offset mapped (or skipped as keyless / control)

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def full(self) -> bool:
        return len(self._offsets) >= self.capacity

    @staticmethod
    def entry(key: bytes) -> int | bytes:
        """The map's entry for ``key``: the key itself when short, else its digest."""
        if len(key) <= SHORT_KEY:
            return key
        return int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big")

    def put(self, key: bytes, offset: int) -> bool:
        """Record ``offset`` as the latest for ``key``. Returns False, recording nothing, when
        ``key`` is new and the map is full."""
        entry = self.entry(key)
        if entry not in self._offsets and self.full:
            return False
        self._offsets[entry] = offset
        self.latest_offset = max(self.latest_offset, offset)
        return True

    def get(self, key: bytes) -> int:
        """The latest offset of ``key``, -1 when the map does not know it."""
        return self._offsets.get(self.entry(key), -1)

    def update_latest_offset(self, offset: int) -> None:
        """Everything up to ``offset`` has been read (batches without keys, gaps)."""
        self.latest_offset = max(self.latest_offset, offset)
