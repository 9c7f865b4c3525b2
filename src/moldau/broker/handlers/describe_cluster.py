"""DescribeCluster (60), v0-2: cluster id, controller and brokers. Only brokers (endpoint type 1)
are described; asking for controllers (type 2) gets UNSUPPORTED_ENDPOINT_TYPE as Kafka's brokers
answer. v2's fenced brokers: a single node is never fenced."""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.describe_cluster import (
    DESCRIBE_CLUSTER,
    DescribeClusterBroker,
    DescribeClusterRequest,
    DescribeClusterResponse,
)

API = DESCRIBE_CLUSTER

BROKERS = 1


def handle(ctx: RequestContext, req: DescribeClusterRequest) -> DescribeClusterResponse:
    broker = ctx.broker
    if req.endpoint_type != BROKERS:
        return DescribeClusterResponse(
            error_code=ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
            error_message="The target broker only supports endpoint type BROKERS (1)",
            endpoint_type=req.endpoint_type,
            cluster_id=broker.cluster_id,
        )
    ep = broker.endpoint_for(ctx.listener)
    return DescribeClusterResponse(
        error_code=ErrorCode.NONE,
        cluster_id=broker.cluster_id,
        controller_id=broker.node_id,
        brokers=[DescribeClusterBroker(broker_id=broker.node_id, host=ep.host, port=ep.port, rack=ep.rack)],
    )
