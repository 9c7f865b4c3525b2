"""Clocks: the wall clock and a hand-driven one for tests.

Everything that needs the time takes a ``Clock`` instead of calling ``time`` itself, so a test
can step time forward exactly (segment rolls by age, flush intervals, retention) without
sleeping. Two readings exist because they answer different questions:

* ``time_ms()`` is wall-clock time in milliseconds since the Unix epoch. It is what Kafka
  stores in records (LogAppendTime) and compares against configs such as ``segment.ms``.
  It may jump when the system clock is set.
* ``monotonic_ms()`` never goes backwards and has no fixed origin; use it for timeouts and
  for measuring how long something took.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def time_ms(self) -> int:
        """Wall-clock milliseconds since the Unix epoch."""
        ...

    def monotonic_ms(self) -> int:
        """Milliseconds from an arbitrary origin; never decreases."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    __slots__ = ()

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to. Both readings advance together."""

    __slots__ = ("_monotonic_ms", "_time_ms")

    def __init__(self, time_ms: int = 1_700_000_000_000, monotonic_ms: int = 0) -> None:
        self._time_ms = time_ms
        self._monotonic_ms = monotonic_ms

    def time_ms(self) -> int:
        return self._time_ms

    def monotonic_ms(self) -> int:
        return self._monotonic_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock cannot move backwards")
        self._time_ms += ms
        self._monotonic_ms += ms

    def set_time_ms(self, time_ms: int) -> None:
        """Set the wall clock (which, like a real one, may go backwards); the monotonic
        reading is unaffected."""
        self._time_ms = time_ms
