"""Walking a segment's batches to bring its indexes and what it knows about them up to date.

``LogSegment``'s methods of the same names call these functions:

* ``recover``: check the batches after a crash (recovery.py decides which segments need it),
  cut off the bad tail and rewrite the indexes;
* ``rebuild_indexes``: rewrite indexes that are missing or inconsistent (a segment does this
  itself when it finds them so on first use);
* ``load_tail``: after a clean start, read only the batches past the last offset-index entry;
* ``truncate_to``: cut off the newest batches and re-derive the max timestamp.

The first two collect the index entries that appending the batches would have written
(``_IndexBuilder``, same interval rule as ``LogSegment.append``), then write each index in
one go.

``recover`` checks each batch up to the end of the file: the header parses, the batch fits
in the file and in ``max_message_bytes``, the CRC matches, offsets only grow and stay within
reach of the base offset. Everything from the first bad batch on is cut off and the indexes
are rebuilt from the valid batches.

Without a recovery point (or when it is not past the segment's base offset) the check starts
at the beginning of the file. Otherwise it starts at the batch of the last offset-index entry
below the recovery point: everything before that batch, and the index entries describing it,
was flushed before the recovery point was recorded, so those entries are kept (after checking
that they are in order and that the entry's batch is where it says) and only the index tails
are rewritten. The work is then the bytes written since the recovery point plus at most
``index.interval.bytes`` and one batch, not the size of the segment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from moldau.protocol.records.batch import BatchHeader, crc_ok
from moldau.storage.batch_reader import InvalidBatch, read_header
from moldau.storage.index import INT32_MAX

if TYPE_CHECKING:  # segment.py calls these functions
    from moldau.storage.segment import LogSegment


class RecoveryResult(NamedTuple):
    valid_bytes: int
    truncated_bytes: int
    next_offset: int | None  # None when no valid batch remains
    reason: str | None  # why the walk stopped early, None when the whole file was valid
    checked_from: int = 0  # the position the check started at


def recover(segment: LogSegment, max_message_bytes: int, recovery_point: int | None = None) -> RecoveryResult:
    """Check the batches of ``segment`` up to the end of its file, from the start or, given a
    ``recovery_point`` past its base offset, from the batch of the last offset-index entry
    below it (see the module docstring); cut off everything from the first bad batch and
    rewrite the indexes."""
    file_size = segment.fs.size(segment.file.descriptor())
    builder = _IndexBuilder(segment)
    start = 0
    if recovery_point is not None and recovery_point > segment.base_offset:
        start = _resume_from_indexes(segment, builder, recovery_point, file_size)
    next_offset, reason = _check_batches(segment, builder, start, file_size, max_message_bytes)
    if start > 0 and builder.valid_bytes == start:
        # Even the batch the index vouched for is bad: the offset it follows is unknown
        # without the batches before it, so check the whole segment after all.
        builder, start = _IndexBuilder(segment), 0
        next_offset, reason = _check_batches(segment, builder, 0, file_size, max_message_bytes)
    if file_size > builder.valid_bytes:
        segment.truncate_file(builder.valid_bytes)
    builder.install()
    segment.offset_limit = segment.base_offset if next_offset is None else next_offset
    valid = builder.valid_bytes
    return RecoveryResult(valid, file_size - valid, next_offset, reason, start)


def load_tail(segment: LogSegment) -> int | None:
    """Walk the batches after the last offset-index entry: returns the next offset of the
    segment (None if it is empty) and completes the max timestamp from the batches the time
    index has not seen. Reads only the segment's tail."""
    segment.ensure_indexes()
    max_ts, offset_of_max = segment.max_timestamp_and_offset()
    position = segment.offset_index.last_entry()[1]
    next_offset = None
    for _, h, _ in segment.walk(position):
        next_offset = h.next_offset
        if h.max_timestamp > max_ts:
            max_ts, offset_of_max = h.max_timestamp, h.last_offset
    segment.set_max_timestamp(max_ts, offset_of_max, indexed=segment.time_index.last_entry()[0] == max_ts)
    segment.set_bytes_since_last_index_entry(segment.size - position)
    segment.offset_limit = segment.base_offset if next_offset is None else next_offset
    return next_offset


def truncate_to(segment: LogSegment, offset: int) -> int:
    """Remove every batch whose last offset is >= ``offset``; returns the bytes removed."""
    found = segment.translate_offset(offset)
    if found is None:
        return 0
    position = found[0]
    removed = segment.size - position
    segment.offset_index.truncate_to(offset)
    segment.time_index.truncate_to(offset)
    segment.truncate_file(position)
    segment.size = position
    segment.offset_limit = offset
    segment.broken = False  # whatever a failed append left is gone too
    segment.set_bytes_since_last_index_entry(0)
    if position == 0:
        segment.rolling_base_ms = None
    _recompute_max_timestamp(segment)
    return removed


