"""A topic's ``compression.type``: ``producer`` (the default) stores batches with the codec the
producer chose; a codec name (or ``uncompressed``) makes the broker store every batch with that
codec, whatever the producer sent, as Kafka does. Consumers read the same records either way;
the stored batches are read back from the segment file to see their codec."""

from __future__ import annotations

import asyncio
import time

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from moldau.client.connection import ClientConnection
from moldau.protocol.errors import ErrorCode
from moldau.protocol.records.batch import BatchHeader, iter_headers
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.records import build_batch
from tests.conftest import BrokerFactory, BrokerProcess

from .clients import Out, admin, confluent_consume, confluent_produce, create_topic, kp_consume, kp_produce
from .internal_client import produce

RECORDS = [Out(b"value %d " % i * 40, key=b"k%d" % i) for i in range(50)]


def stored_headers(broker: BrokerProcess, topic: str) -> list[BatchHeader]:
    data = (broker.data_dir / f"{topic}-0" / "00000000000000000000.log").read_bytes()
    return [h for _, h in iter_headers(data)]


@pytest.mark.parametrize(
    ("topic_codec", "producer_codec", "stored"),
    [
        ("zstd", "none", Compression.ZSTD),
        ("gzip", "lz4", Compression.GZIP),
        ("snappy", "zstd", Compression.SNAPPY),
        ("uncompressed", "lz4", Compression.NONE),
        ("producer", "lz4", Compression.LZ4),
    ],
)
def test_batches_are_stored_with_the_topic_codec(
    shared_broker: BrokerProcess, topic_name: str, topic_codec: str, producer_codec: str, stored: Compression
) -> None:
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"compression.type": topic_codec})
    acks = confluent_produce(bootstrap, topic_name, RECORDS, **{"compression.type": producer_codec})
    assert [a.offset for a in acks] == list(range(len(RECORDS)))
    headers = stored_headers(shared_broker, topic_name)
    assert headers and {h.compression for h in headers} == {stored}
    assert sum(h.records_count for h in headers) == len(RECORDS)
    expected = [(r.key, r.value) for r in RECORDS]
    assert [(g.key, g.value) for g in confluent_consume(bootstrap, topic_name, len(RECORDS))] == expected
    assert [(g.key, g.value) for g in kp_consume(bootstrap, topic_name, len(RECORDS))] == expected


def test_idempotent_producer_keeps_its_sequence_through_conversion(
    shared_broker: BrokerProcess, topic_name: str
) -> None:
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"compression.type": "zstd"})
    kp_produce(bootstrap, topic_name, RECORDS[:10], enable_idempotence=True, compression_type="gzip")
    confluent_produce(bootstrap, topic_name, RECORDS[10:], **{"enable.idempotence": True})
    headers = stored_headers(shared_broker, topic_name)
    assert {h.compression for h in headers} == {Compression.ZSTD}
    assert all(h.producer_id >= 0 and h.base_sequence >= 0 for h in headers)
    got = confluent_consume(bootstrap, topic_name, len(RECORDS))
    assert [g.value for g in got] == [r.value for r in RECORDS]


def test_batch_too_large_once_stored_uncompressed(shared_broker: BrokerProcess, topic_name: str) -> None:
    """max.message.bytes applies to the batch as stored: a gzip batch that fits can fail once
    inflated for an ``uncompressed`` topic (MESSAGE_TOO_LARGE), and nothing is written."""
    create_topic(
        shared_broker.bootstrap,
        topic_name,
        config={"compression.type": "uncompressed", "max.message.bytes": "4000"},
    )
    now = int(time.time() * 1000)
    batch = build_batch([(None, b"a" * 1000, [], now)] * 10, compression=Compression.GZIP)
    assert len(batch) < 4000

    async def scenario() -> tuple[int, int]:
        async with await ClientConnection.open("127.0.0.1", shared_broker.port) as conn:
            codes = []
            for records in (batch, build_batch([(None, b"fits", [], now)], compression=Compression.GZIP)):
                part = await produce(conn, topic_name, records)
                codes.append((part.error_code, part.base_offset))
            return codes[0], codes[1]

    too_large, fits = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert too_large == (ErrorCode.MESSAGE_TOO_LARGE, -1)
    assert fits == (ErrorCode.NONE, 0)
    [h] = stored_headers(shared_broker, topic_name)
    assert (h.compression, h.records_count) == (Compression.NONE, 1)


def test_broker_default_and_a_dynamic_change(broker_factory: BrokerFactory, topic_name: str) -> None:
    """The broker's ``compression.type`` is the default of its topics; a topic override set
    later with AlterConfigs applies from the next batch on."""
    broker = broker_factory(overrides={"compression.type": "lz4"})
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    confluent_produce(bootstrap, topic_name, RECORDS[:5])
    a = admin(bootstrap)
    resource = ConfigResource("topic", topic_name)
    a.incremental_alter_configs(
        [
            ConfigResource(
                "topic",
                topic_name,
                incremental_configs=[
                    ConfigEntry("compression.type", "gzip", incremental_operation=AlterConfigOpType.SET)
                ],
            )
        ]
    )[resource].result(15)
    confluent_produce(bootstrap, topic_name, RECORDS[5:10])
    assert [h.compression for h in stored_headers(broker, topic_name)] == [Compression.LZ4, Compression.GZIP]
