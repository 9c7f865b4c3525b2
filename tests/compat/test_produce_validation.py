"""What a broker refuses on produce, and how it says so, end to end.

* A compacted topic takes only records with a key: a batch holding a record without one is
  INVALID_RECORD, and nothing of it is written (Kafka: "Compacted topic cannot accept message
  without key").
* A record whose timestamp lies outside ``message.timestamp.before/after.max.ms`` fails its
  batch with INVALID_TIMESTAMP; from Produce v8 the response names the offending records in
  ``record_errors`` (KIP-467).
* zstd batches need Produce v7 or later (KIP-110): older requests get
  UNSUPPORTED_COMPRESSION_TYPE.
"""

from __future__ import annotations

import asyncio
import time

import confluent_kafka

from moldau.client.connection import ClientConnection
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.produce import (
    PartitionProduceResponse,
)
from moldau.protocol.records.compression import Compression
from moldau.protocol.records.records import build_batch
from tests.conftest import BrokerProcess

from . import internal_client
from .clients import Ack, Out, confluent_consume, confluent_produce, confluent_send, create_topic


def produce(broker: BrokerProcess, topic: str, batch: bytes, version: int) -> PartitionProduceResponse:
    async def scenario() -> PartitionProduceResponse:
        async with await ClientConnection.open("127.0.0.1", broker.port) as conn:
            return await internal_client.produce(conn, topic, batch, version=version)

    return asyncio.run(asyncio.wait_for(scenario(), 30))


def test_compacted_topic_refuses_records_without_a_key(shared_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    [refused] = confluent_send(bootstrap, topic_name, [Out(b"no key")])
    assert isinstance(refused, confluent_kafka.KafkaError)
    assert refused.code() == confluent_kafka.KafkaError.INVALID_RECORD
    [ack] = confluent_produce(bootstrap, topic_name, [Out(b"keyed", key=b"k")])
    assert ack.offset == 0  # the refused batch took no offset
    [got] = confluent_consume(bootstrap, topic_name, 1)
    assert (got.offset, got.key, got.value) == (0, b"k", b"keyed")


def test_compressed_batch_with_a_keyless_record_names_it(
    shared_broker: BrokerProcess, topic_name: str
) -> None:
    create_topic(shared_broker.bootstrap, topic_name, config={"cleanup.policy": "compact"})
    now = int(time.time() * 1000)
    rows = [(b"a", b"1", [], now), (None, b"2", [], now), (b"c", b"3", [], now)]
    part = produce(shared_broker, topic_name, build_batch(rows, compression=Compression.LZ4), version=9)
    assert part.error_code == ErrorCode.INVALID_RECORD
    assert [e.batch_index for e in part.record_errors] == [1]
    assert "key" in (part.record_errors[0].batch_index_error_message or "")
    assert part.error_message


def test_out_of_range_timestamps_are_named_per_record(shared_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(shared_broker.bootstrap, topic_name, config={"message.timestamp.after.max.ms": "60000"})
    now = int(time.time() * 1000)
    late = now + 3_600_000
    rows = [
        (None, b"ok", [], now),
        (None, b"late", [], late),
        (None, b"ok", [], now),
        (None, b"late", [], late),
    ]
    part = produce(shared_broker, topic_name, build_batch(rows, compression=Compression.ZSTD), version=9)
    assert part.error_code == ErrorCode.INVALID_TIMESTAMP
    assert [e.batch_index for e in part.record_errors] == [1, 3]
    assert all(str(late) in (e.batch_index_error_message or "") for e in part.record_errors)
    # Before v8 the response has no record_errors; the code is the same.
    old = produce(shared_broker, topic_name, build_batch(rows, compression=Compression.ZSTD), version=7)
    assert old.error_code == ErrorCode.INVALID_TIMESTAMP
    fine = produce(shared_broker, topic_name, build_batch(rows[:1], compression=Compression.ZSTD), version=9)
    assert (fine.error_code, fine.base_offset, fine.record_errors) == (ErrorCode.NONE, 0, [])


def test_zstd_needs_produce_v7(shared_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(shared_broker.bootstrap, topic_name)
    batch = build_batch([(None, b"z", [], int(time.time() * 1000))], compression=Compression.ZSTD)
    assert (
        produce(shared_broker, topic_name, batch, version=6).error_code
        == ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
    )
    gzip = build_batch([(None, b"g", [], int(time.time() * 1000))], compression=Compression.GZIP)
    assert produce(shared_broker, topic_name, gzip, version=6).error_code == ErrorCode.NONE
    ok = produce(shared_broker, topic_name, batch, version=7)
    assert (ok.error_code, ok.base_offset) == (ErrorCode.NONE, 1)


def test_confluent_sees_the_timestamp_error(shared_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"message.timestamp.after.max.ms": "60000"})
    late = int(time.time() * 1000) + 3_600_000
    results = confluent_send(
        bootstrap, topic_name, [Out(b"late", timestamp=late)], **{"compression.type": "lz4"}
    )
    [refused] = results
    assert not isinstance(refused, Ack)
    assert refused.code() == confluent_kafka.KafkaError.INVALID_TIMESTAMP
