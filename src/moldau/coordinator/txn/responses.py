"""Response builders, and the one place where an error code depends on the request version.

PRODUCER_FENCED (KIP-588) is only understood by clients of InitProducerId v4+ and of
AddPartitionsToTxn, AddOffsetsToTxn and EndTxn v2+; older clients get INVALID_PRODUCER_EPOCH,
which they handle the same way, as Kafka's request handlers translate it.

``error_response(api, request, version, code)`` turns a request-level error into that API's
response (the facade calls it for any :class:`KafkaError` an operation raises).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moldau.coordinator.txn.metadata import NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TopicPartition
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnResponse
from moldau.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnPartitionResult,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult,
    AddPartitionsToTxnTopic,
    AddPartitionsToTxnTopicResult,
)
from moldau.protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
)
from moldau.protocol.messages.describe_transactions import TransactionState as DescribedTransaction
from moldau.protocol.messages.end_txn import EndTxnResponse
from moldau.protocol.messages.init_producer_id import InitProducerIdResponse
from moldau.protocol.messages.list_transactions import ListTransactionsResponse

# API -> first version that may carry PRODUCER_FENCED
_FENCED_FROM = {
    "init_producer_id": 4,
    "add_partitions_to_txn": 2,
    "add_offsets_to_txn": 2,
    "end_txn": 2,
}


def wire_code(api: str, version: int, code: ErrorCode) -> int:
    if code is ErrorCode.PRODUCER_FENCED and version < _FENCED_FROM.get(api, 0):
        return int(ErrorCode.INVALID_PRODUCER_EPOCH)
    return int(code)


def init_producer_id_response(
    version: int,
    error: ErrorCode = ErrorCode.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
) -> InitProducerIdResponse:
    return InitProducerIdResponse(
        error_code=wire_code("init_producer_id", version, error),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
    )


def end_txn_response(
    version: int,
    error: ErrorCode = ErrorCode.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
) -> EndTxnResponse:
    return EndTxnResponse(
        error_code=wire_code("end_txn", version, error),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
    )


def add_offsets_response(version: int, error: ErrorCode = ErrorCode.NONE) -> AddOffsetsToTxnResponse:
    return AddOffsetsToTxnResponse(error_code=wire_code("add_offsets_to_txn", version, error))


def topic_results(
    version: int, codes: Iterable[tuple[TopicPartition, ErrorCode]]
) -> list[AddPartitionsToTxnTopicResult]:
    by_topic: dict[str, list[AddPartitionsToTxnPartitionResult]] = {}
    for (topic, partition), code in codes:
        by_topic.setdefault(topic, []).append(
            AddPartitionsToTxnPartitionResult(
                partition_index=partition,
                partition_error_code=wire_code("add_partitions_to_txn", version, code),
            )
        )
    return [AddPartitionsToTxnTopicResult(name=t, results_by_partition=r) for t, r in by_topic.items()]


def requested_partitions(topics: Iterable[AddPartitionsToTxnTopic]) -> list[TopicPartition]:
    """The partitions of a request, in request order, each once."""
    return list(dict.fromkeys((t.name, p) for t in topics for p in t.partitions))


def add_partitions_v3_response(
    version: int, partitions: Iterable[TopicPartition], error: ErrorCode
) -> AddPartitionsToTxnResponse:
    """A v0-3 answer: the one transaction's outcome, for every partition it named."""
    return AddPartitionsToTxnResponse(
        results_by_topic_v3_and_below=topic_results(version, ((tp, error) for tp in partitions))
    )


def add_partitions_batch_response(
    version: int, results: Iterable[tuple[str, list[tuple[TopicPartition, ErrorCode]]]]
) -> AddPartitionsToTxnResponse:
    """A v4+ answer: per transactional id, per partition."""
    return AddPartitionsToTxnResponse(
        error_code=int(ErrorCode.NONE),
        results_by_transaction=[
            AddPartitionsToTxnResult(transactional_id=tid, topic_results=topic_results(version, codes))
            for tid, codes in results
        ],
    )


def _add_partitions_error(req: AddPartitionsToTxnRequest, version: int, code: ErrorCode) -> Any:
    if version < 4:
        return add_partitions_v3_response(version, requested_partitions(req.v3_and_below_topics), code)
    return add_partitions_batch_response(
        version,
        [
            (t.transactional_id, [(tp, code) for tp in requested_partitions(t.topics)])
            for t in req.transactions
        ],
    )


def _describe_error(req: DescribeTransactionsRequest, version: int, code: ErrorCode) -> Any:
    return DescribeTransactionsResponse(
        transaction_states=[
            DescribedTransaction(error_code=int(code), transactional_id=tid) for tid in req.transactional_ids
        ]
    )


_ERROR_BUILDERS: dict[str, Callable[[Any, int, ErrorCode], Any]] = {
    "init_producer_id": lambda req, v, code: init_producer_id_response(v, code),
    "add_partitions_to_txn": _add_partitions_error,
    "add_offsets_to_txn": lambda req, v, code: add_offsets_response(v, code),
    "end_txn": lambda req, v, code: end_txn_response(v, code),
    "describe_transactions": _describe_error,
    "list_transactions": lambda req, v, code: ListTransactionsResponse(error_code=int(code)),
}


def error_response(api: str, req: Any, version: int, code: ErrorCode) -> Any:
    return _ERROR_BUILDERS[api](req, version, code)
