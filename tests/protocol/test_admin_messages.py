"""Golden bytes for the admin and group message declarations.

Every expected byte string below is written out field by field from the protocol layout
(INT16/INT32 lengths in classic versions; UNSIGNED_VARINT length + 1 for compact strings,
bytes and arrays, and a tagged-field section closing every struct in flexible versions), not
produced by the encoder under test. Each case is checked both ways: the declaration must
encode the message to exactly these bytes and decode these bytes back to the same message,
so a field that is missing, misplaced, of the wrong width or in the wrong version fails.
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from moldau.protocol.codegen import decode, encode
from moldau.protocol.messages.create_topics import (
    CREATE_TOPICS,
    CreatableReplicaAssignment,
    CreatableTopic,
    CreatableTopicConfig,
    CreatableTopicResult,
    CreateTopicsRequest,
    CreateTopicsResponse,
)
from moldau.protocol.messages.describe_cluster import (
    DESCRIBE_CLUSTER,
    DescribeClusterBroker,
    DescribeClusterResponse,
)
from moldau.protocol.messages.describe_configs import (
    DESCRIBE_CONFIGS,
    DescribeConfigsResourceResult,
    DescribeConfigsResponse,
    DescribeConfigsResult,
    DescribeConfigsSynonym,
)
from moldau.protocol.messages.find_coordinator import (
    FIND_COORDINATOR,
    Coordinator,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from moldau.protocol.messages.join_group import JOIN_GROUP, JoinGroupRequest, JoinGroupRequestProtocol
from moldau.protocol.messages.offset_delete import OFFSET_DELETE
from moldau.protocol.schema import Api


def h(text: str) -> bytes:
    """Hex digits to bytes; spaces are ignored."""
    return bytes.fromhex(text)


@dataclass(frozen=True)
class Case:
    id: str
    api: Api
    version: int
    message: Any
    golden: bytes

    @property
    def flexible(self) -> bool:
        return self.api.flexible(self.version)


# -- CreateTopics ----------------------------------------------------------------------------

CREATE_TOPICS_REQUEST = CreateTopicsRequest(
    topics=[
        CreatableTopic(
            name="t1",
            num_partitions=3,
            replication_factor=1,
            configs=[
                CreatableTopicConfig(name="cleanup.policy", value="compact"),
                CreatableTopicConfig(name="retention.ms", value=None),
            ],
        ),
        CreatableTopic(
            name="t2",
            num_partitions=-1,
            replication_factor=-1,
            assignments=[CreatableReplicaAssignment(partition_index=0, broker_ids=[1, 2])],
        ),
    ],
    timeout_ms=30000,
    validate_only=True,
)

CREATE_TOPICS_V2_REQUEST = b"".join(
    [
        h("00000002"),  # topics: INT32 count 2
        h("0002") + b"t1",  # .name: INT16 length 2
        h("00000003"),  # .num_partitions 3
        h("0001"),  # .replication_factor 1
        h("00000000"),  # .assignments: count 0
        h("00000002"),  # .configs: count 2
        h("000e") + b"cleanup.policy",  # ..name: length 14
        h("0007") + b"compact",  # ..value: length 7
        h("000c") + b"retention.ms",  # ..name: length 12
        h("ffff"),  # ..value: null (length -1)
        h("0002") + b"t2",  # .name
        h("ffffffff"),  # .num_partitions -1 (broker default)
        h("ffff"),  # .replication_factor -1 (broker default)
        h("00000001"),  # .assignments: count 1
        h("00000000"),  # ..partition_index 0
        h("00000002 00000001 00000002"),  # ..broker_ids: count 2, [1, 2]
        h("00000000"),  # .configs: count 0
        h("00007530"),  # timeout_ms 30000
        h("01"),  # validate_only true
    ]
)

CREATE_TOPICS_V5_REQUEST = b"".join(
    [
        h("03"),  # topics: compact count 2 + 1
        h("03") + b"t1",  # .name: compact length 2 + 1
        h("00000003"),  # .num_partitions 3
        h("0001"),  # .replication_factor 1
        h("01"),  # .assignments: 0 + 1
        h("03"),  # .configs: 2 + 1
        h("0f") + b"cleanup.policy",  # ..name: 14 + 1
        h("08") + b"compact",  # ..value: 7 + 1
        h("00"),  # ..tagged fields: none
        h("0d") + b"retention.ms",  # ..name: 12 + 1
        h("00"),  # ..value: null
        h("00"),  # ..tagged fields: none
        h("00"),  # .tagged fields: none
        h("03") + b"t2",  # .name
        h("ffffffff"),  # .num_partitions -1
        h("ffff"),  # .replication_factor -1
        h("02"),  # .assignments: 1 + 1
        h("00000000"),  # ..partition_index 0
        h("03 00000001 00000002"),  # ..broker_ids: 2 + 1, [1, 2]
        h("00"),  # ..tagged fields: none
        h("01"),  # .configs: 0 + 1
        h("00"),  # .tagged fields: none
        h("00007530"),  # timeout_ms 30000
        h("01"),  # validate_only true
        h("00"),  # tagged fields: none
    ]
)

CREATE_TOPICS_RESPONSE = CreateTopicsResponse(
    throttle_time_ms=0,
    topics=[
        CreatableTopicResult(
            name="t1",
            topic_id=uuid.UUID("00010203-0405-0607-0809-0a0b0c0d0e0f"),
            error_code=0,
            error_message=None,
            topic_config_error_code=29,
            num_partitions=3,
            replication_factor=1,
            configs=None,
        )
    ],
)

CREATE_TOPICS_V7_RESPONSE = b"".join(
    [
        h("00000000"),  # throttle_time_ms 0
        h("02"),  # topics: 1 + 1
        h("03") + b"t1",  # .name
        h("000102030405060708090a0b0c0d0e0f"),  # .topic_id: 16 raw bytes (v7+)
        h("0000"),  # .error_code 0
        h("00"),  # .error_message: null
        h("00000003"),  # .num_partitions 3
        h("0001"),  # .replication_factor 1
        h("00"),  # .configs: null
        h("01"),  # .tagged fields: 1 field
        h("00 02 001d"),  # ..tag 0 (topic_config_error_code), size 2, INT16 29
        h("00"),  # tagged fields: none
    ]
)

# -- DescribeConfigs -------------------------------------------------------------------------

DESCRIBE_CONFIGS_RESPONSE = DescribeConfigsResponse(
    throttle_time_ms=0,
    results=[
        DescribeConfigsResult(
            error_code=0,
            error_message=None,
            resource_type=2,
            resource_name="t1",
            configs=[
                DescribeConfigsResourceResult(
                    name="retention.ms",
                    value="3600000",
                    read_only=False,
                    config_source=1,
                    is_sensitive=False,
                    synonyms=[
                        DescribeConfigsSynonym(name="retention.ms", value="3600000", source=1),
                        DescribeConfigsSynonym(name="log.retention.hours", value="168", source=5),
                    ],
                    config_type=5,
                    documentation=None,
                )
            ],
        )
    ],
)

DESCRIBE_CONFIGS_V4_RESPONSE = b"".join(
    [
        h("00000000"),  # throttle_time_ms 0
        h("02"),  # results: 1 + 1
        h("0000"),  # .error_code 0
        h("00"),  # .error_message: null
        h("02"),  # .resource_type: INT8 2 (topic)
        h("03") + b"t1",  # .resource_name
        h("02"),  # .configs: 1 + 1
        h("0d") + b"retention.ms",  # ..name: 12 + 1
        h("08") + b"3600000",  # ..value: 7 + 1
        h("00"),  # ..read_only false
        h("01"),  # ..config_source: INT8 1 (dynamic topic config)
        h("00"),  # ..is_sensitive false (is_default exists only in v0)
        h("03"),  # ..synonyms: 2 + 1
        h("0d") + b"retention.ms",  # ...name
        h("08") + b"3600000",  # ...value
        h("01"),  # ...source 1
        h("00"),  # ...tagged fields: none
        h("14") + b"log.retention.hours",  # ...name: 19 + 1
        h("04") + b"168",  # ...value: 3 + 1
        h("05"),  # ...source 5 (default config)
        h("00"),  # ...tagged fields: none
        h("05"),  # ..config_type: INT8 5 (long)
        h("00"),  # ..documentation: null
        h("00"),  # ..tagged fields: none
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

# -- DescribeCluster -------------------------------------------------------------------------

DESCRIBE_CLUSTER_RESPONSE = DescribeClusterResponse(
    throttle_time_ms=0,
    error_code=0,
    error_message=None,
    cluster_id="moldau-cluster",
    controller_id=1,
    brokers=[
        DescribeClusterBroker(broker_id=1, host="localhost", port=9092, rack=None),
        DescribeClusterBroker(broker_id=2, host="localhost", port=9093, rack="r1"),
    ],
    cluster_authorized_operations=-(2**31),
)

DESCRIBE_CLUSTER_V0_RESPONSE = b"".join(
    [
        h("00000000"),  # throttle_time_ms 0
        h("0000"),  # error_code 0
        h("00"),  # error_message: null (endpoint_type is v1+)
        h("0f") + b"moldau-cluster",  # cluster_id: 14 + 1
        h("00000001"),  # controller_id 1
        h("03"),  # brokers: 2 + 1
        h("00000001"),  # .broker_id 1
        h("0a") + b"localhost",  # .host: 9 + 1
        h("00002384"),  # .port 9092
        h("00"),  # .rack: null (is_fenced is v2+)
        h("00"),  # .tagged fields: none
        h("00000002"),  # .broker_id 2
        h("0a") + b"localhost",  # .host
        h("00002385"),  # .port 9093
        h("03") + b"r1",  # .rack: 2 + 1
        h("00"),  # .tagged fields: none
        h("80000000"),  # cluster_authorized_operations: INT32 minimum (not requested)
        h("00"),  # tagged fields: none
    ]
)

# -- FindCoordinator -------------------------------------------------------------------------

FIND_COORDINATOR_REQUEST = FindCoordinatorRequest(key_type=0, coordinator_keys=["group-a", "group-b"])

FIND_COORDINATOR_V4_REQUEST = b"".join(
    [
        h("00"),  # key_type: INT8 0 (group); the single key is v0-3 only
        h("03"),  # coordinator_keys: 2 + 1
        h("08") + b"group-a",  # 7 + 1
        h("08") + b"group-b",
        h("00"),  # tagged fields: none
    ]
)

FIND_COORDINATOR_RESPONSE = FindCoordinatorResponse(
    throttle_time_ms=0,
    coordinators=[
        Coordinator(key="group-a", node_id=1, host="localhost", port=9092, error_code=0, error_message=None),
        Coordinator(key="group-b", node_id=-1, host="", port=-1, error_code=15, error_message="not ready"),
    ],
)

FIND_COORDINATOR_V4_RESPONSE = b"".join(
    [
        h("00000000"),  # throttle_time_ms 0 (the flat error/node/host/port are v0-3 only)
        h("03"),  # coordinators: 2 + 1
        h("08") + b"group-a",  # .key
        h("00000001"),  # .node_id 1
        h("0a") + b"localhost",  # .host
        h("00002384"),  # .port 9092
        h("0000"),  # .error_code 0
        h("00"),  # .error_message: null
        h("00"),  # .tagged fields: none
        h("08") + b"group-b",  # .key
        h("ffffffff"),  # .node_id -1
        h("01"),  # .host: empty (0 + 1)
        h("ffffffff"),  # .port -1
        h("000f"),  # .error_code 15 (COORDINATOR_NOT_AVAILABLE)
        h("0a") + b"not ready",  # .error_message: 9 + 1
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

# -- JoinGroup -------------------------------------------------------------------------------

JOIN_GROUP_PROTOCOLS = [
    JoinGroupRequestProtocol(name="range", metadata=b"\x00\x01"),
    JoinGroupRequestProtocol(name="roundrobin", metadata=b""),
]

JOIN_GROUP_REQUEST = JoinGroupRequest(
    group_id="g1",
    session_timeout_ms=10000,
    rebalance_timeout_ms=300000,
    member_id="",
    group_instance_id="i-1",
    protocol_type="consumer",
    protocols=JOIN_GROUP_PROTOCOLS,
)

JOIN_GROUP_V5_REQUEST = b"".join(
    [
        h("0002") + b"g1",  # group_id: INT16 length 2
        h("00002710"),  # session_timeout_ms 10000
        h("000493e0"),  # rebalance_timeout_ms 300000 (v1+)
        h("0000"),  # member_id: empty
        h("0003") + b"i-1",  # group_instance_id (v5+, nullable)
        h("0008") + b"consumer",  # protocol_type
        h("00000002"),  # protocols: count 2
        h("0005") + b"range",  # .name
        h("00000002 0001"),  # .metadata: INT32 length 2
        h("000a") + b"roundrobin",  # .name
        h("00000000"),  # .metadata: empty (reason is v8+; v5 is not flexible)
    ]
)

# v0 is outside Kafka 4.0's range but advertised for old librdkafka, so it must decode.
JOIN_GROUP_V0_REQUEST_MESSAGE = JoinGroupRequest(
    group_id="g1",
    session_timeout_ms=10000,
    member_id="",
    protocol_type="consumer",
    protocols=JOIN_GROUP_PROTOCOLS,
)

JOIN_GROUP_V0_REQUEST = b"".join(
    [
        h("0002") + b"g1",  # group_id
        h("00002710"),  # session_timeout_ms 10000 (no rebalance timeout before v1)
        h("0000"),  # member_id: empty (no group_instance_id before v5)
        h("0008") + b"consumer",  # protocol_type
        h("00000002"),  # protocols: count 2
        h("0005") + b"range",
        h("00000002 0001"),
        h("000a") + b"roundrobin",
        h("00000000"),
    ]
)

CASES = [
    Case("CreateTopics v2 request", CREATE_TOPICS, 2, CREATE_TOPICS_REQUEST, CREATE_TOPICS_V2_REQUEST),
    Case("CreateTopics v5 request", CREATE_TOPICS, 5, CREATE_TOPICS_REQUEST, CREATE_TOPICS_V5_REQUEST),
    Case("CreateTopics v7 response", CREATE_TOPICS, 7, CREATE_TOPICS_RESPONSE, CREATE_TOPICS_V7_RESPONSE),
    Case(
        "DescribeConfigs v4 response",
        DESCRIBE_CONFIGS,
        4,
        DESCRIBE_CONFIGS_RESPONSE,
        DESCRIBE_CONFIGS_V4_RESPONSE,
    ),
    Case(
        "DescribeCluster v0 response",
        DESCRIBE_CLUSTER,
        0,
        DESCRIBE_CLUSTER_RESPONSE,
        DESCRIBE_CLUSTER_V0_RESPONSE,
    ),
    Case(
        "FindCoordinator v4 request",
        FIND_COORDINATOR,
        4,
        FIND_COORDINATOR_REQUEST,
        FIND_COORDINATOR_V4_REQUEST,
    ),
    Case(
        "FindCoordinator v4 response",
        FIND_COORDINATOR,
        4,
        FIND_COORDINATOR_RESPONSE,
        FIND_COORDINATOR_V4_RESPONSE,
    ),
    Case("JoinGroup v5 request", JOIN_GROUP, 5, JOIN_GROUP_REQUEST, JOIN_GROUP_V5_REQUEST),
    Case("JoinGroup v0 request", JOIN_GROUP, 0, JOIN_GROUP_V0_REQUEST_MESSAGE, JOIN_GROUP_V0_REQUEST),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_encodes_to_golden_bytes(case: Case) -> None:
    assert encode(case.message, case.version, case.flexible) == case.golden


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decodes_golden_bytes(case: Case) -> None:
    assert decode(type(case.message), case.golden, case.version, case.flexible) == case.message


def test_create_topics_response_skips_default_tagged_field() -> None:
    # With topic_config_error_code at its default 0 the tagged section is empty.
    response = CreateTopicsResponse(topics=[CreatableTopicResult(name="t1", configs=None)])
    encoded = encode(response, 5, True)
    assert encoded == b"".join(
        [
            h("00000000"),  # throttle_time_ms
            h("02"),  # topics: 1 + 1
            h("03") + b"t1",  # .name (no topic_id before v7)
            h("0000"),  # .error_code
            h("01"),  # .error_message: empty string, the declared default
            h("ffffffff"),  # .num_partitions: default -1
            h("ffff"),  # .replication_factor: default -1
            h("00"),  # .configs: null
            h("00"),  # .tagged fields: none
            h("00"),  # tagged fields: none
        ]
    )


def test_find_coordinator_v3_uses_single_key() -> None:
    request = FindCoordinatorRequest(key="g", key_type=1)
    assert encode(request, 3, True) == b"".join(
        [
            h("02") + b"g",  # key: 1 + 1 (v0-3)
            h("01"),  # key_type 1 (transaction)
            h("00"),  # tagged fields: none
        ]
    )


def test_join_group_version_window() -> None:
    assert (JOIN_GROUP.min_version, JOIN_GROUP.max_version) == (2, 9)
    assert JOIN_GROUP.lowest_advertised == 0
    assert JOIN_GROUP.lowest_decodable == 0


# Kafka 4.0's served version ranges and first flexible version of every API declared here.
KAFKA_4_0_RANGES = {
    "offset_commit": ("OFFSET_COMMIT", 8, 2, 9, 8),
    "offset_fetch": ("OFFSET_FETCH", 9, 1, 9, 6),
    "find_coordinator": ("FIND_COORDINATOR", 10, 0, 6, 3),
    "join_group": ("JOIN_GROUP", 11, 2, 9, 6),
    "heartbeat": ("HEARTBEAT", 12, 0, 4, 4),
    "leave_group": ("LEAVE_GROUP", 13, 0, 5, 4),
    "sync_group": ("SYNC_GROUP", 14, 0, 5, 4),
    "describe_groups": ("DESCRIBE_GROUPS", 15, 0, 6, 5),
    "list_groups": ("LIST_GROUPS", 16, 0, 5, 3),
    "create_topics": ("CREATE_TOPICS", 19, 2, 7, 5),
    "delete_topics": ("DELETE_TOPICS", 20, 1, 6, 4),
    "delete_records": ("DELETE_RECORDS", 21, 0, 2, 2),
    "describe_configs": ("DESCRIBE_CONFIGS", 32, 1, 4, 4),
    "alter_configs": ("ALTER_CONFIGS", 33, 0, 2, 2),
    "describe_log_dirs": ("DESCRIBE_LOG_DIRS", 35, 1, 4, 2),
    "create_partitions": ("CREATE_PARTITIONS", 37, 0, 3, 2),
    "delete_groups": ("DELETE_GROUPS", 42, 0, 2, 2),
    "incremental_alter_configs": ("INCREMENTAL_ALTER_CONFIGS", 44, 0, 1, 1),
    "describe_cluster": ("DESCRIBE_CLUSTER", 60, 0, 2, 0),
}


@pytest.mark.parametrize("module_name", sorted(KAFKA_4_0_RANGES))
def test_version_ranges_match_kafka_4_0(module_name: str) -> None:
    constant, key, lo, hi, flexible_from = KAFKA_4_0_RANGES[module_name]
    api = getattr(importlib.import_module(f"moldau.protocol.messages.{module_name}"), constant)
    assert (api.key, api.min_version, api.max_version) == (key, lo, hi)
    assert api.flexible(flexible_from)
    if flexible_from > 0:
        assert not api.flexible(flexible_from - 1)


def test_offset_delete_is_never_flexible() -> None:
    assert (OFFSET_DELETE.key, OFFSET_DELETE.min_version, OFFSET_DELETE.max_version) == (47, 0, 0)
    assert not OFFSET_DELETE.flexible(0)
