"""IncrementalAlterConfigs (44), v0-1: SET, DELETE, APPEND and SUBTRACT on single topic
configs (KIP-339); the rest of the topic's overrides stay. Broker resources as AlterConfigs."""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.broker.handlers.alter_configs import DYNAMIC_BROKER_UNSUPPORTED
from moldau.broker.handlers.describe_configs import BROKER, TOPIC, check_broker_resource
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.incremental_alter_configs import (
    INCREMENTAL_ALTER_CONFIGS,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResourceResponse,
    IncrementalAlterConfigsResponse,
)

API = INCREMENTAL_ALTER_CONFIGS


def handle(ctx: RequestContext, req: IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse:
    responses = []
    for r in req.resources:
        out = IncrementalAlterConfigsResourceResponse(
            error_code=ErrorCode.NONE,
            error_message=None,
            resource_type=r.resource_type,
            resource_name=r.resource_name,
        )
        try:
            if r.resource_type == TOPIC:
                ops = [(c.name, c.config_operation, c.value) for c in r.configs]
                topic_admin.incremental_configs(ctx.broker, r.resource_name, ops, req.validate_only)
            elif r.resource_type == BROKER:
                check_broker_resource(ctx, r.resource_name)
                raise KafkaError(ErrorCode.INVALID_REQUEST, DYNAMIC_BROKER_UNSUPPORTED)
            else:
                raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {r.resource_type}")
        except Exception as e:
            out.error_code, out.error_message = error_of(e, f"IncrementalAlterConfigs {r.resource_name}")
        responses.append(out)
    return IncrementalAlterConfigsResponse(responses=responses)
