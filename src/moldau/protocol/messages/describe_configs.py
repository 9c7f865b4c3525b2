"""DescribeConfigs (key 32): versions 1-4, flexible from 4.

Reads the effective configuration of resources (``resource_type`` 2 topic, 4 broker, 8 broker
logger, among others), optionally limited to some keys (``configuration_keys`` null: all).

Version history:

* v1: the baseline (v0 is gone since Kafka 4.0); each entry reports its ``config_source``
  instead of v0's ``is_default`` flag, and with ``include_synonyms`` the lower-precedence
  values it overrides.
* v2: the broker answers before applying a quota throttle; no layout change.
* v3: ``include_documentation``; entries carry their ``config_type`` and documentation.
* v4: first flexible version.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT8, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DescribeConfigsResource:
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)
    configuration_keys: list[str] | None = field(Array(STRING), nullable="0+")


@datatype(slots=True, kw_only=True)
class DescribeConfigsRequest:
    resources: list[DescribeConfigsResource] = field(Array(DescribeConfigsResource))
    include_synonyms: bool = field(BOOL, "1+")
    include_documentation: bool = field(BOOL, "3+")


@datatype(slots=True, kw_only=True)
class DescribeConfigsSynonym:
    name: str = field(STRING, "1+")
    value: str | None = field(STRING, "1+", nullable="0+")
    source: int = field(INT8, "1+")


@datatype(slots=True, kw_only=True)
class DescribeConfigsResourceResult:
    name: str = field(STRING)
    value: str | None = field(STRING, nullable="0+")
    read_only: bool = field(BOOL)
    config_source: int = field(INT8, "1+", default=-1)
    is_default: bool = field(BOOL, "0")
    is_sensitive: bool = field(BOOL)
    synonyms: list[DescribeConfigsSynonym] = field(Array(DescribeConfigsSynonym), "1+")
    config_type: int = field(INT8, "3+")
    documentation: str | None = field(STRING, "3+", nullable="0+")


@datatype(slots=True, kw_only=True)
class DescribeConfigsResult:
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+")
    resource_type: int = field(INT8)
    resource_name: str = field(STRING)
    configs: list[DescribeConfigsResourceResult] = field(Array(DescribeConfigsResourceResult))


@datatype(slots=True, kw_only=True)
class DescribeConfigsResponse:
    throttle_time_ms: int = field(INT32)
    results: list[DescribeConfigsResult] = field(Array(DescribeConfigsResult))


DESCRIBE_CONFIGS = Api(
    key=32,
    name="DescribeConfigs",
    request=DescribeConfigsRequest,
    response=DescribeConfigsResponse,
    min_version=1,
    max_version=4,
    flexible_from=4,
)
