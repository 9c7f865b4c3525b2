"""Exactly-once with the pure-Python clients.

* kafka-python's default producer is idempotent (InitProducerId, then sequenced batches):
  every record lands once, in order, in batches that carry its producer id and consecutive
  sequences.
* aiokafka's transactional producer (``async with producer.transaction()``): what commits is
  what aiokafka's read_committed consumer sees, what aborts only its read_uncommitted one, and
  an open transaction holds the read_committed consumer back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from moldau.client.connection import ClientConnection
from tests.conftest import BrokerProcess

from .clients import Got, Out, _aio_got, create_topic, kp_consume, kp_produce
from .test_idempotence import fetch_all
from .test_transactions import txn_id, values

AIO_TIMEOUT_S = 60


def test_kafka_python_default_producer_is_idempotent(shared_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = shared_broker.bootstrap
    partitions = 3
    per_partition = 400
    create_topic(bootstrap, topic_name, partitions=partitions)
    records = [
        Out(f"p{i % partitions}-{i // partitions:04d}".encode(), partition=i % partitions)
        for i in range(partitions * per_partition)
    ]
    # Small batches, so that each partition gets many sequenced batches.
    acks = kp_produce(bootstrap, topic_name, records, batch_size=2048)
    for p in range(partitions):
        assert sorted(a.offset for a in acks if a.partition == p) == list(range(per_partition))

    for p in range(partitions):
        expected = [r.value for r in records if r.partition == p]
        got = kp_consume(bootstrap, topic_name, per_partition, partition=p)
        assert [g.value for g in got] == expected, f"partition {p}"
        assert [g.offset for g in got] == list(range(per_partition))

    async def inspect() -> None:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            producer_ids = set()
            for p in range(partitions):
                part, stored = await fetch_all(conn, topic_name, p)
                assert part.high_watermark == per_partition
                assert len(stored) > 1, f"partition {p} got one batch only"
                headers = [s.header for s in stored]
                producer_ids |= {(h.producer_id, h.producer_epoch) for h in headers}
                # Consecutive sequences from 0, each batch at the offset its sequence implies.
                assert [h.base_sequence for h in headers] == [h.base_offset for h in headers], (
                    f"partition {p}"
                )
                assert all(not h.is_transactional for h in headers)
            [(producer_id, epoch)] = producer_ids
            assert producer_id >= 0 and epoch >= 0, "kafka-python's batches carry no producer id"

    asyncio.run(asyncio.wait_for(inspect(), 30))


async def _aio_read(
    bootstrap: str, topic: str, isolation_level: str, count: int, settle_s: float = 0.5
) -> list[Got]:
    """Assign partition 0 from offset 0, read until ``count`` records arrived and then for
    ``settle_s`` longer (so that extra records would be seen)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        fetch_max_wait_ms=50,
    )
    await c.start()
    got: list[Got] = []
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 0)
        deadline = time.monotonic() + 15
        settle_until: float | None = None
        while time.monotonic() < (settle_until or deadline):
            batches = await c.getmany(tp, timeout_ms=100)
            for records in batches.values():
                got.extend(_aio_got(r) for r in records)
            if settle_until is None and len(got) >= count:
                settle_until = time.monotonic() + settle_s
    finally:
        await c.stop()
    return got


def test_aiokafka_transactional_producer(shared_broker: BrokerProcess, topic_name: str) -> None:
    from aiokafka import AIOKafkaProducer

    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)

    class Abort(Exception):
        pass

    async def send_all(producer: Any, vals: list[bytes]) -> None:
        for v in vals:
            await producer.send_and_wait(topic_name, v, partition=0)

    async def scenario() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, transactional_id=txn_id("aio"), request_timeout_ms=10000
        )
        await producer.start()
        try:
            async with producer.transaction():
                await send_all(producer, [b"c1-0", b"c1-1", b"c1-2"])
            try:
                async with producer.transaction():
                    await send_all(producer, [b"a1-0", b"a1-1"])  # acknowledged: really in the log
                    raise Abort
            except Abort:
                pass
            async with producer.transaction():
                await send_all(producer, [b"c2-0"])

            rc = await _aio_read(bootstrap, topic_name, "read_committed", 4)
            assert values(rc) == [b"c1-0", b"c1-1", b"c1-2", b"c2-0"]
            ru = await _aio_read(bootstrap, topic_name, "read_uncommitted", 6)
            assert values(ru) == [b"c1-0", b"c1-1", b"c1-2", b"a1-0", b"a1-1", b"c2-0"]
            by_offset = {g.offset: g.value for g in ru}
            assert all(by_offset[g.offset] == g.value for g in rc)

            # An open transaction holds read_committed back; its commit releases it.
            await producer.begin_transaction()
            await send_all(producer, [b"open-0", b"open-1"])
            rc = await _aio_read(bootstrap, topic_name, "read_committed", 4, settle_s=1.0)
            assert values(rc) == [b"c1-0", b"c1-1", b"c1-2", b"c2-0"]
            await producer.commit_transaction()
            rc = await _aio_read(bootstrap, topic_name, "read_committed", 6)
            assert values(rc) == [b"c1-0", b"c1-1", b"c1-2", b"c2-0", b"open-0", b"open-1"]
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(scenario(), AIO_TIMEOUT_S))
