"""Deleting segment files in two steps, as Kafka does.

A segment leaves its log at once but its files leave the disk later. First each file is
renamed with the ``.deleted`` suffix (``00000000000000001234.log.deleted`` ...), so that the
directory no longer lists it as a segment and a restart cannot mistake it for live data;
then, ``file.delete.delay.ms`` later, the renamed files are removed. A restart in between
finds only ``.deleted`` files, which recovery removes.

Retention, DeleteRecords and the cleaner (for the segments a cleaned one replaces) all go
through ``DelayedDeletions``. The log manager owns one for all its logs and removes what is
due from its periodic upkeep; a log created outside a manager owns its own. Reads never hold
a segment's file open across calls (every read is a ``pread`` returning a copy), so the delay
protects nothing in this process; it keeps Kafka's behaviour and gives an operator a window
to rescue files. Owned by the event loop; not safe to share between threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging

from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)


class DelayedDeletions:
    """Files already renamed to ``*.deleted``, each with the time it may be removed."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._due: list[tuple[int, int, tuple[str, ...]]] = []  # (due ms, sequence, paths)
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return sum(len(paths) for _, _, paths in self._due)

    def schedule(self, paths: list[str], now_ms: int, delay_ms: int) -> None:
        """Remove ``paths`` once ``delay_ms`` have passed (at once when it is 0)."""
        if not paths:
            return
        if delay_ms <= 0:
            self._remove(paths)
            return
        heapq.heappush(self._due, (now_ms + delay_ms, next(self._sequence), tuple(paths)))

    def remove_due(self, now_ms: int) -> int:
        """Remove every file whose delay has passed; returns how many. A file that is already
        gone (its log was deleted meanwhile) is not an error; any other failure is logged and
        the file left for the next start-up to remove."""
        removed = 0
        while self._due and self._due[0][0] <= now_ms:
            _, _, paths = heapq.heappop(self._due)
            removed += self._remove(paths)
        return removed

    def remove_all(self) -> int:
        """Remove every pending file now (shutdown: nothing reads them any more)."""
        paths = [p for _, _, group in self._due for p in group]
        self._due.clear()
        return self._remove(paths)

    def _remove(self, paths: list[str] | tuple[str, ...]) -> int:
        removed = 0
        for path in paths:
            try:
                self.fs.remove(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("Could not remove %s (start-up will): %s", path, e)
        return removed
