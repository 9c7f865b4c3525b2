"""Producer state snapshots: ``<offset>.snapshot`` files in a partition directory.

A snapshot holds the producer state (see producer_state.py) as it was after every batch below
``offset`` and none above it, so loading it and replaying the log from ``offset`` rebuilds the
state without reading what lies before. The file name is the offset padded to 20 digits, like
a segment's (``00000000000000001234.snapshot``). producer_store.py decides when they are
written, loaded and deleted.

Layout, big-endian; the first three parts are Kafka's version-1 snapshot, byte for byte::

    offset  size  field
         0     2  version              INT16, 1
         2     4  crc                  UINT32, CRC-32C of every byte from offset 6 to the end
         6     4  entry count          INT32
        10  46*n  entries, one per producer:
                    producer_id               INT64
                    epoch                     INT16
                    last_sequence             INT32   -1 when no batch is retained
                    last_offset               INT64   -1 when no batch is retained
                    offset_delta              INT32   last offset - first offset of that batch
                    timestamp                 INT64   the producer's last timestamp
                    coordinator_epoch         INT32
                    current_txn_first_offset  INT64   -1 when no transaction is open
    then, optionally (Moldau's addition):
             4  earlier batch count    INT32
          32*m  earlier batches, each producer's oldest first:
                    producer_id               INT64
                    last_sequence             INT32
                    last_offset               INT64
                    offset_delta              INT32
                    timestamp                 INT64

Kafka's entry keeps only a producer's last batch; the trailing section keeps the (up to four)
batches before it, so that a producer retrying any of its last five batches after a restart
still gets the original offsets back. The CRC covers it; a reader of Kafka's format stops
after the entries, and a file without the section (written by Kafka) loads with one batch per
producer. A file that is short, of another version, fails its CRC or does not parse raises
``CorruptSnapshotError``; the loader then falls back to an older snapshot or to the log.
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from collections.abc import Iterable

from moldau.protocol.records.crc import crc32c
from moldau.storage.producer_state import (
    NUM_BATCHES_TO_RETAIN,
    BatchMetadata,
    ProducerEntry,
    first_sequence,
)

SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOT_VERSION = 1

_HEAD = struct.Struct(">hI")
_COUNT = struct.Struct(">i")
_ENTRY = struct.Struct(">qhiqiqiq")
_BATCH = struct.Struct(">qiqiq")
_CRC_START = _HEAD.size


class CorruptSnapshotError(ValueError):
    """A snapshot file that cannot be trusted; the message says why."""


def snapshot_file_name(offset: int) -> str:
    return f"{offset:020d}{SNAPSHOT_SUFFIX}"


def parse_snapshot_file_name(name: str) -> int | None:
    """The offset of a file named ``<digits>.snapshot``, else None."""
    stem, suffix = name[: -len(SNAPSHOT_SUFFIX)], name[-len(SNAPSHOT_SUFFIX) :]
    return int(stem) if suffix == SNAPSHOT_SUFFIX and stem.isdigit() else None


def encode_snapshot(entries: Iterable[ProducerEntry]) -> bytes:
    """The file content for ``entries`` (see the module docstring)."""
    body = bytearray()
    earlier = bytearray()
    count = earlier_count = 0
    for e in entries:
        last = e.batches[-1] if e.batches else None
        body += _ENTRY.pack(
            e.producer_id,
            e.epoch,
            last.last_seq if last else -1,
            last.last_offset if last else -1,
            last.last_offset - last.first_offset if last else 0,
            e.last_timestamp,
            e.coordinator_epoch,
            -1 if e.current_txn_first_offset is None else e.current_txn_first_offset,
        )
        count += 1
        for batch in list(e.batches)[:-1]:
            earlier += _BATCH.pack(
                e.producer_id,
                batch.last_seq,
                batch.last_offset,
                batch.last_offset - batch.first_offset,
                batch.timestamp,
            )
            earlier_count += 1
    rest = _COUNT.pack(count) + body
    if earlier_count:
        rest += _COUNT.pack(earlier_count) + earlier
    return _HEAD.pack(SNAPSHOT_VERSION, crc32c(rest)) + rest


def _batch(last_seq: int, last_offset: int, offset_delta: int, timestamp: int) -> BatchMetadata:
    return BatchMetadata(
        first_sequence(last_seq, offset_delta), last_seq, last_offset - offset_delta, last_offset, timestamp
    )


def decode_snapshot(data: bytes) -> list[ProducerEntry]:
    """The entries of a snapshot file's content. Raises CorruptSnapshotError."""
    if len(data) < _HEAD.size + _COUNT.size:
        raise CorruptSnapshotError(f"{len(data)} bytes are too short for a snapshot")
    version, crc = _HEAD.unpack_from(data)
    if version != SNAPSHOT_VERSION:
        raise CorruptSnapshotError(f"unknown snapshot version {version}")
    computed = crc32c(memoryview(data)[_CRC_START:])
    if computed != crc:
        raise CorruptSnapshotError(f"CRC mismatch: stored {crc:#010x}, computed {computed:#010x}")
    (count,) = _COUNT.unpack_from(data, _HEAD.size)
    position = _HEAD.size + _COUNT.size
    if count < 0 or len(data) - position < count * _ENTRY.size:
        raise CorruptSnapshotError(f"entry count {count} does not fit in {len(data)} bytes")
    entries: dict[int, ProducerEntry] = {}
    for pid, epoch, last_seq, last_offset, delta, ts, coordinator_epoch, txn_first in _ENTRY.iter_unpack(
        data[position : position + count * _ENTRY.size]
    ):
        batches: deque[BatchMetadata] = deque(maxlen=NUM_BATCHES_TO_RETAIN)
        if last_offset >= 0:
            batches.append(_batch(last_seq, last_offset, delta, ts))
        entries[pid] = ProducerEntry(
            pid, epoch, batches, coordinator_epoch, ts, txn_first if txn_first >= 0 else None
        )
    position += count * _ENTRY.size
    if position == len(data):
        return list(entries.values())
    if len(data) - position < _COUNT.size:
        raise CorruptSnapshotError(f"{len(data) - position} stray bytes after the entries")
    (earlier_count,) = _COUNT.unpack_from(data, position)
    position += _COUNT.size
    if earlier_count < 0 or len(data) - position != earlier_count * _BATCH.size:
        raise CorruptSnapshotError(f"earlier batch count {earlier_count} does not match the file size")
    earlier: dict[int, list[BatchMetadata]] = {}
    for pid, last_seq, last_offset, delta, ts in _BATCH.iter_unpack(data[position:]):
        earlier.setdefault(pid, []).append(_batch(last_seq, last_offset, delta, ts))
    for pid, batches_before in earlier.items():
        entry = entries.get(pid)
        if entry is None or not entry.batches:
            raise CorruptSnapshotError(f"earlier batches for producer {pid}, which has no last batch")
        if len(batches_before) >= NUM_BATCHES_TO_RETAIN:
            raise CorruptSnapshotError(f"{len(batches_before)} earlier batches for producer {pid}")
        ordered = [*batches_before, entry.batches[-1]]
        if any(a.last_offset >= b.first_offset for a, b in itertools.pairwise(ordered)):
            raise CorruptSnapshotError(f"batches of producer {pid} are not in offset order")
        entry.batches.extendleft(reversed(batches_before))
    return list(entries.values())
