"""AlterConfigs (33), v0-2: replace a topic's config overrides. Changes persist in the
metadata and take effect on the partition logs at once. Broker resources: dynamic broker
configs are not supported yet and answer INVALID_REQUEST with a message that says so."""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.broker.handlers.describe_configs import BROKER, TOPIC, check_broker_resource
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.alter_configs import (
    ALTER_CONFIGS,
    AlterConfigsRequest,
    AlterConfigsResourceResponse,
    AlterConfigsResponse,
)

API = ALTER_CONFIGS

DYNAMIC_BROKER_UNSUPPORTED = (
    "Dynamic broker configs are not supported; set them in server.properties and restart"
)


def handle(ctx: RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse:
    responses = []
    for r in req.resources:
        out = AlterConfigsResourceResponse(
            error_code=ErrorCode.NONE,
            error_message=None,
            resource_type=r.resource_type,
            resource_name=r.resource_name,
        )
        try:
            if r.resource_type == TOPIC:
                configs = {c.name: c.value for c in r.configs}
                topic_admin.replace_configs(ctx.broker, r.resource_name, configs, req.validate_only)
            elif r.resource_type == BROKER:
                check_broker_resource(ctx, r.resource_name)
                raise KafkaError(ErrorCode.INVALID_REQUEST, DYNAMIC_BROKER_UNSUPPORTED)
            else:
                raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {r.resource_type}")
        except Exception as e:
            out.error_code, out.error_message = error_of(e, f"AlterConfigs {r.resource_name}")
        responses.append(out)
    return AlterConfigsResponse(responses=responses)
