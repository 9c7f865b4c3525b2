"""Compaction of transactional data on a manual clock: aborted data goes, committed data is
compacted, markers stay while their transaction has data and go after their delete horizon,
open transactions are left alone; and a property test of what read_committed sees."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from moldau.protocol.records.batch import DELETE_HORIZON_BIT, BatchHeader, iter_headers
from moldau.protocol.records.control import ControlType, build_end_txn_marker, parse_control_key
from moldau.protocol.records.records import build_batch, decode_records
from moldau.storage.cleaner import CLEANER_OFFSET_CHECKPOINT, CleanerConfig, InlineExecutor, LogCleaner
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.txn_index import AbortedTxn
from moldau.util.clock import ManualClock
from moldau.util.fs import FileSystem

from .helpers import START_MS, TOPIC_ID, append

A, B = 1000, 2000  # producer ids
DAY = 86_400_000
COMPACT = LogConfig(
    cleanup_policy="compact",
    segment_bytes=4096,
    min_cleanable_dirty_ratio=0.0,
    delete_retention_ms=DAY,
)


class Producers:
    """Writes for several idempotent producers, keeping each one's next sequence."""

    def __init__(self, plog: PartitionLog) -> None:
        self.plog = plog
        self.sequences: dict[int, int] = {}

    def write(self, pid: int, *pairs: tuple[str, str | None], txn: bool = True) -> int:
        seq = self.sequences.get(pid, 0)
        self.sequences[pid] = seq + len(pairs)
        ts = self.plog.clock.time_ms()
        records = [(k.encode(), None if v is None else v.encode(), [], ts) for k, v in pairs]
        batch = build_batch(records, producer_id=pid, producer_epoch=0, base_sequence=seq, transactional=txn)
        return append(self.plog, batch).first_offset

    def end(self, pid: int, *, commit: bool) -> int:
        marker = build_end_txn_marker(
            ControlType.COMMIT if commit else ControlType.ABORT,
            producer_id=pid,
            producer_epoch=0,
            coordinator_epoch=0,
            timestamp=self.plog.clock.time_ms(),
        )
        return self.plog.append_control(marker, leader_epoch=0).first_offset


def plain(plog: PartitionLog, *pairs: tuple[str, str | None]) -> int:
    ts = plog.clock.time_ms()
    records = [(k.encode(), None if v is None else v.encode(), [], ts) for k, v in pairs]
    return append(plog, build_batch(records)).first_offset


def batches(plog: PartitionLog) -> list[tuple[BatchHeader, bytes]]:
    data = plog.read(plog.log_start_offset, 1 << 24).data
    return [(h, bytes(data[pos : pos + h.size])) for pos, h in iter_headers(data)]


def markers(plog: PartitionLog) -> list[tuple[int, int, str, bool]]:
    """``(offset, producer id, COMMIT/ABORT, has a delete horizon)`` of each marker left."""
    out = []
    for h, data in batches(plog):
        if h.is_control and h.records_count:
            (record,) = decode_records(data)
            kind = ControlType(parse_control_key(record.key)[1]).name
            out.append((h.base_offset, h.producer_id, kind, bool(h.attributes & DELETE_HORIZON_BIT)))
    return out


def visible(plog: PartitionLog) -> list[tuple[int, str, str | None]]:
    """What a read_committed consumer reading from the log start gets, by the consumer's rules:
    the aborted transactions of the response say from which offset a producer's transactional
    batches are dropped, up to its ABORT marker."""
    out: list[tuple[int, str, str | None]] = []
    offset = plog.log_start_offset
    while offset < plog.last_stable_offset:
        fetched, aborted = plog.read_committed(offset, 1 << 24)
        if not fetched.data:
            break
        pending = sorted(aborted, key=lambda t: t[1])
        skipping: set[int] = set()
        for pos, h in iter_headers(fetched.data):
            while pending and pending[0][1] <= h.last_offset:
                skipping.add(pending.pop(0)[0])
            records = decode_records(memoryview(fetched.data)[pos : pos + h.size]) if h.records_count else []
            if h.is_control:
                if records and parse_control_key(records[0].key)[1] == ControlType.ABORT:
                    skipping.discard(h.producer_id)
            elif not (h.is_transactional and h.producer_id in skipping):
                out += [
                    (r.offset, (r.key or b"").decode(), None if r.value is None else r.value.decode())
                    for r in records
                    if r.offset >= offset
                ]
            offset = h.next_offset
    return out


