"""The log cleaner: compaction of the logs whose ``cleanup.policy`` includes ``compact``.

Processes and ownership. ``LogCleaner`` lives on the event loop, like every log; the log
manager calls ``run(now)`` from its periodic upkeep. Everything that reads or changes a log
happens there: choosing a log, taking the job's snapshot, and swapping the result in. Only the
rewriting, the part that reads and writes whole segments, runs on workers: by default
``log.cleaner.threads`` worker *processes* (``worker_processes.py``), since the rewriting is
Python code and a worker thread would hold the interpreter lock the event loop needs for
every request (with a thread, a cleaning took request latency from 0.1 ms to seconds; see
docs/performance.md). A worker sees nothing but its ``CleanJob``: immutable values that pickle
(clean_job.py). The two sides meet only through the job's ``Future``: ``run`` submits, and a
later ``run`` finds the future done and takes the outcome. Shutdown ends running jobs (a
thread worker through the job's ``abort`` event, a process by ending it) and removes what they
wrote. No lock guards anything because nothing is shared.

Choosing a log, as Kafka's ``LogCleanerManager`` does, for each compacted log not already
being cleaned:

* the *dirty* part starts at the offset the previous pass reached (``cleaner-offset-checkpoint``
  in each data directory, Kafka's format; the log start offset when unknown or out of range)
  and ends at the first *uncleanable* offset: the active segment, the last stable offset (so an
  open transaction, or one whose marker is not yet below the high watermark, is never
  cleaned; it is at most the high watermark), and the first segment whose largest timestamp
  is younger than ``min.compaction.lag.ms``, whichever comes first, rounded down to a segment
  boundary;
* the dirty ratio is the size of the dirty segments over the size of the log up to the first
  uncleanable offset; a log is a candidate when it is above ``min.cleanable.dirty.ratio``, or
  when it has dirty data and a dirty segment's first batch is older than
  ``max.compaction.lag.ms``. The dirtiest candidate goes first.

``max.compaction.lag.ms`` also rolls an active segment whose first batch is older than that
(when it holds data), so its records become cleanable. Kafka gets the same effect by rolling
at the next append; doing it here keeps the bound for a partition that receives nothing more.

A job gets the aborted transactions of the log's transaction indexes up to its range's end,
read here; a group that removed ABORT markers has their index entries removed before it is
swapped in (txn_cleaning.py).

The outcome is swapped in group by group (swap.py). When a group cannot be (the log changed
under the job: retention deleted a segment, a truncation, the log was deleted) the rest of the
pass is discarded and the checkpoint stays, so the next pass redoes the work; swapping stops at
the first such group so that a record is never dropped for a later one that did not make it.
A job that fails with an unexpected error marks its partition uncleanable (logged at ERROR)
until the log is opened again, as Kafka does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from moldau.storage.checkpoints import CheckpointError, read_offsets, write_offsets
from moldau.storage.clean_job import (
    CleanedGroup,
    CleaningAborted,
    CleanJob,
    CleanOutcome,
    SourceSegment,
    remove_cleaned,
    run_clean_job,
)
from moldau.storage.config import LONG_MAX
from moldau.storage.log import PartitionLog
from moldau.storage.segment import LogSegment
from moldau.storage.swap import SwapFailed, swap_in
from moldau.storage.txn_cleaning import forget_aborted
from moldau.storage.worker_processes import WorkerProcesses
from moldau.util.datatype import datatype
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"

TopicPartition = tuple[str, int]
T = TypeVar("T")


@datatype(frozen=True, slots=True)
class CleanerConfig:
    """The broker's ``log.cleaner.*`` settings (Kafka's defaults)."""

    threads: int = 1  # log.cleaner.threads
    dedupe_buffer_size: int = 128 * 1024 * 1024  # log.cleaner.dedupe.buffer.size, all threads
    io_buffer_size: int = 512 * 1024  # log.cleaner.io.buffer.size, all threads
    load_factor: float = 0.9  # log.cleaner.io.buffer.load.factor
    backoff_ms: int = 15000  # log.cleaner.backoff.ms: pause after finding nothing to clean


@datatype(frozen=True, slots=True)
class DirtyRange:
    """What one log offers the cleaner right now."""

    first_dirty_offset: int
    first_uncleanable_offset: int
    clean_bytes: int
    cleanable_bytes: int
    overdue: bool  # max.compaction.lag.ms has passed for some dirty data

    @property
    def ratio(self) -> float:
        total = self.clean_bytes + self.cleanable_bytes
        return self.cleanable_bytes / total if total else 0.0


class InlineExecutor(Executor):
    """Runs each job at once in the caller's thread: for tests, and for callers that want a
    pass to complete within ``run``."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:
            future.set_exception(e)
        return future


