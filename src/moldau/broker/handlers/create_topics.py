"""CreateTopics (19), v2-7: partitions and replication factor or explicit assignments, configs,
validate_only. v5+ answers with the partition count, replication factor and resulting configs,
v7+ with the topic id. Topics are created at once on a single node, so ``timeout_ms`` is moot.
"""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.config.topic import describe_topic_configs
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.create_topics import (
    CREATE_TOPICS,
    CreatableTopic,
    CreatableTopicConfigs,
    CreatableTopicResult,
    CreateTopicsRequest,
    CreateTopicsResponse,
)

API = CREATE_TOPICS


def _create(ctx: RequestContext, t: CreatableTopic, validate_only: bool) -> CreatableTopicResult:
    broker = ctx.broker
    try:
        topic = topic_admin.create_topic(
            broker,
            t.name,
            t.num_partitions,
            t.replication_factor,
            {a.partition_index: a.broker_ids for a in t.assignments} or None,
            {c.name: c.value for c in t.configs},
            validate_only,
        )
    except Exception as e:
        code, message = error_of(e, f"CreateTopics {t.name}")
        return CreatableTopicResult(name=t.name, error_code=code, error_message=message, configs=None)
    configs = [
        CreatableTopicConfigs(
            name=d.name,
            value=d.value,
            read_only=d.read_only,
            config_source=d.source,
            is_sensitive=d.sensitive,
        )
        for d in describe_topic_configs(topic.configs, broker.config, False, False, None)
    ]
    return CreatableTopicResult(
        name=t.name,
        topic_id=topic.topic_id,
        error_code=ErrorCode.NONE,
        num_partitions=len(topic.partitions),
        replication_factor=len(topic.partitions[0].replicas),
        configs=configs,
    )


def handle(ctx: RequestContext, req: CreateTopicsRequest) -> CreateTopicsResponse:
    results: list[CreatableTopicResult] = []
    names = [t.name for t in req.topics]
    for t in req.topics:
        if names.count(t.name) > 1:
            results.append(
                CreatableTopicResult(
                    name=t.name,
                    error_code=ErrorCode.INVALID_REQUEST,
                    error_message=f"Create topics request from client `{ctx.client_id}` contains multiple "
                    f"entries for the following topics: {t.name}",
                    configs=None,
                )
            )
            continue
        results.append(_create(ctx, t, req.validate_only))
    return CreateTopicsResponse(topics=results)
