"""IncrementalAlterConfigs (key 44): versions 0-1, flexible from 1.

Changes dynamic config overrides one key at a time. ``config_operation`` is 0 SET, 1 DELETE,
2 APPEND and 3 SUBTRACT (the last two for list-valued configs); keys not named are untouched.

Version history:

* v0: the baseline.
* v1: first flexible version.

The struct names carry an ``Incremental`` prefix so they never shadow AlterConfigs' own
``AlterConfigsResource`` and friends when both modules are imported together.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT8, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class IncrementalAlterableConfig:
    name: str = field(STRING)
    config_operation: int = field(INT8)
    value: str | None = field(STRING, nullable="0+")


@datatype(slots=True, kw_only=True)
class IncrementalAlterConfigsResource:
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)
    configs: list[IncrementalAlterableConfig] = field(Array(IncrementalAlterableConfig))


@datatype(slots=True, kw_only=True)
class IncrementalAlterConfigsRequest:
    resources: list[IncrementalAlterConfigsResource] = field(Array(IncrementalAlterConfigsResource))
    validate_only: bool = field(BOOL)


@datatype(slots=True, kw_only=True)
class IncrementalAlterConfigsResourceResponse:
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+")
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)


@datatype(slots=True, kw_only=True)
class IncrementalAlterConfigsResponse:
    throttle_time_ms: int = field(INT32)
    responses: list[IncrementalAlterConfigsResourceResponse] = field(
        Array(IncrementalAlterConfigsResourceResponse)
    )


INCREMENTAL_ALTER_CONFIGS = Api(
    key=44,
    name="IncrementalAlterConfigs",
    request=IncrementalAlterConfigsRequest,
    response=IncrementalAlterConfigsResponse,
    min_version=0,
    max_version=1,
    flexible_from=1,
)
