"""Leader epoch cache: which leader epoch began at which offset.

Each entry ``(epoch, start_offset)`` says that the leader of ``epoch`` wrote its first batch at
``start_offset``; epochs and start offsets both strictly increase. The cache answers
OffsetForLeaderEpoch (where did epoch ``e`` end?), which consumers use to detect log
truncation after a leader change and followers use to find where to truncate. It is
persisted to the partition's ``leader-epoch-checkpoint`` (format in checkpoints.py) after
every change; changes happen only when the leader changes or the log is truncated, so the
write is rare. A write that fails raises (the change stays in memory) and is tried again at
the log's next flush (``save_if_unsaved``), so the file catches up once the disk allows.

The rules follow Kafka's ``LeaderEpochFileCache``. Owned by one ``PartitionLog``; not safe to
share between threads.
"""

from __future__ import annotations

import bisect
import logging
from typing import NamedTuple

from moldau.storage.checkpoints import CheckpointError, read_epochs, write_epochs
from moldau.util.fs import FileSystem

log = logging.getLogger(__name__)

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class LeaderEpochCache:
    def __init__(self, fs: FileSystem, path: str) -> None:
        self.fs = fs
        self.path = path
        self._entries: list[EpochEntry] = []
        self._unsaved = False  # the last write of the checkpoint failed
        try:
            stored = read_epochs(fs, path) or []
        except CheckpointError as e:
            log.warning("Ignoring unreadable leader epoch checkpoint: %s", e)
            stored = []
        for epoch, start in stored:
            if self._entries and (epoch <= self._entries[-1].epoch or start < self._entries[-1].start_offset):
                log.warning("Ignoring out-of-order leader epoch entries in %s", path)
                self._entries = []
                break
            self._entries.append(EpochEntry(epoch, start))

    @property
    def entries(self) -> list[EpochEntry]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset``. Nothing changes when ``epoch`` is the
        latest epoch already starting at or before that offset. Otherwise every entry with an
        epoch >= ``epoch`` or a start offset >= ``start_offset`` is replaced by the new one."""
        if epoch < 0 or start_offset < 0:
            return
        if self._entries:
            latest = self._entries[-1]
            if latest.epoch == epoch and latest.start_offset <= start_offset:
                return
        kept = [e for e in self._entries if e.epoch < epoch and e.start_offset < start_offset]
        if len(kept) < len(self._entries):
            log.warning(
                "New leader epoch entry (%d, %d) in %s replaces %s",
                epoch,
                start_offset,
                self.path,
                self._entries[len(kept) :],
            )
        kept.append(EpochEntry(epoch, start_offset))
        self._entries = kept
        self._persist()

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """``(epoch, end offset)`` for OffsetForLeaderEpoch: the largest epoch <= the requested one
        and the offset where the epoch after it starts (the log end offset for the latest
        epoch). ``(-1, -1)`` when the requested epoch is undefined or later than any known,
        and the requested epoch with the first entry's start offset when it predates them
        all."""
        if requested_epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if requested_epoch == self._entries[-1].epoch:
            return requested_epoch, log_end_offset
        epochs = [e.epoch for e in self._entries]
        higher = bisect.bisect_right(epochs, requested_epoch)
        if higher == len(self._entries):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        end = self._entries[higher].start_offset
        if higher == 0:
            return requested_epoch, end
        return self._entries[higher - 1].epoch, end

    def epoch_for_offset(self, offset: int) -> int:
        """The epoch of the leader that wrote ``offset`` (the entry starting at or before it)."""
        starts = [e.start_offset for e in self._entries]
        i = bisect.bisect_right(starts, offset)
        return self._entries[i - 1].epoch if i else UNDEFINED_EPOCH

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs that start at or after ``end_offset`` (the log was cut there)."""
        kept = [e for e in self._entries if e.start_offset < end_offset]
        if len(kept) != len(self._entries):
            self._entries = kept
            self._persist()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at ``start_offset``: drop epochs that end before it and move the
        start of the epoch holding it up to it."""
        before = [e for e in self._entries if e.start_offset <= start_offset]
        if not before or (len(before) == 1 and before[0].start_offset == start_offset):
            return
        holder = EpochEntry(before[-1].epoch, start_offset)
        self._entries = [holder, *self._entries[len(before) :]]
        self._persist()

    def clear(self) -> None:
        if self._entries:
            self._entries = []
            self._persist()

    def save_if_unsaved(self) -> None:
        """Write the checkpoint again when the last write of it failed; a new failure is
        logged and tried again at the next call."""
        if not self._unsaved:
            return
        try:
            self._persist()
        except OSError as e:
            log.warning("Could not write %s yet (retried at the next flush): %s", self.path, e)

    def _persist(self) -> None:
        self._unsaved = True
        write_epochs(self.fs, self.path, self._entries)
        self._unsaved = False
