"""Retention and compaction end to end: a real broker with short check intervals, topics with
small ``segment.ms`` so that segments roll between rounds of produce, and real clients
(confluent-kafka, kafka-python) to produce, change configs, and read what is left.

Each round of produce lands in a segment of its own: the broker rolls the active segment at
the first append after ``segment.ms``, and the tests sleep past it between rounds. Records
that must expire at once carry a timestamp an hour old (CreateTime). Every wait is
"eventually, within a few seconds".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import confluent_kafka
import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka import KafkaAdminClient
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType

from ..conftest import BrokerProcess
from .clients import (
    Got,
    Out,
    _confluent_got,
    admin,
    confluent_consumer,
    confluent_produce,
    create_topic,
)

CHECK_MS = 200
SEGMENT_MS = 50
HOUR_MS = 3_600_000

T = TypeVar("T")


@pytest.fixture(scope="module")
def lifecycle_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for this module, checking retention and compaction every 200 ms."""
    root: Path = tmp_path_factory.mktemp("retention-broker")
    overrides = {
        "log.retention.check.interval.ms": str(CHECK_MS),
        "log.cleaner.backoff.ms": str(CHECK_MS),
        "log.segment.delete.delay.ms": "500",
    }
    b = BrokerProcess(root / "data", overrides=overrides, log_path=root / "stderr.log")
    b.start()
    yield b
    b.close()


