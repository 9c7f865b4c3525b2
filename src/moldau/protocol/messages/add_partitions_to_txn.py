"""AddPartitionsToTxn (key 24): versions 0-5, flexible from 3.

Registers partitions with an ongoing transaction before the producer writes to them, so the
transaction coordinator knows where to send commit or abort markers.

Up to v3 the request names exactly one transaction and is sent by producers. From v4 it is a
broker-to-broker request (KIP-890): a partition leader asks the coordinator about a batch of
transactions at once, and with ``verify_only`` set only checks that the partitions already
belong to the transaction instead of adding them. Clients stay on v3 and below. The v0-3 fields
carry a ``v3_and_below_`` prefix, the v4+ ones live under ``transactions``.

Version history:

* v0: the baseline: transactional ID, producer ID and epoch, and the topics with partitions.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: PRODUCER_FENCED may be returned.
* v3: first flexible version.
* v4: requests carry a list of transactions, each with ``verify_only``; the response gains a
  top-level ``error_code`` and groups its results by transactional ID.
* v5: TRANSACTION_ABORTABLE may be returned; no layout change.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnTopic:
    name: str = field(STRING)
    partitions: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnTransaction:
    transactional_id: str = field(STRING, "4+")
    producer_id: int = field(INT64, "4+")
    producer_epoch: int = field(INT16, "4+")
    verify_only: bool = field(BOOL, "4+")
    topics: list[AddPartitionsToTxnTopic] = field(Array(AddPartitionsToTxnTopic), "4+")


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnRequest:
    transactions: list[AddPartitionsToTxnTransaction] = field(Array(AddPartitionsToTxnTransaction), "4+")
    v3_and_below_transactional_id: str = field(STRING, "0-3")
    v3_and_below_producer_id: int = field(INT64, "0-3")
    v3_and_below_producer_epoch: int = field(INT16, "0-3")
    v3_and_below_topics: list[AddPartitionsToTxnTopic] = field(Array(AddPartitionsToTxnTopic), "0-3")


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnPartitionResult:
    partition_index: int = field(INT32)
    partition_error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnTopicResult:
    name: str = field(STRING)
    results_by_partition: list[AddPartitionsToTxnPartitionResult] = field(
        Array(AddPartitionsToTxnPartitionResult)
    )


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnResult:
    transactional_id: str = field(STRING, "4+")
    topic_results: list[AddPartitionsToTxnTopicResult] = field(Array(AddPartitionsToTxnTopicResult), "4+")


@datatype(slots=True, kw_only=True)
class AddPartitionsToTxnResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16, "4+")
    results_by_transaction: list[AddPartitionsToTxnResult] = field(Array(AddPartitionsToTxnResult), "4+")
    results_by_topic_v3_and_below: list[AddPartitionsToTxnTopicResult] = field(
        Array(AddPartitionsToTxnTopicResult), "0-3"
    )


ADD_PARTITIONS_TO_TXN = Api(
    key=24,
    name="AddPartitionsToTxn",
    request=AddPartitionsToTxnRequest,
    response=AddPartitionsToTxnResponse,
    min_version=0,
    max_version=5,
    flexible_from=3,
)
