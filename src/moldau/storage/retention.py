"""Retention: which old segments of a log may go, by Kafka's rules.

The log manager runs ``delete_old_segments`` on every log once per
``log.retention.check.interval.ms``. Three rules apply in this order, each to whatever the
previous ones left:

1. **log start offset**: a segment whose successor starts at or below the log start offset
   holds nothing a consumer may read (DeleteRecords moved the start past it). Always applies.
2. **size** (``retention.bytes`` >= 0, ``delete`` policy): while the partition is larger than
   ``retention.bytes``, the oldest segment goes if the partition is still at least that large
   without it.
3. **time** (``retention.ms`` >= 0, ``delete`` policy): a segment goes when its largest record
   timestamp is more than ``retention.ms`` old. A segment without any timestamp is measured
   from when this process first opened or created it (Kafka uses the file's modification
   time, which the filesystem adapter does not offer).

Only whole segments are deleted, oldest first, and a rule stops at the first segment it
keeps. A segment is never deleted while any of its offsets is at or above the high
watermark, and the active segment only when it is not empty and the rule takes every segment
of the log: then, as Kafka does, the log rolls first and the old active segment goes with
the rest, so a partition whose data has all expired ends up empty at its log end offset. The
log start offset moves up to the first remaining segment; fetches below it answer
OFFSET_OUT_OF_RANGE (``PartitionLog.read``).

Called on the event loop; the deletion itself is ``PartitionLog.delete_segments``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from moldau.storage.log import PartitionLog
from moldau.storage.segment import LogSegment
from moldau.util.datatype import datatype

log = logging.getLogger(__name__)

Rule = Callable[[LogSegment], bool]


@datatype(frozen=True, slots=True)
class RetentionResult:
    segments: int
    size: int
    reasons: tuple[str, ...]
    log_start_offset: int


def delete_old_segments(plog: PartitionLog, now_ms: int) -> RetentionResult | None:
    """Apply the three rules to ``plog``; returns what was deleted (None when nothing was) and
    logs it in one INFO line. Raises KafkaError(KAFKA_STORAGE_ERROR) as the log does."""
    deleted: list[LogSegment] = []
    reasons: list[str] = []
    for reason, rule in _rules(plog, now_ms):
        segments = _deletable_prefix(plog, rule)
        if not segments:
            continue
        if segments[-1] is plog.segments.active:
            plog.roll(now_ms)
        size = sum(s.size for s in segments)
        plog.delete_segments(segments, now_ms)
        deleted += segments
        reasons.append(f"{reason} ({len(segments)} segments, {size} bytes)")
    if not deleted:
        return None
    result = RetentionResult(
        len(deleted), sum(s.size for s in deleted), tuple(reasons), plog.log_start_offset
    )
    log.info(
        "Deleted %d segments (%d bytes) of %s: %s; log start offset is now %d",
        result.segments,
        result.size,
        plog.name,
        ", ".join(result.reasons),
        result.log_start_offset,
    )
    return result


def _rules(plog: PartitionLog, now_ms: int) -> list[tuple[str, Callable[[], Rule]]]:
    """The rules that apply, each as a factory (the size rule counts from the log's size at
    the moment it starts)."""
    config = plog.config
    rules: list[tuple[str, Callable[[], Rule]]] = [
        (f"below the log start offset {plog.log_start_offset}", lambda: _below_log_start(plog)),
    ]
    if config.delete and config.retention_bytes >= 0:
        rules.append((f"retention.bytes {config.retention_bytes} breached", lambda: _over_size(plog)))
    if config.delete and config.retention_ms >= 0:
        rules.append((f"retention.ms {config.retention_ms} breached", lambda: _expired(plog, now_ms)))
    return rules


def _below_log_start(plog: PartitionLog) -> Rule:
    def rule(segment: LogSegment) -> bool:
        following = plog.segments.following(segment)
        return following is not None and following.base_offset <= plog.log_start_offset

    return rule


def _over_size(plog: PartitionLog) -> Rule:
    excess = plog.size_in_bytes() - plog.config.retention_bytes

    def rule(segment: LogSegment) -> bool:
        nonlocal excess
        if excess - segment.size < 0:
            return False
        excess -= segment.size
        return True

    return rule


def _expired(plog: PartitionLog, now_ms: int) -> Rule:
    retention_ms = plog.config.retention_ms

    def rule(segment: LogSegment) -> bool:
        largest = segment.largest_timestamp
        if largest < 0:
            largest = segment.created_ms
        return now_ms - largest > retention_ms

    return rule


def _deletable_prefix(plog: PartitionLog, make_rule: Callable[[], Rule]) -> list[LogSegment]:
    """The longest run of segments from the oldest that the rule takes, that lie below the
    high watermark, and that does not end with an empty active segment."""
    rule = make_rule()
    segments = list(plog.segments)
    out: list[LogSegment] = []
    for i, segment in enumerate(segments):
        following = segments[i + 1] if i + 1 < len(segments) else None
        if following is None and segment.size == 0:
            break
        upper = plog.log_end_offset if following is None else following.base_offset
        if plog.high_watermark < upper or not rule(segment):
            break
        out.append(segment)
    return out
