"""Opening a partition directory: find the segments, and check what a crash may have broken.

Called by ``PartitionLog.open`` (through partition_dir.py) once per partition at startup.
Two cases:

* After a clean shutdown (the data directory held ``.kafka_cleanshutdown``) everything on
  disk was flushed and closed properly, so nothing of the segments is read. Segments are
  opened by name and size (one ``stat`` each); their indexes load lazily on first use. The
  log end offset is the partition's recovery point: the shutdown flushed the log up to its
  end and checkpointed that before writing the marker. Only when the checkpoint has no entry
  that fits the active segment is that segment's tail walked (from its last offset-index
  entry to the end of the file, batch headers only).
* After an unclean stop, what may not have reached the disk is checked batch by batch
  (``LogSegment.recover``: header, size, CRC, offsets): in the segment holding the recovery
  point, from the batch of the last offset-index entry below it; in every later segment, from
  the start. So the work is what was written since the recovery point was last
  checkpointed (plus at most ``index.interval.bytes`` and a batch), not the size of the log.
  The log is cut at the first bad batch, segments after that point are deleted, and the index
  entries past the starting point are rewritten. Each cut is logged at WARNING with the file,
  position, bytes dropped and the reason. Everything before the recovery point is trusted as
  in a clean start.

Loading keeps few files open: every segment is released once loaded (``release``), so its
files are reopened, through the log manager's open-file cache, only when used.

In both cases a segment whose index files are missing or inconsistent gets them rebuilt from
its batch headers when first used (logged at WARNING). Interrupted operations are dealt with
first: a segment swap by the cleaner is completed or undone (swap.py), then the leftovers are
removed: ``*.deleted`` files (segment deletion is rename-then-remove), ``*.cleaned`` files (a
cleaning that had not committed) and ``*.tmp`` files (checkpoints are written to a temporary
file and renamed).
"""

from __future__ import annotations

import logging
import os
from typing import NamedTuple

from moldau.storage.batch_reader import InvalidBatch
from moldau.storage.config import LogConfig
from moldau.storage.index import INT32_MAX
from moldau.storage.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
)
from moldau.storage.segments import LogSegments
from moldau.storage.swap import finish_interrupted_swap
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

_LEFTOVER_SUFFIXES = (DELETED_SUFFIX, CLEANED_SUFFIX, ".tmp")


class LoadedLog(NamedTuple):
    segments: LogSegments
    log_start_offset: int
    log_end_offset: int
    recovery_point: int


def load_segments(
    fs: FileSystem,
    directory: str,
    config: LogConfig,
    now_ms: int,
    *,
    log_start_offset: int,
    recovery_point: int,
    clean_shutdown: bool,
) -> LoadedLog:
    """Open (and if needed recover) the segments in ``directory``. ``log_start_offset`` and
    ``recovery_point`` come from the data directory's checkpoints (0 when absent)."""
    bases = _scan_directory(fs, directory)
    segments = LogSegments()
    for base in bases:
        segments.add(LogSegment.open(fs, directory, base, config, now_ms))
    if not segments:
        segments.add(LogSegment.create(fs, directory, log_start_offset, config, now_ms))

    if clean_shutdown:
        log_end = _clean_log_end(segments, config, recovery_point)
        recovery_point = log_end
    else:
        log_end = _recover_unflushed(segments, config, recovery_point)
        recovery_point = min(recovery_point, log_end)

    log_start_offset = max(log_start_offset, segments.first.base_offset)
    if log_start_offset > log_end:
        log.warning(
            "%s: log start offset %d is past the log end %d; starting an empty log there",
            directory,
            log_start_offset,
            log_end,
        )
        for seg in segments:
            segments.remove(seg)
            seg.delete()
        segments.add(LogSegment.create(fs, directory, log_start_offset, config, now_ms))
        log_end = recovery_point = log_start_offset
    for seg in segments:
        seg.release()
    return LoadedLog(segments, log_start_offset, log_end, recovery_point)


def _scan_directory(fs: FileSystem, directory: str) -> list[int]:
    """Base offsets of the segments present; finishes an interrupted swap, removes leftovers
    and orphaned index files."""
    names = fs.listdir(directory)
    if finish_interrupted_swap(fs, directory, names):
        names = fs.listdir(directory)
    bases = set()
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext == LOG_SUFFIX and stem.isdigit():
            bases.add(int(stem))
    for name in names:
        path = os.path.join(directory, name)
        stem, ext = os.path.splitext(name)
        if name.endswith(_LEFTOVER_SUFFIXES):
            log.info("Removing leftover file %s", path)
            fs.remove(path)
        elif ext in (INDEX_SUFFIX, TIME_INDEX_SUFFIX) and stem.isdigit() and int(stem) not in bases:
            log.info("Removing index file %s without its segment", path)
            fs.remove(path)
    return sorted(bases)


def _clean_log_end(segments: LogSegments, config: LogConfig, recovery_point: int) -> int:
    """The log end offset after a clean shutdown: the checkpointed recovery point when it fits
    the active segment (past its base offset when it holds data, within its reach), else
    what the active segment's tail says."""
    active = segments.active
    if active.size == 0:
        log_end = active.base_offset
    elif active.base_offset < recovery_point <= active.base_offset + INT32_MAX + 1:
        log_end = recovery_point
    else:
        return _load_active_tail(segments, config)
    active.offset_limit = log_end
    return log_end


def _load_active_tail(segments: LogSegments, config: LogConfig) -> int:
    """The log end offset after a clean shutdown: walk the active segment's tail. A tail that
    does not parse means the shutdown was not as clean as claimed; that segment is recovered."""
    active = segments.active
    try:
        next_offset = active.load_tail()
    except InvalidBatch as e:
        log.warning(
            "%s: unexpected invalid batch at position %d after a clean shutdown (%s); recovering it",
            active.log_path,
            e.position,
            e.reason,
        )
        result = active.recover(config.max_message_bytes)
        _log_truncation(active, result.valid_bytes, result.truncated_bytes, result.reason)
        next_offset = result.next_offset
    return active.base_offset if next_offset is None else next_offset


def _recover_unflushed(segments: LogSegments, config: LogConfig, recovery_point: int) -> int:
    """Check every segment from the one holding ``recovery_point``; returns the log end offset."""
    unflushed = segments.from_offset(recovery_point)
    next_offset: int | None = None
    for i, seg in enumerate(unflushed):
        size = seg.size
        result = seg.recover(config.max_message_bytes, recovery_point if i == 0 else None)
        seg.release()
        log.info(
            "Recovered unflushed segment %s: checked %d of its %d bytes",
            seg.log_path,
            size - result.checked_from,
            size,
        )
        next_offset = result.next_offset if result.next_offset is not None else seg.base_offset
        if result.truncated_bytes > 0:
            _log_truncation(seg, result.valid_bytes, result.truncated_bytes, result.reason)
            for later in unflushed[i + 1 :]:
                log.warning("Deleting segment %s, which follows the truncation point", later.log_path)
                segments.remove(later)
                later.delete()
            break
    return segments.active.base_offset if next_offset is None else next_offset


def _log_truncation(seg: LogSegment, position: int, dropped: int, reason: str | None) -> None:
    if dropped:
        log.warning(
            "Truncating %s at position %d, dropping %d bytes: %s",
            seg.log_path,
            position,
            dropped,
            reason or "invalid data",
        )
