"""kafka-python 3.x against a real broker: admin, produce with every codec, fetch, offsets."""

from __future__ import annotations

import random
import threading
import time

import kafka.errors as Errors
import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from .clients import (
    CREATE,
    LOG_APPEND,
    Out,
    aio_consume_sync,
    confluent_consume,
    confluent_produce,
    create_topic,
    kp_consume,
    kp_consumer,
    kp_produce,
    kp_producer,
)

DEFAULT_MAX_MESSAGE_BYTES = 1048588


@pytest.fixture
def kadmin(shared_broker):
    a = KafkaAdminClient(bootstrap_servers=shared_broker.bootstrap, request_timeout_ms=10000)
    yield a
    a.close()


def _topic_configs(kadmin, topic: str) -> dict[str, dict]:
    result = kadmin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    return result["topic"][topic]


# --- admin ----------------------------------------------------------------------------------


def test_create_list_describe_delete_topics(shared_broker, kadmin, topic_name):
    result = kadmin.create_topics(
        {topic_name: {"num_partitions": 2, "replication_factor": 1, "configs": {"retention.ms": "7200000"}}}
    )
    assert [t["error_code"] for t in result["topics"]] == [0]
    assert topic_name in kadmin.list_topics()

    (described,) = kadmin.describe_topics([topic_name])
    assert described["name"] == topic_name
    assert described["error_code"] == 0
    broker_ids = [b["broker_id"] for b in kadmin.describe_cluster()["brokers"]]
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1]
    for p in described["partitions"]:
        assert p["error_code"] == 0
        assert [p["leader_id"]] == broker_ids

    with pytest.raises(Errors.TopicAlreadyExistsError):
        kadmin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 1}})

    kadmin.delete_topics([topic_name])
    assert topic_name not in kadmin.list_topics()
    with pytest.raises(Errors.UnknownTopicOrPartitionError):
        kadmin.delete_topics([topic_name])


def test_create_topic_with_default_partitions_and_replication(shared_broker, kadmin, topic_name):
    """CreateTopics v4+ lets both counts be -1: the broker's num.partitions (1) is used."""
    kadmin.create_topics([topic_name])
    (described,) = kadmin.describe_topics([topic_name])
    assert len(described["partitions"]) == 1


def test_create_topic_with_replica_assignments(shared_broker, kadmin, topic_name):
    (broker_id,) = [b["broker_id"] for b in kadmin.describe_cluster()["brokers"]]
    kadmin.create_topics({topic_name: {"assignments": {0: [broker_id], 1: [broker_id], 2: [broker_id]}}})
    (described,) = kadmin.describe_topics([topic_name])
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]

    kp_produce(shared_broker.bootstrap, topic_name, [Out(b"p%d" % p, partition=p) for p in range(3)])
    for p in range(3):
        got = kp_consume(shared_broker.bootstrap, topic_name, 1, partition=p)
        assert [(g.partition, g.offset, g.value) for g in got] == [(p, 0, b"p%d" % p)]


def test_describe_configs(shared_broker, kadmin, topic_name):
    create_topic(shared_broker.bootstrap, topic_name, config={"cleanup.policy": "compact"})
    configs = _topic_configs(kadmin, topic_name)
    assert configs["cleanup.policy"]["value"] == "compact"
    assert configs["cleanup.policy"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    assert configs["max.message.bytes"]["value"] == str(DEFAULT_MAX_MESSAGE_BYTES)
    assert configs["max.message.bytes"]["config_source"] == "DEFAULT_CONFIG"
    assert configs["retention.ms"]["value"] == "604800000"

    modified = kadmin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name)])
    assert set(modified["topic"][topic_name]) == {"cleanup.policy"}


def test_alter_configs_then_describe(shared_broker, kadmin, topic_name):
    create_topic(shared_broker.bootstrap, topic_name)
    resource = ConfigResource(ConfigResourceType.TOPIC, topic_name, configs={"retention.ms": "54321"})
    # incremental=False: the legacy AlterConfigs API (IncrementalAlterConfigs is covered via confluent).
    result = kadmin.alter_configs([resource], incremental=False)
    assert result == {"topic": {topic_name: "OK"}}

    configs = _topic_configs(kadmin, topic_name)
    assert configs["retention.ms"]["value"] == "54321"
    assert configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"


