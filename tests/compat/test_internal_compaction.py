"""``__consumer_offsets`` is compacted like any compacted topic, and the group coordinator
reloads the right offsets from the compacted log.

A real broker with one offsets partition, segments of 1 MiB (the smallest ``segment.bytes`` a
topic accepts, so also the smallest ``offsets.topic.segment.bytes`` that works) and the
cleaner looking every 100 ms. confluent-kafka commits offsets with 3000 bytes of metadata on
each, over and over for the same group and partitions, so that a few hundred commits fill
several segments; then another group's commits push the first group's latest commits out of
the active segment. Once the cleaner has shrunk the partition, the broker restarts (cleanly,
then after a kill) and must hand back each partition's latest offset and metadata.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import pytest

from ..conftest import BrokerProcess
from .clients import confluent_consumer, create_topic

SEGMENT_BYTES = 1024 * 1024
METADATA_BYTES = 3000
PARTITIONS = 4
TOPIC = "compacted-commits"
GROUP = "compacted-group"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    overrides = {
        "offsets.topic.num.partitions": "1",
        "offsets.topic.segment.bytes": str(SEGMENT_BYTES),
        "log.cleaner.backoff.ms": "100",
        "log.retention.check.interval.ms": "100",
        "log.segment.delete.delay.ms": "100",
    }
    b = BrokerProcess(tmp_path / "data", overrides=overrides, log_path=tmp_path / "stderr.log")
    b.start()
    yield b
    b.close()


def metadata(tag: str) -> str:
    noise = "".join(random.choices(string.ascii_letters, k=METADATA_BYTES))  # defeats compression
    return f"{tag}:{noise}"


def commit_rounds(bootstrap: str, group: str, rounds: int) -> dict[int, tuple[int, str]]:
    """Commit every partition ``rounds`` times; returns the last offset and metadata of each."""
    consumer = confluent_consumer(bootstrap, **{"group.id": group})
    last: dict[int, tuple[int, str]] = {}
    try:
        for r in range(rounds):
            offsets = []
            for p in range(PARTITIONS):
                last[p] = (r * 10 + p, metadata(f"{group}-{r}-{p}"))
                offsets.append(confluent_kafka.TopicPartition(TOPIC, p, last[p][0], metadata=last[p][1]))
            for tp in consumer.commit(offsets=offsets, asynchronous=False) or []:
                assert tp.error is None, tp.error
    finally:
        consumer.close()
    return last


def committed(bootstrap: str) -> dict[int, tuple[int, str]]:
    consumer = confluent_consumer(bootstrap, **{"group.id": GROUP})
    try:
        got = consumer.committed(
            [confluent_kafka.TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=20
        )
    finally:
        consumer.close()
    return {tp.partition: (tp.offset, tp.metadata) for tp in got}


def segments(partition_dir: Path) -> list[tuple[str, int]]:
    """(name, size) of every segment; one the cleaner swaps out while this looks is left out."""
    found = []
    for path in partition_dir.glob("*.log"):
        try:
            found.append((path.name, path.stat().st_size))
        except FileNotFoundError:
            continue
    return sorted(found)


def test_consumer_offsets_are_compacted_and_reloaded_after_a_restart(broker: BrokerProcess) -> None:
    create_topic(broker.bootstrap, TOPIC, partitions=PARTITIONS)
    expected = commit_rounds(broker.bootstrap, GROUP, 400)  # about 4.6 MiB: several segments
    commit_rounds(broker.bootstrap, "filler-group", 120)  # the last of GROUP's commits roll out
    partition_dir = broker.data_dir / "__consumer_offsets-0"
    # The cleaner may already be at work while the commits go on, so the test does not count
    # segments before it: it waits for over a thousand records below the active segment that
    # take no more room than two groups x four partitions of latest commits.
    deadline = time.monotonic() + 30
    while True:
        now = segments(partition_dir)
        cleaned = now[:-1]  # all but the active segment
        active_base = int(now[-1][0].removesuffix(".log")) if now else 0
        if active_base > 1000 and sum(size for _, size in cleaned) < 16 * (METADATA_BYTES + 200):
            break
        assert time.monotonic() < deadline, f"not cleaned within 30 s: {now}\n{broker.current_log()}"
        time.sleep(0.2)
    assert "Cleaned __consumer_offsets-0" in broker.current_log()
    assert committed(broker.bootstrap) == expected

    broker.restart()
    assert committed(broker.bootstrap) == expected

    broker.kill()
    broker.start()
    assert committed(broker.bootstrap) == expected
