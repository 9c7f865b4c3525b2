"""InitProducerId (22): versions 0-5, flexible from 2.

Gives a producer its id and epoch. v3 adds the current producer id and epoch so that an
existing producer can bump its epoch (KIP-360); v4 allows PRODUCER_FENCED and v5 marks clients
that understand the KIP-890 transaction protocol; neither changes the layout.
"""

from __future__ import annotations

from moldau.protocol.schema import INT16, INT32, INT64, STRING, Api, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class InitProducerIdRequest:
    transactional_id: str | None = field(STRING, nullable="0+", default=None)
    transaction_timeout_ms: int = field(INT32)
    producer_id: int = field(INT64, "3+", default=-1)
    producer_epoch: int = field(INT16, "3+", default=-1)


@datatype(slots=True, kw_only=True)
class InitProducerIdResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16)
    producer_id: int = field(INT64, default=-1)
    producer_epoch: int = field(INT16)


INIT_PRODUCER_ID = Api(
    key=22,
    name="InitProducerId",
    request=InitProducerIdRequest,
    response=InitProducerIdResponse,
    min_version=0,
    max_version=5,
    flexible_from=2,
)
