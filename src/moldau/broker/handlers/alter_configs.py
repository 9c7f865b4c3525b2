"""AlterConfigs (33), v0-2: replace a topic's config overrides, or the dynamic configs of a
broker resource (this broker's id, or "" for the cluster-wide defaults). Either way the
request's entries become the resource's whole set; changes persist in the metadata and take
effect at once (see ``broker/config_resources.py``). ``validate_only`` checks without
changing anything."""

from __future__ import annotations

from moldau.broker import config_resources, topic_admin
from moldau.broker.context import RequestContext
from moldau.config.dynamic import replacement_layer
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
        lambda _stored: replacement_layer((c.name, c.value) for c in r.configs),
        validate_only,
        "AlterConfigs",
    )
    return AlterConfigsResourceResponse(
        error_code=code, error_message=message, resource_type=r.resource_type, resource_name=r.resource_name
    )


def handle(ctx: RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse:
    return AlterConfigsResponse(responses=[_alter(ctx, r, req.validate_only) for r in req.resources])
