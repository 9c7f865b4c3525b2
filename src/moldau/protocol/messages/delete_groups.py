"""DeleteGroups (key 42): versions 0-2, flexible from 2.

Deletes empty groups together with their committed offsets; a group with members is refused
with NON_EMPTY_GROUP.

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DeleteGroupsRequest:
    groups_names: list[str] = field(Array(STRING))


@datatype(slots=True, kw_only=True)
class DeletableGroupResult:
    group_id: str = field(STRING)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class DeleteGroupsResponse:
    throttle_time_ms: int = field(INT32)
    results: list[DeletableGroupResult] = field(Array(DeletableGroupResult))


DELETE_GROUPS = Api(
    key=42,
    name="DeleteGroups",
    request=DeleteGroupsRequest,
    response=DeleteGroupsResponse,
    min_version=0,
    max_version=2,
    flexible_from=2,
)
