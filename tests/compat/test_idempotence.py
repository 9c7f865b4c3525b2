"""Idempotent produce on the wire: duplicates, sequence gaps, fenced epochs, and a crash.

These tests play the producer by hand with the internal client (``ClientConnection``) so that
they can do what a real client only does by accident: resend a batch that was already
written, skip sequences, go back to an older epoch. The partition's answers follow Kafka 4
(``ProducerAppendInfo``; see ``moldau.storage.producer_state``):

* a batch that repeats one of the producer's last five batches (same epoch, same first and
  last sequence) is acknowledged with the offset it got the first time and not written again;
* a batch whose first sequence does not follow the last one is OUT_OF_ORDER_SEQUENCE_NUMBER;
* a batch with an epoch older than the partition has seen is INVALID_PRODUCER_EPOCH;
* a newer epoch starts again at sequence 0 (this is how an idempotent producer bumps its
  epoch on its own, without the coordinator).

What the log holds is checked by fetching the raw batches back and reading their headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from moldau.client.connection import ClientConnection
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.fetch import FETCH, FetchPartition, FetchRequest, FetchTopic, PartitionData
from moldau.protocol.messages.init_producer_id import INIT_PRODUCER_ID, InitProducerIdRequest
from moldau.protocol.records.batch import BatchHeader, iter_headers
from moldau.protocol.records.records import build_batch, decode_records
from tests.conftest import BrokerProcess

from .clients import create_topic
from .internal_client import produce

T = TypeVar("T")

FETCH_VERSION = 11  # the newest version that still names topics instead of topic ids


@dataclass(frozen=True)
class Producer:
    producer_id: int
    epoch: int


@dataclass(frozen=True)
class Stored:
    """One data batch as the log holds it."""

    header: BatchHeader
    values: tuple[bytes | None, ...]


def batch(producer: Producer, base_sequence: int, values: list[bytes], epoch: int | None = None) -> bytes:
    return build_batch(
        [(None, v, [], 1_700_000_000_000 + i) for i, v in enumerate(values)],
        producer_id=producer.producer_id,
        producer_epoch=producer.epoch if epoch is None else epoch,
        base_sequence=base_sequence,
    )


async def init_producer_id(conn: ClientConnection) -> Producer:
    resp = await conn.request(
        INIT_PRODUCER_ID, InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000)
    )
    assert resp.error_code == ErrorCode.NONE, f"InitProducerId failed: {ErrorCode(resp.error_code).name}"
    assert resp.producer_id >= 0 and resp.producer_epoch >= 0, resp
    return Producer(resp.producer_id, resp.producer_epoch)


async def produce_ok(conn: ClientConnection, topic: str, records: bytes) -> int:
    part = await produce(conn, topic, records)
    assert part.error_code == ErrorCode.NONE, (
        f"produce answered {ErrorCode(part.error_code).name}: {part.error_message}"
    )
    return int(part.base_offset)


async def fetch_all(
    conn: ClientConnection, topic: str, partition: int = 0
) -> tuple[PartitionData, list[Stored]]:
    """Every data batch of the partition from offset 0 (control batches are left out)."""
    stored: list[Stored] = []
    offset = 0
    while True:
        resp = await conn.request(
            FETCH,
            FetchRequest(
                max_wait_ms=0,
                min_bytes=0,
                isolation_level=0,
                session_id=0,
                topics=[
                    FetchTopic(
                        topic=topic,
                        partitions=[
                            FetchPartition(
                                partition=partition, fetch_offset=offset, partition_max_bytes=1 << 20
                            )
                        ],
                    )
                ],
            ),
            version=FETCH_VERSION,
        )
        [part] = resp.responses[0].partitions
        assert part.error_code == ErrorCode.NONE, f"fetch answered {ErrorCode(part.error_code).name}"
        data = bytes(part.records or b"")
        progressed = False
        for pos, h in iter_headers(data):
            if pos + h.size > len(data):
                break  # a partial batch at the end of the response
            if not h.is_control:
                values = tuple(r.value for r in decode_records(data[pos : pos + h.size]))
                stored.append(Stored(h, values))
            offset = h.next_offset
            progressed = True
        if not progressed or offset >= part.high_watermark:
            return part, stored


def run(coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return asyncio.run(asyncio.wait_for(coro_fn(*args), 60))


def values_of(stored: list[Stored]) -> list[bytes | None]:
    return [v for s in stored for v in s.values]


def test_retried_batch_is_acknowledged_with_its_original_offset_and_stored_once(
    shared_broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(shared_broker.bootstrap, topic_name)

    async def scenario() -> None:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            p = await init_producer_id(conn)
            first = batch(p, 0, [b"a0", b"a1", b"a2"])
            second = batch(p, 3, [b"b3", b"b4"])
            third = batch(p, 5, [b"c5"])
            assert await produce_ok(conn, topic_name, first) == 0
            assert await produce_ok(conn, topic_name, second) == 3
            # The retry of the latest batch, and of an older one that is still retained.
            assert await produce_ok(conn, topic_name, second) == 3
            assert await produce_ok(conn, topic_name, first) == 0
            assert await produce_ok(conn, topic_name, third) == 5
            assert await produce_ok(conn, topic_name, third) == 5

            part, stored = await fetch_all(conn, topic_name)
            assert part.high_watermark == 6
            assert values_of(stored) == [b"a0", b"a1", b"a2", b"b3", b"b4", b"c5"]
            assert [(s.header.base_offset, s.header.base_sequence) for s in stored] == [
                (0, 0),
                (3, 3),
                (5, 5),
            ]
            assert {(s.header.producer_id, s.header.producer_epoch) for s in stored} == {
                (p.producer_id, p.epoch)
            }

    run(scenario)


def test_sequence_gap_is_out_of_order(shared_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(shared_broker.bootstrap, topic_name)

    async def scenario() -> None:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            p = await init_producer_id(conn)
            assert await produce_ok(conn, topic_name, batch(p, 0, [b"x0", b"x1"])) == 0
            # Sequence 2 comes next; 4 leaves a gap, and so does going back to 1 (which is no
            # retained batch: the one written covers 0-1).
            for base_sequence in (4, 1, 2_000_000):
                part = await produce(conn, topic_name, batch(p, base_sequence, [b"gap"]))
                assert part.error_code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, (
                    f"sequence {base_sequence} after 0-1 answered {ErrorCode(part.error_code).name}"
                )
            # The rejected batches left no trace: the next in-order batch still fits.
            assert await produce_ok(conn, topic_name, batch(p, 2, [b"x2"])) == 2
            part, stored = await fetch_all(conn, topic_name)
            assert part.high_watermark == 3
            assert values_of(stored) == [b"x0", b"x1", b"x2"]

    run(scenario)


def test_older_epoch_is_invalid_producer_epoch(shared_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(shared_broker.bootstrap, topic_name)

    async def scenario() -> None:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            p = await init_producer_id(conn)
            assert await produce_ok(conn, topic_name, batch(p, 0, [b"e0-0", b"e0-1"])) == 0
            # An idempotent producer bumps its own epoch and starts again at sequence 0.
            bumped = Producer(p.producer_id, p.epoch + 1)
            assert await produce_ok(conn, topic_name, batch(bumped, 0, [b"e1-0"])) == 2
            # A new epoch that does not start at 0 is out of order.
            newer = Producer(p.producer_id, p.epoch + 2)
            part = await produce(conn, topic_name, batch(newer, 5, [b"e2-5"]))
            assert part.error_code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode(part.error_code).name
            # Back to the old epoch: fenced, whether the sequence would have followed or not.
            for base_sequence in (2, 0):
                part = await produce(conn, topic_name, batch(p, base_sequence, [b"stale"]))
                assert part.error_code == ErrorCode.INVALID_PRODUCER_EPOCH, (
                    f"epoch {p.epoch} after {bumped.epoch}, sequence {base_sequence}: "
                    f"{ErrorCode(part.error_code).name}"
                )
            part, stored = await fetch_all(conn, topic_name)
            assert part.high_watermark == 3
            assert values_of(stored) == [b"e0-0", b"e0-1", b"e1-0"]

    run(scenario)


def test_duplicate_detection_survives_a_crash(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap, topic_name)
    sent: dict[str, bytes] = {}

    async def before_crash() -> Producer:
        async with await ClientConnection.open("127.0.0.1", broker.port) as conn:
            p = await init_producer_id(conn)
            sent["first"] = batch(p, 0, [b"r0", b"r1", b"r2"])
            sent["second"] = batch(p, 3, [b"r3"])
            sent["last"] = batch(p, 4, [b"r4", b"r5"])
            assert await produce_ok(conn, topic_name, sent["first"]) == 0
            assert await produce_ok(conn, topic_name, sent["second"]) == 3
            assert await produce_ok(conn, topic_name, sent["last"]) == 4
            return p

    async def after_crash(p: Producer) -> None:
        async with await ClientConnection.open("127.0.0.1", broker.port) as conn:
            assert await produce_ok(conn, topic_name, sent["last"]) == 4
            assert await produce_ok(conn, topic_name, sent["second"]) == 3
            part = await produce(conn, topic_name, batch(p, 9, [b"gap"]))
            assert part.error_code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode(part.error_code).name
            assert await produce_ok(conn, topic_name, batch(p, 6, [b"r6"])) == 6
            part, stored = await fetch_all(conn, topic_name)
            assert part.high_watermark == 7
            assert values_of(stored) == [b"r0", b"r1", b"r2", b"r3", b"r4", b"r5", b"r6"]

    p = run(before_crash)
    broker.kill()
    broker.start()
    try:
        run(after_crash, p)
    except AssertionError as e:
        raise AssertionError(
            f"{e}\n--- broker log since the restart ---\n{broker.current_log()[-3000:]}"
        ) from None
