"""confluent-kafka (librdkafka 2.x) against a real broker: admin, produce, fetch, offsets."""

from __future__ import annotations

import random
import threading
import time

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from .clients import (
    CREATE,
    LOG_APPEND,
    Out,
    admin,
    confluent_consume,
    confluent_consumer,
    confluent_produce,
    confluent_producer,
    confluent_send,
    create_topic,
    kp_consume,
)

DEFAULT_MAX_MESSAGE_BYTES = 1048588


def _big_value(n: int) -> bytes:
    """Incompressible and varied, so a truncated or mangled copy cannot compare equal."""
    return random.Random(n).randbytes(n)


def _error_code(exc: BaseException) -> int:
    assert isinstance(exc, KafkaException), f"expected a KafkaException, got {exc!r}"
    return int(exc.args[0].code())


def _broker_ids(bootstrap: str) -> list[int]:
    return sorted(admin(bootstrap).list_topics(timeout=10).brokers)


# --- admin: topics --------------------------------------------------------------------------


def test_create_list_delete_topics(shared_broker, topic_name):
    a = admin(shared_broker.bootstrap)
    a.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])[topic_name].result(20)

    md = a.list_topics(timeout=10)
    assert topic_name in md.topics
    (broker_id,) = md.brokers
    partitions = md.topics[topic_name].partitions
    assert sorted(partitions) == [0, 1, 2]
    for p in partitions.values():
        assert p.leader == broker_id
        assert p.replicas == [broker_id]
        assert p.isrs == [broker_id]

    desc = a.describe_topics(TopicCollection([topic_name]))[topic_name].result(10)
    assert desc.name == topic_name
    assert [p.id for p in desc.partitions] == [0, 1, 2]

    a.delete_topics([topic_name], operation_timeout=10)[topic_name].result(20)
    assert topic_name not in a.list_topics(timeout=10).topics


