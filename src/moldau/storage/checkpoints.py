"""Small text files that remember where logs stand, in Kafka's formats.

Each ``write_*`` function documents its file's layout. All are UTF-8 text, every line ending
in a newline, written atomically (``FileSystem.write_atomic``: ``<name>.tmp``, fsync, rename,
fsync of the directory), so a crash leaves the old or the new file, never half of one.
Readers return None / empty for a missing file and raise ``CheckpointError`` naming the file
and line for one that does not parse.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from moldau.util.fs import FileSystem
from moldau.util.uuids import uuid_from_str, uuid_to_str

RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
PARTITION_METADATA = "partition.metadata"

_VERSION = 0

T = TypeVar("T")


class CheckpointError(ValueError):
    """A checkpoint file that does not parse; the message names the file and the line."""


def _write_entries(fs: FileSystem, path: str, lines: list[str]) -> None:
    text = f"{_VERSION}\n{len(lines)}\n" + "".join(line + "\n" for line in lines)
    fs.write_atomic(path, text.encode("utf-8"))


def _read_entries(fs: FileSystem, path: str, parse: Callable[[list[str]], T], fields: int) -> list[T] | None:
    """The parsed entry lines, or None when the file does not exist."""
    if not fs.exists(path):
        return None
    try:
        lines = fs.read_file(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: not UTF-8 text") from e
    if len(lines) < 2:
        raise CheckpointError(f"{path}: missing version or count line")
    if lines[0].strip() != str(_VERSION):
        raise CheckpointError(f"{path}: unsupported version {lines[0].strip()!r}")
    try:
        count = int(lines[1])
    except ValueError:
        raise CheckpointError(f"{path}: bad entry count {lines[1]!r}") from None
    body = [line for line in lines[2:] if line.strip()]
    if count != len(body):
        raise CheckpointError(f"{path}: expected {count} entries, found {len(body)}")
    out = []
    for n, line in enumerate(body, start=3):
        parts = line.split()
        if len(parts) != fields:
            raise CheckpointError(f"{path}: line {n} has {len(parts)} fields, expected {fields}: {line!r}")
        try:
            out.append(parse(parts))
        except ValueError:
            raise CheckpointError(f"{path}: line {n} does not parse: {line!r}") from None
    return out


# -- offset checkpoints ----------------------------------------------------------------------


def write_offsets(fs: FileSystem, path: str, offsets: Mapping[tuple[str, int], int]) -> None:
    """An offset checkpoint (``recovery-point-offset-checkpoint``,
    ``log-start-offset-checkpoint``; one per data directory)::

        0                 version
        2                 number of entry lines
        orders 0 1500     <topic> <partition> <offset>, one line per partition
        orders 1 1320

    Lines are sorted by topic and partition."""
    lines = [f"{topic} {partition} {offset}" for (topic, partition), offset in sorted(offsets.items())]
    _write_entries(fs, path, lines)


def read_offsets(fs: FileSystem, path: str) -> dict[tuple[str, int], int]:
    """Offsets by ``(topic, partition)``; empty when the file does not exist."""
    entries = _read_entries(fs, path, lambda p: ((p[0], int(p[1])), int(p[2])), 3)
    return dict(entries or ())


# -- leader epochs ---------------------------------------------------------------------------


def write_epochs(fs: FileSystem, path: str, entries: Iterable[tuple[int, int]]) -> None:
    """A leader epoch checkpoint (``leader-epoch-checkpoint``, one per partition directory)::

    0                 version
    2                 number of entry lines
    0 0               <leader epoch> <start offset>, both increasing
    3 1450
    """
    _write_entries(fs, path, [f"{epoch} {start}" for epoch, start in entries])


def read_epochs(fs: FileSystem, path: str) -> list[tuple[int, int]] | None:
    """``(epoch, start offset)`` pairs in file order; None when the file does not exist."""
    return _read_entries(fs, path, lambda p: (int(p[0]), int(p[1])), 2)


# -- partition metadata ----------------------------------------------------------------------


def write_partition_metadata(fs: FileSystem, path: str, topic_id: uuid.UUID) -> None:
    """``partition.metadata``, one per partition directory::

        version: 0
        topic_id: vD3rQ8AhSAOFf1_3c9HkUw

    The topic id as Kafka prints a UUID (see ``moldau.util.uuids``)."""
    fs.write_atomic(path, f"version: {_VERSION}\ntopic_id: {uuid_to_str(topic_id)}\n".encode())


def read_partition_metadata(fs: FileSystem, path: str) -> uuid.UUID | None:
    """The topic id; None when the file does not exist."""
    if not fs.exists(path):
        return None
    fields: dict[str, str] = {}
    for line in fs.read_file(path).decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if fields.get("version") != str(_VERSION):
        raise CheckpointError(f"{path}: unsupported version {fields.get('version')!r}")
    try:
        return uuid_from_str(fields.get("topic_id", ""))
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
