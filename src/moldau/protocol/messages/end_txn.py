"""EndTxn (key 26): versions 0-5, flexible from 3.

A transactional producer asks its coordinator to commit (``committed`` true) or abort the
current transaction; the coordinator then writes the markers with WriteTxnMarkers.

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: PRODUCER_FENCED may be returned.
* v3: first flexible version.
* v4: TRANSACTION_ABORTABLE may be returned; no layout change.
* v5: transactions protocol v2 (KIP-890): the epoch is bumped when every transaction ends, so
  the response returns the producer ID and epoch to use next (-1 when not set).
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class EndTxnRequest:
    transactional_id: str = field(STRING)
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT16)
    committed: bool = field(BOOL)


@datatype(slots=True, kw_only=True)
class EndTxnResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16)
    producer_id: int = field(INT64, "5+", default=-1)
    producer_epoch: int = field(INT16, "5+", default=-1)


END_TXN = Api(
    key=26,
    name="EndTxn",
    request=EndTxnRequest,
    response=EndTxnResponse,
    min_version=0,
    max_version=5,
    flexible_from=3,
)