def _recompute_max_timestamp(segment: LogSegment) -> None:
    ts, offset = segment.time_index.last_entry()
    max_ts, offset_of_max = (ts, offset) if ts >= 0 else (-1, -1)
    start = segment.offset_index.lookup(offset)[1] if ts >= 0 else 0
    for _, h, _ in segment.walk(start):
        if h.max_timestamp > max_ts:
            max_ts, offset_of_max = h.max_timestamp, h.last_offset
    segment.set_max_timestamp(max_ts, offset_of_max, indexed=segment.time_index.last_entry()[0] == max_ts)


def rebuild_indexes(segment: LogSegment) -> None:
    """Rebuild both indexes of ``segment`` from the batch headers (no CRC check, no
    truncation)."""
    builder = _IndexBuilder(segment)
    for pos, h, _ in segment.walk(0):
        builder.add(pos, h)
    builder.install()


def _check_batches(
    segment: LogSegment, builder: _IndexBuilder, start: int, end: int, max_message_bytes: int
) -> tuple[int | None, str | None]:
    """Feed ``builder`` the valid batches from ``start``; returns the next offset after the
    last valid one (None when there is none) and why the walk stopped before ``end``."""
    next_offset: int | None = None
    reason = None
    try:
        for pos, h, data in segment.walk(start, end, with_data=True, max_batch_bytes=max_message_bytes):
            assert data is not None
            if not crc_ok(data, 0, h):
                raise InvalidBatch(pos, "CRC mismatch")
            if h.base_offset < (segment.base_offset if next_offset is None else next_offset):
                raise InvalidBatch(pos, f"base offset {h.base_offset} goes backwards")
            if h.last_offset - segment.base_offset > INT32_MAX:
                raise InvalidBatch(pos, f"offset {h.last_offset} is out of reach of the segment base")
            builder.add(pos, h)
            next_offset = h.next_offset
    except InvalidBatch as e:
        reason = e.reason
    return next_offset, reason


def _resume_from_indexes(
    segment: LogSegment, builder: _IndexBuilder, recovery_point: int, file_size: int
) -> int:
    """Seed ``builder`` with the index entries below ``recovery_point`` and return the
    position to check from; 0 (check everything) when the files do not vouch for a later
    start."""
    entries = segment.offset_index.valid_prefix_on_disk(recovery_point, file_size)
    if not entries:
        return 0
    offset, position = entries[-1]
    try:
        h = read_header(segment.fs, segment.file.descriptor(), position)
    except InvalidBatch:
        return 0
    if h.last_offset != offset:
        return 0
    times = segment.time_index.valid_prefix_on_disk(offset)
    # The running maximum recorded with the entry covers the entry's own batch.
    if (times[-1][0] if times else -1) < h.max_timestamp:
        return 0
    builder.resume(position, entries, times)
    return position


class _IndexBuilder:
    """Collects the index entries that appending the walked batches would have written (same
    interval rule as ``LogSegment.append``), then installs them in one write per index.

    After ``resume`` the builder continues from entries already in the files: it starts at
    the batch of the last kept offset-index entry (which gets no new entry, as right after it
    was indexed) with the running maximum timestamp of the last kept time-index entry, and
    ``install`` writes only the entries after the kept ones."""

    def __init__(self, segment: LogSegment) -> None:
        self.segment = segment
        self.index: list[tuple[int, int]] = []
        self.times: list[tuple[int, int]] = []
        self.kept_index = 0  # entries already in the files (after ``resume``)
        self.kept_times = 0
        self.max_ts = -1
        self.offset_of_max = -1
        self.since = 0
        self.valid_bytes = 0

    def resume(self, position: int, index: list[tuple[int, int]], times: list[tuple[int, int]]) -> None:
        self.index, self.times = list(index), list(times)
        self.kept_index, self.kept_times = len(index), len(times)
        if times:
            self.max_ts, self.offset_of_max = times[-1]
        self.since = 0
        self.valid_bytes = position

    def add(self, position: int, h: BatchHeader) -> None:
        if h.max_timestamp > self.max_ts:
            self.max_ts, self.offset_of_max = h.max_timestamp, h.last_offset
        seg = self.segment
        if self.since > seg.index_interval_bytes and len(self.index) < seg.offset_index.max_entries:
            self.index.append((h.last_offset, position))
            self._time_entry()
            self.since = 0
        self.since += h.size
        self.valid_bytes = position + h.size

    def _time_entry(self) -> None:
        if self.max_ts >= 0 and (not self.times or self.max_ts > self.times[-1][0]):
            self.times.append((self.max_ts, self.offset_of_max))

    def install(self) -> None:
        """Write the indexes (with the final max timestamp) and the segment's derived state."""
        self._time_entry()
        seg = self.segment
        seg.size = self.valid_bytes
        if self.kept_index:
            seg.offset_index.replace_tail(self.kept_index, self.index[self.kept_index :])
            seg.time_index.replace_tail(self.kept_times, self.times[self.kept_times :])
        else:
            seg.offset_index.replace(self.index)
            seg.time_index.replace(self.times)
        seg.set_max_timestamp(self.max_ts, self.offset_of_max, indexed=True)  # by ``_time_entry`` above
        seg.set_bytes_since_last_index_entry(self.since)
