"""The log cleaner on a manual clock: choosing logs, compaction, tombstones, lags, merging."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from moldau.protocol.records.batch import DELETE_HORIZON_BIT, iter_headers
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.control import ControlType, build_end_txn_marker
from moldau.storage.clean_job import cleaned_paths
from moldau.storage.cleaner import (
    CLEANER_OFFSET_CHECKPOINT,
    CleanerConfig,
    InlineExecutor,
    LogCleaner,
)
from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.manager import LogManager
from moldau.storage.worker_processes import WorkerProcesses

from .helpers import START_MS, TOPIC_ID, append, keyed_batch, read_all

DAY = 86_400_000
COMPACT = LogConfig(
    cleanup_policy="compact",
    segment_bytes=4096,
    min_cleanable_dirty_ratio=0.0,
    delete_retention_ms=DAY,
)


def put(plog: PartitionLog, *pairs: tuple[str, str | None], roll: bool = False, **kw: Any) -> None:
    """Append one batch of ``key=value`` records (None: tombstone), then roll if asked."""
    append(
        plog,
        keyed_batch(
            [(k.encode(), None if v is None else v.encode()) for k, v in pairs],
            ts=kw.pop("ts", plog.clock.time_ms()),
            **kw,
        ),
    )
    if roll:
        plog.roll()


def contents(plog: PartitionLog) -> list[tuple[int, str, str | None]]:
    return [
        (r.offset, (r.key or b"").decode(), None if r.value is None else r.value.decode())
        for r in read_all(plog)
    ]


def latest(plog: PartitionLog) -> dict[str, str | None]:
    return {k: v for _, k, v in contents(plog)}


class DeferredExecutor(Executor):
    """Holds submitted jobs until ``run_all``: lets a test change the log while a job waits."""

    def __init__(self) -> None:
        self.pending: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.pending.append((future, fn, args))
        return future

    def run_all(self) -> None:
        for future, fn, args in self.pending:
            try:
                future.set_result(fn(*args))
            except BaseException as e:
                future.set_exception(e)
        self.pending.clear()


@pytest.fixture
def cleaner_for(fs, tmp_path) -> Callable[..., LogCleaner]:
    def make(*plogs: PartitionLog, executor: Executor | None = None, **config: Any) -> LogCleaner:
        logs = {(p.topic, p.partition): p for p in plogs}
        return LogCleaner(
            fs,
            CleanerConfig(**config),
            logs,
            {tp: str(tmp_path) for tp in logs},
            [str(tmp_path)],
            executor=executor or InlineExecutor(),
        )

    return make


def test_keeps_the_latest_value_of_each_key_at_its_original_offset(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), ("b", "1"), roll=True)
    put(plog, ("a", "2"), ("c", "1"), roll=True)
    put(plog, ("b", "2"), ("a", "3"))
    put(plog, ("c", "2"), roll=True)
    put(plog, ("a", "4"))  # the active segment: never touched
    before = (plog.log_start_offset, plog.high_watermark, plog.log_end_offset)

    assert cleaner_for(plog).run(clock.time_ms()) == 1
    assert contents(plog) == [(4, "b", "2"), (5, "a", "3"), (6, "c", "2"), (7, "a", "4")]
    assert (plog.log_start_offset, plog.high_watermark, plog.log_end_offset) == before
    assert not [n for n in os.listdir(plog.dir) if n.endswith((".cleaned", ".swap", ".replaced"))]


def test_writes_and_uses_the_cleaner_checkpoint(new_log, cleaner_for, clock, tmp_path):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), roll=True)
    put(plog, ("a", "2"), roll=True)
    cleaner = cleaner_for(plog)
    cleaner.run(clock.time_ms())
    assert (tmp_path / CLEANER_OFFSET_CHECKPOINT).read_text() == "0\n1\norders 0 2\n"
    dirty = cleaner.dirty_range(plog, clock.time_ms())
    assert (dirty.first_dirty_offset, dirty.cleanable_bytes) == (2, 0)
    # a new cleaner (a restart) starts from the checkpoint
    again = cleaner_for(plog)
    assert again.dirty_range(plog, clock.time_ms()).first_dirty_offset == 2
    assert again.run(clock.time_ms()) == 0


def test_dirty_ratio_chooses_logs(new_log, cleaner_for, clock):
    config = LogConfig(cleanup_policy="compact", segment_bytes=4096, min_cleanable_dirty_ratio=0.6)
    plog = new_log(config)
    put(plog, ("a", "x" * 100), roll=True)
    put(plog, ("a", "y" * 100), roll=True)
    cleaner = cleaner_for(plog)
    assert cleaner.dirty_range(plog, clock.time_ms()).ratio == 1.0
    cleaner.run(clock.time_ms())
    put(plog, ("b", "z" * 100), roll=True)  # one dirty segment next to one clean: ratio 0.5
    dirty = cleaner.dirty_range(plog, clock.time_ms())
    assert 0.4 < dirty.ratio < 0.6
    clock.advance(CleanerConfig().backoff_ms)
    assert cleaner.run(clock.time_ms()) == 0


def test_the_filthiest_log_goes_first(new_log, cleaner_for, clock, caplog):
    one, two = new_log(COMPACT, partition=0), new_log(COMPACT, partition=1)
    put(one, ("a", "1"), roll=True)
    cleaner = cleaner_for(one, two)
    cleaner.run(clock.time_ms())
    put(one, ("b", "1"), roll=True)  # half clean, half dirty
    put(two, ("a", "1"), roll=True)  # all dirty
    caplog.clear()
    with caplog.at_level("INFO", logger="moldau.storage.cleaner"):
        assert cleaner.run(clock.time_ms()) == 2
    started = [r.getMessage().split(":")[0] for r in caplog.records if r.getMessage().startswith("Cleaning ")]
    assert started == ["Cleaning orders-1", "Cleaning orders-0"]


def test_tombstones_live_delete_retention_ms_after_the_cleaning_that_first_kept_them(
    new_log, cleaner_for, clock
):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), ("b", "1"), roll=True)
    put(plog, ("a", None), roll=True)
    cleaner = cleaner_for(plog)
    cleaner.run(clock.time_ms())
    assert contents(plog) == [(1, "b", "1"), (2, "a", None)]
    headers = [h for _, h in iter_headers(plog.read(2, 1 << 20).data)]
    assert headers[0].attributes & DELETE_HORIZON_BIT
    assert headers[0].base_timestamp == clock.time_ms() + DAY  # the horizon, Kafka's way
    assert read_all(plog, 2)[0].timestamp == START_MS  # the record's own timestamp survives

    clock.advance(DAY - 1)
    put(plog, ("c", "1"), roll=True)  # dirty data, so the log is cleaned again
    cleaner.run(clock.time_ms())
    assert latest(plog) == {"b": "1", "a": None, "c": "1"}

    clock.advance(1)
    put(plog, ("d", "1"), roll=True)
    cleaner.run(clock.time_ms())
    assert latest(plog) == {"b": "1", "c": "1", "d": "1"}


def test_min_compaction_lag_keeps_young_segments_dirty(new_log, cleaner_for, clock):
    plog = new_log(
        LogConfig(cleanup_policy="compact", min_cleanable_dirty_ratio=0.0, min_compaction_lag_ms=60_000)
    )
    put(plog, ("a", "1"), roll=True)
    clock.advance(60_001)
    put(plog, ("a", "2"), roll=True)  # young
    put(plog, ("a", "3"), roll=True)
    cleaner = cleaner_for(plog)
    dirty = cleaner.dirty_range(plog, clock.time_ms())
    assert dirty.first_uncleanable_offset == 1
    cleaner.run(clock.time_ms())
    assert contents(plog) == [(0, "a", "1"), (1, "a", "2"), (2, "a", "3")]  # nothing newer was mapped
    clock.advance(60_001)
    cleaner.run(clock.time_ms())
    assert contents(plog) == [(2, "a", "3")]


def test_max_compaction_lag_forces_cleaning_and_rolls_the_active_segment(new_log, cleaner_for, clock):
    config = LogConfig(cleanup_policy="compact", min_cleanable_dirty_ratio=0.99, max_compaction_lag_ms=60_000)
    plog = new_log(config)
    put(plog, ("a", "1"), roll=True)
    put(plog, ("a", "2"), roll=True)
    put(plog, ("b", "1"))
    cleaner = cleaner_for(plog)
    cleaner.run(clock.time_ms())  # first pass: everything is dirty (ratio 1.0)
    put(plog, ("a", "3"))  # the active segment, not full
    clock.advance(CleanerConfig().backoff_ms)
    assert cleaner.run(clock.time_ms()) == 0  # only the active segment is dirty
    clock.advance(60_001)
    assert cleaner.run(clock.time_ms()) == 1  # overdue: rolled and cleaned
    assert plog.segments.active.size == 0
    assert latest(plog) == {"b": "1", "a": "3"}
    assert [k for _, k, _ in contents(plog)] == ["b", "a"]


@pytest.mark.parametrize(
    "codec", [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD], ids=lambda c: c.name
)
def test_compressed_batches_are_recompressed_with_their_codec(new_log, cleaner_for, clock, codec):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), ("b", "1"), ("c", "1"), compression=codec, roll=True)
    put(plog, ("b", "2"), roll=True)
    cleaner_for(plog).run(clock.time_ms())
    assert contents(plog) == [(0, "a", "1"), (2, "c", "1"), (3, "b", "2")]
    ((_, first), _) = iter_headers(plog.read(0, 1 << 20).data)
    assert first.compression == codec
    assert (first.base_offset, first.last_offset, first.records_count) == (0, 2, 2)  # same offsets


def test_xerial_snappy_keeps_its_framing(new_log, cleaner_for, clock):
    from moldau.protocol.records.compression import is_xerial
    from moldau.protocol.records.records import build_batch

    plog = new_log(COMPACT)
    records = [(b"a", b"1", [], START_MS), (b"b", b"1", [], START_MS)]
    append(plog, build_batch(records, compression=Compression.SNAPPY, xerial_snappy=True))
    plog.roll()
    put(plog, ("a", "2"), roll=True)
    cleaner_for(plog).run(clock.time_ms())
    data = plog.read(0, 1 << 20).data
    assert is_xerial(memoryview(data)[61:])
    assert contents(plog) == [(1, "b", "1"), (2, "a", "2")]


def test_a_producers_last_batch_stays_as_an_empty_batch(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), ("b", "1"), producer_id=7, producer_epoch=0, base_sequence=0, roll=True)
    put(plog, ("a", "2"), ("b", "2"), roll=True)  # not from producer 7
    put(plog, ("c", "1"), roll=True)
    cleaner_for(plog).run(clock.time_ms())
    headers = [h for _, h in iter_headers(plog.read(0, 1 << 20).data)]
    assert [(h.base_offset, h.last_offset, h.records_count, h.producer_id) for h in headers] == [
        (0, 1, 0, 7),  # empty, but the producer's sequence state stays readable
        (2, 3, 2, -1),
        (4, 4, 1, -1),
    ]
    assert headers[0].base_sequence == 0
    assert contents(plog) == [(2, "a", "2"), (3, "b", "2"), (4, "c", "1")]


def test_records_without_keys_go(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    append(plog, keyed_batch([(None, b"x"), (b"a", b"1")]))
    plog.roll()
    cleaner_for(plog).run(clock.time_ms())
    assert contents(plog) == [(1, "a", "1")]


def test_control_batches_are_left_alone(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), producer_id=5, producer_epoch=0, base_sequence=0)
    marker = build_end_txn_marker(
        ControlType.COMMIT, producer_id=5, producer_epoch=0, coordinator_epoch=0, timestamp=START_MS
    )
    plog.append_control(marker, leader_epoch=0)
    plog.roll()
    put(plog, ("a", "2"), roll=True)
    cleaner_for(plog).run(clock.time_ms())
    headers = [h for _, h in iter_headers(plog.read(0, 1 << 20).data)]
    assert [(h.base_offset, h.is_control, h.records_count) for h in headers] == [
        (0, False, 0),  # producer 5's last data batch, emptied
        (1, True, 1),
        (2, False, 1),
    ]


def test_small_cleaned_segments_merge_up_to_segment_bytes(new_log, cleaner_for, clock):
    plog = new_log(COMPACT)
    for i in range(12):
        put(plog, (f"k{i % 3}", str(i)), roll=True)
    assert len(plog.segments) == 13
    cleaner = cleaner_for(plog)
    cleaner.run(clock.time_ms())
    put(plog, ("k0", "new"), roll=True)
    cleaner.run(clock.time_ms())
    assert len(plog.segments) == 2  # one cleaned segment and the active one
    assert latest(plog) == {"k1": "10", "k2": "11", "k0": "new"}


def test_a_small_dedupe_buffer_cleans_in_several_passes(new_log, cleaner_for, clock):
    from moldau.storage.offset_map import ENTRY_BYTES

    plog = new_log(COMPACT)
    for round_ in range(3):
        put(plog, *[(f"k{i}", f"{round_}") for i in range(10)], roll=True)
    cleaner = cleaner_for(plog, dedupe_buffer_size=4 * ENTRY_BYTES, load_factor=1.0)  # 4 keys a pass
    passes = 0
    while cleaner.dirty_range(plog, clock.time_ms()).cleanable_bytes and passes < 20:
        cleaner.run(clock.time_ms())
        passes += 1
    assert passes > 2
    assert latest(plog) == {f"k{i}": "2" for i in range(10)}
    assert sorted(k for _, k, _ in contents(plog)) == sorted(f"k{i}" for i in range(10))


def waiting_job(new_log, cleaner_for, clock) -> tuple[PartitionLog, DeferredExecutor, LogCleaner]:
    """A log of two segments ("a" = 1, then "a" = 2) whose cleaning job was submitted and waits."""
    plog = new_log(COMPACT)
    put(plog, ("a", "1"), roll=True)
    put(plog, ("a", "2"), roll=True)
    executor = DeferredExecutor()
    cleaner = cleaner_for(plog, executor=executor)
    cleaner.run(clock.time_ms())
    assert cleaner.busy
    return plog, executor, cleaner


def test_a_job_whose_log_changed_is_discarded(new_log, cleaner_for, clock):
    plog, executor, cleaner = waiting_job(new_log, cleaner_for, clock)
    plog.delete_records_before(1)  # the first segment goes while the job waits
    executor.run_all()
    cleaner.run(clock.time_ms())  # discards the outcome, and starts over
    assert contents(plog) == [(1, "a", "2")]
    assert not [n for n in os.listdir(plog.dir) if n.endswith((".cleaned", ".swap", ".replaced"))]
    assert not Path(plog.dir).parent.joinpath(CLEANER_OFFSET_CHECKPOINT).exists()
    executor.run_all()
    cleaner.run(clock.time_ms())
    assert not cleaner.busy
    assert contents(plog) == [(1, "a", "2")]
    assert Path(plog.dir).parent.joinpath(CLEANER_OFFSET_CHECKPOINT).read_text() == "0\n1\norders 0 2\n"


@pytest.mark.parametrize("workers", ["processes", "threads"])
def test_real_workers(new_log, cleaner_for, clock, workers):
    """The default workers are processes (the job crosses to another interpreter and its
    outcome comes back); a thread pool works too."""
    plog = new_log(COMPACT)
    for i in range(30):
        put(plog, (f"k{i % 5}", str(i)), roll=i % 4 == 3)
    plog.roll()
    executor = WorkerProcesses(1) if workers == "processes" else ThreadPoolExecutor(max_workers=1)
    cleaner = cleaner_for(plog, executor=executor)
    completed = cleaner.run(clock.time_ms())
    deadline = time.monotonic() + 60
    while not completed and time.monotonic() < deadline:
        time.sleep(0.01)
        completed = cleaner.run(clock.time_ms())
    assert completed == 1
    assert latest(plog) == {f"k{i}": str(25 + i) for i in range(5)}
    assert not [n for n in os.listdir(plog.dir) if n.endswith(".cleaned")]
    cleaner.shutdown()


@pytest.mark.parametrize("when", ["collected", "at shutdown"])
def test_what_a_dead_worker_wrote_is_removed(new_log, cleaner_for, clock, when):
    plog, executor, cleaner = waiting_job(new_log, cleaner_for, clock)
    [(future, _, (job, _))] = executor.pending
    partial = cleaned_paths(job.directory, job.segments[0].base_offset)
    for path in partial:  # what a worker process that died mid-way leaves behind
        Path(path).write_bytes(b"partial")
    future.set_exception(BrokenProcessPool("the worker process ended"))
    if when == "collected":
        cleaner.run(clock.time_ms())
        assert not cleaner.busy
    else:
        cleaner.shutdown()
    assert not any(Path(path).exists() for path in partial)
    assert contents(plog) == [(0, "a", "1"), (1, "a", "2")]


def test_manager_runs_the_cleaner_and_stops_it_at_shutdown(tmp_path, clock, fs):
    manager = LogManager([str(tmp_path / "data")], clock, LogConfig(), fs=fs)
    manager.load({("c", 0): (TOPIC_ID, COMPACT), ("d", 0): (TOPIC_ID, LogConfig())})
    for topic in ("c", "d"):
        plog = manager.get_log(topic, 0)
        put(plog, ("a", "1"), roll=True)
        put(plog, ("a", "2"), roll=True)
    manager.start_cleaner(CleanerConfig(), executor=InlineExecutor())
    assert manager.clean(clock.time_ms()) == 1  # only the compacted topic
    assert latest(manager.get_log("c", 0)) == {"a": "2"}
    assert len(contents(manager.get_log("d", 0))) == 2
    assert (tmp_path / "data" / CLEANER_OFFSET_CHECKPOINT).read_text() == "0\n1\nc 0 2\n"
    manager.delete_log("c", 0)
    assert (tmp_path / "data" / CLEANER_OFFSET_CHECKPOINT).read_text() == "0\n0\n"
    manager.shutdown()
