"""DescribeConfigs (32), v1-4: topic and broker configs with their sources and synonyms.

A topic answers every topic config: its own override (DYNAMIC_TOPIC_CONFIG), else the broker's
setting for it, from the most specific layer that has one (DYNAMIC_BROKER_CONFIG,
DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG), else Kafka's default (DEFAULT_CONFIG);
with ``include_synonyms`` each entry lists where its value could come from, highest
precedence first. A broker resource named by this broker's id answers every broker config in
effect, read-only unless it can change dynamically; the one named "" answers only the
cluster-wide dynamic configs, as Kafka does. Broker loggers (type 8) are not described.
"""

from __future__ import annotations

from moldau.broker.config_resources import BROKER, TOPIC, check_broker_resource
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.config.topic import DescribedConfig, describe_topic_configs
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.describe_configs import (
    DESCRIBE_CONFIGS,
    DescribeConfigsRequest,
    DescribeConfigsResource,
    DescribeConfigsResourceResult,
    DescribeConfigsResponse,
    DescribeConfigsResult,
    DescribeConfigsSynonym,
)

API = DESCRIBE_CONFIGS


def _entry(d: DescribedConfig, synonyms: bool, docs: bool) -> DescribeConfigsResourceResult:
    return DescribeConfigsResourceResult(
        name=d.name,
        value=d.value,
        read_only=d.read_only,
        config_source=d.source,
        is_sensitive=d.sensitive,
        synonyms=[DescribeConfigsSynonym(name=n, value=v, source=s) for n, v, s in d.synonyms]
        if synonyms
        else [],
        config_type=d.type,
        documentation=d.doc if docs else None,
    )


def _describe(
    ctx: RequestContext, r: DescribeConfigsResource, req: DescribeConfigsRequest
) -> DescribeConfigsResult:
    out = DescribeConfigsResult(
        error_code=ErrorCode.NONE,
        error_message=None,
        resource_type=r.resource_type,
        resource_name=r.resource_name,
    )
    synonyms, docs = req.include_synonyms, req.include_documentation
    try:
        if r.resource_type == TOPIC:
            topic = ctx.broker.topic(r.resource_name)
            described = describe_topic_configs(
                topic.configs, ctx.broker.config, synonyms, docs, r.configuration_keys
            )
        elif r.resource_type == BROKER:
            check_broker_resource(ctx.broker, r.resource_name)
            config = ctx.broker.config
            if r.resource_name == "":
                described = config.describe_cluster_defaults(synonyms, docs, r.configuration_keys)
            else:
                described = config.describe(synonyms, docs, r.configuration_keys)
        else:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {r.resource_type}")
        out.configs = [_entry(d, synonyms, docs) for d in described]
    except Exception as e:
        out.error_code, out.error_message = error_of(e, f"DescribeConfigs {r.resource_name}")
    return out


def handle(ctx: RequestContext, req: DescribeConfigsRequest) -> DescribeConfigsResponse:
    return DescribeConfigsResponse(results=[_describe(ctx, r, req) for r in req.resources])
