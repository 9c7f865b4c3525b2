"""DescribeTransactions (key 65): version 0 only, flexible from 0.

An admin request sent to transaction coordinators: the state of each named transactional ID,
its timeout, when the current transaction started, the producer ID and epoch, and the
partitions taking part in it (while completing, only those still waiting for their marker).
An empty ID list yields an empty answer.

Version history:

* v0: the baseline, flexible from the start.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DescribeTransactionsRequest:
    transactional_ids: list[str] = field(Array(STRING))


@datatype(slots=True, kw_only=True)
class TopicData:
    topic: str = field(STRING)
    partitions: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class TransactionState:
    error_code: int = field(INT16)
    transactional_id: str = field(STRING)
    transaction_state: str = field(STRING)
    transaction_timeout_ms: int = field(INT32)
    transaction_start_time_ms: int = field(INT64)
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT16)
    topics: list[TopicData] = field(Array(TopicData))


@datatype(slots=True, kw_only=True)
class DescribeTransactionsResponse:
    throttle_time_ms: int = field(INT32)
    transaction_states: list[TransactionState] = field(Array(TransactionState))


DESCRIBE_TRANSACTIONS = Api(
    key=65,
    name="DescribeTransactions",
    request=DescribeTransactionsRequest,
    response=DescribeTransactionsResponse,
    min_version=0,
    max_version=0,
    flexible_from=0,
)
