"""The ordered segments of one partition log.

A ``LogSegments`` keeps the segments sorted by base offset, in a list searched with ``bisect``,
and answers the one question the log asks most: which segment holds offset ``n`` (the one
with the largest base offset <= ``n``). The last segment is the active one. It does no I/O of
its own; it is owned by a ``PartitionLog``.

Once ``use_files`` gave it the log manager's open-file cache, every segment it holds, and
every segment added later (a roll, a swap), borrows its descriptors from that cache.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from moldau.storage.open_files import OpenFiles
from moldau.storage.segment import LogSegment


class LogSegments:
    def __init__(self) -> None:
        self._bases: list[int] = []
        self._segments: list[LogSegment] = []
        self.files: OpenFiles | None = None

    def use_files(self, files: OpenFiles | None) -> None:
        """Make every segment, now and later, borrow descriptors from ``files``."""
        self.files = files
        for segment in self._segments:
            segment.use_files(files)

    def __len__(self) -> int:
        return len(self._segments)

    def __iter__(self) -> Iterator[LogSegment]:
        return iter(list(self._segments))

    def __bool__(self) -> bool:
        return bool(self._segments)

    @property
    def first(self) -> LogSegment:
        return self._segments[0]

    @property
    def active(self) -> LogSegment:
        return self._segments[-1]

    def add(self, segment: LogSegment) -> None:
        """Insert ``segment``; a segment with the same base offset is an error."""
        i = bisect.bisect_left(self._bases, segment.base_offset)
        if i < len(self._bases) and self._bases[i] == segment.base_offset:
            raise ValueError(f"a segment with base offset {segment.base_offset} already exists")
        self._bases.insert(i, segment.base_offset)
        self._segments.insert(i, segment)
        if self.files is not None:
            segment.use_files(self.files)

    def remove(self, segment: LogSegment) -> None:
        i = bisect.bisect_left(self._bases, segment.base_offset)
        if i == len(self._bases) or self._segments[i] is not segment:
            raise ValueError(f"{segment!r} is not in this log")
        del self._bases[i]
        del self._segments[i]

    def floor(self, offset: int) -> LogSegment | None:
        """The segment with the largest base offset <= ``offset``."""
        i = bisect.bisect_right(self._bases, offset)
        return self._segments[i - 1] if i else None

    def following(self, segment: LogSegment) -> LogSegment | None:
        """The segment right after ``segment``."""
        i = bisect.bisect_right(self._bases, segment.base_offset)
        return self._segments[i] if i < len(self._segments) else None

    def from_offset(self, offset: int) -> list[LogSegment]:
        """The segment holding ``offset`` (or the first one, when ``offset`` is before it) and
        every later segment."""
        i = max(bisect.bisect_right(self._bases, offset) - 1, 0)
        return self._segments[i:]

    def entirely_below(self, offset: int) -> list[LogSegment]:
        """Segments that hold only offsets < ``offset`` (the next segment starts at or before
        it). The active segment is never included."""
        end = bisect.bisect_right(self._bases, offset) - 1
        return self._segments[: max(end, 0)]

    def at_or_above(self, offset: int) -> list[LogSegment]:
        """Segments whose base offset is >= ``offset``."""
        return self._segments[bisect.bisect_left(self._bases, offset) :]

    def size_in_bytes(self) -> int:
        return sum(s.size for s in self._segments)
