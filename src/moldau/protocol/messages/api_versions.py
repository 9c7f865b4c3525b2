"""ApiVersions (key 18): versions 0-4, flexible from 3.

A client sends it first to learn which versions of every API the broker speaks. When the
request's own version is too new, the broker answers with UNSUPPORTED_VERSION in a v0 body
(see ``broker/handlers/api_versions.py``).
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class ApiVersionsRequest:
    client_software_name: str = field(STRING, "3+")
    client_software_version: str = field(STRING, "3+")


@datatype(slots=True, kw_only=True)
class ApiVersionsResponseKey:
    api_key: int = field(INT16)
    min_version: int = field(INT16)
    max_version: int = field(INT16)


@datatype(slots=True, kw_only=True)
class SupportedFeatureKey:
    name: str = field(STRING, "3+")
    min_version: int = field(INT16, "3+")
    max_version: int = field(INT16, "3+")


@datatype(slots=True, kw_only=True)
class FinalizedFeatureKey:
    name: str = field(STRING, "3+")
    max_version_level: int = field(INT16, "3+")
    min_version_level: int = field(INT16, "3+")


@datatype(slots=True, kw_only=True)
class ApiVersionsResponse:
    error_code: int = field(INT16)
    api_keys: list[ApiVersionsResponseKey] = field(Array(ApiVersionsResponseKey))
    throttle_time_ms: int = field(INT32, "1+")
    supported_features: list[SupportedFeatureKey] = field(Array(SupportedFeatureKey), "3+", tag=0)
    finalized_features_epoch: int = field(INT64, "3+", tag=1, default=-1)
    finalized_features: list[FinalizedFeatureKey] = field(Array(FinalizedFeatureKey), "3+", tag=2)
    zk_migration_ready: bool = field(BOOL, "3+", tag=3)


API_VERSIONS = Api(
    key=18,
    name="ApiVersions",
    request=ApiVersionsRequest,
    response=ApiVersionsResponse,
    min_version=0,
    max_version=4,
    flexible_from=3,
)