def test_recreated_topic_starts_empty(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    confluent_produce(bootstrap, topic_name, [Out(b"old-%d" % i) for i in range(5)])
    a = admin(bootstrap)
    a.delete_topics([topic_name], operation_timeout=10)[topic_name].result(20)

    create_topic(bootstrap, topic_name)
    acks = confluent_produce(bootstrap, topic_name, [Out(b"new")])
    assert acks[0].offset == 0, "a re-created topic must start again at offset 0"
    (got,) = confluent_consume(bootstrap, topic_name, 1)
    assert got.value == b"new"


def test_create_topic_errors(shared_broker, topic_name):
    a = admin(shared_broker.bootstrap)
    create_topic(shared_broker.bootstrap, topic_name)

    cases = {
        topic_name: (NewTopic(topic_name, 1, 1), KafkaError.TOPIC_ALREADY_EXISTS),
        f"{topic_name}-p0": (NewTopic(f"{topic_name}-p0", 0, 1), KafkaError.INVALID_PARTITIONS),
        f"{topic_name}-rf3": (NewTopic(f"{topic_name}-rf3", 1, 3), KafkaError.INVALID_REPLICATION_FACTOR),
        f"{topic_name}-cfg": (
            NewTopic(f"{topic_name}-cfg", 1, 1, config={"no.such.topic.config": "1"}),
            KafkaError.INVALID_CONFIG,
        ),
        "bad/name": (NewTopic("bad/name", 1, 1), KafkaError.TOPIC_EXCEPTION),
    }
    futures = a.create_topics([new for new, _ in cases.values()], operation_timeout=10)
    for name, (_, expected) in cases.items():
        with pytest.raises(KafkaException) as exc_info:
            futures[name].result(20)
        assert _error_code(exc_info.value) == expected, f"{name}: {exc_info.value}"

    listed = a.list_topics(timeout=10).topics
    for name in cases:
        if name != topic_name:
            assert name not in listed, f"{name} was created although CreateTopics failed"


def test_delete_unknown_topic(shared_broker, topic_name):
    a = admin(shared_broker.bootstrap)
    futures = a.delete_topics([topic_name], operation_timeout=10)
    with pytest.raises(KafkaException) as exc_info:
        futures[topic_name].result(20)
    assert _error_code(exc_info.value) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_create_topic_with_replica_assignment_then_fetch(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    (broker_id,) = _broker_ids(bootstrap)
    a = admin(bootstrap)
    # The client wants the count spelled out; on the wire both counts are -1.
    new = NewTopic(topic_name, num_partitions=2, replica_assignment=[[broker_id]] * 2)
    a.create_topics([new])[topic_name].result(20)

    partitions = a.list_topics(topic_name, timeout=10).topics[topic_name].partitions
    assert sorted(partitions) == [0, 1]
    assert all(p.replicas == [broker_id] and p.leader == broker_id for p in partitions.values())

    confluent_produce(bootstrap, topic_name, [Out(b"p0", partition=0), Out(b"p1", partition=1)])
    assert [g.value for g in confluent_consume(bootstrap, topic_name, 1, partition=0)] == [b"p0"]
    assert [g.value for g in confluent_consume(bootstrap, topic_name, 1, partition=1)] == [b"p1"]


def test_create_partitions(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    a = admin(bootstrap)
    create_topic(bootstrap, topic_name, partitions=1)

    a.create_partitions([NewPartitions(topic_name, 3)], operation_timeout=10)[topic_name].result(20)
    assert sorted(a.list_topics(topic_name, timeout=10).topics[topic_name].partitions) == [0, 1, 2]

    acks = confluent_produce(bootstrap, topic_name, [Out(b"in-new-partition", partition=2)])
    assert (acks[0].partition, acks[0].offset) == (2, 0)
    assert confluent_consume(bootstrap, topic_name, 1, partition=2)[0].value == b"in-new-partition"

    # Kafka never shrinks a topic: asking for fewer partitions is INVALID_PARTITIONS.
    with pytest.raises(KafkaException) as exc_info:
        a.create_partitions([NewPartitions(topic_name, 2)], operation_timeout=10)[topic_name].result(20)
    assert _error_code(exc_info.value) == KafkaError.INVALID_PARTITIONS


def test_delete_records(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    confluent_produce(bootstrap, topic_name, [Out(b"v%d" % i) for i in range(10)])

    a = admin(bootstrap)
    tp = TopicPartition(topic_name, 0, 4)
    deleted = a.delete_records([tp], operation_timeout=10)[tp].result(20)
    assert deleted.low_watermark == 4

    earliest = TopicPartition(topic_name, 0)
    offsets = a.list_offsets({earliest: OffsetSpec.earliest()})[earliest].result(10)
    assert offsets.offset == 4

    c = confluent_consumer(bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (4, 10)
    finally:
        c.close()

    got = confluent_consume(bootstrap, topic_name, 6, offset=confluent_kafka.OFFSET_BEGINNING)
    assert [g.offset for g in got] == list(range(4, 10))
    assert got[0].value == b"v4"


# --- admin: configs and cluster -------------------------------------------------------------


def _describe_topic(bootstrap: str, topic: str) -> dict[str, ConfigEntry]:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    a = admin(bootstrap)
    return a.describe_configs([resource])[resource].result(10)


def test_describe_configs_defaults_and_overrides(shared_broker, topic_name):
    create_topic(shared_broker.bootstrap, topic_name, config={"retention.ms": "3600000"})
    configs = _describe_topic(shared_broker.bootstrap, topic_name)

    retention = configs["retention.ms"]
    assert retention.value == "3600000"
    assert ConfigSource(retention.source) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert not retention.is_default

    max_bytes = configs["max.message.bytes"]
    assert max_bytes.value == str(DEFAULT_MAX_MESSAGE_BYTES)
    assert ConfigSource(max_bytes.source) == ConfigSource.DEFAULT_CONFIG
    assert configs["cleanup.policy"].value == "delete"
    assert configs["message.timestamp.type"].value == "CreateTime"


def test_incremental_alter_configs(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("retention.ms", "12345", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    a = admin(bootstrap)
    a.incremental_alter_configs([resource])[resource].result(10)

    configs = _describe_topic(bootstrap, topic_name)
    for name, value in (("retention.ms", "12345"), ("max.message.bytes", "2000000")):
        assert configs[name].value == value
        assert ConfigSource(configs[name].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG

    # DELETE reverts to the default.
    revert = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)
        ],
    )
    a.incremental_alter_configs([revert])[revert].result(10)
    configs = _describe_topic(bootstrap, topic_name)
    assert configs["retention.ms"].value == "604800000"
    assert ConfigSource(configs["retention.ms"].source) == ConfigSource.DEFAULT_CONFIG
    assert configs["max.message.bytes"].value == "2000000"


def test_altered_max_message_bytes_takes_effect(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("max.message.bytes", "3000000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    a = admin(bootstrap)
    a.incremental_alter_configs([resource])[resource].result(10)

    value = _big_value(1_500_000)
    confluent_produce(bootstrap, topic_name, [Out(value)], **{"message.max.bytes": 5_000_000})
    assert confluent_consume(bootstrap, topic_name, 1)[0].value == value


def test_describe_cluster(shared_broker):
    a = admin(shared_broker.bootstrap)
    result = a.describe_cluster(request_timeout=10).result(15)
    assert result.cluster_id, "a cluster id must be reported"
    assert len(result.nodes) == 1
    (node,) = result.nodes
    assert (node.host, node.port) == ("127.0.0.1", shared_broker.port)
    assert result.controller is not None and result.controller.id == node.id


# --- produce / consume ----------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_produced_by_confluent_consumed_by_kafka_python(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [Out(b"value-%d " % i * 20, key=b"key-%d" % i, headers=[("i", b"%d" % i)]) for i in range(30)]
    acks = confluent_produce(bootstrap, topic_name, records, **{"compression.type": codec, "linger.ms": 50})
    assert [a.offset for a in acks] == list(range(30))

    got = kp_consume(bootstrap, topic_name, 30)
    assert [(g.offset, g.key, g.value, g.headers) for g in got] == [
        (i, r.key, r.value, (("i", b"%d" % i),)) for i, r in enumerate(records)
    ]


def test_keys_values_headers_and_nulls(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [
        Out(b"plain", key=b"k"),
        Out(b"no-key", key=None),
        Out(None, key=b"tombstone"),
        Out(None, key=None),
        Out(b"", key=b""),
        Out(b"\x00\xff binary \x00", key=b"\x00\x01"),
        Out(b"with-headers", key=b"h", headers=[("a", b"1"), ("a", b"2"), ("empty", b""), ("null", None)]),
    ]
    confluent_produce(bootstrap, topic_name, records)
    got = confluent_consume(bootstrap, topic_name, len(records))
    assert [(g.key, g.value) for g in got] == [(r.key, r.value) for r in records]
    assert got[-1].headers == (("a", b"1"), ("a", b"2"), ("empty", b""), ("null", None))


def test_create_time_is_preserved(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    stamps = [1_000_000_000_000, 1_500_000_000_000, 1_200_000_000_000]
    acks = confluent_produce(bootstrap, topic_name, [Out(b"x", timestamp=ts) for ts in stamps])
    assert [a.timestamp for a in acks] == stamps
    got = confluent_consume(bootstrap, topic_name, 3)
    assert [(g.timestamp, g.timestamp_type) for g in got] == [(ts, CREATE) for ts in stamps]


def test_log_append_time_topic_uses_broker_time(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    confluent_produce(bootstrap, topic_name, [Out(b"x", timestamp=1_000_000_000_000) for _ in range(3)])
    after = int(time.time() * 1000)
    for g in confluent_consume(bootstrap, topic_name, 3):
        assert g.timestamp_type == LOG_APPEND
        assert before - 1000 <= g.timestamp <= after + 1000, (before, g.timestamp, after)


def test_list_offsets_by_time_earliest_latest(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    t0 = 1_700_000_000_000
    p = confluent_producer(bootstrap, **{"linger.ms": 100})
    # Offsets 0-2 in one batch, 3 and 4 in batches of their own.
    confluent_produce(bootstrap, topic_name, [Out(b"%d" % i, timestamp=t0 + 1000 * i) for i in range(3)], p)
    confluent_produce(bootstrap, topic_name, [Out(b"3", timestamp=t0 + 3000)], p)
    confluent_produce(bootstrap, topic_name, [Out(b"4", timestamp=t0 + 4000)], p)

    expected = {
        t0 - 5: 0,
        t0: 0,
        t0 + 1: 1,
        t0 + 1000: 1,
        t0 + 1999: 2,
        t0 + 2500: 3,
        t0 + 4000: 4,
        t0 + 4001: -1,
    }
    c = confluent_consumer(bootstrap)
    try:
        for ts, offset in expected.items():
            (res,) = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=10)
            assert res.error is None
            assert res.offset == offset, (
                f"offsets_for_times({ts - t0:+d} ms) = {res.offset}, expected {offset}"
            )
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (0, 5)
    finally:
        c.close()

    a = admin(bootstrap)
    tp = TopicPartition(topic_name, 0)
    specs = {
        "earliest": (OffsetSpec.earliest(), 0),
        "latest": (OffsetSpec.latest(), 5),
        "max_timestamp": (OffsetSpec.max_timestamp(), 4),
        "t0+1500": (OffsetSpec.for_timestamp(t0 + 1500), 2),
    }
    for label, (spec, offset) in specs.items():
        info = a.list_offsets({tp: spec}, request_timeout=10)[tp].result(15)
        assert info.offset == offset, f"list_offsets {label}: {info.offset}, expected {offset}"
    info = a.list_offsets({tp: OffsetSpec.max_timestamp()}, request_timeout=10)[tp].result(15)
    assert info.timestamp == t0 + 4000


def test_record_over_default_max_message_bytes_is_rejected(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    # The client's own limit is raised so that only the broker can refuse the record.
    results = confluent_send(
        bootstrap,
        topic_name,
        [Out(_big_value(DEFAULT_MAX_MESSAGE_BYTES + 10_000))],
        **{"message.max.bytes": 5_000_000},
    )
    (err,) = results
    assert isinstance(err, KafkaError), f"an oversized record was acknowledged: {err}"
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err

    # Nothing was appended, and the partition still takes ordinary records at offset 0.
    acks = confluent_produce(bootstrap, topic_name, [Out(b"small")])
    assert acks[0].offset == 0


def test_topic_with_larger_max_message_bytes_accepts_big_record(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"max.message.bytes": "3000000"})
    value = _big_value(2_000_000)
    confluent_produce(bootstrap, topic_name, [Out(value, key=b"big")], **{"message.max.bytes": 5_000_000})
    confluent_produce(bootstrap, topic_name, [Out(b"after")])

    # Default consumer fetch sizes (1 MiB per partition): Kafka still returns a first batch
    # that is larger than the limit, whole.
    got = confluent_consume(bootstrap, topic_name, 2)
    assert got[0].key == b"big"
    assert len(got[0].value) == len(value)
    assert got[0].value == value
    assert got[1].value == b"after"


def test_long_poll_wakes_up_on_produce(shared_broker, topic_name):
    """A fetch parked for fetch.wait.max.ms returns as soon as a record arrives."""
    bootstrap = shared_broker.bootstrap
    max_wait_s = 5.0
    create_topic(bootstrap, topic_name)
    producer = confluent_producer(bootstrap, **{"linger.ms": 0})
    confluent_produce(bootstrap, topic_name, [Out(b"warm-up")], producer)

    c = confluent_consumer(bootstrap, **{"fetch.wait.max.ms": int(max_wait_s * 1000), "fetch.min.bytes": 1})
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        first = None
        deadline = time.monotonic() + 15
        while first is None and time.monotonic() < deadline:
            first = c.poll(0.2)
        assert first is not None and first.value() == b"warm-up"
        # The consumer's next fetch (offset 1) is now parked in the broker.

        sent_at: list[float] = []

        def produce_later() -> None:
            time.sleep(0.3)
            sent_at.append(time.monotonic())
            producer.produce(topic_name, b"wake-up")
            producer.flush(10)

        t = threading.Thread(target=produce_later)
        t.start()
        msg = None
        deadline = time.monotonic() + 2 * max_wait_s
        while msg is None and time.monotonic() < deadline:
            msg = c.poll(0.05)
        received_at = time.monotonic()
        t.join()
    finally:
        c.close()
    assert msg is not None and msg.error() is None and msg.value() == b"wake-up"
    waited = received_at - sent_at[0]
    assert waited < max_wait_s - 2.0, f"record arrived {waited:.2f} s after produce: fetch was not woken up"
