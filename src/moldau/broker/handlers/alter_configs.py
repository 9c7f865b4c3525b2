"""AlterConfigs (33), v0-2: replace a topic's config overrides. Changes persist in the
metadata and take effect on the partition logs at once. Broker resources: dynamic broker
configs are not supported yet and answer INVALID_REQUEST with a message that says so."""

from __future__ import annotations

from moldau.broker import config_resources, topic_admin
from moldau.broker.context import RequestContext
from moldau.protocol.messages.alter_configs import (
    ALTER_CONFIGS,
    AlterConfigsRequest,
    AlterConfigsResource,
    AlterConfigsResourceResponse,
    AlterConfigsResponse,
)

API = ALTER_CONFIGS


def _alter(ctx: RequestContext, r: AlterConfigsResource, validate_only: bool) -> AlterConfigsResourceResponse:
    configs = {c.name: c.value for c in r.configs}
    code, message = config_resources.alter(
        ctx.broker,
        r.resource_type,
        r.resource_name,
        lambda: topic_admin.replace_configs(ctx.broker, r.resource_name, configs, validate_only),
        "AlterConfigs",
    )
    return AlterConfigsResourceResponse(
        error_code=code, error_message=message, resource_type=r.resource_type, resource_name=r.resource_name
    )


def handle(ctx: RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse:
    return AlterConfigsResponse(responses=[_alter(ctx, r, req.validate_only) for r in req.resources])