def test_create_partitions(shared_broker, kadmin, topic_name):
    create_topic(shared_broker.bootstrap, topic_name, partitions=1)
    kadmin.create_partitions({topic_name: 4})
    (described,) = kadmin.describe_topics([topic_name])
    assert len(described["partitions"]) == 4
    acks = kp_produce(shared_broker.bootstrap, topic_name, [Out(b"x", partition=3)])
    assert (acks[0].partition, acks[0].offset) == (3, 0)


def test_delete_records(shared_broker, kadmin, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    kp_produce(bootstrap, topic_name, [Out(b"v%d" % i) for i in range(8)])
    tp = TopicPartition(topic_name, 0)
    result = kadmin.delete_records({tp: 5})
    assert result[tp]["low_watermark"] == 5

    c = kp_consumer(bootstrap)
    try:
        assert c.beginning_offsets([tp], timeout_ms=10000) == {tp: 5}
        assert c.end_offsets([tp], timeout_ms=10000) == {tp: 8}
    finally:
        c.close()
    got = kp_consume(bootstrap, topic_name, 3, offset=5)
    assert [(g.offset, g.value) for g in got] == [(5, b"v5"), (6, b"v6"), (7, b"v7")]


def test_describe_cluster(shared_broker, kadmin):
    cluster = kadmin.describe_cluster()
    assert cluster["cluster_id"]
    (b,) = cluster["brokers"]
    assert (b["host"], b["port"]) == ("127.0.0.1", shared_broker.port)
    assert cluster["controller_id"] == b["broker_id"]


# --- produce / consume ----------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_produced_by_kafka_python_consumed_by_confluent(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [Out(b"payload %d " % i * 30, key=b"k%d" % i, headers=[("n", b"%d" % i)]) for i in range(40)]
    acks = kp_produce(bootstrap, topic_name, records, compression_type=codec, linger_ms=50)
    assert [a.offset for a in acks] == list(range(40))

    got = confluent_consume(bootstrap, topic_name, 40)
    assert [(g.offset, g.key, g.value, g.headers) for g in got] == [
        (i, r.key, r.value, (("n", b"%d" % i),)) for i, r in enumerate(records)
    ]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_produced_by_kafka_python_consumed_by_aiokafka(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [Out(b"%d" % i * 100, key=None if i % 2 else b"k") for i in range(20)]
    kp_produce(bootstrap, topic_name, records, compression_type=codec, linger_ms=50)
    got = aio_consume_sync(bootstrap, topic_name, 20)
    assert [(g.key, g.value) for g in got] == [(r.key, r.value) for r in records]


def test_keys_values_headers_nulls_and_create_time(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [
        Out(b"v", key=b"k", timestamp=1_600_000_000_123),
        Out(None, key=b"tombstone", timestamp=1_600_000_000_000),
        Out(b"", key=None, timestamp=1_650_000_000_000),
        Out(b"h", key=b"", headers=[("x", b"1"), ("x", b"2"), ("empty", b"")], timestamp=1_000),
    ]
    acks = kp_produce(bootstrap, topic_name, records)
    assert [a.timestamp for a in acks] == [r.timestamp for r in records]
    got = kp_consume(bootstrap, topic_name, len(records))
    assert [(g.key, g.value, g.timestamp, g.timestamp_type) for g in got] == [
        (r.key, r.value, r.timestamp, CREATE) for r in records
    ]
    assert got[3].headers == (("x", b"1"), ("x", b"2"), ("empty", b""))


def test_log_append_time(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    acks = kp_produce(bootstrap, topic_name, [Out(b"x", timestamp=1_000_000) for _ in range(2)])
    after = int(time.time() * 1000)
    # The produce response carries the broker's append time.
    for a in acks:
        assert before - 1000 <= a.timestamp <= after + 1000, (before, a.timestamp, after)
    for g in kp_consume(bootstrap, topic_name, 2):
        assert g.timestamp_type == LOG_APPEND
        assert before - 1000 <= g.timestamp <= after + 1000


def test_offsets_for_times_beginning_and_end(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    t0 = 1_690_000_000_000
    kp_produce(
        bootstrap, topic_name, [Out(b"%d" % i, timestamp=t0 + 100 * i) for i in range(6)], linger_ms=100
    )

    tp = TopicPartition(topic_name, 0)
    c = kp_consumer(bootstrap)
    try:
        assert c.beginning_offsets([tp], timeout_ms=10000) == {tp: 0}
        assert c.end_offsets([tp], timeout_ms=10000) == {tp: 6}
        for target, offset, ts in ((t0 - 1, 0, t0), (t0 + 250, 3, t0 + 300), (t0 + 500, 5, t0 + 500)):
            found = c.offsets_for_times({tp: target}, timeout_ms=10000)[tp]
            assert found is not None, f"no offset for {target - t0:+d} ms"
            assert (found.offset, found.timestamp) == (offset, ts)
        assert c.offsets_for_times({tp: t0 + 501}, timeout_ms=10000)[tp] is None
    finally:
        c.close()


def _big_value(n: int) -> bytes:
    return random.Random(n).randbytes(n)


def test_record_over_default_max_message_bytes_is_rejected(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    p = kp_producer(bootstrap, max_request_size=5_000_000, retries=0)
    try:
        future = p.send(topic_name, value=_big_value(DEFAULT_MAX_MESSAGE_BYTES + 1))
        with pytest.raises(Errors.MessageSizeTooLargeError):
            future.get(timeout=30)
        assert p.send(topic_name, value=b"small").get(timeout=30).offset == 0
    finally:
        p.close(timeout=5)


def test_topic_with_larger_max_message_bytes_accepts_big_record(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"max.message.bytes": "4000000"})
    value = _big_value(3_000_000)
    acks = kp_produce(bootstrap, topic_name, [Out(value)], max_request_size=5_000_000)
    assert acks[0].offset == 0
    (got,) = kp_consume(bootstrap, topic_name, 1)
    assert got.value == value


def test_long_poll_wakes_up_on_produce(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    max_wait_s = 5.0
    create_topic(bootstrap, topic_name)
    producer = kp_producer(bootstrap, linger_ms=0)
    c = kp_consumer(bootstrap, fetch_max_wait_ms=int(max_wait_s * 1000), fetch_min_bytes=1)
    try:
        producer.send(topic_name, b"warm-up").get(timeout=15)
        tp = TopicPartition(topic_name, 0)
        c.assign([tp])
        c.seek(tp, 0)
        warm: list = []
        deadline = time.monotonic() + 15
        while not warm and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                warm.extend(recs)
        assert [r.value for r in warm] == [b"warm-up"]

        sent_at: list[float] = []

        def produce_later() -> None:
            time.sleep(0.3)
            sent_at.append(time.monotonic())
            producer.send(topic_name, b"wake-up").get(timeout=10)

        t = threading.Thread(target=produce_later)
        t.start()
        got: list = []
        deadline = time.monotonic() + 2 * max_wait_s
        while not got and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=50).values():
                got.extend(recs)
        received_at = time.monotonic()
        t.join()
    finally:
        c.close()
        producer.close(timeout=5)
    assert [r.value for r in got] == [b"wake-up"]
    waited = received_at - sent_at[0]
    assert waited < max_wait_s - 2.0, f"record arrived {waited:.2f} s after produce: fetch was not woken up"


def test_acks_1_and_acks_0(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    acks = kp_produce(bootstrap, topic_name, [Out(b"a1-%d" % i) for i in range(3)], acks=1)
    assert [a.offset for a in acks] == [0, 1, 2]
    # acks=0: no response at all; the records must still be appended.
    kp_produce(bootstrap, topic_name, [Out(b"a0-%d" % i) for i in range(3)], acks=0)
    got = confluent_consume(bootstrap, topic_name, 6)
    assert [g.value for g in got] == [b"a1-0", b"a1-1", b"a1-2", b"a0-0", b"a0-1", b"a0-2"]


def test_consumed_by_kafka_python_from_confluent_producer_mid_offset(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    confluent_produce(bootstrap, topic_name, [Out(b"%d" % i) for i in range(10)])
    got = kp_consume(bootstrap, topic_name, 3, offset=7)
    assert [(g.offset, g.value) for g in got] == [(7, b"7"), (8, b"8"), (9, b"9")]


def test_default_idempotent_producer_gets_distinct_producer_ids(shared_broker, topic_name):
    """kafka-python's default producer is idempotent: it asks for a producer id first and
    stamps its batches with it and with sequence numbers."""
    create_topic(shared_broker.bootstrap, topic_name)
    kp_produce(shared_broker.bootstrap, topic_name, [Out(b"v1", b"k")])
    kp_produce(shared_broker.bootstrap, topic_name, [Out(b"v2", b"k")])
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as CTP

    c = Consumer({"bootstrap.servers": shared_broker.bootstrap, "group.id": "x", "enable.auto.commit": False})
    try:
        c.assign([CTP(topic_name, 0, 0)])
        values = []
        while len(values) < 2:
            msg = c.poll(10)
            assert msg is not None and msg.error() is None
            values.append(msg.value())
    finally:
        c.close()
    assert values == [b"v1", b"v2"]
    with open(f"{shared_broker.data_dir}/{topic_name}-0/{0:020d}.log", "rb") as f:
        data = f.read()
    from moldau.protocol.records.batch import iter_headers

    pids = [h.producer_id for _, h in iter_headers(data)]
    assert len(pids) == 2 and all(pid >= 0 for pid in pids) and pids[0] != pids[1]
    assert [h.base_sequence for _, h in iter_headers(data)] == [0, 0]


def test_describe_log_dirs(kadmin, shared_broker, topic_name):
    create_topic(shared_broker.bootstrap, topic_name, partitions=2)
    kp_produce(shared_broker.bootstrap, topic_name, [Out(b"x" * 100, partition=1)])
    [entry] = kadmin.describe_log_dirs(topic_partitions={topic_name: [0, 1]})
    [log_dir] = entry["log_dirs"]
    assert log_dir["error_code"] == 0 and log_dir["log_dir"] == str(shared_broker.data_dir)
    assert log_dir["total_bytes"] > 0 and 0 <= log_dir["usable_bytes"] <= log_dir["total_bytes"]
    [topic] = log_dir["topics"]
    sizes = {p["partition_index"]: p["partition_size"] for p in topic["partitions"]}
    assert sizes[0] == 0 and sizes[1] > 100


def test_offset_for_leader_epoch(kadmin, shared_broker, topic_name):
    from kafka.protocol.consumer import OffsetForLeaderEpochRequest

    create_topic(shared_broker.bootstrap, topic_name, partitions=2)
    kp_produce(shared_broker.bootstrap, topic_name, [Out(b"v", partition=0) for _ in range(3)])
    partition = OffsetForLeaderEpochRequest.OffsetForLeaderTopic.OffsetForLeaderPartition
    request = OffsetForLeaderEpochRequest(
        replica_id=-1,
        topics=[
            (
                topic_name,
                [
                    partition(partition=0, current_leader_epoch=-1, leader_epoch=0),
                    partition(partition=1, current_leader_epoch=7, leader_epoch=0),
                ],
            )
        ],
    )

    async def send():
        return await kadmin._manager.send(request, node_id=1)

    response = kadmin._manager.run(send)
    [topic] = response.topics
    by_partition = {p.partition: p for p in topic.partitions}
    assert (by_partition[0].error_code, by_partition[0].leader_epoch, by_partition[0].end_offset) == (0, 0, 3)
    assert by_partition[1].error_code == Errors.UnknownLeaderEpochError.errno


def test_create_topics_validate_only_creates_nothing(kadmin, topic_name):
    result = kadmin.create_topics({topic_name: {"num_partitions": 3}}, validate_only=True)
    assert [t["error_code"] for t in result["topics"]] == [0]
    assert topic_name not in kadmin.list_topics()
    with pytest.raises(Errors.InvalidConfigurationError):
        kadmin.create_topics({topic_name: {"configs": {"retention.ms": "soon"}}}, validate_only=True)
    assert topic_name not in kadmin.list_topics()


def test_delete_topic_by_id(kadmin, shared_broker, topic_name):
    import uuid

    create_topic(shared_broker.bootstrap, topic_name)
    (described,) = kadmin.describe_topics([topic_name])
    topic_id = described["topic_id"]
    topic_id = topic_id if isinstance(topic_id, uuid.UUID) else uuid.UUID(str(topic_id))
    assert topic_id.int != 0
    result = kadmin.delete_topics([topic_id])
    assert [(t["name"], t["error_code"]) for t in result["topics"]] == [(topic_name, 0)]
    assert topic_name not in kadmin.list_topics()
    with pytest.raises(Errors.UnknownTopicIdError):
        kadmin.delete_topics([topic_id])
