"""FindCoordinator (key 10): versions 0-6, flexible from 3.

Asks which broker coordinates a consumer group (``key_type`` 0), a transactional ID (1) or a
share-group partition (2, key ``"group:topicId:partition"``).

Version history:

* v0: the baseline: one ``key`` and a flat node/host/port answer.
* v1: ``key_type``; the response gains a throttle time and an error message.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: first flexible version.
* v4: batched lookups: ``coordinator_keys`` replaces ``key`` and the answer becomes a list of
  ``coordinators``, each with its own error.
* v5: may answer TRANSACTION_ABORTABLE; no layout change.
* v6: share-group keys; no layout change.
"""

from __future__ import annotations

from moldau.protocol.schema import INT8, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class FindCoordinatorRequest:
    key: str = field(STRING, "0-3")
    key_type: int = field(INT8, "1+")
    coordinator_keys: list[str] = field(Array(STRING), "4+")


@datatype(slots=True, kw_only=True)
class Coordinator:
    key: str = field(STRING, "4+")
    node_id: int = field(INT32, "4+")
    host: str = field(STRING, "4+")
    port: int = field(INT32, "4+")
    error_code: int = field(INT16, "4+")
    error_message: str | None = field(STRING, "4+", nullable="4+")


@datatype(slots=True, kw_only=True)
class FindCoordinatorResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16, "0-3")
    error_message: str | None = field(STRING, "1-3", nullable="1-3")
    node_id: int = field(INT32, "0-3")
    host: str = field(STRING, "0-3")
    port: int = field(INT32, "0-3")
    coordinators: list[Coordinator] = field(Array(Coordinator), "4+")


FIND_COORDINATOR = Api(
    key=10,
    name="FindCoordinator",
    request=FindCoordinatorRequest,
    response=FindCoordinatorResponse,
    min_version=0,
    max_version=6,
    flexible_from=3,
)
