"""WriteTxnMarkers (key 27): version 1 only, flexible from 1.

Sent by a transaction coordinator to partition leaders: for each producer, append a COMMIT
(``transaction_result`` true) or ABORT control record to the listed partitions, stamped with
the coordinator's epoch so markers from a deposed coordinator can be told apart.

Version history:

* v0: the non-flexible original; removed in Kafka 4.0 (KIP-896). The fields are declared from
  v0 as in Kafka's schema, but only v1 is served.
* v1: first flexible version, and the baseline since Kafka 4.0; same fields as v0.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class WritableTxnMarkerTopic:
    name: str = field(STRING)
    partition_indexes: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class WritableTxnMarker:
    producer_id: int = field(INT64)
    producer_epoch: int = field(INT16)
    transaction_result: bool = field(BOOL)
    topics: list[WritableTxnMarkerTopic] = field(Array(WritableTxnMarkerTopic))
    coordinator_epoch: int = field(INT32)


@datatype(slots=True, kw_only=True)
class WriteTxnMarkersRequest:
    markers: list[WritableTxnMarker] = field(Array(WritableTxnMarker))


@datatype(slots=True, kw_only=True)
class WritableTxnMarkerPartitionResult:
    partition_index: int = field(INT32)
    error_code: int = field(INT16)


@datatype(slots=True, kw_only=True)
class WritableTxnMarkerTopicResult:
    name: str = field(STRING)
    partitions: list[WritableTxnMarkerPartitionResult] = field(Array(WritableTxnMarkerPartitionResult))


@datatype(slots=True, kw_only=True)
class WritableTxnMarkerResult:
    producer_id: int = field(INT64)
    topics: list[WritableTxnMarkerTopicResult] = field(Array(WritableTxnMarkerTopicResult))


@datatype(slots=True, kw_only=True)
class WriteTxnMarkersResponse:
    markers: list[WritableTxnMarkerResult] = field(Array(WritableTxnMarkerResult))


WRITE_TXN_MARKERS = Api(
    key=27,
    name="WriteTxnMarkers",
    request=WriteTxnMarkersRequest,
    response=WriteTxnMarkersResponse,
    min_version=1,
    max_version=1,
    flexible_from=1,
)
