"""The arithmetic of ``moldau groups``: lag per partition and offset-reset plans.

Plain functions over plain data, so they are tested without a cluster; ``groups.py`` fetches
the offsets and hands them in. A partition is a ``(topic, partition)`` pair throughout.

Lag follows ``kafka-consumer-groups``: log end offset minus committed offset, shown only when
both are known. A reset plan follows its ``--reset-offsets``: ``--to-offset`` and
``--shift-by`` are clamped into ``[earliest, latest]``, a time with no record at or after it
resets to the log end, and ``--shift-by`` needs a committed offset to shift from.
``--to-current`` keeps a committed offset as it is (not clamped, as Kafka's tool does not) and
gives a partition without one its log end offset.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from moldau.util.datatype import datatype

TP = tuple[str, int]


@datatype(frozen=True, slots=True)
class Member:
    consumer_id: str
    host: str
    client_id: str


@datatype(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    lag: int | None
    member: Member | None

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "current_offset": self.current_offset,
            "log_end_offset": self.log_end_offset,
            "lag": self.lag,
            "consumer_id": self.member.consumer_id if self.member else None,
            "host": self.member.host if self.member else None,
            "client_id": self.member.client_id if self.member else None,
        }


def lag_rows(
    committed: Mapping[TP, int],
    log_end: Mapping[TP, int],
    owners: Mapping[TP, Member],
) -> list[PartitionLag]:
    """One row per partition that has a committed offset or an owner, sorted by topic, partition.

    ``committed`` holds only real offsets (no -1001 "none" markers).
    """
    rows = []
    for tp in sorted(set(committed) | set(owners)):
        current = committed.get(tp)
        end = log_end.get(tp)
        lag = max(end - current, 0) if current is not None and end is not None and end >= 0 else None
        rows.append(
            PartitionLag(
                tp[0], tp[1], current, end if end is not None and end >= 0 else None, lag, owners.get(tp)
            )
        )
    return rows


class ResetKind(enum.Enum):
    EARLIEST = "to-earliest"
    LATEST = "to-latest"
    CURRENT = "to-current"
    OFFSET = "to-offset"
    SHIFT = "shift-by"
    DATETIME = "to-datetime"
    DURATION = "by-duration"

    @property
    def by_time(self) -> bool:
        return self in (ResetKind.DATETIME, ResetKind.DURATION)


@datatype(frozen=True, slots=True)
class ResetSpec:
    """A reset strategy and its argument (offset, shift, instant in ms, or duration in ms)."""

    kind: ResetKind
    value: int = 0

    def timestamp_ms(self, now_ms: int) -> int:
        """The instant a time-based strategy looks up offsets for."""
        if self.kind is ResetKind.DATETIME:
            return self.value
        if self.kind is ResetKind.DURATION:
            return now_ms - self.value
        raise ValueError(f"{self.kind.value} is not time based")


@datatype(frozen=True, slots=True)
class PlannedReset:
    topic: str
    partition: int
    current_offset: int | None
    new_offset: int

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "current_offset": self.current_offset,
            "new_offset": self.new_offset,
        }


class PlanError(ValueError):
    """The strategy has no answer for a partition (e.g. shift without a committed offset)."""


def plan_reset(
    spec: ResetSpec,
    partitions: Iterable[TP],
    committed: Mapping[TP, int],
    earliest: Mapping[TP, int],
    latest: Mapping[TP, int],
    by_time: Mapping[TP, int] | None = None,
) -> list[PlannedReset]:
    """The new offset of every partition; ``by_time`` holds -1 where no record is that new."""
    plan = []
    for tp in sorted(set(partitions)):
        low, high = earliest[tp], latest[tp]
        current = committed.get(tp)
        if spec.kind is ResetKind.EARLIEST:
            new = low
        elif spec.kind is ResetKind.LATEST:
            new = high
        elif spec.kind is ResetKind.CURRENT:
            new = high if current is None else current
        elif spec.kind is ResetKind.OFFSET:
            new = spec.value
        elif spec.kind is ResetKind.SHIFT:
            if current is None:
                raise PlanError(
                    f"cannot shift the offset of {tp[0]}/{tp[1]}: the group has no committed offset there"
                )
            new = current + spec.value
        else:
            if by_time is None:
                raise ValueError("a time-based reset needs the offsets for that time")
            found = by_time[tp]
            new = found if found >= 0 else high
        if spec.kind is not ResetKind.CURRENT:  # a committed offset stays as it is, in range or not
            new = min(max(new, low), high)
        plan.append(PlannedReset(tp[0], tp[1], current, new))
    return plan
