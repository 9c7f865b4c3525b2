"""WriteTxnMarkers (27), v1: write COMMIT/ABORT markers to partitions this broker leads.

The transaction coordinator of a single node writes its markers directly; this API serves
admin tools that abort a hanging transaction (``kafka-transactions --abort``) and, later,
coordinators on other brokers.
"""

from __future__ import annotations

from moldau.broker.context import RequestContext
from moldau.broker.txn_runtime import write_marker
from moldau.coordinator.txn import MarkerRequest
from moldau.protocol.messages.write_txn_markers import (
    WRITE_TXN_MARKERS,
    WritableTxnMarker,
    WritableTxnMarkerPartitionResult,
    WritableTxnMarkerResult,
    WritableTxnMarkerTopicResult,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)

API = WRITE_TXN_MARKERS


def _write(ctx: RequestContext, m: WritableTxnMarker) -> WritableTxnMarkerResult:
    topics = []
    for t in m.topics:
        results = []
        for p in t.partition_indexes:
            marker = MarkerRequest(
                topic=t.name,
                partition=p,
                producer_id=m.producer_id,
                producer_epoch=m.producer_epoch,
                coordinator_epoch=m.coordinator_epoch,
                committed=m.transaction_result,
                transactional_id="",
            )
            code = write_marker(ctx.broker, marker, missing_topic_ok=False)
            results.append(WritableTxnMarkerPartitionResult(partition_index=p, error_code=code))
        topics.append(WritableTxnMarkerTopicResult(name=t.name, partitions=results))
    return WritableTxnMarkerResult(producer_id=m.producer_id, topics=topics)


def handle(ctx: RequestContext, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
    return WriteTxnMarkersResponse(markers=[_write(ctx, m) for m in req.markers])