def latest(plog: PartitionLog) -> dict[str, str | None]:
    return {k: v for _, k, v in visible(plog)}


@pytest.fixture
def cleaner_for(fs, tmp_path) -> Callable[..., LogCleaner]:
    def make(plog: PartitionLog, **config: Any) -> LogCleaner:
        tp = (plog.topic, plog.partition)
        return LogCleaner(
            fs,
            CleanerConfig(**config),
            {tp: plog},
            {tp: str(tmp_path)},
            [str(tmp_path)],
            executor=InlineExecutor(),
        )

    return make


def test_aborted_records_go_and_never_hide_older_committed_ones(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    p = Producers(plog)
    plain(plog, ("a", "0"), ("b", "0"))  # 0-1
    p.write(A, ("a", "aborted"), ("c", "aborted"))  # 2-3
    p.end(A, commit=False)  # 4
    p.write(A, ("d", "1"))  # 5: A's next transaction
    p.end(A, commit=True)  # 6
    plog.roll()
    plain(plog, ("x", "1"))
    plog.roll()
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 2, 4, 5)]

    assert cleaner_for(plog).run(clock.time_ms()) == 1
    assert latest(plog) == {"a": "0", "b": "0", "d": "1", "x": "1"}
    offsets = [h.base_offset for h, _ in batches(plog)]
    assert 2 not in offsets  # the aborted batch is gone, not emptied
    # the ABORT marker stays: this cleaning still found its data
    assert (4, A, "ABORT", False) in markers(plog)
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 2, 4, 5)]


def test_committed_transactional_records_are_compacted_like_any_other(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    p = Producers(plog)
    p.write(A, ("a", "1"), ("b", "1"))  # 0-1
    p.end(A, commit=True)  # 2
    plain(plog, ("a", "2"))  # 3
    p.write(B, ("b", "2"))  # 4
    p.end(B, commit=True)  # 5
    plog.roll()
    plain(plog, ("z", "z"))
    plog.roll()
    cleaner_for(plog).run(clock.time_ms())
    assert latest(plog) == {"a": "2", "b": "2", "z": "z"}
    records = [(r.offset, r.key) for h, d in batches(plog) if not h.is_control for r in decode_records(d)]
    assert records == [(3, b"a"), (4, b"b"), (6, b"z")]
    # both commits keep their markers: A's emptied batch (its last) and B's batch remain
    assert [(o, pid, kind) for o, pid, kind, _ in markers(plog)] == [(2, A, "COMMIT"), (5, B, "COMMIT")]


def test_markers_stay_while_their_data_does_and_go_after_the_delete_horizon(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    p = Producers(plog)
    p.write(A, ("a", "aborted"))  # 0
    p.end(A, commit=False)  # 1
    p.write(A, ("b", "1"))  # 2
    p.end(A, commit=True)  # 3
    p.write(A, ("b", "2"))  # 4
    p.end(A, commit=True)  # 5
    plog.roll()
    cleaner = cleaner_for(plog, backoff_ms=0)

    cleaner.run(clock.time_ms())  # removes the aborted data and b=1; the markers saw data
    assert latest(plog) == {"b": "2"}
    assert markers(plog) == [(1, A, "ABORT", False), (3, A, "COMMIT", False), (5, A, "COMMIT", False)]
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 0, 1, 2)]

    plain(plog, ("c", "1"))
    plog.roll()
    cleaner.run(clock.time_ms())  # the first two transactions are empty now: horizons set
    assert markers(plog) == [(1, A, "ABORT", True), (3, A, "COMMIT", True), (5, A, "COMMIT", False)]
    horizons = [h.base_timestamp for h, _ in batches(plog) if h.attributes & DELETE_HORIZON_BIT]
    assert horizons == [START_MS + DAY] * 2
    assert plog.producers.txn_indexes.entries(0) == [AbortedTxn(A, 0, 1, 2)]

    clock.advance(DAY - 1)
    plain(plog, ("c", "2"))
    plog.roll()
    cleaner.run(clock.time_ms())  # before the horizon: still there
    assert [o for o, *_ in markers(plog)] == [1, 3, 5]

    clock.advance(1)
    plain(plog, ("c", "3"))
    plog.roll()
    cleaner.run(clock.time_ms())
    assert markers(plog) == [(5, A, "COMMIT", False)]
    assert plog.producers.txn_indexes.entries(0) == []
    assert not [n for n in os.listdir(plog.dir) if n.endswith(".txnindex")]
    assert latest(plog) == {"b": "2", "c": "3"}


