"""Recovery after a crash, with damage at random points written after the recovery point.

Each example writes a log of several segments (random batch sizes, segment size and index
interval), flushes it at a random point (the recovery point), writes on, stops without
closing anything, damages what was written after the recovery point, and opens the log as
an unclean start-up does. Then:

* the log ends at the first invalid batch: its log end offset is that batch's base offset,
  its segment file ends where the batch began, and later segments are gone;
* every batch before it reads back byte for byte as written;
* the index files are consistent: every offset-index entry points at a batch boundary whose
  batch ends at the entry's offset, every time-index entry names the last offset of a batch
  carrying its timestamp, timestamps strictly increase, and the last one is the segment's
  largest;
* the cut is logged at WARNING, naming the file and the position;
* appends continue at the log end offset.

The damage takes four forms: bits flipped in a run of bytes starting at a byte the batch
check covers, a file torn inside a batch, and garbage or zeros after the last batch (a crash
that extended the file but not its data). Flips of the base offset (bytes 0-7) or the
partition leader epoch (bytes 12-15) are left out: a v2 batch's CRC does not cover them, and
no check can tell a flipped epoch from a real one (Kafka's recovery cannot either).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moldau.protocol.records.batch import BatchHeader, iter_headers
from moldau.storage.config import LogConfig
from moldau.storage.index import OFFSET_ENTRY, TIME_ENTRY
from moldau.storage.log import PartitionLog
from moldau.util.clock import ManualClock
from moldau.util.fs import FileSystem

from .helpers import START_MS, TOPIC_ID, append, make_batch


class NoSync(FileSystem):
    """The crash is simulated by not closing; fsync would only cost time."""

    def fsync(self, fd: int) -> None:
        pass

    def fsync_dir(self, path: str) -> None:
        pass


FS = NoSync()


@dataclass(frozen=True)
class Written:
    """A batch as it lies on disk before the damage."""

    segment: str  # the .log file
    position: int
    header: BatchHeader
    data: bytes


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


batches = st.lists(
    st.tuples(st.integers(1, 4), st.integers(0, 100), st.integers(-5, 30)), min_size=6, max_size=50
)
damage = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("tear"), st.floats(0, 1, exclude_max=True), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("garbage"), st.just(0.0), st.just(0.0), st.integers(1, 300)),
    st.tuples(st.just("zeros"), st.just(0.0), st.just(0.0), st.integers(1, 300)),
)


def on_disk(directory: str) -> list[Written]:
    out = []
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".log")):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        for pos, h in iter_headers(data):
            out.append(Written(name, pos, h, data[pos : pos + h.size]))
    return out


def apply_damage(
    directory: str,
    written: list[Written],
    recovery_point: int,
    kind: str,
    where: float,
    within: float,
    size: int,
    noise: bytes,
) -> Written | None:
    """Damage the log; returns the first batch the damage invalidates (None when only bytes
    after the last batch were touched)."""
    after = [w for w in written if w.header.base_offset >= recovery_point]
    if kind in ("flip", "tear") and after:
        victim = after[int(where * len(after))]
        path = os.path.join(directory, victim.segment)
        with open(path, "r+b") as f:
            if kind == "tear":
                f.truncate(victim.position + 1 + int(within * (victim.header.size - 2)))
                return victim
            checked = [*range(8, 12), *range(16, victim.header.size)]
            start = victim.position + checked[int(within * (len(checked) - 1))]
            f.seek(start)
            run = f.read(size)
            f.seek(start)
            f.write(bytes(b ^ 0xFF for b in run))
        return victim
    last = os.path.join(directory, written[-1].segment)
    with open(last, "ab") as f:
        f.write(bytes(size) if kind == "zeros" else (noise * size)[:size])
    return None


def check_indexes(plog: PartitionLog, *, active_finalized: bool) -> None:
    """The index files on disk agree with the batches of their segment. The last time-index
    entry holds the segment's largest timestamp once the segment is finalized (rolled, or
    rebuilt by recovery); the active segment's latest batches get theirs when it rolls."""
    for segment in plog.segments:
        with open(segment.log_path, "rb") as f:
            batches = {pos: h for pos, h in iter_headers(f.read())}
        by_last_offset = {h.last_offset: h for h in batches.values()}
        with open(segment.offset_index.path, "rb") as f:
            entries = [(segment.base_offset + r, p) for r, p in OFFSET_ENTRY.iter_unpack(f.read())]
        assert [o for o, _ in entries] == sorted({o for o, _ in entries})
        for offset, position in entries:
            assert position in batches, f"{segment.offset_index.path}: {position} is not a batch boundary"
            assert batches[position].last_offset == offset
        with open(segment.time_index.path, "rb") as f:
            times = [(t, segment.base_offset + r) for t, r in TIME_ENTRY.iter_unpack(f.read())]
        assert [t for t, _ in times] == sorted({t for t, _ in times})
        for timestamp, offset in times:
            assert offset in by_last_offset and by_last_offset[offset].max_timestamp == timestamp
        largest = max((h.max_timestamp for h in batches.values()), default=-1)
        if largest >= 0 and (active_finalized or segment is not plog.segments.active):
            assert times and times[-1][0] == largest


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=batches,
    segment_bytes=st.integers(600, 2000),
    index_interval=st.integers(0, 400),
    flush_at=st.floats(0, 1),
    harm=damage,
    noise=st.binary(min_size=1, max_size=64),
)
def test_recovery_cuts_at_the_first_invalid_batch_and_keeps_everything_before(
    plan: list[tuple[int, int, int]],
    segment_bytes: int,
    index_interval: int,
    flush_at: float,
    harm: tuple[str, float, float, int],
    noise: bytes,
) -> None:
    config = LogConfig(segment_bytes=segment_bytes, index_interval_bytes=index_interval)
    clock = ManualClock(START_MS)
    with tempfile.TemporaryDirectory() as root:
        plog = PartitionLog.create(FS, root, "orders", 0, TOPIC_ID, config, clock)
        flush_after = int(flush_at * len(plan))
        for i, (records, value_size, ts_step) in enumerate(plan):
            if i == flush_after:
                plog.flush()
            append(plog, make_batch(records, ts=START_MS + 50 * i, value=b"v" * value_size, ts_step=ts_step))
        recovery_point = plog.recovery_point
        for segment in plog.segments:  # the process dies: descriptors go, nothing is closed
            segment.release()
        written = on_disk(plog.dir)

        kind, where, within, size = harm
        first_bad = apply_damage(plog.dir, written, recovery_point, kind, where, within, size, noise)
        handler = Records()
        logger = logging.getLogger("moldau.storage")
        logger.addHandler(handler)
        try:
            again = PartitionLog.open(
                FS, root, "orders", 0, config, clock, topic_id=TOPIC_ID, recovery_point=recovery_point
            )
        finally:
            logger.removeHandler(handler)

        kept = written if first_bad is None else written[: written.index(first_bad)]
        end = kept[-1].header.next_offset if kept else 0
        if first_bad is not None and first_bad.position == 0:
            end = first_bad.header.base_offset  # an emptied segment still starts at its base
        assert again.log_end_offset == end
        assert again.recovery_point <= end
        assert on_disk(again.dir) == kept
        if first_bad is not None:
            segments = sorted(n for n in os.listdir(again.dir) if n.endswith(".log"))
            assert segments[-1] == first_bad.segment
            assert os.path.getsize(os.path.join(again.dir, first_bad.segment)) == first_bad.position
        cut = first_bad or written[-1]
        where_cut = cut.position if first_bad else cut.position + cut.header.size
        assert any(
            "Truncating" in m and cut.segment in m and f"position {where_cut}" in m for m in handler.messages
        ), handler.messages
        check_indexes(again, active_finalized=True)

        offset = again.log_start_offset
        while offset < end:  # everything before the cut reads back as written
            data = again.read(offset, 1 << 20).data
            assert data
            for pos, h in iter_headers(data):
                expected = next(w for w in kept if w.header.base_offset == h.base_offset)
                assert data[pos : pos + h.size] == expected.data
                offset = h.next_offset
        info = append(again, make_batch(2, ts=START_MS + 100_000))
        assert info.first_offset == end
        assert again.read(end, 1 << 20).data[:8] == end.to_bytes(8, "big")
        check_indexes(again, active_finalized=False)
        again.close()
