"""Property test of compaction: random streams of keys, values and tombstones, appended in
random batches (some compressed, some from an idempotent producer), interleaved with rolls,
cleanings and the clock moving on.

After every cleaning: offsets strictly increase, every record read is the one written at its
offset, the log start, high watermark and log end are unchanged, and the last record of each
key is its latest write (a key whose latest write is a tombstone may be gone altogether).
At the end, once everything is cleanable and cleaned: exactly one record per live key holding
its latest value; and after ``delete.retention.ms`` and one more cleaning, no tombstone."""

from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moldau.protocol.records.compression import Compression
from moldau.storage.cleaner import CleanerConfig, InlineExecutor, LogCleaner
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.offset_map import ENTRY_BYTES
from moldau.util.clock import ManualClock
from moldau.util.fs import FileSystem

from .helpers import START_MS, TOPIC_ID, append, keyed_batch, read_all

DELETE_RETENTION_MS = 10_000
CONFIG = LogConfig(
    cleanup_policy="compact",
    segment_bytes=1024,
    index_interval_bytes=128,
    min_cleanable_dirty_ratio=0.0,
    delete_retention_ms=DELETE_RETENTION_MS,
)

keys = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"])
values = st.one_of(st.none(), st.binary(min_size=0, max_size=30))
codecs = st.sampled_from(
    [Compression.NONE, Compression.NONE, Compression.GZIP, Compression.ZSTD, Compression.LZ4]
)
put_op = st.tuples(
    st.just("put"), st.lists(st.tuples(keys, values), min_size=1, max_size=6), codecs, st.booleans()
)
ops = st.lists(
    st.one_of(
        put_op,
        put_op,
        put_op,
        st.tuples(st.just("roll")),
        st.tuples(st.just("clean")),
        st.tuples(st.just("wait"), st.integers(0, 2 * DELETE_RETENTION_MS)),
    ),
    max_size=40,
)

Key = bytes
Value = bytes | None


class NoSync(FileSystem):
    """fsync costs milliseconds here and proves nothing about compaction."""

    def fsync(self, fd: int) -> None:
        pass

    def fsync_dir(self, path: str) -> None:
        pass


FS = NoSync()


class Model:
    def __init__(self, plog: PartitionLog, cleaner: LogCleaner, clock: ManualClock) -> None:
        self.plog, self.cleaner, self.clock = plog, cleaner, clock
        self.written: dict[int, tuple[Key, Value]] = {}
        self.latest: dict[Key, Value] = {}
        self.sequence = 0

    def put(self, pairs: list[tuple[Key, Value]], codec: int, idempotent: bool) -> None:
        producer = (
            {"producer_id": 42, "producer_epoch": 0, "base_sequence": self.sequence} if idempotent else {}
        )
        info = append(self.plog, keyed_batch(pairs, ts=self.clock.time_ms(), compression=codec, **producer))
        if idempotent:
            self.sequence += len(pairs)
        for offset, (key, value) in enumerate(pairs, start=info.first_offset):
            self.written[offset] = (key, value)
            self.latest[key] = value

    def clean(self) -> None:
        plog = self.plog
        positions = (plog.log_start_offset, plog.high_watermark, plog.log_end_offset)
        self.cleaner.run(self.clock.time_ms())
        assert (plog.log_start_offset, plog.high_watermark, plog.log_end_offset) == positions
        self.check()

    def clean_fully(self) -> None:
        """Clean until nothing cleanable is left (a small offset map takes several passes)."""
        for _ in range(200):
            if not self.cleaner.dirty_range(self.plog, self.clock.time_ms()).cleanable_bytes:
                return
            self.clean()
        raise AssertionError("cleaning makes no progress")

    def check(self) -> dict[Key, list[Value]]:
        records = read_all(self.plog)
        offsets = [r.offset for r in records]
        assert offsets == sorted(set(offsets)), "offsets must strictly increase"
        by_key: dict[Key, list[Value]] = {}
        for r in records:
            assert r.key is not None
            assert self.written[r.offset] == (r.key, r.value), f"offset {r.offset} changed"
            by_key.setdefault(r.key, []).append(r.value)
        for key, value in self.latest.items():
            if key in by_key:
                assert by_key[key][-1] == value, f"{key!r}: last record is not the latest write"
            else:
                assert value is None, f"live key {key!r} vanished"
        return by_key


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, map_entries=st.sampled_from([2, 5, 10_000]))
def test_cleaning_keeps_exactly_the_latest_value_of_each_key(ops, map_entries):
    with tempfile.TemporaryDirectory() as directory:
        clock = ManualClock(START_MS)
        plog = PartitionLog.create(FS, directory, "t", 0, TOPIC_ID, CONFIG, clock)
        config = CleanerConfig(dedupe_buffer_size=map_entries * ENTRY_BYTES, load_factor=1.0, backoff_ms=0)
        logs = {("t", 0): plog}
        cleaner = LogCleaner(FS, config, logs, {("t", 0): directory}, [directory], executor=InlineExecutor())
        model = Model(plog, cleaner, clock)
        for op in ops:
            if op[0] == "put":
                model.put(op[1], op[2], op[3])
            elif op[0] == "roll":
                plog.roll()
            elif op[0] == "clean":
                model.clean()
            else:
                clock.advance(op[1])

        plog.roll()
        model.clean_fully()
        by_key = model.check()
        assert all(len(v) == 1 for v in by_key.values()), "one record per key once all is cleaned"
        assert {k: v[0] for k, v in by_key.items() if v[0] is not None} == {
            k: v for k, v in model.latest.items() if v is not None
        }

        clock.advance(DELETE_RETENTION_MS)
        model.put([(b"fresh", b"x")], Compression.NONE, False)  # dirty data, so the log is chosen
        plog.roll()
        model.clean_fully()
        by_key = model.check()
        assert all(v == [model.latest[k]] for k, v in by_key.items())
        assert all(v[0] is not None for v in by_key.values()), "tombstones outlived delete.retention.ms"
        cleaner.shutdown()
