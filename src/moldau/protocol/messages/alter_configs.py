"""AlterConfigs (key 33): versions 0-2, flexible from 2.

Replaces the whole set of dynamic config overrides of each resource: keys left out of the
request lose their override. (IncrementalAlterConfigs is the per-key alternative.)

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT8, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class AlterableConfig:
    name: str = field(STRING)
    value: str | None = field(STRING, nullable="0+")


@datatype(slots=True, kw_only=True)
class AlterConfigsResource:
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)
    configs: list[AlterableConfig] = field(Array(AlterableConfig))


@datatype(slots=True, kw_only=True)
class AlterConfigsRequest:
    resources: list[AlterConfigsResource] = field(Array(AlterConfigsResource))
    validate_only: bool = field(BOOL)


@datatype(slots=True, kw_only=True)
class AlterConfigsResourceResponse:
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+")
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)


@datatype(slots=True, kw_only=True)
class AlterConfigsResponse:
    throttle_time_ms: int = field(INT32)
    responses: list[AlterConfigsResourceResponse] = field(Array(AlterConfigsResourceResponse))


ALTER_CONFIGS = Api(
    key=33,
    name="AlterConfigs",
    request=AlterConfigsRequest,
    response=AlterConfigsResponse,
    min_version=0,
    max_version=2,
    flexible_from=2,
)
