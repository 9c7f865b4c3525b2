"""Requests played by hand with the internal client (``ClientConnection``), for tests that
must send what a real client would not, or read fields a real client does not show."""

from __future__ import annotations

from moldau.client.connection import ClientConnection
from moldau.protocol.messages.produce import (
    PRODUCE,
    PartitionProduceData,
    PartitionProduceResponse,
    ProduceRequest,
    TopicProduceData,
)


async def produce(
    conn: ClientConnection, topic: str, records: bytes, partition: int = 0, version: int | None = None
) -> PartitionProduceResponse:
    """Produce ``records`` (one batch) to one partition with acks=all; its partition response."""
    resp = await conn.request(
        PRODUCE,
        ProduceRequest(
            acks=-1,
            timeout_ms=10000,
            topic_data=[
                TopicProduceData(
                    name=topic, partition_data=[PartitionProduceData(index=partition, records=records)]
                )
            ],
        ),
        version=version,
    )
    [topic_resp] = resp.responses
    [part] = topic_resp.partition_responses
    return part
