"""Metadata (3), v0-13: brokers, cluster id, controller and topics with their partitions.

Unknown topics are created on the spot when both the request (v4+) and the broker's
``auto.create.topics.enable`` allow it, with ``num.partitions`` and the default replication
factor; on a single node they are usable at once, so they are returned without the
LEADER_NOT_AVAILABLE that a cluster answers while it elects leaders. From v10 topics may be
named by id; an unknown id answers UNKNOWN_TOPIC_ID.
"""

from __future__ import annotations

from moldau.broker import topic_admin
from moldau.broker.context import RequestContext
from moldau.broker.errors import error_of
from moldau.cluster.metadata import TopicInfo
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.messages.metadata import (
    METADATA,
    MetadataRequest,
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from moldau.protocol.primitives import ZERO_UUID

API = METADATA

# Without an authorizer every operation on a topic is allowed: READ 3, WRITE 4, CREATE 5,
# DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11 (AclOperation codes).
TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))


def describe_topic(t: TopicInfo, include_operations: bool) -> MetadataResponseTopic:
    return MetadataResponseTopic(
        error_code=ErrorCode.NONE,
        name=t.name,
        topic_id=t.topic_id,
        is_internal=t.internal,
        partitions=[
            MetadataResponsePartition(
                error_code=ErrorCode.NONE,
                partition_index=i,
                leader_id=p.leader,
                leader_epoch=p.leader_epoch,
                replica_nodes=list(p.replicas),
                isr_nodes=list(p.isr),
            )
            for i, p in enumerate(t.partitions)
        ],
        topic_authorized_operations=TOPIC_OPERATIONS if include_operations else -(2**31),
    )


def _lookup(ctx: RequestContext, name: str, auto_create: bool) -> TopicInfo:
    broker = ctx.broker
    topic = broker.metadata.topics.get(name)
    if topic is not None:
        return topic
    if not auto_create:
        raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None)
    return topic_admin.create_topic(broker, name)


def handle(ctx: RequestContext, req: MetadataRequest) -> MetadataResponse:
    broker = ctx.broker
    ops = req.include_topic_authorized_operations
    if req.topics is None or (ctx.version == 0 and not req.topics):
        topics = [describe_topic(t, ops) for t in broker.metadata.topics.values()]
    else:
        auto_create = req.allow_auto_topic_creation and broker.config.get("auto.create.topics.enable")
        topics = []
        for wanted in req.topics:
            try:
                if wanted.name is None:
                    if wanted.topic_id == ZERO_UUID:
                        raise KafkaError(ErrorCode.INVALID_REQUEST, "topic without name or id")
                    topic = broker.topic_by_id(wanted.topic_id)
                else:
                    topic = _lookup(ctx, wanted.name, auto_create)
                topics.append(describe_topic(topic, ops))
            except Exception as e:
                code, _ = error_of(e, f"Metadata {wanted.name or wanted.topic_id}")
                topics.append(
                    MetadataResponseTopic(
                        error_code=code, name=wanted.name, topic_id=wanted.topic_id, is_internal=False
                    )
                )
    ep = broker.endpoint_for(ctx.listener)
    return MetadataResponse(
        brokers=[MetadataResponseBroker(node_id=broker.node_id, host=ep.host, port=ep.port, rack=ep.rack)],
        cluster_id=broker.cluster_id,
        controller_id=broker.node_id,
        topics=topics,
    )
