"""DescribeCluster (key 60): versions 0-2, flexible from 0.

The admin client's view of the cluster: its ID, the controller and the live brokers (or, with
``endpoint_type`` 2, the controllers), plus optionally the caller's cluster-level ACL
operations as a bit field (``-2147483648`` when not requested).

Version history:

* v0: the baseline, flexible from the start.
* v1: ``endpoint_type`` in request and response (1 brokers, 2 controllers).
* v2: ``include_fenced_brokers``; each broker entry says whether it is fenced.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT8, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DescribeClusterRequest:
    include_cluster_authorized_operations: bool = field(BOOL)
    endpoint_type: int = field(INT8, "1+", default=1)
    include_fenced_brokers: bool = field(BOOL, "2+")


@datatype(slots=True, kw_only=True)
class DescribeClusterBroker:
    broker_id: int = field(INT32)
    host: str = field(STRING)
    port: int = field(INT32)
    rack: str | None = field(STRING, nullable="0+", default=None)
    is_fenced: bool = field(BOOL, "2+")


@datatype(slots=True, kw_only=True)
class DescribeClusterResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+", default=None)
    endpoint_type: int = field(INT8, "1+", default=1)
    cluster_id: str = field(STRING)
    controller_id: int = field(INT32, default=-1)
    brokers: list[DescribeClusterBroker] = field(Array(DescribeClusterBroker))
    cluster_authorized_operations: int = field(INT32, default=-(2**31))


DESCRIBE_CLUSTER = Api(
    key=60,
    name="DescribeCluster",
    request=DescribeClusterRequest,
    response=DescribeClusterResponse,
    min_version=0,
    max_version=2,
    flexible_from=0,
)
