"""JoinGroup (key 11): versions 2-9 served, 0-9 advertised and declared, flexible from 6.

First step of a classic-protocol rebalance: a member announces the protocols (assignors) it
supports; once every member has joined, the coordinator picks one protocol and answers with
the generation, the leader and, to the leader only, every member's metadata.

Kafka 4.0 no longer serves v0 and v1, but librdkafka before 2.11 detects group support by
looking for JoinGroup v0 in the ApiVersions answer. So v0 is advertised and the declaration
decodes every version from v0, while requests below v2 are still rejected.

Version history:

* v0: the baseline.
* v1: ``rebalance_timeout_ms`` (before it, the session timeout doubled as one).
* v2: the response gains a throttle time.
* v3: the broker answers before applying a quota throttle; no layout change.
* v4: a member joining without an ID is given one with MEMBER_ID_REQUIRED and must join again.
* v5: ``group_instance_id`` for static membership, also reported per member.
* v6: first flexible version.
* v7: the response names the ``protocol_type``; ``protocol_name`` becomes nullable.
* v8: ``reason`` for why the member (re)joins.
* v9: the response's ``skip_assignment`` tells a leader its assignment is computed elsewhere.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, BYTES, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class JoinGroupRequestProtocol:
    name: str = field(STRING)
    metadata: bytes = field(BYTES)


@datatype(slots=True, kw_only=True)
class JoinGroupRequest:
    group_id: str = field(STRING)
    session_timeout_ms: int = field(INT32)
    rebalance_timeout_ms: int = field(INT32, "1+", default=-1)
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "5+", nullable="5+", default=None)
    protocol_type: str = field(STRING)
    protocols: list[JoinGroupRequestProtocol] = field(Array(JoinGroupRequestProtocol))
    reason: str | None = field(STRING, "8+", nullable="8+", default=None)


@datatype(slots=True, kw_only=True)
class JoinGroupResponseMember:
    member_id: str = field(STRING)
    group_instance_id: str | None = field(STRING, "5+", nullable="5+", default=None)
    metadata: bytes = field(BYTES)


@datatype(slots=True, kw_only=True)
class JoinGroupResponse:
    throttle_time_ms: int = field(INT32, "2+")
    error_code: int = field(INT16)
    generation_id: int = field(INT32, default=-1)
    protocol_type: str | None = field(STRING, "7+", nullable="7+", default=None)
    protocol_name: str | None = field(STRING, nullable="7+")
    leader: str = field(STRING)
    skip_assignment: bool = field(BOOL, "9+")
    member_id: str = field(STRING)
    members: list[JoinGroupResponseMember] = field(Array(JoinGroupResponseMember))


JOIN_GROUP = Api(
    key=11,
    name="JoinGroup",
    request=JoinGroupRequest,
    response=JoinGroupResponse,
    min_version=2,
    max_version=9,
    flexible_from=6,
    advertised_min=0,
    declared_min=0,
)
