"""Swapping a cleaned segment in for the segments it replaces, crash-safely.

The cleaner's worker leaves a complete, fsynced segment under the ``.cleaned`` suffix
(clean_job.py). The swap, on the event loop, puts it in the place of the group of segments
``b_1 < ... < b_n`` it replaces; the new segment's base offset ``B`` is ``b_1``. File names are
``<base><suffix>`` as in segment.py. Steps:

====  ==========================================================  ===========================
step  rename                                                      a crash after it
====  ==========================================================  ===========================
1     ``b_i.log`` → ``b_i.log.replaced``, for each old segment,   rolled back at start-up
      then fsync the directory
2     ``B.log.cleaned`` → ``B.log.swap``, fsync the directory     **commit**: rolled forward
3     ``b_i.index`` / ``.timeindex`` → ``.deleted`` (i > 1);      rolled forward
      ``b_i.log.replaced`` → ``b_i.log.deleted``;
      ``B.index.cleaned`` / ``B.timeindex.cleaned`` → ``B.index``
      / ``B.timeindex`` (replacing the old ones)
4     ``B.log.swap`` → ``B.log``, fsync the directory             done
====  ==========================================================  ===========================

Start-up (``finish_interrupted_swap``, before the segments are listed): if a ``*.log.swap``
exists the swap had committed, so every ``*.log.replaced`` is removed, the ``.cleaned`` index
files of ``B`` replace ``B``'s (when they are gone already, ``B``'s index files are removed:
whether they are the old or the new ones cannot be told, and a missing index is rebuilt from
the segment on first use), and ``B.log.swap`` becomes ``B.log``.
Without one, every ``*.log.replaced`` is renamed back to ``*.log``: the old segments are
back, their index files untouched. Leftover ``.cleaned`` and ``.deleted`` files are then
removed as any leftovers are (recovery.py). At most one swap per partition is ever under way,
so "any ``.swap``" identifies it. (Kafka instead deletes, at start-up, the segments whose
base offsets fall inside the ``.swap`` segment's offsets; moving the old segments aside
before the commit makes both outcomes exact without reading any data.)

At run time a failure before the commit undoes step 1 and removes the cleaned files: the log
is as before. A failure after it cannot be undone safely; the log is marked failed (appends
refused) and the next start-up finishes the swap. The swap never changes an offset: the log
start, high watermark, log end and recovery point stay.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from moldau.storage.clean_job import CleanedGroup, remove_cleaned
from moldau.storage.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    REPLACED_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_file_name,
)
from moldau.util.fs import FileSystem

if TYPE_CHECKING:  # log.py opens directories through partition_dir.py and recovery.py, which uses this module
    from moldau.storage.log import PartitionLog

log = logging.getLogger(__name__)


class SwapFailed(Exception):
    """The swap failed after its commit point; the log is marked failed."""


def swap_in(plog: PartitionLog, old: list[LogSegment], group: CleanedGroup, now_ms: int) -> bool:
    """Swap the cleaned segment of ``group`` in for ``old`` (the segments it replaces, still in
    the log, none active). Returns False when the swap failed before its commit and was rolled
    back (the log unchanged, the cleaned files gone); raises SwapFailed after it."""
    fs, directory, base = plog.fs, plog.dir, group.base_offset

    def path(suffix: str) -> str:
        return os.path.join(directory, segment_file_name(base, suffix))

    moved: list[LogSegment] = []
    try:
        for segment in old:
            fs.rename(segment.log_path, segment.log_path + REPLACED_SUFFIX)
            moved.append(segment)
        fs.fsync_dir(directory)
        fs.rename(path(LOG_SUFFIX + CLEANED_SUFFIX), path(LOG_SUFFIX + SWAP_SUFFIX))
    except OSError as e:
        log.warning(
            "Swapping a cleaned segment into %s failed before its commit, rolled back: %s", plog.name, e
        )
        _roll_back(plog, moved)
        remove_cleaned(fs, directory, base)
        return False

    deleted: list[str] = []
    try:
        fs.fsync_dir(directory)
        for segment in old:
            segment.close()
        for segment in old:
            if segment.base_offset != base:
                for index in (segment.offset_index, segment.time_index):
                    if fs.exists(index.path):
                        fs.rename(index.path, index.path + DELETED_SUFFIX)
                        deleted.append(index.path + DELETED_SUFFIX)
            fs.rename(segment.log_path + REPLACED_SUFFIX, segment.log_path + DELETED_SUFFIX)
            deleted.append(segment.log_path + DELETED_SUFFIX)
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            fs.rename(path(suffix + CLEANED_SUFFIX), path(suffix))
        fs.rename(path(LOG_SUFFIX + SWAP_SUFFIX), path(LOG_SUFFIX))
        fs.fsync_dir(directory)
        new = LogSegment.open(fs, directory, base, plog.config, now_ms)
    except OSError as e:
        plog.failed = f"a segment swap failed after its commit ({e}); a restart completes it"
        log.error("Swapping a cleaned segment into %s failed: %s", plog.name, plog.failed)
        raise SwapFailed(plog.failed) from e
    plog.replace_segments(old, new)
    plog.deletions.schedule(deleted, now_ms, plog.config.file_delete_delay_ms)
    return True


def _roll_back(plog: PartitionLog, moved: list[LogSegment]) -> None:
    for segment in reversed(moved):
        try:
            plog.fs.rename(segment.log_path + REPLACED_SUFFIX, segment.log_path)
        except OSError as e:
            plog.failed = f"could not roll back a segment swap ({e}); a restart does"
            log.error("%s: %s", plog.name, plog.failed)


def finish_interrupted_swap(fs: FileSystem, directory: str, names: list[str]) -> bool:
    """Complete or undo a swap that a crash interrupted (see the module docstring), given the
    directory's file names; returns whether any file was renamed or removed. Called once per
    partition directory at start-up, before anything else looks at its files."""
    swaps = [n for n in names if n.endswith(LOG_SUFFIX + SWAP_SUFFIX)]
    replaced = [n for n in names if n.endswith(LOG_SUFFIX + REPLACED_SUFFIX)]
    if not swaps and not replaced:
        return False
    if not swaps:
        for name in replaced:
            target = name[: -len(REPLACED_SUFFIX)]
            log.warning("Rolling back an interrupted segment swap: restoring %s/%s", directory, target)
            fs.rename(os.path.join(directory, name), os.path.join(directory, target))
        fs.fsync_dir(directory)
        return True
    for name in replaced:
        log.info("Completing an interrupted segment swap: removing %s/%s", directory, name)
        fs.remove(os.path.join(directory, name))
    for name in swaps:
        stem = name[: -len(LOG_SUFFIX + SWAP_SUFFIX)]
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            cleaned = os.path.join(directory, stem + suffix + CLEANED_SUFFIX)
            index = os.path.join(directory, stem + suffix)
            if fs.exists(cleaned):
                fs.rename(cleaned, index)
            elif fs.exists(index):  # new or old, it cannot be told: rebuilt on first use
                fs.remove(index)
        log.warning("Completing an interrupted segment swap: installing %s/%s", directory, stem + LOG_SUFFIX)
        fs.rename(os.path.join(directory, name), os.path.join(directory, stem + LOG_SUFFIX))
    fs.fsync_dir(directory)
    return True