def eventually(check: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """``check()`` until it returns something truthy; fails with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not within {timeout} s: {what} (last: {value!r})"
            return value
        time.sleep(0.1)


def watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    c = confluent_consumer(bootstrap)
    try:
        low, high = c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0), timeout=10)
        return int(low), int(high)
    finally:
        c.close()


def produce_rounds(bootstrap: str, topic: str, rounds: list[list[Out]], **conf: str) -> list[int]:
    """Produce each round after ``segment.ms`` has passed, so each starts a segment; returns the
    first offset of each round."""
    starts = []
    for records in rounds:
        time.sleep(SEGMENT_MS * 2 / 1000)
        acks = confluent_produce(bootstrap, topic, records, **conf)
        starts.append(acks[0].offset)
    return starts


def read_from_start(bootstrap: str, topic: str, timeout: float = 10.0) -> list[Got]:
    """Everything from the log start to the high watermark, as a consumer sees it now."""
    low, high = watermarks(bootstrap, topic)
    c = confluent_consumer(bootstrap)
    got: list[Got] = []
    try:
        c.assign([confluent_kafka.TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while (not got or got[-1].offset < high - 1) and time.monotonic() < deadline and high > low:
            msg = c.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(_confluent_got(msg))
    finally:
        c.close()
    return got


def old_round(prefix: str, n: int = 5, size: int = 100) -> list[Out]:
    ts = int(time.time() * 1000) - HOUR_MS
    return [
        Out(prefix.encode() + b"-" + b"x" * size, key=b"%s%d" % (prefix.encode(), i), timestamp=ts)
        for i in range(n)
    ]


def fresh_round(prefix: str, n: int = 5, size: int = 100) -> list[Out]:
    return [Out(prefix.encode() + b"-" + b"x" * size, key=b"%s%d" % (prefix.encode(), i)) for i in range(n)]


def out_of_range_at(bootstrap: str, topic: str, offset: int) -> bool:
    """Whether fetching at ``offset`` answers OFFSET_OUT_OF_RANGE (seen by librdkafka as an
    offset reset it is told not to do)."""
    c = confluent_consumer(bootstrap, **{"auto.offset.reset": "error"})
    try:
        c.assign([confluent_kafka.TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                return bool(error.code() == confluent_kafka.KafkaError._AUTO_OFFSET_RESET)
            return False
        return False
    finally:
        c.close()


# -- retention -----------------------------------------------------------------------------


def test_retention_by_time_deletes_expired_segments(lifecycle_broker, topic_name):
    bootstrap = lifecycle_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"retention.ms": "60000", "segment.ms": str(SEGMENT_MS)})
    starts = produce_rounds(
        bootstrap, topic_name, [old_round("a"), old_round("b"), old_round("c"), fresh_round("d")]
    )

    eventually(lambda: watermarks(bootstrap, topic_name)[0] == starts[3], what="expired segments deleted")
    assert [g.key for g in read_from_start(bootstrap, topic_name)] == [b"d%d" % i for i in range(5)]
    assert out_of_range_at(bootstrap, topic_name, 0)
    assert f"of {topic_name}-0: retention.ms 60000 breached" in lifecycle_broker.log_text()


def test_retention_by_size_keeps_whole_segments_under_the_limit(lifecycle_broker, topic_name):
    bootstrap = lifecycle_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"segment.ms": str(SEGMENT_MS)})
    rounds = [fresh_round(f"r{i}-", n=10) for i in range(6)]
    starts = produce_rounds(bootstrap, topic_name, rounds)
    assert watermarks(bootstrap, topic_name) == (0, 60)

    # the limit arrives through kafka-python's IncrementalAlterConfigs
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        resource = KpConfigResource(ConfigResourceType.TOPIC, topic_name, configs={"retention.bytes": "2500"})
        assert kadmin.alter_configs([resource], incremental=True) == {"topic": {topic_name: "OK"}}
    finally:
        kadmin.close()

    low = eventually(lambda: watermarks(bootstrap, topic_name)[0], what="segments deleted by size")
    assert low in starts, "only whole segments are deleted"
    assert 60 - low >= 20, "what is kept is at least the size limit"
    got = read_from_start(bootstrap, topic_name)
    assert [g.offset for g in got] == list(range(low, 60))


def test_a_retention_change_with_incremental_alter_configs_takes_effect(lifecycle_broker, topic_name):
    bootstrap = lifecycle_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"segment.ms": str(SEGMENT_MS)})  # retention: 7 days
    starts = produce_rounds(bootstrap, topic_name, [old_round("a"), old_round("b"), fresh_round("c")])
    time.sleep(3 * CHECK_MS / 1000)
    assert watermarks(bootstrap, topic_name)[0] == 0  # an hour old is well within 7 days

    a = admin(bootstrap)
    entry = ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=[entry])
    a.incremental_alter_configs([resource])[resource].result(20)

    eventually(lambda: watermarks(bootstrap, topic_name)[0] == starts[2], what="the new retention.ms applied")
    assert [g.key for g in read_from_start(bootstrap, topic_name)] == [b"c%d" % i for i in range(5)]


def test_delete_records_moves_the_log_start_and_removes_the_segments_below(lifecycle_broker, topic_name):
    bootstrap = lifecycle_broker.bootstrap
    create_topic(bootstrap, topic_name, config={"segment.ms": str(SEGMENT_MS)})
    starts = produce_rounds(bootstrap, topic_name, [fresh_round(f"r{i}-") for i in range(4)])
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        tp = KpTopicPartition(topic_name, 0)
        cut = starts[2] + 2
        assert kadmin.delete_records({tp: cut})[tp]["low_watermark"] == cut
    finally:
        kadmin.close()
    assert watermarks(bootstrap, topic_name) == (cut, 20)
    assert out_of_range_at(bootstrap, topic_name, starts[1])
    assert [g.offset for g in read_from_start(bootstrap, topic_name)] == list(range(cut, 20))

    data_dir = lifecycle_broker.data_dir / f"{topic_name}-0"
    eventually(
        lambda: sorted(p.name for p in data_dir.glob("*.log")) == [f"{b:020d}.log" for b in starts[2:]],
        what="the segments below the new log start removed",
    )
    eventually(lambda: not list(data_dir.glob("*.deleted")), what=".deleted files removed after the delay")


# -- compaction ----------------------------------------------------------------------------


def test_compaction_of_a_topic_produced_through_a_real_client(lifecycle_broker, topic_name):
    bootstrap = lifecycle_broker.bootstrap
    create_topic(
        bootstrap,
        topic_name,
        config={
            "cleanup.policy": "compact",
            "segment.ms": str(SEGMENT_MS),
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100",
        },
    )
    keys = [b"k%d" % i for i in range(10)]
    rounds = [[Out(b"v%d-" % r + k, key=k) for k in keys] for r in range(4)]
    rounds[3][9] = Out(None, key=b"k9")  # a tombstone
    produce_rounds(bootstrap, topic_name, [*rounds, [Out(b"roll", key=b"zz")]], **{"compression.type": "lz4"})
    high = watermarks(bootstrap, topic_name)[1]
    assert high == 41

    expected = {k: b"v3-" + k for k in keys[:9]}

    def compacted() -> dict[bytes | None, bytes | None] | None:
        got = read_from_start(bootstrap, topic_name)
        by_key = [g.key for g in got if g.key != b"k9"]
        if len(by_key) != len(set(by_key)):
            return None  # not cleaned yet
        return {g.key: g.value for g in got}

    latest = eventually(compacted, timeout=15, what="one record per key")
    assert {k: v for k, v in latest.items() if k not in (b"k9", b"zz")} == expected
    assert latest.get(b"k9") is None  # deleted: a tombstone, or gone after delete.retention.ms
    assert watermarks(bootstrap, topic_name) == (0, high)  # compaction never moves offsets
    assert "Cleaned " + topic_name in lifecycle_broker.log_text()