def test_an_unclean_restart_after_cleaning_reads_the_same(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    p = Producers(plog)
    p.write(A, ("a", "aborted"))  # 0
    p.end(A, commit=False)  # 1
    p.write(A, ("a", "1"))  # 2
    p.end(A, commit=True)  # 3
    plog.roll()
    cleaner_for(plog).run(clock.time_ms())
    plog.close()
    again = PartitionLog.open(
        plog.fs,
        os.path.dirname(plog.dir),
        plog.topic,
        plog.partition,
        plog.config,
        plog.clock,
        topic_id=plog.topic_id,
        recovery_point=0,
        log_start_offset=plog.log_start_offset,
        clean_shutdown=False,
    )
    # the replay finds no data before the ABORT marker, so it indexes nothing: harmless, the
    # marker ends nothing a reader would skip
    assert again.producers.txn_indexes.entries(0) == []
    assert [o for o, *_ in markers(again)] == [1, 3]
    assert latest(again) == {"a": "1"}
    assert again.last_stable_offset == again.high_watermark == 4
    again.close()


def test_an_open_transaction_bounds_the_cleaning(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    p = Producers(plog)
    plain(plog, ("a", "0"))  # 0
    plain(plog, ("a", "1"))  # 1
    plog.roll()
    p.write(A, ("a", "open"))  # 2: A's transaction stays open
    plain(plog, ("a", "2"))  # 3
    plog.roll()
    plain(plog, ("a", "3"))  # 4
    plog.roll()
    assert plog.last_stable_offset == 2
    cleaner = cleaner_for(plog)
    assert cleaner.dirty_range(plog, clock.time_ms()).first_uncleanable_offset == 2
    cleaner.run(clock.time_ms())
    everything = [(r.offset, r.value) for h, d in batches(plog) for r in decode_records(d)]
    # only the segment below the open transaction was cleaned, against keys seen there
    assert everything == [(1, b"1"), (2, b"open"), (3, b"2"), (4, b"3")]

    p.end(A, commit=False)  # 5
    plog.roll()
    assert cleaner.dirty_range(plog, clock.time_ms()).first_uncleanable_offset == 6
    clock.advance(CleanerConfig().backoff_ms)
    cleaner.run(clock.time_ms())
    assert latest(plog) == {"a": "3"}
    assert [(r.offset, r.value) for h, d in batches(plog) if not h.is_control for r in decode_records(d)] == [
        (4, b"3")
    ]


def test_the_lso_of_a_completed_transaction_above_the_high_watermark_bounds_the_cleaning(
    new_log, cleaner_for, clock
):
    plog = new_log(COMPACT)
    plog.high_watermark_follows_log_end = False
    p = Producers(plog)
    plain(plog, ("a", "0"))  # 0
    p.write(A, ("a", "1"))  # 1
    p.end(A, commit=True)  # 2
    plog.roll()
    plog.update_high_watermark(2)  # the marker is not replicated yet
    assert plog.last_stable_offset == 1
    assert cleaner_for(plog).dirty_range(plog, clock.time_ms()).first_uncleanable_offset == 0


# -- the property ---------------------------------------------------------------------------------

PROPERTY_CONFIG = LogConfig(
    cleanup_policy="compact",
    segment_bytes=1024,
    index_interval_bytes=128,
    min_cleanable_dirty_ratio=0.0,
    delete_retention_ms=10_000,
)

keys = st.sampled_from(["a", "b", "c", "d", "e"])
values = st.one_of(st.none(), st.sampled_from(["1", "2", "3", "4", "5"]))
pairs = st.lists(st.tuples(keys, values), min_size=1, max_size=4)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("plain"), pairs),
        st.tuples(st.just("txn"), st.sampled_from([A, B]), pairs),
        st.tuples(st.just("end"), st.sampled_from([A, B]), st.booleans()),
        st.tuples(st.just("roll")),
        st.tuples(st.just("clean")),
        st.tuples(st.just("wait"), st.integers(0, 20_000)),
    ),
    max_size=40,
)


class _NoSync(FileSystem):
    def fsync(self, fd: int) -> None:
        pass

    def fsync_dir(self, path: str) -> None:
        pass


