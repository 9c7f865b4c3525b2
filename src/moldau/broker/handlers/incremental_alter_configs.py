"""IncrementalAlterConfigs (44), v0-1: SET, DELETE, APPEND and SUBTRACT on single configs
(KIP-339), the other keys staying as they are: on a topic's overrides, or on the dynamic
configs of a broker resource (this broker's id, or "" for the cluster-wide defaults). Changes
persist in the metadata and take effect at once; ``validate_only`` checks without changing
anything."""

from __future__ import annotations

from moldau.broker import config_resources, topic_admin
from moldau.broker.context import RequestContext
from moldau.config.dynamic import apply_incremental
from moldau.protocol.messages.incremental_alter_configs import (
    INCREMENTAL_ALTER_CONFIGS,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResource,
    IncrementalAlterConfigsResourceResponse,
    IncrementalAlterConfigsResponse,
)

API = INCREMENTAL_ALTER_CONFIGS


def _alter(
    ctx: RequestContext, r: IncrementalAlterConfigsResource, validate_only: bool
) -> IncrementalAlterConfigsResourceResponse:
    ops = [(c.name, c.config_operation, c.value) for c in r.configs]
    code, message = config_resources.alter(
        ctx.broker,
        r.resource_type,
        r.resource_name,
        lambda: topic_admin.incremental_configs(ctx.broker, r.resource_name, ops, validate_only),
        lambda stored: apply_incremental(stored, ops),
        validate_only,
        "IncrementalAlterConfigs",
    )
    return IncrementalAlterConfigsResourceResponse(
        error_code=code, error_message=message, resource_type=r.resource_type, resource_name=r.resource_name
    )


def handle(ctx: RequestContext, req: IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse:
    results = [_alter(ctx, r, req.validate_only) for r in req.resources]
    return IncrementalAlterConfigsResponse(responses=results)
