"""Every declared API, request and response, at every version we decode.

The generic tests build a fully populated message (every field set to a non-default value,
arrays with two elements, structs filled in, nullable fields once all set and once all null),
encode it at each version and decode it back. Fields a version lacks must be dropped on encode
and come back as their defaults, so the decoded message is compared with the populated one
*projected* onto that version. Round trips alone cannot catch a field declared in the wrong
order or with the wrong width on both sides, so the golden tests at the end pin the bytes of
a few messages, worked out by hand from the protocol's layout.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from moldau.protocol import codegen, schema
from moldau.protocol.messages import all_apis
from moldau.protocol.messages.fetch import (
    FetchableTopicResponse,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    FetchTopic,
    PartitionData,
    ReplicaState,
)
from moldau.protocol.messages.fetch import LeaderIdAndEpoch as FetchLeader
from moldau.protocol.messages.list_offsets import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from moldau.protocol.messages.metadata import (
    MetadataRequest,
    MetadataRequestTopic,
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from moldau.protocol.messages.offset_for_leader_epoch import (
    EpochEndOffset,
    OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
)
from moldau.protocol.messages.produce import (
    PRODUCE,
    LeaderIdAndEpoch,
    NodeEndpoint,
    PartitionProduceData,
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceData,
    TopicProduceResponse,
)
from moldau.protocol.primitives import ZERO_UUID, DecodeError
from moldau.protocol.schema import Api, Array, FieldSpec, Prim, fields_of

# -- populating and projecting messages ------------------------------------------------------


class _Filler:
    """Builds populated instances; every scalar gets a fresh value from a running counter, so
    two fields of the same type never hold the same value."""

    def __init__(self, version: int, nulls: bool) -> None:
        self.version = version
        self.nulls = nulls
        self.n = 0

    def struct(self, cls: type) -> Any:
        kw = {name: self.field(spec) for name, spec in fields_of(cls)}
        return cls(**kw)

    def field(self, spec: FieldSpec) -> Any:
        if self.nulls and spec.present(self.version) and spec.is_nullable(self.version):
            return None
        return self.value(spec.type, spec.default)

    def value(self, t: schema.FieldType, default: Any) -> Any:
        if isinstance(t, Array):
            return [self.value(t.elem, t.elem.default if isinstance(t.elem, Prim) else None) for _ in "ab"]
        if isinstance(t, type):
            return self.struct(t)
        return self.prim(t, default)

    def prim(self, p: Prim, default: Any) -> Any:
        self.n += 1
        n = self.n
        v: Any
        if p.name == "bool":
            return not default
        if p.name == "int8":
            v = n % 100 + 1
        elif p.name == "int16":
            v = -(n % 20000) - 2 if n % 2 else n % 20000 + 1
        elif p.name == "int32":
            v = 100_000 + n if n % 2 else -100_000 - n
        elif p.name == "int64":
            v = (1 << 40) + n if n % 2 else -(1 << 41) - n
        elif p.name == "uint16":
            v = 40_000 + n
        elif p.name == "uint32":
            v = 3_000_000_000 + n
        elif p.name == "float64":
            return n + 0.25
        elif p.name == "uuid":
            return uuid.UUID(int=(n << 64) | (n * 7919))
        elif p.name == "string":
            return f"s{n}-\u00e9\u00df"
        elif p.name in ("bytes", "records"):
            return bytes([n % 256, 0, 255]) * 3
        else:  # pragma: no cover - a new primitive needs a case here
            raise AssertionError(f"no sample value for {p.name}")
        return v + 1 if v == default else v


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    assert f.default_factory is not dataclasses.MISSING
    return f.default_factory()


def _project(obj: Any, version: int) -> Any:
    """``obj`` as it must look after a trip through ``version``: absent fields at default."""
    cls = type(obj)
    specs = dict(fields_of(cls))
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        spec = specs.get(f.name)
        if spec is None:
            kw[f.name] = getattr(obj, f.name)
        elif not spec.present(version):
            kw[f.name] = _default_of(f)
        else:
            kw[f.name] = _project_value(getattr(obj, f.name), spec.type, version)
    return cls(**kw)


def _project_value(v: Any, t: schema.FieldType, version: int) -> Any:
    if v is None:
        return None
    if isinstance(t, Array):
        return [_project_value(x, t.elem, version) for x in v]
    if isinstance(t, type):
        return _project(v, version)
    return v


# -- generic tests over every API ------------------------------------------------------------

_CASES = [
    pytest.param(api, version, side, id=f"{api.name}-v{version}-{side}")
    for api in all_apis().values()
    for version in range(api.lowest_decodable, api.max_version + 1)
    for side in ("request", "response")
]


def _cls(api: Api, side: str) -> type:
    return api.request if side == "request" else api.response


def test_every_api_is_found() -> None:
    apis = all_apis()
    for key in (0, 1, 2, 3, 18, 23):
        assert key in apis


@pytest.mark.parametrize("api", list(all_apis().values()), ids=lambda a: a.name)
def test_version_ranges_are_consistent(api: Api) -> None:
    assert 0 <= api.lowest_decodable <= api.lowest_advertised <= api.min_version <= api.max_version
    assert api.flexible_from >= 0
    for cls in (api.request, api.response):
        assert dataclasses.is_dataclass(cls)
        for name, spec in fields_of(cls):
            assert name == name.lower(), name
            if spec.tag is not None:
                lo, _ = spec.tagged_versions
                assert lo >= api.flexible_from, f"{cls.__name__}.{name} tagged before flexible"


@pytest.mark.parametrize(("api", "version", "side"), _CASES)
@pytest.mark.parametrize("nulls", [False, True], ids=["values", "nulls"])
def test_populated_round_trip(api: Api, version: int, side: str, nulls: bool) -> None:
    cls = _cls(api, side)
    flexible = api.flexible(version)
    original = _Filler(version, nulls).struct(cls)
    data = codegen.encode(original, version, flexible)
    decoded = codegen.decode(cls, data, version, flexible)
    assert decoded == _project(original, version)
    assert codegen.encode(decoded, version, flexible) == data


@pytest.mark.parametrize(("api", "version", "side"), _CASES)
def test_default_round_trip(api: Api, version: int, side: str) -> None:
    cls = _cls(api, side)
    flexible = api.flexible(version)
    data = codegen.encode(cls(), version, flexible)
    assert codegen.decode(cls, data, version, flexible) == cls()


@pytest.mark.parametrize(("api", "version", "side"), _CASES)
def test_trailing_garbage_and_truncation_rejected(api: Api, version: int, side: str) -> None:
    cls = _cls(api, side)
    flexible = api.flexible(version)
    data = codegen.encode(_Filler(version, False).struct(cls), version, flexible)
    with pytest.raises(DecodeError):
        codegen.decode(cls, data + b"\x00", version, flexible)
    step = max(1, len(data) // 40)
    for cut in range(0, len(data), step):
        with pytest.raises(DecodeError):
            codegen.decode(cls, data[:cut], version, flexible)


# -- golden bytes, worked out by hand --------------------------------------------------------


def _hex(s: str) -> bytes:
    return bytes.fromhex("".join(s.split()))


def _check(obj: Any, version: int, flexible: bool, expected: bytes) -> None:
    assert codegen.encode(obj, version, flexible) == expected
    assert codegen.decode(type(obj), expected, version, flexible) == obj


def test_metadata_request_v0_v1_topic_lists() -> None:
    one = MetadataRequest(topics=[MetadataRequestTopic(name="foo")])
    # INT32 count 1, STRING "foo" (INT16 length 3)
    _check(one, 1, False, _hex("00000001 0003 666f6f"))
    # v1+: a null array asks for every topic
    _check(MetadataRequest(topics=None), 1, False, _hex("ffffffff"))
    # v0: the empty array is how "every topic" is said
    _check(MetadataRequest(topics=[]), 0, False, _hex("00000000"))


def test_metadata_request_v12_flexible() -> None:
    req = MetadataRequest(
        topics=[MetadataRequestTopic(topic_id=ZERO_UUID, name="foo")],
        allow_auto_topic_creation=True,
        include_topic_authorized_operations=False,
    )
    expected = _hex(
        "02"  # compact array, 1 topic
        "00000000000000000000000000000000"  # topic_id
        "04 666f6f"  # compact string "foo"
        "00"  # topic's tagged fields
        "01"  # allow_auto_topic_creation
        "00"  # include_topic_authorized_operations
        "00"  # tagged fields
    )
    _check(req, 12, True, expected)


def test_metadata_response_v1() -> None:
    resp = MetadataResponse(
        brokers=[MetadataResponseBroker(node_id=1, host="h", port=9092, rack=None)],
        controller_id=1,
        topics=[
            MetadataResponseTopic(
                error_code=0,
                name="t",
                is_internal=False,
                partitions=[
                    MetadataResponsePartition(
                        error_code=0, partition_index=0, leader_id=1, replica_nodes=[1], isr_nodes=[1]
                    )
                ],
            )
        ],
    )
    expected = _hex(
        "00000001"  # brokers: 1
        "00000001 0001 68 00002384 ffff"  # node 1, host "h", port 9092, rack null
        "00000001"  # controller_id
        "00000001"  # topics: 1
        "0000 0001 74 00"  # error, name "t", is_internal false
        "00000001"  # partitions: 1
        "0000 00000000 00000001"  # error, index 0, leader 1
        "00000001 00000001"  # replicas [1]
        "00000001 00000001"  # isr [1]
    )
    _check(resp, 1, False, expected)


def test_metadata_response_v13_top_level_error_code() -> None:
    resp = MetadataResponse(cluster_id=None, controller_id=-1, error_code=129)
    expected = _hex(
        "00000000"  # throttle_time_ms
        "01"  # brokers: empty compact array
        "00"  # cluster_id null
        "ffffffff"  # controller_id
        "01"  # topics: empty
        "0081"  # error_code REBOOTSTRAP_REQUIRED
        "00"  # tagged fields
    )
    _check(resp, 13, True, expected)


def test_produce_request_v3_body() -> None:
    req = ProduceRequest(
        transactional_id=None,
        acks=-1,
        timeout_ms=1000,
        topic_data=[
            TopicProduceData(name="t", partition_data=[PartitionProduceData(index=0, records=b"abc")])
        ],
    )
    expected = _hex(
        "ffff"  # transactional_id null
        "ffff"  # acks -1
        "000003e8"  # timeout_ms 1000
        "00000001 0001 74"  # 1 topic, "t"
        "00000001 00000000"  # 1 partition, index 0
        "00000003 616263"  # records, INT32 length
    )
    _check(req, 3, False, expected)


def test_produce_request_v0_has_no_transactional_id() -> None:
    req = ProduceRequest(acks=1, timeout_ms=5, topic_data=[])
    _check(req, 0, False, _hex("0001 00000005 00000000"))
    assert PRODUCE.lowest_advertised == 0 and PRODUCE.min_version == 3


def test_produce_request_v9_flexible() -> None:
    req = ProduceRequest(
        transactional_id=None,
        acks=1,
        timeout_ms=30000,
        topic_data=[
            TopicProduceData(name="t", partition_data=[PartitionProduceData(index=2, records=b"abc")])
        ],
    )
    expected = _hex(
        "00"  # compact nullable string: null
        "0001 00007530"  # acks 1, timeout 30000
        "02 02 74"  # 1 topic, compact "t"
        "02 00000002"  # 1 partition, index 2
        "04 616263"  # compact records
        "00 00 00"  # tagged fields: partition, topic, request
    )
    _check(req, 9, True, expected)


def test_produce_response_v10_tagged_leader_and_endpoints() -> None:
    resp = ProduceResponse(
        responses=[
            TopicProduceResponse(
                name="t",
                partition_responses=[
                    PartitionProduceResponse(
                        index=0,
                        error_code=6,
                        base_offset=-1,
                        current_leader=LeaderIdAndEpoch(leader_id=2, leader_epoch=5),
                    )
                ],
            )
        ],
        throttle_time_ms=0,
        node_endpoints=[NodeEndpoint(node_id=2, host="h", port=9092, rack=None)],
    )
    expected = _hex(
        "02 02 74 02"  # 1 topic "t", 1 partition
        "00000000 0006"  # index 0, NOT_LEADER_OR_FOLLOWER
        "ffffffffffffffff ffffffffffffffff ffffffffffffffff"  # base, append time, start offset
        "01 00"  # record_errors empty, error_message null
        "01 00 09 00000002 00000005 00"  # tagged: 1 field, tag 0, 9 bytes: leader 2 epoch 5
        "00"  # topic tagged fields
        "00000000"  # throttle_time_ms
        "01 00 0d"  # tagged: 1 field, tag 0, 13 bytes
        "02 00000002 0268 00002384 00 00"  # 1 endpoint: id 2, "h", 9092, rack null, no tags
    )
    _check(resp, 10, True, expected)


def test_fetch_request_v4() -> None:
    req = FetchRequest(
        replica_id=-1,
        max_wait_ms=500,
        min_bytes=1,
        topics=[
            FetchTopic(
                topic="t",
                partitions=[FetchPartition(partition=0, fetch_offset=5, partition_max_bytes=1 << 20)],
            )
        ],
    )
    expected = _hex(
        "ffffffff 000001f4 00000001"  # replica_id, max_wait_ms, min_bytes
        "7fffffff 00"  # max_bytes default, isolation_level
        "00000001 0001 74"  # 1 topic "t"
        "00000001 00000000 0000000000000005 00100000"  # partition 0, offset 5, 1 MiB
    )
    _check(req, 4, False, expected)


def test_fetch_request_v15_replica_state_is_tagged() -> None:
    req = FetchRequest(
        replica_state=ReplicaState(replica_id=1, replica_epoch=7),
        max_wait_ms=500,
        min_bytes=1,
        topics=[
            FetchTopic(
                topic_id=uuid.UUID(int=1),
                partitions=[
                    FetchPartition(
                        partition=0,
                        current_leader_epoch=3,
                        fetch_offset=5,
                        last_fetched_epoch=2,
                        log_start_offset=0,
                        partition_max_bytes=1 << 20,
                    )
                ],
            )
        ],
    )
    expected = _hex(
        "000001f4 00000001 7fffffff 00"  # max_wait_ms, min_bytes, max_bytes, isolation_level
        "00000000 ffffffff"  # session_id 0, session_epoch -1
        "02 00000000000000000000000000000001"  # 1 topic, topic_id
        "02 00000000 00000003 0000000000000005"  # 1 partition: 0, leader epoch 3, offset 5
        "00000002 0000000000000000 00100000 00"  # last fetched epoch, log start, max bytes, tags
        "00"  # topic tagged fields
        "01 01"  # forgotten_topics_data empty, rack_id ""
        "01 01 0d 00000001 0000000000000007 00"  # tagged: tag 1, 13 bytes, replica_state
    )
    _check(req, 15, True, expected)


def test_fetch_response_v12_writes_only_non_default_tagged_structs() -> None:
    resp = FetchResponse(
        responses=[
            FetchableTopicResponse(
                topic="t",
                partitions=[
                    PartitionData(
                        partition_index=0,
                        error_code=6,
                        high_watermark=10,
                        last_stable_offset=10,
                        log_start_offset=0,
                        current_leader=FetchLeader(leader_id=2, leader_epoch=5),
                        aborted_transactions=None,
                        records=None,
                    )
                ],
            )
        ]
    )
    expected = _hex(
        "00000000 0000 00000000"  # throttle_time_ms, error_code, session_id
        "02 02 74 02"  # 1 topic "t", 1 partition
        "00000000 0006"  # partition 0, NOT_LEADER_OR_FOLLOWER
        "000000000000000a 000000000000000a 0000000000000000"  # hw, lso, log start
        "00 ffffffff 00"  # aborted null, preferred_read_replica -1, records null
        "01 01 09 00000002 00000005 00"  # tagged: only current_leader (tag 1), 9 bytes
        "00 00"  # topic and response tagged fields
    )
    _check(resp, 12, True, expected)


def test_tagged_structs_at_their_default_however_made() -> None:
    """The encoder's own default instance (``codegen.tagged_default``, shared by the fetch
    handler), a fresh equal one, and a changed copy of it: only the last is written."""
    shared = codegen.tagged_default(FetchLeader)
    assert shared == FetchLeader() and codegen.tagged_default(FetchLeader) is shared

    def tagged_bytes(leader: FetchLeader) -> bytes:
        part = PartitionData(partition_index=0, records=None, current_leader=leader)
        return codegen.encode(part, 12, True)

    assert tagged_bytes(shared) == tagged_bytes(FetchLeader())
    assert tagged_bytes(shared).endswith(b"\x00")  # no tagged fields
    changed = tagged_bytes(dataclasses.replace(shared, leader_id=2))
    assert changed.endswith(bytes.fromhex("01 01 09 00000002 ffffffff 00".replace(" ", "")))
    assert shared == FetchLeader()  # replace made a copy


def test_list_offsets_request_v1() -> None:
    req = ListOffsetsRequest(
        replica_id=-1,
        topics=[
            ListOffsetsTopic(name="t", partitions=[ListOffsetsPartition(partition_index=0, timestamp=-1)])
        ],
    )
    expected = _hex("ffffffff 00000001 0001 74 00000001 00000000 ffffffffffffffff")
    _check(req, 1, False, expected)


def test_list_offsets_request_v10_timeout_last() -> None:
    req = ListOffsetsRequest(replica_id=-1, isolation_level=1, topics=[], timeout_ms=30000)
    _check(req, 10, True, _hex("ffffffff 01 01 00007530 00"))


def test_offset_for_leader_epoch_response_v2() -> None:
    resp = OffsetForLeaderEpochResponse(
        topics=[
            OffsetForLeaderTopicResult(
                topic="t",
                partitions=[EpochEndOffset(error_code=0, partition=0, leader_epoch=3, end_offset=100)],
            )
        ]
    )
    expected = _hex(
        "00000000"  # throttle_time_ms
        "00000001 0001 74"  # 1 topic "t"
        "00000001 0000 00000000 00000003 0000000000000064"  # error, partition, epoch, end offset
    )
    _check(resp, 2, False, expected)


@pytest.mark.parametrize("version", [8, 12])  # classic and flexible
@pytest.mark.parametrize("count", [None, 0, 1, 2, 126, 127, 300])
def test_array_counts_round_trip(version: int, count: int | None) -> None:
    """Arrays are read and written inline by the generated code: null, empty, one element, and
    counts on both sides of the one-byte compact length."""
    from moldau.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
    from moldau.protocol.primitives import DecodeError

    topics = None if count is None else [MetadataRequestTopic(name=f"t{i}") for i in range(count)]
    req = MetadataRequest(topics=topics, include_topic_authorized_operations=True)
    flexible = version >= 9
    data = codegen.encode(req, version, flexible)
    back = codegen.decode(MetadataRequest, data, version, flexible)
    assert back.topics == topics and back.include_topic_authorized_operations
    with pytest.raises(DecodeError):
        codegen.decode(MetadataRequest, data[: len(data) // 2 or 1], version, flexible)
