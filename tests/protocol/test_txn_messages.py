"""Golden bytes for the transaction message declarations.

Each expected byte string is spelled out field by field from the protocol layout: INT16/INT32
lengths and counts in classic versions; in flexible versions an UNSIGNED_VARINT holding
length + 1 for strings and arrays, and a tagged-field section (here always empty, ``00``)
closing every struct. Every case is checked both ways, so a declaration that drops, reorders
or mis-sizes a field, or puts it in the wrong versions, fails here even though it would still
survive the generic round trips.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest

from moldau.protocol.codegen import decode, encode
from moldau.protocol.messages.add_partitions_to_txn import (
    ADD_PARTITIONS_TO_TXN,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnTopic,
    AddPartitionsToTxnTransaction,
)
from moldau.protocol.messages.end_txn import END_TXN, EndTxnRequest, EndTxnResponse
from moldau.protocol.messages.txn_offset_commit import (
    TXN_OFFSET_COMMIT,
    TxnOffsetCommitRequest,
    TxnOffsetCommitRequestPartition,
    TxnOffsetCommitRequestTopic,
)
from moldau.protocol.messages.write_txn_markers import (
    WRITE_TXN_MARKERS,
    WritableTxnMarker,
    WritableTxnMarkerTopic,
    WriteTxnMarkersRequest,
)
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


# -- AddPartitionsToTxn, client form (v0-3) --------------------------------------------------

ADD_PARTITIONS_CLIENT_REQUEST = AddPartitionsToTxnRequest(
    v3_and_below_transactional_id="txn-1",
    v3_and_below_producer_id=1000,
    v3_and_below_producer_epoch=2,
    v3_and_below_topics=[AddPartitionsToTxnTopic(name="t1", partitions=[0, 1])],
)

# v2 is the last classic (non-flexible) version.
ADD_PARTITIONS_V2_REQUEST = b"".join(
    [
        h("0005") + b"txn-1",  # v3_and_below_transactional_id: INT16 length 5
        h("00000000000003e8"),  # v3_and_below_producer_id 1000
        h("0002"),  # v3_and_below_producer_epoch 2
        h("00000001"),  # v3_and_below_topics: INT32 count 1
        h("0002") + b"t1",  # .name: INT16 length 2
        h("00000002 00000000 00000001"),  # .partitions: count 2, [0, 1]
    ]
)

# v3 has the same fields as v2 but is the first flexible version.
ADD_PARTITIONS_V3_REQUEST = b"".join(
    [
        h("06") + b"txn-1",  # v3_and_below_transactional_id: compact length 5 + 1
        h("00000000000003e8"),  # v3_and_below_producer_id 1000
        h("0002"),  # v3_and_below_producer_epoch 2
        h("02"),  # v3_and_below_topics: 1 + 1
        h("03") + b"t1",  # .name: 2 + 1
        h("03 00000000 00000001"),  # .partitions: 2 + 1, [0, 1]
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

# -- AddPartitionsToTxn, broker form (v4+) ---------------------------------------------------

ADD_PARTITIONS_BATCH_REQUEST = AddPartitionsToTxnRequest(
    transactions=[
        AddPartitionsToTxnTransaction(
            transactional_id="txn-a",
            producer_id=7,
            producer_epoch=0,
            verify_only=True,
            topics=[AddPartitionsToTxnTopic(name="t1", partitions=[0])],
        ),
        AddPartitionsToTxnTransaction(
            transactional_id="txn-b",
            producer_id=8,
            producer_epoch=3,
            verify_only=False,
            topics=[
                AddPartitionsToTxnTopic(name="t1", partitions=[1, 2]),
                AddPartitionsToTxnTopic(name="t2", partitions=[0]),
            ],
        ),
    ]
)

ADD_PARTITIONS_V4_REQUEST = b"".join(
    [
        h("03"),  # transactions: 2 + 1 (the v3_and_below_* fields are gone)
        h("06") + b"txn-a",  # .transactional_id: 5 + 1
        h("0000000000000007"),  # .producer_id 7
        h("0000"),  # .producer_epoch 0
        h("01"),  # .verify_only true
        h("02"),  # .topics: 1 + 1
        h("03") + b"t1",  # ..name
        h("02 00000000"),  # ..partitions: 1 + 1, [0]
        h("00"),  # ..tagged fields: none
        h("00"),  # .tagged fields: none
        h("06") + b"txn-b",  # .transactional_id
        h("0000000000000008"),  # .producer_id 8
        h("0003"),  # .producer_epoch 3
        h("00"),  # .verify_only false
        h("03"),  # .topics: 2 + 1
        h("03") + b"t1",  # ..name
        h("03 00000001 00000002"),  # ..partitions: 2 + 1, [1, 2]
        h("00"),  # ..tagged fields: none
        h("03") + b"t2",  # ..name
        h("02 00000000"),  # ..partitions: 1 + 1, [0]
        h("00"),  # ..tagged fields: none
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

# -- EndTxn ----------------------------------------------------------------------------------

END_TXN_REQUEST = EndTxnRequest(transactional_id="txn-1", producer_id=1000, producer_epoch=2, committed=True)

END_TXN_V3_REQUEST = b"".join(
    [
        h("06") + b"txn-1",  # transactional_id: 5 + 1
        h("00000000000003e8"),  # producer_id 1000
        h("0002"),  # producer_epoch 2
        h("01"),  # committed true
        h("00"),  # tagged fields: none
    ]
)

END_TXN_RESPONSE = EndTxnResponse(throttle_time_ms=0, error_code=0, producer_id=1000, producer_epoch=3)

END_TXN_V5_RESPONSE = b"".join(
    [
        h("00000000"),  # throttle_time_ms 0
        h("0000"),  # error_code 0
        h("00000000000003e8"),  # producer_id 1000 (v5+)
        h("0003"),  # producer_epoch 3, the bumped epoch (v5+)
        h("00"),  # tagged fields: none
    ]
)

# -- WriteTxnMarkers -------------------------------------------------------------------------

WRITE_TXN_MARKERS_REQUEST = WriteTxnMarkersRequest(
    markers=[
        WritableTxnMarker(
            producer_id=1000,
            producer_epoch=2,
            transaction_result=True,
            topics=[WritableTxnMarkerTopic(name="t1", partition_indexes=[0, 2])],
            coordinator_epoch=5,
        )
    ]
)

WRITE_TXN_MARKERS_V1_REQUEST = b"".join(
    [
        h("02"),  # markers: 1 + 1
        h("00000000000003e8"),  # .producer_id 1000
        h("0002"),  # .producer_epoch 2
        h("01"),  # .transaction_result true (COMMIT)
        h("02"),  # .topics: 1 + 1
        h("03") + b"t1",  # ..name
        h("03 00000000 00000002"),  # ..partition_indexes: 2 + 1, [0, 2]
        h("00"),  # ..tagged fields: none
        h("00000005"),  # .coordinator_epoch 5 (after the topics)
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

# -- TxnOffsetCommit -------------------------------------------------------------------------

TXN_OFFSET_COMMIT_REQUEST = TxnOffsetCommitRequest(
    transactional_id="txn-1",
    group_id="g1",
    producer_id=1000,
    producer_epoch=2,
    generation_id=4,
    member_id="m-1",
    group_instance_id=None,
    topics=[
        TxnOffsetCommitRequestTopic(
            name="t1",
            partitions=[
                TxnOffsetCommitRequestPartition(
                    partition_index=0, committed_offset=42, committed_leader_epoch=3, committed_metadata=None
                ),
                TxnOffsetCommitRequestPartition(
                    partition_index=1, committed_offset=7, committed_leader_epoch=-1, committed_metadata=""
                ),
            ],
        )
    ],
)

TXN_OFFSET_COMMIT_V3_REQUEST = b"".join(
    [
        h("06") + b"txn-1",  # transactional_id: 5 + 1
        h("03") + b"g1",  # group_id: 2 + 1
        h("00000000000003e8"),  # producer_id 1000
        h("0002"),  # producer_epoch 2
        h("00000004"),  # generation_id 4 (v3+)
        h("04") + b"m-1",  # member_id: 3 + 1 (v3+)
        h("00"),  # group_instance_id: null (v3+)
        h("02"),  # topics: 1 + 1
        h("03") + b"t1",  # .name
        h("03"),  # .partitions: 2 + 1
        h("00000000"),  # ..partition_index 0
        h("000000000000002a"),  # ..committed_offset 42
        h("00000003"),  # ..committed_leader_epoch 3 (v2+)
        h("00"),  # ..committed_metadata: null
        h("00"),  # ..tagged fields: none
        h("00000001"),  # ..partition_index 1
        h("0000000000000007"),  # ..committed_offset 7
        h("ffffffff"),  # ..committed_leader_epoch -1 (unknown)
        h("01"),  # ..committed_metadata: empty string (0 + 1)
        h("00"),  # ..tagged fields: none
        h("00"),  # .tagged fields: none
        h("00"),  # tagged fields: none
    ]
)

CASES = [
    Case(
        "AddPartitionsToTxn v2 request",
        ADD_PARTITIONS_TO_TXN,
        2,
        ADD_PARTITIONS_CLIENT_REQUEST,
        ADD_PARTITIONS_V2_REQUEST,
    ),
    Case(
        "AddPartitionsToTxn v3 request",
        ADD_PARTITIONS_TO_TXN,
        3,
        ADD_PARTITIONS_CLIENT_REQUEST,
        ADD_PARTITIONS_V3_REQUEST,
    ),
    Case(
        "AddPartitionsToTxn v4 request",
        ADD_PARTITIONS_TO_TXN,
        4,
        ADD_PARTITIONS_BATCH_REQUEST,
        ADD_PARTITIONS_V4_REQUEST,
    ),
    Case("EndTxn v3 request", END_TXN, 3, END_TXN_REQUEST, END_TXN_V3_REQUEST),
    Case("EndTxn v5 response", END_TXN, 5, END_TXN_RESPONSE, END_TXN_V5_RESPONSE),
    Case(
        "WriteTxnMarkers v1 request",
        WRITE_TXN_MARKERS,
        1,
        WRITE_TXN_MARKERS_REQUEST,
        WRITE_TXN_MARKERS_V1_REQUEST,
    ),
    Case(
        "TxnOffsetCommit v3 request",
        TXN_OFFSET_COMMIT,
        3,
        TXN_OFFSET_COMMIT_REQUEST,
        TXN_OFFSET_COMMIT_V3_REQUEST,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_encodes_to_golden_bytes(case: Case) -> None:
    assert encode(case.message, case.version, case.flexible) == case.golden


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decodes_golden_bytes(case: Case) -> None:
    assert decode(type(case.message), case.golden, case.version, case.flexible) == case.message


def test_add_partitions_v4_drops_client_fields() -> None:
    # The single-transaction fields do not exist from v4: they are not written and decode to
    # their defaults, while the batch is not written below v4.
    both = AddPartitionsToTxnRequest(
        transactions=ADD_PARTITIONS_BATCH_REQUEST.transactions,
        v3_and_below_transactional_id="txn-1",
        v3_and_below_producer_id=1000,
        v3_and_below_producer_epoch=2,
        v3_and_below_topics=[AddPartitionsToTxnTopic(name="t1", partitions=[0, 1])],
    )
    assert encode(both, 4, True) == ADD_PARTITIONS_V4_REQUEST
    assert encode(both, 3, True) == ADD_PARTITIONS_V3_REQUEST
    assert decode(AddPartitionsToTxnRequest, ADD_PARTITIONS_V3_REQUEST, 3, True).transactions == []


def test_end_txn_response_before_v5_has_no_producer_fields() -> None:
    data = h("00000000 0033 00")  # throttle_time_ms 0, error 51 (CONCURRENT_TRANSACTIONS), no tags
    response = decode(EndTxnResponse, data, 4, True)
    assert response == EndTxnResponse(error_code=51)
    assert (response.producer_id, response.producer_epoch) == (-1, -1)


def test_txn_offset_commit_v2_has_no_member_fields() -> None:
    request = TxnOffsetCommitRequest(
        transactional_id="x",
        group_id="g",
        producer_id=1,
        producer_epoch=0,
        generation_id=4,
        member_id="m-1",
        topics=[
            TxnOffsetCommitRequestTopic(
                name="t",
                partitions=[TxnOffsetCommitRequestPartition(partition_index=0, committed_offset=1)],
            )
        ],
    )
    assert encode(request, 2, False) == b"".join(
        [
            h("0001") + b"x",  # transactional_id
            h("0001") + b"g",  # group_id
            h("0000000000000001"),  # producer_id 1
            h("0000"),  # producer_epoch 0 (generation/member/instance are v3+)
            h("00000001"),  # topics: count 1
            h("0001") + b"t",  # .name
            h("00000001"),  # .partitions: count 1
            h("00000000"),  # ..partition_index 0
            h("0000000000000001"),  # ..committed_offset 1
            h("ffffffff"),  # ..committed_leader_epoch: default -1 (v2+)
            h("0000"),  # ..committed_metadata: empty string, the declared default
        ]
    )


# Kafka 4.0's served version range and first flexible version of each transaction API.
KAFKA_4_0_RANGES = {
    "init_producer_id": ("INIT_PRODUCER_ID", 22, 0, 5, 2),
    "add_partitions_to_txn": ("ADD_PARTITIONS_TO_TXN", 24, 0, 5, 3),
    "add_offsets_to_txn": ("ADD_OFFSETS_TO_TXN", 25, 0, 4, 3),
    "end_txn": ("END_TXN", 26, 0, 5, 3),
    "write_txn_markers": ("WRITE_TXN_MARKERS", 27, 1, 1, 1),
    "txn_offset_commit": ("TXN_OFFSET_COMMIT", 28, 0, 5, 3),
    "describe_producers": ("DESCRIBE_PRODUCERS", 61, 0, 0, 0),
    "describe_transactions": ("DESCRIBE_TRANSACTIONS", 65, 0, 0, 0),
    "list_transactions": ("LIST_TRANSACTIONS", 66, 0, 1, 0),
}


@pytest.mark.parametrize("module_name", sorted(KAFKA_4_0_RANGES))
def test_version_ranges_match_kafka_4_0(module_name: str) -> None:
    constant, key, lo, hi, flexible_from = KAFKA_4_0_RANGES[module_name]
    api = getattr(importlib.import_module(f"moldau.protocol.messages.{module_name}"), constant)
    assert (api.key, api.min_version, api.max_version) == (key, lo, hi)
    assert api.lowest_advertised == lo
    assert api.flexible(flexible_from)
    if flexible_from > 0:
        assert not api.flexible(flexible_from - 1)
