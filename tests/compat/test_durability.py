"""What a broker promises across a clean restart, a crash, and a crash that tore the log tail."""

from __future__ import annotations

import re
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource, ConfigSource, NewPartitions, OffsetSpec, ResourceType

from . import wire
from .clients import (
    Ack,
    Out,
    admin,
    confluent_consume,
    confluent_produce,
    confluent_producer,
    create_topic,
    kp_consume,
)


def _records(prefix: str, n: int, t0: int = 1_650_000_000_000) -> list[Out]:
    return [
        Out(
            f"{prefix}-value-{i}".encode(),
            key=None if i % 3 == 0 else f"{prefix}-key-{i}".encode(),
            headers=[("seq", str(i).encode())],
            timestamp=t0 + i,
        )
        for i in range(n)
    ]


def _assert_all_present(
    bootstrap: str, topic: str, sent: list[Out], acks: list[Ack], partition: int = 0
) -> None:
    """Every acknowledged record is at its acknowledged offset, byte for byte."""
    got = kp_consume(bootstrap, topic, len(sent), partition=partition)
    by_offset = {g.offset: g for g in got}
    for r, a in zip(sent, acks, strict=True):
        g = by_offset.get(a.offset)
        assert g is not None, f"acknowledged offset {a.offset} is missing after restart"
        assert (g.key, g.value, g.headers, g.timestamp) == (r.key, r.value, tuple(r.headers), r.timestamp)


def _end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    a = admin(bootstrap)
    out = {}
    for p in range(partitions):
        tp = TopicPartition(topic, p)
        lo = a.list_offsets({tp: OffsetSpec.earliest()}, request_timeout=10)[tp].result(15).offset
        hi = a.list_offsets({tp: OffsetSpec.latest()}, request_timeout=10)[tp].result(15).offset
        out[p] = (lo, hi)
    return out


def _active_segment(data_dir: Path, topic: str, partition: int = 0) -> Path:
    logs = sorted((data_dir / f"{topic}-{partition}").glob("*.log"))
    assert logs, f"no .log segment under {data_dir / f'{topic}-{partition}'}"
    return logs[-1]


# --- clean restart --------------------------------------------------------------------------


def test_clean_restart_keeps_records_offsets_and_metadata(broker, topic_name):
    bootstrap = broker.bootstrap
    multi = f"{topic_name}-multi"
    gone = f"{topic_name}-gone"
    create_topic(bootstrap, topic_name, config={"retention.ms": "86400000"})
    create_topic(bootstrap, multi, partitions=2)
    create_topic(bootstrap, gone)

    sent = _records("a", 30)
    acks = confluent_produce(bootstrap, topic_name, sent[:20])
    acks += confluent_produce(
        bootstrap, topic_name, sent[20:], **{"compression.type": "zstd", "linger.ms": 50}
    )
    multi_sent = [Out(b"m%d" % i, partition=i % 2) for i in range(10)]
    confluent_produce(bootstrap, multi, multi_sent)

    a = admin(bootstrap)
    a.create_partitions([NewPartitions(multi, 3)], operation_timeout=10)[multi].result(20)
    tp = TopicPartition(multi, 1, 2)
    a.delete_records([tp], operation_timeout=10)[tp].result(20)
    a.delete_topics([gone], operation_timeout=10)[gone].result(20)

    offsets_before = {
        topic_name: _end_offsets(bootstrap, topic_name, 1),
        multi: _end_offsets(bootstrap, multi, 3),
    }

    assert broker.stop() == 0, f"SIGTERM did not stop the broker cleanly\n{broker.current_log()}"
    broker.start()

    md = admin(bootstrap).list_topics(timeout=10)
    assert topic_name in md.topics and multi in md.topics
    assert gone not in md.topics, "a deleted topic came back after restart"
    assert sorted(md.topics[multi].partitions) == [0, 1, 2]

    assert {topic_name: _end_offsets(bootstrap, topic_name, 1), multi: _end_offsets(bootstrap, multi, 3)} == (
        offsets_before
    )
    assert offsets_before[multi][1][0] == 2, "the log start offset from DeleteRecords was not kept"
    _assert_all_present(bootstrap, topic_name, sent, acks)

    resource = ConfigResource(ResourceType.TOPIC, topic_name)
    a = admin(bootstrap)
    configs = a.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == "86400000"
    assert ConfigSource(configs["retention.ms"].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG

    more = confluent_produce(bootstrap, topic_name, [Out(b"after-restart")])
    assert more[0].offset == 30


def test_restart_twice_with_writes_in_between(broker, topic_name):
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    first = _records("one", 5)
    acks = confluent_produce(bootstrap, topic_name, first)
    broker.restart()
    second = _records("two", 5)
    acks += confluent_produce(bootstrap, topic_name, second)
    assert [a.offset for a in acks] == list(range(10))
    broker.restart()
    _assert_all_present(bootstrap, topic_name, first + second, acks)


# --- crash ----------------------------------------------------------------------------------


def test_kill_9_keeps_every_acknowledged_write(broker, topic_name):
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=2)

    sent_all = _records("all", 40)
    for r in sent_all:
        r.partition = 0
    sent_one = _records("one", 40)
    for r in sent_one:
        r.partition = 1
    # Many small batches (linger 0), with acks=all on one partition and acks=1 on the other.
    acks_all = confluent_produce(bootstrap, topic_name, sent_all, **{"acks": "all", "linger.ms": 0})
    acks_one = confluent_produce(bootstrap, topic_name, sent_one, **{"acks": "1", "linger.ms": 0})

    broker.kill()
    broker.start()

    _assert_all_present(bootstrap, topic_name, sent_all, acks_all, partition=0)
    _assert_all_present(bootstrap, topic_name, sent_one, acks_one, partition=1)
    assert _end_offsets(bootstrap, topic_name, 2) == {0: (0, 40), 1: (0, 40)}
    assert confluent_produce(bootstrap, topic_name, [Out(b"next", partition=0)])[0].offset == 40