@datatype
class _InFlight:
    plog: PartitionLog
    job: CleanJob
    segments: dict[int, tuple[LogSegment, int]]  # base offset → (segment, size at snapshot)
    future: Future[CleanOutcome]


class LogCleaner:
    """See the module docstring. ``logs`` and ``dir_of`` are the log manager's live views of
    its partitions and of the data directory holding each."""

    def __init__(
        self,
        fs: FileSystem,
        config: CleanerConfig,
        logs: Mapping[TopicPartition, PartitionLog],
        dir_of: Mapping[TopicPartition, str],
        log_dirs: list[str],
        *,
        executor: Executor | None = None,
    ) -> None:
        self.fs = fs
        self.config = config
        self._logs = logs
        self._dir_of = dir_of
        self._executor = executor or WorkerProcesses(max(1, config.threads))
        self._in_flight: dict[TopicPartition, _InFlight] = {}
        self._uncleanable: dict[TopicPartition, PartitionLog] = {}
        self._idle_until_ms = 0
        self._checkpoints: dict[TopicPartition, int] = {}
        for log_dir in log_dirs:
            path = os.path.join(log_dir, CLEANER_OFFSET_CHECKPOINT)
            try:
                self._checkpoints.update(read_offsets(fs, path))
            except CheckpointError as e:
                log.warning("Ignoring %s (compacted logs are cleaned from their start): %s", path, e)

    # -- the pass ------------------------------------------------------------------------

    def run(self, now_ms: int) -> int:
        """Swap in what finished, then start jobs while workers are free and logs need
        cleaning. Returns how many jobs completed."""
        completed = self._collect(now_ms)
        tried: set[TopicPartition] = set()  # each log at most once per call
        while len(self._in_flight) < max(1, self.config.threads) and now_ms >= self._idle_until_ms:
            chosen = self._choose(now_ms, tried)
            if chosen is None:
                if not tried:
                    self._idle_until_ms = now_ms + self.config.backoff_ms
                break
            tried.add((chosen[0].topic, chosen[0].partition))
            self._submit(*chosen, now_ms)
            completed += self._collect(now_ms)
        return completed

    def dirty_range(self, plog: PartitionLog, now_ms: int) -> DirtyRange:
        """The cleanable part of ``plog`` as the module docstring defines it."""
        config, segments = plog.config, plog.segments
        tp = (plog.topic, plog.partition)
        start, end = plog.log_start_offset, plog.log_end_offset
        first_dirty = self._checkpoints.get(tp, start)
        if not start <= first_dirty <= end:
            first_dirty = start
        active = segments.active
        uncleanable = min(plog.last_stable_offset, active.base_offset)
        dirty_non_active = [s for s in segments.from_offset(first_dirty) if s is not active]
        if config.min_compaction_lag_ms > 0:
            for segment in dirty_non_active:
                if segment.largest_timestamp > now_ms - config.min_compaction_lag_ms:
                    uncleanable = min(uncleanable, segment.base_offset)
                    break
        holder = segments.floor(uncleanable)
        first_uncleanable = holder.base_offset if holder is not None else uncleanable
        clean = sum(s.size for s in segments if s.base_offset < first_dirty)
        cleanable = sum(
            s.size
            for s in segments.from_offset(first_dirty)
            if s.base_offset < first_uncleanable and first_dirty < first_uncleanable
        )
        overdue = False
        if config.max_compaction_lag_ms < LONG_MAX:
            firsts = [t for t in (s.first_batch_timestamp() for s in dirty_non_active) if t > 0]
            overdue = bool(firsts) and min(firsts) < now_ms - config.max_compaction_lag_ms
        return DirtyRange(first_dirty, max(first_dirty, first_uncleanable), clean, cleanable, overdue)

    # -- choosing and starting -----------------------------------------------------------

    def _choose(self, now_ms: int, tried: set[TopicPartition]) -> tuple[PartitionLog, DirtyRange] | None:
        best: tuple[PartitionLog, DirtyRange] | None = None
        for tp, plog in self._logs.items():
            if not plog.config.compact or tp in self._in_flight or tp in tried or plog.failed is not None:
                continue
            if self._uncleanable.get(tp) is plog:
                continue
            try:
                self._roll_if_overdue(plog, now_ms)
                dirty = self.dirty_range(plog, now_ms)
            except Exception as e:  # an I/O error reading an index or a header, a failed roll
                log.error("Cannot tell what to clean in %s; leaving it uncompacted: %s", plog.name, e)
                self._uncleanable[tp] = plog
                continue
            if dirty.clean_bytes + dirty.cleanable_bytes == 0:
                continue
            wanted = (dirty.overdue and dirty.cleanable_bytes > 0) or (
                dirty.ratio > plog.config.min_cleanable_dirty_ratio
            )
            if wanted and (best is None or dirty.ratio > best[1].ratio):
                best = (plog, dirty)
        return best

    def _roll_if_overdue(self, plog: PartitionLog, now_ms: int) -> None:
        lag = plog.config.max_compaction_lag_ms
        active = plog.segments.active
        if lag < LONG_MAX and active.size > 0 and active.time_waited_for_roll(now_ms) > lag:
            log.info("Rolling %s: its active segment is older than max.compaction.lag.ms %d", plog.name, lag)
            plog.roll(now_ms)

    def _submit(self, plog: PartitionLog, dirty: DirtyRange, now_ms: int) -> None:
        tp = (plog.topic, plog.partition)
        chosen = [s for s in plog.segments if s.base_offset < dirty.first_uncleanable_offset]
        try:
            aborted = plog.producers.aborted_transactions(
                plog.segments, plog.log_start_offset, dirty.first_uncleanable_offset
            )
        except (OSError, ValueError) as e:  # ValueError: a corrupt transaction index
            log.error("Cannot start cleaning %s: %s", plog.name, e)
            self._uncleanable[tp] = plog
            return
        sources = [SourceSegment(s.base_offset, s.size, s.log_path) for s in chosen]
        threads = max(1, self.config.threads)
        job = CleanJob(
            name=plog.name,
            directory=plog.dir,
            segments=tuple(sources),
            first_dirty_offset=dirty.first_dirty_offset,
            first_uncleanable_offset=dirty.first_uncleanable_offset,
            config=plog.config,
            now_ms=now_ms,
            map_memory=self.config.dedupe_buffer_size // threads,
            load_factor=self.config.load_factor,
            io_buffer_size=max(4096, self.config.io_buffer_size // threads),
            aborted=tuple(aborted),
        )
        log.info(
            "Cleaning %s: offsets [%d, %d) are dirty (%d of %d bytes)",
            plog.name,
            dirty.first_dirty_offset,
            dirty.first_uncleanable_offset,
            dirty.cleanable_bytes,
            dirty.clean_bytes + dirty.cleanable_bytes,
        )
        future = self._executor.submit(run_clean_job, job, self.fs)
        self._in_flight[tp] = _InFlight(plog, job, {s.base_offset: (s, s.size) for s in chosen}, future)

    # -- completing ----------------------------------------------------------------------

    def _collect(self, now_ms: int) -> int:
        done = [tp for tp, f in self._in_flight.items() if f.future.done()]
        for tp in done:
            flight = self._in_flight.pop(tp)
            try:
                self._complete(tp, flight, now_ms)
            except Exception:
                log.exception("Completing the cleaning of %s failed", flight.plog.name)
                self._uncleanable[tp] = flight.plog
        return len(done)

    def _complete(self, tp: TopicPartition, flight: _InFlight, now_ms: int) -> None:
        plog = flight.plog
        try:
            outcome = flight.future.result()
        except CleaningAborted:
            return
        except Exception as e:
            log.error("Cleaning %s failed; not cleaning it again until it is reopened: %s", plog.name, e)
            self._uncleanable[tp] = plog
            self._remove_output(flight.job)  # a worker process that died removed nothing
            return
        current = self._logs.get(tp) is plog and plog.failed is None
        for i, group in enumerate(outcome.groups):
            old = self._still_there(plog, flight, group.replaced) if current else None
            if old is None:
                log.info("Cleaning %s: the log changed meanwhile; discarding the rest of the pass", plog.name)
                self._discard(flight, outcome.groups[i:])
                return
            try:
                forget_aborted(plog.producers.txn_indexes, group.replaced, group.aborts_removed)
            except OSError as e:
                log.warning("Cleaning %s: cannot update its transaction index: %s", plog.name, e)
                self._discard(flight, outcome.groups[i:])
                return
            try:
                swapped = swap_in(plog, old, group, now_ms)
            except SwapFailed:
                swapped = False  # committed: the files are the restart's to finish
            if not swapped:
                self._discard(flight, outcome.groups[i + 1 :])
                return
        self._checkpoint(tp, outcome.end_offset)
        log.info(
            "Cleaned %s up to offset %d: %d segments into %d, %d of %d records kept, %d bytes read, "
            "%d written",
            plog.name,
            outcome.end_offset,
            sum(len(g.replaced) for g in outcome.groups),
            len(outcome.groups),
            outcome.records_kept,
            outcome.records_read,
            outcome.bytes_read,
            outcome.bytes_written,
        )

    def _discard(self, flight: _InFlight, groups: tuple[CleanedGroup, ...]) -> None:
        for group in groups:
            remove_cleaned(self.fs, flight.job.directory, group.base_offset)

    @staticmethod
    def _still_there(
        plog: PartitionLog, flight: _InFlight, bases: tuple[int, ...]
    ) -> list[LogSegment] | None:
        """The segments a group replaces, when the log still holds them unchanged."""
        out = []
        for base in bases:
            segment, size = flight.segments[base]
            if plog.segments.floor(base) is not segment or segment.size != size:
                return None
            if segment is plog.segments.active:
                return None
            out.append(segment)
        return out

    # -- checkpoints and lifecycle -------------------------------------------------------

    def _checkpoint(self, tp: TopicPartition, offset: int) -> None:
        self._checkpoints[tp] = offset
        log_dir = self._dir_of.get(tp)
        if log_dir is not None:
            self._write_checkpoint(log_dir)

    def _write_checkpoint(self, log_dir: str) -> None:
        here = {tp: o for tp, o in self._checkpoints.items() if self._dir_of.get(tp) == log_dir}
        try:
            write_offsets(self.fs, os.path.join(log_dir, CLEANER_OFFSET_CHECKPOINT), here)
        except OSError as e:
            log.error("Cannot write the cleaner checkpoint of %s: %s", log_dir, e)

    def forget(self, tp: TopicPartition) -> None:
        """The log was deleted: drop its checkpoint entry (an in-flight job is discarded when it
        completes, as its log is no longer there)."""
        log_dir = self._dir_of.get(tp)
        self._uncleanable.pop(tp, None)
        if self._checkpoints.pop(tp, None) is not None and log_dir is not None:
            self._write_checkpoint(log_dir)

    def shutdown(self) -> None:
        """Stop: abort the running jobs, wait for the workers to notice, remove their output."""
        for flight in self._in_flight.values():
            flight.job.abort.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for flight in self._in_flight.values():
            if flight.future.cancelled():
                continue
            try:
                outcome = flight.future.result()
            except Exception:  # aborted, or its worker process ended: whatever it wrote goes
                self._remove_output(flight.job)
                continue
            for group in outcome.groups:
                remove_cleaned(self.fs, flight.job.directory, group.base_offset)
        self._in_flight.clear()

    def _remove_output(self, job: CleanJob) -> None:
        """Whatever cleaned files ``job`` may have written (each group's bears the base
        offset of its first source segment)."""
        for source in job.segments:
            remove_cleaned(self.fs, job.directory, source.base_offset)

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)
