"""aiokafka against a real broker: produce with every codec, fetch, offsets, long poll."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError

from .clients import (
    CREATE,
    LOG_APPEND,
    Out,
    aio_consume,
    aio_produce,
    confluent_consume,
    confluent_produce,
    create_topic,
    kcat_consume,
)

DEFAULT_MAX_MESSAGE_BYTES = 1048588


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_codec_produced_by_aiokafka_consumed_by_confluent(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [Out(b"aio %d " % i * 25, key=b"k%d" % i, headers=[("i", b"%d" % i)]) for i in range(30)]
    acks = await aio_produce(bootstrap, topic_name, records, compression_type=codec, linger_ms=50)
    assert [a.offset for a in acks] == list(range(30))
    got = confluent_consume(bootstrap, topic_name, 30)
    assert [(g.offset, g.key, g.value, g.headers) for g in got] == [
        (i, r.key, r.value, (("i", b"%d" % i),)) for i, r in enumerate(records)
    ]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_codec_produced_by_aiokafka_consumed_by_kcat(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [Out(f"line {i} ".encode() * 10, key=f"key{i}".encode()) for i in range(15)]
    await aio_produce(bootstrap, topic_name, records, compression_type=codec, linger_ms=50)
    got = kcat_consume(bootstrap, topic_name)
    assert [(m["offset"], m["key"], m["payload"]) for m in got] == [
        (i, f"key{i}", f"line {i} " * 10) for i in range(15)
    ]


async def test_consumes_every_codec_from_confluent(shared_broker, topic_name):
    """Batches of all four codecs interleaved in one partition, read in one pass."""
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    expected = []
    for codec in ("gzip", "snappy", "lz4", "zstd", "none"):
        batch = [Out(f"{codec}-{i}".encode() * 8, key=codec.encode()) for i in range(5)]
        confluent_produce(bootstrap, topic_name, batch, **{"compression.type": codec, "linger.ms": 20})
        expected += [(r.key, r.value) for r in batch]
    got = await aio_consume(bootstrap, topic_name, len(expected))
    assert [(g.key, g.value) for g in got] == expected
    assert [g.offset for g in got] == list(range(len(expected)))


async def test_keys_values_headers_nulls_timestamps(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [
        Out(b"v", key=b"k", timestamp=1_610_000_000_000),
        Out(None, key=b"tomb", timestamp=1_610_000_000_500),
        Out(b"only-value", key=None, timestamp=1_500_000_000_000),
        Out(b"hdr", key=b"", headers=[("a", b"1"), ("b", b"")], timestamp=1_610_000_000_001),
    ]
    acks = await aio_produce(bootstrap, topic_name, records)
    assert [a.offset for a in acks] == [0, 1, 2, 3]
    got = await aio_consume(bootstrap, topic_name, len(records))
    assert [(g.key, g.value, g.timestamp, g.timestamp_type) for g in got] == [
        (r.key, r.value, r.timestamp, CREATE) for r in records
    ]
    assert got[3].headers == (("a", b"1"), ("b", b""))


async def test_log_append_time(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    await aio_produce(bootstrap, topic_name, [Out(b"x", timestamp=1_234_567_890_000)])
    after = int(time.time() * 1000)
    (got,) = await aio_consume(bootstrap, topic_name, 1)
    assert got.timestamp_type == LOG_APPEND
    assert before - 1000 <= got.timestamp <= after + 1000


async def test_offsets_for_times_beginning_and_end(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    t0 = 1_680_000_000_000
    await aio_produce(bootstrap, topic_name, [Out(b"%d" % i, timestamp=t0 + 10 * i) for i in range(5)])
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(topic_name, 0)
        assert await c.beginning_offsets([tp]) == {tp: 0}
        assert await c.end_offsets([tp]) == {tp: 5}
        found = (await c.offsets_for_times({tp: t0 + 15}))[tp]
        assert (found.offset, found.timestamp) == (2, t0 + 20)
        assert (await c.offsets_for_times({tp: t0 + 41}))[tp] is None
    finally:
        await c.stop()


async def test_record_over_default_max_message_bytes_is_rejected(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    p = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=5_000_000, max_batch_size=5_000_000
    )
    await p.start()
    try:
        big = random.Random(1).randbytes(DEFAULT_MAX_MESSAGE_BYTES + 100)
        with pytest.raises(MessageSizeTooLargeError):
            await asyncio.wait_for(p.send_and_wait(topic_name, big), 30)
        md = await asyncio.wait_for(p.send_and_wait(topic_name, b"small"), 30)
        assert md.offset == 0
    finally:
        await p.stop()


async def test_long_poll_wakes_up_on_produce(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    max_wait_s = 5.0
    create_topic(bootstrap, topic_name)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=int(max_wait_s * 1000),
        fetch_min_bytes=1,
    )
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic_name, b"warm-up")
        tp = TopicPartition(topic_name, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        warm = await asyncio.wait_for(consumer.getone(), 15)
        assert warm.value == b"warm-up"

        async def produce_later() -> float:
            await asyncio.sleep(0.3)
            sent = time.monotonic()
            await producer.send_and_wait(topic_name, b"wake-up")
            return sent

        task = asyncio.create_task(produce_later())
        msg = await asyncio.wait_for(consumer.getone(), 2 * max_wait_s)
        received_at = time.monotonic()
        sent_at = await task
    finally:
        await consumer.stop()
        await producer.stop()
    assert msg.value == b"wake-up"
    waited = received_at - sent_at
    assert waited < max_wait_s - 2.0, f"record arrived {waited:.2f} s after produce: fetch was not woken up"


async def test_consume_from_offset_inside_a_batch(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    await aio_produce(bootstrap, topic_name, [Out(b"%d" % i) for i in range(10)], linger_ms=50)
    got = await aio_consume(bootstrap, topic_name, 4, offset=6)
    assert [(g.offset, g.value) for g in got] == [(6, b"6"), (7, b"7"), (8, b"8"), (9, b"9")]
