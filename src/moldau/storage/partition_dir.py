"""A partition's directory ``<log dir>/<topic>-<partition>/``: its name, creating, opening and
deleting it.

``PartitionLog.create``, ``PartitionLog.open`` and ``PartitionLog.delete`` call these
functions; what the directory holds is described in log.py. Opening checks the topic id in
``partition.metadata`` (checkpoints.py), then loads the segments as recovery.py describes.
Deleting renames the directory to ``<topic>-<partition>.<uuid>-delete`` first, so that a crash
cannot leave a half-deleted log that looks alive, then removes it; the log manager removes
leftover ``-delete`` directories at start-up.
"""

from __future__ import annotations

import logging
import os
import uuid

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.storage.checkpoints import PARTITION_METADATA, read_partition_metadata, write_partition_metadata
from moldau.storage.config import LogConfig
from moldau.storage.recovery import LoadedLog, load_segments
from moldau.storage.segment import LogSegment
from moldau.storage.segments import LogSegments
from moldau.util.clock import Clock
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

DELETE_DIR_SUFFIX = "-delete"


def partition_dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def parse_partition_dir_name(name: str) -> tuple[str, int] | None:
    """``(topic, partition)`` for a directory named ``<topic>-<partition>``, else None."""
    topic, sep, number = name.rpartition("-")
    if not sep or not topic or not number.isdigit():
        return None
    return topic, int(number)


def create_partition_dir(
    fs: FileSystem, directory: str, topic_id: uuid.UUID | None, config: LogConfig, clock: Clock
) -> LoadedLog:
    """Make ``directory`` with its ``partition.metadata`` (when ``topic_id`` is known) and one
    empty segment at offset 0. I/O errors raise KafkaError(KAFKA_STORAGE_ERROR)."""
    try:
        fs.makedirs(directory)
        if topic_id is not None:
            write_partition_metadata(fs, os.path.join(directory, PARTITION_METADATA), topic_id)
        segments = LogSegments()
        segments.add(LogSegment.create(fs, directory, 0, config, clock.time_ms()))
    except OSError as e:
        raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"cannot create log {directory}: {e}") from e
    return LoadedLog(segments, 0, 0, 0)


def open_partition_dir(
    fs: FileSystem,
    directory: str,
    config: LogConfig,
    clock: Clock,
    *,
    topic_id: uuid.UUID | None,
    log_start_offset: int,
    recovery_point: int,
    clean_shutdown: bool,
) -> tuple[uuid.UUID | None, LoadedLog]:
    """Check ``partition.metadata`` against ``topic_id`` when given (KafkaError
    INCONSISTENT_TOPIC_ID on a mismatch; written if missing), then load the segments
    (recovery.py). Returns the topic id, given or stored, and what was loaded. Reading raises
    ``OSError``, ``InvalidBatch`` or ``ValueError``."""
    metadata_path = os.path.join(directory, PARTITION_METADATA)
    stored_id = read_partition_metadata(fs, metadata_path)
    if topic_id is not None and stored_id is not None and stored_id != topic_id:
        raise KafkaError(
            ErrorCode.INCONSISTENT_TOPIC_ID,
            f"{directory} belongs to topic id {stored_id}, expected {topic_id}",
        )
    if topic_id is not None and stored_id is None:
        write_partition_metadata(fs, metadata_path, topic_id)
    loaded = load_segments(
        fs,
        directory,
        config,
        clock.time_ms(),
        log_start_offset=log_start_offset,
        recovery_point=recovery_point,
        clean_shutdown=clean_shutdown,
    )
    return topic_id or stored_id, loaded


def delete_partition_dir(fs: FileSystem, directory: str, name: str, segments: LogSegments) -> None:
    """Close ``segments`` (errors are logged and ignored), rename ``directory`` (named ``name``)
    to ``<name>.<uuid>-delete`` and remove it."""
    parent = os.path.dirname(directory)
    suffix = f".{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}"
    prefix = name[: 255 - len(suffix)]
    target = os.path.join(parent, prefix + suffix)
    for segment in segments:
        try:
            segment.close()
        except OSError:
            log.warning("Ignoring an error closing %s before deletion", segment.log_path)
    fs.rename(directory, target)
    fs.fsync_dir(parent)
    fs.remove_tree(target)
