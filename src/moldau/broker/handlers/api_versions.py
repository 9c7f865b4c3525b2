"""ApiVersions (18), v0-4: the versions of every API we serve.

The answer is built from the router's registry, so the two cannot drift. A request newer than
v4 gets UNSUPPORTED_VERSION with our list in a v0 body (KIP-511); the connection layer marks
such requests and the router sends that answer.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.api_versions import (
    API_VERSIONS,
    ApiVersionsRequest,
    ApiVersionsResponse,
    ApiVersionsResponseKey,
)
from moldau.protocol.schema import Api

API = API_VERSIONS


def version_list(apis: dict[int, Api]) -> list[ApiVersionsResponseKey]:
    return [
        ApiVersionsResponseKey(api_key=a.key, min_version=a.lowest_advertised, max_version=a.max_version)
        for a in apis.values()
    ]


def handle(ctx: RequestContext, req: ApiVersionsRequest) -> ApiVersionsResponse:
    return ApiVersionsResponse(error_code=ErrorCode.NONE, api_keys=ctx.broker.api_version_list)


def unsupported(ctx: RequestContext) -> ApiVersionsResponse:
    return ApiVersionsResponse(error_code=ErrorCode.UNSUPPORTED_VERSION, api_keys=ctx.broker.api_version_list)