class TxnModel:
    """What read_committed must show: for each key, the committed write with the highest
    offset (plain writes commit at once; a transaction's writes when its COMMIT is written,
    but they keep their place in the log, which is what compaction and readers go by)."""

    def __init__(self, plog: PartitionLog, cleaner: LogCleaner, clock: ManualClock) -> None:
        self.plog, self.cleaner, self.clock = plog, cleaner, clock
        self.producers = Producers(plog)
        self.writes = 0  # log order of the writes
        self.committed_at: dict[str, tuple[int, str | None]] = {}
        self.open: dict[int, list[tuple[int, str, str | None]]] = {}

    @property
    def committed(self) -> dict[str, str | None]:
        return {k: v for k, (_, v) in self.committed_at.items()}

    def _commit(self, writes: list[tuple[int, str, str | None]]) -> None:
        for order, key, value in writes:
            if key not in self.committed_at or self.committed_at[key][0] < order:
                self.committed_at[key] = (order, value)

    def _ordered(self, pairs: list[tuple[str, str | None]]) -> list[tuple[int, str, str | None]]:
        out = []
        for key, value in pairs:
            out.append((self.writes, key, value))
            self.writes += 1
        return out

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "plain":
            if self.open:  # a plain write would wait behind the LSO; keep the model simple
                return
            plain(self.plog, *op[1])
            self._commit(self._ordered(op[1]))
        elif kind == "txn":
            self.producers.write(op[1], *op[2])
            self.open.setdefault(op[1], []).extend(self._ordered(op[2]))
        elif kind == "end":
            written = self.open.pop(op[1], None)
            if written is None:
                return
            self.producers.end(op[1], commit=op[2])
            if op[2]:
                self._commit(written)
        elif kind == "roll":
            if self.plog.segments.active.size:
                self.plog.roll()
        elif kind == "clean":
            self.clean()
        else:
            self.clock.advance(op[1])

    def clean(self) -> None:
        self.cleaner.run(self.clock.time_ms())
        if not self.open:
            self.check()

    def check(self) -> None:
        seen = latest(self.plog)
        live = {k: v for k, v in self.committed.items() if v is not None}
        assert {k: v for k, v in seen.items() if v is not None} == live
        offsets = [o for o, _, _ in visible(self.plog)]
        assert offsets == sorted(set(offsets))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
# A transaction that commits later than another does not win over a higher offset: readers and
# compaction go by log order.
@example(ops=[("txn", A, [("a", None)]), ("txn", B, [("a", "1")]), ("end", B, True)])
def test_read_committed_after_cleaning_gives_the_latest_committed_value_of_each_key(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(START_MS)
        plog = PartitionLog.create(_NoSync(), tmp, "t", 0, TOPIC_ID, PROPERTY_CONFIG, clock)
        cleaner = LogCleaner(
            plog.fs,
            CleanerConfig(backoff_ms=0),
            {("t", 0): plog},
            {("t", 0): tmp},
            [tmp],
            executor=InlineExecutor(),
        )
        model = TxnModel(plog, cleaner, clock)
        for op in ops:
            model.apply(op)
        for pid in list(model.open):
            model.apply(("end", pid, pid == A))
        # everything cleanable, cleaned twice around the delete horizon
        for _ in range(2):
            model.apply(("plain", [("zz", "end")]))
            plog.roll()
            model.clean()
            clock.advance(PROPERTY_CONFIG.delete_retention_ms)
        plain(plog, ("zz", "end"))
        plog.roll()
        model.clean()
        # each live key exactly once among the committed records below the active segment
        seen = [k for _, k, v in visible(plog) if v is not None]
        assert sorted(seen) == sorted(k for k, v in model.committed.items() if v is not None)
        plog.close()


def test_a_marker_at_the_end_of_the_range_is_never_emptied(new_log, cleaner_for, clock, tmp_path):
    plog = new_log(COMPACT)
    plain(plog, ("a", "1"))  # 0
    Producers(plog).end(B, commit=False)  # 1: B wrote nothing here: an empty transaction
    plog.roll()
    cleaner_for(plog).run(clock.time_ms())
    assert markers(plog) == [(1, B, "ABORT", True)]
    clock.advance(DAY)
    os.remove(tmp_path / CLEANER_OFFSET_CHECKPOINT)  # clean the whole log again
    cleaner_for(plog).run(clock.time_ms())
    # past its horizon, but the last batch of the range: it stays whole until a later cleaning
    assert markers(plog) == [(1, B, "ABORT", True)]
    plain(plog, ("b", "1"))
    plog.roll()
    cleaner_for(plog).run(clock.time_ms())
    assert markers(plog) == []
    assert [h.base_offset for h, _ in batches(plog)] == [0, 2]
