"""Heartbeat (key 12): versions 0-4, flexible from 4.

Keeps a classic-protocol member alive between rebalances; the error code tells it when a
rebalance is under way (REBALANCE_IN_PROGRESS) and it must rejoin.

Version history:

* v0: the baseline.
* v1: the response gains a throttle time.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: ``group_instance_id`` for static membership.
* v4: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, STRING, Api, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class HeartbeatRequest:
    group_id: str = field(STRING)
    generation_id: int = field(INT32)
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "3+", nullable="3+", default=None)


@datatype(slots=True, kw_only=True)
class HeartbeatResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16)


HEARTBEAT = Api(
    key=12,
    name="Heartbeat",
    request=HeartbeatRequest,
    response=HeartbeatResponse,
    min_version=0,
    max_version=4,
    flexible_from=4,
)
