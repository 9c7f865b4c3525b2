"""ListGroups (key 16): versions 0-5, flexible from 3.

Lists the groups a broker coordinates, optionally filtered by state and by type (``classic``,
``consumer``, ``share``); empty filters match everything.

Version history:

* v0: the baseline.
* v1: the response gains a throttle time.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: first flexible version.
* v4: ``states_filter``; each listed group reports its state.
* v5: ``types_filter``; each listed group reports its type.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class ListGroupsRequest:
    states_filter: list[str] = field(Array(STRING), "4+")
    types_filter: list[str] = field(Array(STRING), "5+")


@datatype(slots=True, kw_only=True)
class ListedGroup:
    group_id: str = field(STRING)
    protocol_type: str = field(STRING)
    group_state: str = field(STRING, "4+")
    group_type: str = field(STRING, "5+")


@datatype(slots=True, kw_only=True)
class ListGroupsResponse:
    throttle_time_ms: int = field(INT32, "1+")
    error_code: int = field(INT16)
    groups: list[ListedGroup] = field(Array(ListedGroup))


LIST_GROUPS = Api(
    key=16,
    name="ListGroups",
    request=ListGroupsRequest,
    response=ListGroupsResponse,
    min_version=0,
    max_version=5,
    flexible_from=3,
)
