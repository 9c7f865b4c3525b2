"""AddOffsetsToTxn (key 25): versions 0-4, flexible from 3.

Tells the transaction coordinator that the transaction will commit consumer offsets for a
group, so the group's ``__consumer_offsets`` partition takes part in the transaction. The
producer then sends the offsets themselves with TxnOffsetCommit to the group coordinator.

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: PRODUCER_FENCED may be returned.
* v3: first flexible version.
* v4: TRANSACTION_ABORTABLE may be returned; no layout change.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class AddOffsetsToTxnRequest:
    transactional_id: str = field(STRING)
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT16)
    group_id: str = field(STRING)


@datatype(slots=True, kw_only=True)
class AddOffsetsToTxnResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16)


ADD_OFFSETS_TO_TXN = Api(
    key=25,
    name="AddOffsetsToTxn",
    request=AddOffsetsToTxnRequest,
    response=AddOffsetsToTxnResponse,
    min_version=0,
    max_version=4,
    flexible_from=3,
)
