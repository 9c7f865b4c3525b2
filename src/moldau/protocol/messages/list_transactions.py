"""ListTransactions (key 66): versions 0-1, flexible from 0.

An admin request sent to every transaction coordinator: the transactional IDs it knows, with
producer ID and state. Empty filter lists mean no filtering; the response echoes the state
filters the coordinator did not recognise.

Version history:

* v0: the baseline, flexible from the start: filters by state and by producer ID.
* v1: ``duration_filter``: only transactions running for longer than this many milliseconds
  (-1, or any negative value, disables the filter). The response is unchanged.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class ListTransactionsRequest:
    state_filters: list[str] = field(Array(STRING))
    producer_id_filters: list[int] = field(Array(INT64))
    duration_filter: int = field(INT64, "1+", default=-1)


@datatype(slots=True, kw_only=True)
class TransactionState:
    transactional_id: str = field(STRING)
    producer_id: int = field(INT64)
    transaction_state: str = field(STRING)


@datatype(slots=True, kw_only=True)
class ListTransactionsResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16)
    unknown_state_filters: list[str] = field(Array(STRING))
    transaction_states: list[TransactionState] = field(Array(TransactionState))


LIST_TRANSACTIONS = Api(
    key=66,
    name="ListTransactions",
    request=ListTransactionsRequest,
    response=ListTransactionsResponse,
    min_version=0,
    max_version=1,
    flexible_from=0,
)