def test_kill_9_while_a_producer_is_writing(broker, topic_name):
    """Acknowledged records survive even when the crash lands in the middle of a stream."""
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    acked: dict[int, bytes] = {}
    p = confluent_producer(bootstrap, **{"linger.ms": 0, "message.timeout.ms": 3000, "retries": 0})

    def on_delivery(err, msg) -> None:
        if err is None:
            acked[msg.offset()] = msg.value()

    for i in range(200):
        p.produce(topic_name, b"stream-%d" % i, on_delivery=on_delivery)
        p.poll(0)
        if i == 150:
            p.flush(10)
            broker.kill()
    p.flush(10)
    assert len(acked) >= 151

    broker.start()
    got = confluent_consume(bootstrap, topic_name, len(acked))
    by_offset = {g.offset: g.value for g in got}
    for offset, value in acked.items():
        assert by_offset.get(offset) == value, f"acknowledged offset {offset} lost or changed"


def _crash_with_records(broker, topic: str, n: int) -> tuple[list[Out], list[Ack], Path, int]:
    create_topic(broker.bootstrap, topic)
    sent = _records("t", n)
    acks = confluent_produce(broker.bootstrap, topic, sent[: n // 2])
    acks += confluent_produce(broker.bootstrap, topic, sent[n // 2 :])
    broker.kill()
    segment = _active_segment(broker.data_dir, topic)
    return sent, acks, segment, segment.stat().st_size


def _assert_recovered(
    broker, topic: str, sent: list[Out], acks: list[Ack], segment: Path, valid_size: int
) -> None:
    broker.start()
    warnings = [
        line
        for line in broker.current_log().splitlines()
        if re.search(r"\bWARN", line) and re.search(r"truncat", line, re.I) and topic in line
    ]
    assert warnings, f"no warning about truncating {topic}-0 in the broker log:\n{broker.current_log()}"
    assert segment.stat().st_size == valid_size, "the torn tail was not truncated away"

    _assert_all_present(broker.bootstrap, topic, sent, acks)
    assert _end_offsets(broker.bootstrap, topic, 1) == {0: (0, len(sent))}
    more = confluent_produce(broker.bootstrap, topic, [Out(b"after-1"), Out(b"after-2")])
    assert [a.offset for a in more] == [len(sent), len(sent) + 1]
    tail = kp_consume(broker.bootstrap, topic, 2, offset=len(sent))
    assert [(g.offset, g.value) for g in tail] == [(len(sent), b"after-1"), (len(sent) + 1, b"after-2")]


def test_torn_tail_of_garbage_is_truncated_on_restart(broker, topic_name):
    sent, acks, segment, size = _crash_with_records(broker, topic_name, 12)
    with open(segment, "ab") as f:
        f.write(bytes(range(256)) * 3)
    _assert_recovered(broker, topic_name, sent, acks, segment, size)


def test_torn_tail_of_half_a_batch_is_truncated_on_restart(broker, topic_name):
    sent, acks, segment, size = _crash_with_records(broker, topic_name, 12)
    # The next batch as the broker would have written it, cut off in the middle of its records.
    batch = wire.record_batch([wire.Rec(b"k", b"torn value %d" % i) for i in range(5)], base_offset=len(sent))
    with open(segment, "ab") as f:
        f.write(batch[: len(batch) // 2])
    _assert_recovered(broker, topic_name, sent, acks, segment, size)


def test_torn_tail_with_bad_crc_is_truncated_on_restart(broker, topic_name):
    """A whole batch whose length is right but whose bytes do not match its CRC."""
    sent, acks, segment, size = _crash_with_records(broker, topic_name, 12)
    batch = bytearray(wire.record_batch([wire.Rec(b"k", b"never acknowledged")], base_offset=len(sent)))
    batch[-3] ^= 0xFF
    with open(segment, "ab") as f:
        f.write(bytes(batch))
    _assert_recovered(broker, topic_name, sent, acks, segment, size)
