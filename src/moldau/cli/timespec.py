"""Instants and durations as people type them on the command line, as Kafka timestamps (ms).

- An instant is ISO 8601 (``2024-05-01T12:00:00Z``, ``2024-05-01T14:00:00.250+02:00``,
  ``2024-05-01``) or a number of milliseconds since the epoch. Without a zone it is local
  time, as in Kafka's ``kafka-consumer-groups --to-datetime``.
- A duration is ISO 8601 (``PT10M``, ``P1DT2H``, ``PT0.5S``, ``P2W``), as in
  ``--by-duration``.

Both functions are argparse types: a bad value is an ``ArgumentTypeError`` (usage error).
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
_MS_PER = {"weeks": 604_800_000, "days": 86_400_000, "hours": 3_600_000, "minutes": 60_000, "seconds": 1000}


def instant_ms(text: str) -> int:
    """Milliseconds since the epoch for an ISO 8601 instant or a plain number of ms."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z, got {text!r}"
        ) from None
    # A naive datetime's timestamp() is taken in local time.
    return round(moment.timestamp() * 1000)


def duration_ms(text: str) -> int:
    """Milliseconds in an ISO 8601 duration (weeks, days, hours, minutes, seconds)."""
    value = text.strip()
    match = _DURATION.fullmatch(value)
    if match is None or not any(match.groupdict().values()) or value.upper().endswith("T"):
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 duration such as PT10M or P1DT2H, got {text!r}"
        )
    total = 0.0
    for unit, amount in match.groupdict().items():
        if amount:
            total += float(amount) * _MS_PER[unit]
    return round(total)
