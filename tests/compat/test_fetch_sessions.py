"""Fetch sessions on the wire (KIP-227), played with the internal client: a fetch without a
session answers every partition it names; a session's first fetch does too and opens the
session, and its incremental fetches answer only the partitions with something new (records,
or a high watermark the session has not been told); a partition read to its end answers no
records and no error."""

from __future__ import annotations

import asyncio

from moldau.client.connection import ClientConnection
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.fetch import FETCH, FetchPartition, FetchRequest, FetchResponse, FetchTopic
from moldau.protocol.records.records import build_batch
from tests.conftest import BrokerProcess

from .clients import create_topic
from .internal_client import produce

FETCH_VERSION = 11  # names topics
PARTITIONS = 3


def fetch(topic: str, offsets: dict[int, int], session_id: int, epoch: int) -> FetchRequest:
    return FetchRequest(
        max_wait_ms=0,
        min_bytes=0,
        isolation_level=1,  # read_committed, as librdkafka asks by default
        session_id=session_id,
        session_epoch=epoch,
        topics=[
            FetchTopic(
                topic=topic,
                partitions=[
                    FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=1 << 20)
                    for p, o in offsets.items()
                ],
            )
        ]
        if offsets
        else [],
    )


def answered(resp: FetchResponse) -> dict[int, tuple[int, int, int]]:
    """partition -> (error code, high watermark, bytes of records) of every partition answered."""
    assert resp.error_code == ErrorCode.NONE, ErrorCode(resp.error_code).name
    return {
        p.partition_index: (p.error_code, p.high_watermark, len(p.records or b""))
        for t in resp.responses
        for p in t.partitions
    }


def test_sessionless_and_incremental_fetches(shared_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(shared_broker.bootstrap, topic_name, partitions=PARTITIONS)

    async def scenario() -> None:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            part = await produce(conn, topic_name, build_batch([(None, b"v", [], None)]), partition=1)
            assert part.error_code == ErrorCode.NONE

            async def ask(offsets: dict[int, int], session_id: int, epoch: int) -> FetchResponse:
                req = fetch(topic_name, offsets, session_id, epoch)
                resp: FetchResponse = await conn.request(FETCH, req, version=FETCH_VERSION)
                return resp

            # No session: every partition named is answered; partition 1 read to its end
            # (offset 1) answers no records and no error, like the empty ones.
            resp = await ask({0: 0, 1: 1, 2: 0}, session_id=0, epoch=-1)
            assert resp.session_id == 0
            assert answered(resp) == {0: (0, 0, 0), 1: (0, 1, 0), 2: (0, 0, 0)}

            # A session's first fetch answers every partition and opens it.
            resp = await ask({0: 0, 1: 0, 2: 0}, session_id=0, epoch=0)
            session = resp.session_id
            assert session > 0
            got = answered(resp)
            assert set(got) == {0, 1, 2} and got[1][2] > 0  # partition 1's record

            # Incremental, offsets moved on: nothing new anywhere, so nothing is answered.
            resp = await ask({1: 1}, session_id=session, epoch=1)
            assert answered(resp) == {}

            # A record lands on partition 2: only partition 2 is answered, with it.
            part = await produce(conn, topic_name, build_batch([(None, b"w", [], None)]), partition=2)
            assert part.error_code == ErrorCode.NONE
            resp = await ask({}, session_id=session, epoch=2)
            got = answered(resp)
            assert list(got) == [2] and got[2][:2] == (0, 1) and got[2][2] > 0

    asyncio.run(asyncio.wait_for(scenario(), 60))
