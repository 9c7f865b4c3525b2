"""The log manager: every partition log on this broker, across the ``log.dirs``.

Each data directory holds one sub-directory per partition (see log.py) and these files::

    meta.properties                     cluster and node identity, see log_dir.py
    recovery-point-offset-checkpoint    per partition, the offset below which data is on disk
    log-start-offset-checkpoint         per partition, the log start offset (DeleteRecords, retention)
    cleaner-offset-checkpoint           per compacted partition, where the next cleaning starts
    .kafka_cleanshutdown                present only after a clean shutdown, see log_dir.py

Lifecycle: ``LogManager(...)`` → ``load(topics)`` (checks ``meta.properties``, takes the clean
shutdown marker, opens or recovers every partition the metadata lists) → ``create_log`` /
``get_log`` / ``delete_log`` / ``set_config`` while serving, with ``checkpoint()`` and
``flush_due()`` called periodically by the owner, and the log lifecycle: ``delete_old_segments``
(retention, every ``log.retention.check.interval.ms``), ``remove_deleted_files`` (deleted
segments' files once ``file.delete.delay.ms`` passed, see deletion.py) and, after
``start_cleaner``, ``clean`` (compaction, see cleaner.py) → ``shutdown()`` (stop the cleaner,
flush and close every log, checkpoint, write the marker). The checkpoints are written
atomically, so the recovery points on disk never claim more than was flushed.

Partition directories that the metadata does not list are left untouched (and not opened). A
directory whose ``partition.metadata`` names another topic id, or that is in the way of a new
log, is renamed to ``<topic>-<partition>.<uuid>-stray`` (Kafka's name for such leftovers).
``*-delete`` directories left by an interrupted deletion are removed. Synchronous; owned by
the broker's event loop.

Scale: the manager owns one bounded cache of open segment files (``OpenFiles``, see
open_files.py) that every log's segments borrow descriptors from, so the number of open
files and of loaded indexes does not grow with the number of partitions or segments. Its
capacity is ``max_open_files`` when given, else derived from the process's descriptor limit
(``open_files.default_capacity``). Start-up after a clean shutdown reads no segment file,
and after a crash reads what was written since the recovery points were last checkpointed
(recovery.py).

A full disk (ENOSPC) fails the appends that need space with KAFKA_STORAGE_ERROR and leaves
every log readable and appendable again once space is freed (log.py); the checkpoints are
retried at the next interval; a shutdown that cannot write them leaves no clean-shutdown
marker, so the next start recovers from the previous checkpoints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage.batch_reader import InvalidBatch
from moldau.storage.checkpoints import (
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    CheckpointError,
    read_offsets,
    write_offsets,
)
from moldau.storage.cleaner import CleanerConfig, LogCleaner
from moldau.storage.config import LogConfig
from moldau.storage.deletion import DelayedDeletions
from moldau.storage.log import PartitionLog
from moldau.storage.log_dir import (
    MetaPropertiesError,
    ensure_meta_properties,
    read_meta_properties,
    take_clean_shutdown,
    write_clean_shutdown,
)
from moldau.storage.open_files import OpenFiles
from moldau.storage.partition_dir import DELETE_DIR_SUFFIX, parse_partition_dir_name
from moldau.storage.retention import delete_old_segments
from moldau.util.clock import Clock
from moldau.util.fs import LOCAL, FileSystem
from moldau.util.uuids import random_uuid_str

log = logging.getLogger(__name__)

STRAY_DIR_SUFFIX = "-stray"

TopicPartition = tuple[str, int]


class LogManager:
    def __init__(
        self,
        log_dirs: list[str],
        clock: Clock,
        default_config: LogConfig,
        *,
        node_id: int = 1,
        cluster_id: str | None = None,
        fs: FileSystem = LOCAL,
        progress_every: int = 500,
        max_open_files: int | None = None,
    ) -> None:
        if not log_dirs:
            raise ValueError("log.dirs must name at least one directory")
        self.log_dirs = [os.path.abspath(d) for d in log_dirs]
        self.clock = clock
        self.default_config = default_config
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.fs = fs
        self.progress_every = progress_every
        self._logs: dict[TopicPartition, PartitionLog] = {}
        self._dir_of: dict[TopicPartition, str] = {}
        self._topic_configs: dict[str, LogConfig] = {}
        self._opened = False
        self.deletions = DelayedDeletions(fs)  # shared by every log, see deletion.py
        self.files = OpenFiles(fs, max_open_files)  # shared by every log, see open_files.py
        self.cleaner: LogCleaner | None = None

    # -- startup -----------------------------------------------------------------------------

    def load(self, topics: Mapping[TopicPartition, tuple[uuid.UUID | None, LogConfig]]) -> None:
        """Open every partition in ``topics`` (``(topic, partition) → (topic id, config)``),
        recovering those a crash may have damaged, and create the ones without a directory.
        Raises MetaPropertiesError when a directory belongs to another cluster or node."""
        self.open()
        for (topic, _), (_, config) in topics.items():
            self._topic_configs[topic] = config
        found = {log_dir: self._partition_dirs(log_dir) for log_dir in self.log_dirs}
        total = sum(len(names) for names in found.values())
        loaded = 0
        for log_dir, names in found.items():
            clean = take_clean_shutdown(self.fs, log_dir)
            recovery_points = self._read_checkpoint(log_dir, RECOVERY_POINT_CHECKPOINT)
            start_offsets = self._read_checkpoint(log_dir, LOG_START_OFFSET_CHECKPOINT)
            if names:
                log.info(
                    "Loading %d partitions from %s (%s shutdown)",
                    len(names),
                    log_dir,
                    "clean" if clean else "unclean",
                )
            for name, tp in names:
                loaded += 1
                if tp not in topics:
                    log.warning("Leaving %s alone: partition %s-%d is not in the metadata", name, *tp)
                    continue
                if tp in self._logs:
                    raise KafkaError(
                        ErrorCode.KAFKA_STORAGE_ERROR,
                        f"partition {tp[0]}-{tp[1]} has directories in both {self._dir_of[tp]} and {log_dir}",
                    )
                topic_id, config = topics[tp]
                try:
                    plog = PartitionLog.open(
                        self.fs,
                        log_dir,
                        tp[0],
                        tp[1],
                        config,
                        self.clock,
                        topic_id=topic_id,
                        log_start_offset=start_offsets.get(tp, 0),
                        recovery_point=recovery_points.get(tp, 0),
                        clean_shutdown=clean,
                    )
                except KafkaError as e:
                    if e.code != ErrorCode.INCONSISTENT_TOPIC_ID:
                        raise
                    self._set_aside(log_dir, name, STRAY_DIR_SUFFIX, str(e))
                    continue
                plog.deletions = self.deletions
                plog.segments.use_files(self.files)
                self._logs[tp] = plog
                self._dir_of[tp] = log_dir
                if total >= self.progress_every and loaded % self.progress_every == 0:
                    log.info("Loaded %d of %d partition directories", loaded, total)
        for tp, (topic_id, config) in topics.items():
            if tp not in self._logs:
                self.create_log(tp[0], tp[1], topic_id, config)
        log.info("Loaded %d partition logs from %d directories", len(self._logs), len(self.log_dirs))

    def open(self, cluster_id: str | None = None) -> str:
        """Create the data directories and check (or write) ``meta.properties`` in each; returns
        the cluster id. Without one given (here or to the constructor) the id stored in the
        directories is adopted, or a new one generated for a fresh installation. Raises
        MetaPropertiesError on a mismatch. ``load`` calls this when it was not called first."""
        if cluster_id is not None:
            self.cluster_id = cluster_id
        if self._opened and self.cluster_id is not None:
            return self.cluster_id
        for log_dir in self.log_dirs:
            self.fs.makedirs(log_dir)
        if self.cluster_id is None:
            stored = [m for m in (read_meta_properties(self.fs, d) for d in self.log_dirs) if m is not None]
            self.cluster_id = stored[0].cluster_id if stored else random_uuid_str()
        for log_dir in self.log_dirs:
            ensure_meta_properties(self.fs, log_dir, self.cluster_id, self.node_id)
        self._opened = True
        return self.cluster_id

    def _partition_dirs(self, log_dir: str) -> list[tuple[str, TopicPartition]]:
        out = []
        for name in self.fs.listdir(log_dir):
            path = os.path.join(log_dir, name)
            if not self.fs.is_dir(path):
                continue
            if name.endswith(DELETE_DIR_SUFFIX):
                log.info("Removing %s, left by an interrupted deletion", path)
                self.fs.remove_tree(path)
                continue
            tp = parse_partition_dir_name(name)
            if tp is not None:
                out.append((name, tp))
        return out

    def _read_checkpoint(self, log_dir: str, name: str) -> dict[TopicPartition, int]:
        try:
            return read_offsets(self.fs, os.path.join(log_dir, name))
        except CheckpointError as e:
            log.warning("Ignoring %s (every partition in %s is treated as unflushed): %s", name, log_dir, e)
            return {}

    def _set_aside(self, log_dir: str, name: str, suffix: str, why: str) -> None:
        target = os.path.join(log_dir, f"{name}.{uuid.uuid4().hex}{suffix}")
        log.warning("Moving %s to %s: %s", os.path.join(log_dir, name), target, why)
        self.fs.rename(os.path.join(log_dir, name), target)
        self.fs.fsync_dir(log_dir)

    # -- partitions --------------------------------------------------------------------------

    def create_log(
        self, topic: str, partition: int, topic_id: uuid.UUID | None, config: LogConfig | None = None
    ) -> PartitionLog:
        """The log of ``topic``-``partition``, created in the data directory holding the fewest
        partitions when it does not exist yet. ``config`` defaults to the topic's config set
        with ``set_config``, then to the manager's default."""
        tp = (topic, partition)
        existing = self._logs.get(tp)
        if existing is not None:
            return existing
        if config is not None:
            self._topic_configs[topic] = config
        config = self._topic_configs.get(topic, self.default_config)
        counts = {d: 0 for d in self.log_dirs}
        for d in self._dir_of.values():
            counts[d] += 1
        log_dir = min(self.log_dirs, key=lambda d: counts[d])
        name = f"{topic}-{partition}"
        if self.fs.exists(os.path.join(log_dir, name)):
            self._set_aside(log_dir, name, STRAY_DIR_SUFFIX, "a new log is being created in its place")
        try:
            plog = PartitionLog.create(self.fs, log_dir, topic, partition, topic_id, config, self.clock)
        except KafkaError:
            # Whatever the attempt created (a full disk can stop it halfway) goes, so that a
            # retry does not find a directory in its way.
            with contextlib.suppress(OSError):
                if self.fs.exists(os.path.join(log_dir, name)):
                    self.fs.remove_tree(os.path.join(log_dir, name))
            raise
        plog.deletions = self.deletions
        plog.segments.use_files(self.files)
        self._logs[tp] = plog
        self._dir_of[tp] = log_dir
        log.info("Created log %s in %s", name, log_dir)
        return plog

    def get_log(self, topic: str, partition: int) -> PartitionLog | None:
        return self._logs.get((topic, partition))

    def logs(self) -> list[PartitionLog]:
        return list(self._logs.values())

    def logs_in(self, log_dir: str) -> dict[TopicPartition, PartitionLog]:
        """The logs stored in one data directory."""
        path = os.path.abspath(log_dir)
        return {tp: self._logs[tp] for tp, d in self._dir_of.items() if d == path}

    def delete_log(self, topic: str, partition: int) -> bool:
        """Delete the partition's directory (rename, then remove). Returns False when there is
        no such log."""
        plog = self._logs.get((topic, partition))
        if plog is None:
            return False
        if self.cleaner is not None:
            self.cleaner.forget((topic, partition))
        del self._logs[(topic, partition)]
        self._dir_of.pop((topic, partition), None)
        plog.delete()
        if not any(t == topic for t, _ in self._logs):
            self._topic_configs.pop(topic, None)
        return True

    def topic_config(self, topic: str) -> LogConfig | None:
        """The config last given for ``topic`` (by ``load``, ``create_log`` or ``set_config``)."""
        return self._topic_configs.get(topic)

    def set_config(self, topic: str, config: LogConfig) -> None:
        """Apply ``config`` to every partition of ``topic`` at once, and to partitions created
        later."""
        self._topic_configs[topic] = config
        for (t, _), plog in self._logs.items():
            if t == topic:
                plog.set_config(config)

    # -- retention and compaction ------------------------------------------------------------

    def delete_old_segments(self, now_ms: int) -> int:
        """Apply retention to every log (retention.py); returns the number of segments deleted.
        When the log start offset of any log moved, the checkpoints are written."""
        deleted = 0
        for plog in self._logs.values():
            try:
                result = delete_old_segments(plog, now_ms)
            except (KafkaError, OSError, InvalidBatch) as e:
                log.error("Retention of %s failed: %s", plog.name, e)
                continue
            if result is not None:
                deleted += result.segments
        if deleted:
            try:
                self.checkpoint()
            except KafkaError as e:
                log.error("%s", e)
        return deleted

    def remove_deleted_files(self, now_ms: int) -> int:
        """Remove the deleted segments' files whose ``file.delete.delay.ms`` has passed."""
        return self.deletions.remove_due(now_ms)

    def start_cleaner(self, config: CleanerConfig, *, executor: Executor | None = None) -> LogCleaner:
        """Start compacting (``log.cleaner.enable``); ``executor`` defaults to
        ``log.cleaner.threads`` worker threads."""
        if self.cleaner is None:
            self.cleaner = LogCleaner(
                self.fs, config, self._logs, self._dir_of, self.log_dirs, executor=executor
            )
        return self.cleaner

    def clean(self, now_ms: int) -> int:
        """One turn of the cleaner (see ``LogCleaner.run``); 0 when it is not started."""
        return self.cleaner.run(now_ms) if self.cleaner is not None else 0

    def remove_expired_producers(self, now_ms: int, expiration_ms: int) -> int:
        """Forget, in every log, the producers idle for ``producer.id.expiration.ms`` (the
        owner calls this every ``producer.id.expiration.check.interval.ms``); returns how many."""
        return sum(plog.remove_expired_producers(now_ms, expiration_ms) for plog in self._logs.values())

    # -- durability --------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write each data directory's recovery-point and log-start-offset checkpoints. A
        directory that fails does not stop the others; the first failure is raised after."""
        failed = self._checkpoint_dirs()
        if failed:
            raise next(iter(failed.values()))

    def _checkpoint_dirs(self) -> dict[str, KafkaError]:
        """Checkpoint every data directory; returns the failures by directory."""
        failed: dict[str, KafkaError] = {}
        for log_dir in self.log_dirs:
            here = self.logs_in(log_dir)
            try:
                write_offsets(
                    self.fs,
                    os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT),
                    {tp: plog.recovery_point for tp, plog in here.items()},
                )
                write_offsets(
                    self.fs,
                    os.path.join(log_dir, LOG_START_OFFSET_CHECKPOINT),
                    {tp: plog.log_start_offset for tp, plog in here.items()},
                )
            except OSError as e:
                message = f"cannot checkpoint {log_dir}: {e}"
                failed[log_dir] = KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, message)
        return failed

    def flush_due(self, now_ms: int) -> None:
        """Flush what ``flush.ms`` asks for and the segments that rolled since the last call.
        May fsync large files: the owner calls it off the request path."""
        for plog in self._logs.values():
            try:
                plog.maybe_flush(now_ms)
                plog.flush_rolled()
            except KafkaError as e:
                log.error("Flushing %s failed: %s", plog.name, e)

    def shutdown(self, broker_epoch: int = -1) -> None:
        """Flush and close every log, write the checkpoints, then mark each data directory
        whose logs all closed cleanly and whose checkpoints were written with
        ``.kafka_cleanshutdown``. Failures are logged, never raised: a directory that could not
        be shut down cleanly is recovered at the next start."""
        if self.cleaner is not None:
            self.cleaner.shutdown()
            self.cleaner = None
        unclean: set[str] = set()
        for tp, plog in self._logs.items():
            try:
                plog.close()
            except KafkaError as e:
                log.error("Closing %s failed: %s", plog.name, e)
                unclean.add(self._dir_of[tp])
            if plog.failed is not None:
                unclean.add(self._dir_of[tp])
        for log_dir, error in self._checkpoint_dirs().items():
            log.error("%s", error)
            unclean.add(log_dir)
        self.deletions.remove_all()
        self.files.close_all()
        for log_dir in self.log_dirs:
            if log_dir in unclean:
                log.warning("Not marking %s as cleanly shut down: a log or checkpoint in it failed", log_dir)
                continue
            try:
                write_clean_shutdown(self.fs, log_dir, broker_epoch)
            except OSError as e:
                log.error("Cannot mark %s as cleanly shut down (the next start recovers it): %s", log_dir, e)
        self._logs.clear()
        self._dir_of.clear()
        log.info("Log manager shut down")


__all__ = ["LogManager", "MetaPropertiesError"]
