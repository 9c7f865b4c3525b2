"""Committed offsets are durable: they survive a clean restart and a kill -9 of the broker.

An acknowledged OffsetCommit is a write to ``__consumer_offsets`` like any acknowledged produce;
after the broker comes back, the coordinator replays that topic and a new member of the group
resumes exactly at the committed offsets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from .clients import Out, admin, confluent_consumer, confluent_produce, create_topic, kp_consumer
from .test_groups import GROUP_OVERRIDES, MemberPool, committed_offsets, wait_until

PARTITIONS = 3


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[MemberPool]:
    with MemberPool(tmp_path / "members") as p:
        yield p


def _produce(bootstrap: str, topic: str, per_partition: int, tag: str) -> None:
    records = [
        Out(f"{tag}-{p}-{i}".encode(), partition=p) for p in range(PARTITIONS) for i in range(per_partition)
    ]
    confluent_produce(bootstrap, topic, records)


def _confluent_commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    c = confluent_consumer(bootstrap, **{"group.id": group, "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 20
        while len(c.assignment()) < PARTITIONS:
            assert time.monotonic() < deadline, f"no assignment for {group}: {c.assignment()}"
            c.poll(0.2)
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        c.close()


def _kafka_python_commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    from kafka import OffsetAndMetadata
    from kafka import TopicPartition as KpTopicPartition

    c = kp_consumer(bootstrap, group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500)
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 20
        while len(c.assignment()) < PARTITIONS:
            assert time.monotonic() < deadline, f"no assignment for {group}: {c.assignment()}"
            c.poll(timeout_ms=200)
        c.commit({KpTopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
    finally:
        c.close()


def _assert_resumes_at(
    pool: MemberPool, client: str, bootstrap: str, group: str, topic: str, start: dict[int, int], end: int
) -> None:
    """A new member of ``group`` processes exactly the offsets [start[p], end) of each partition."""
    member = pool.start(client, bootstrap, group, topic)
    expected = sorted((p, o) for p in range(PARTITIONS) for o in range(start[p], end))
    wait_until(
        lambda: len(member.processed()) >= len(expected),
        20,
        lambda: (
            f"{client} member processed {len(member.processed())} of {len(expected)}\n{member.describe()}"
        ),
    )
    time.sleep(0.5)
    assert sorted((p, o) for p, o, _ in member.processed()) == expected, member.describe()
    wait_until(
        lambda: (
            committed_offsets(bootstrap, group, topic, PARTITIONS) == dict.fromkeys(range(PARTITIONS), end)
        ),
        10,
        lambda: f"committed {committed_offsets(bootstrap, group, topic, PARTITIONS)}\n{member.describe()}",
    )
    member.close()


def _commit_two_groups(bootstrap: str, topic: str) -> tuple[dict[str, dict[int, int]], dict[str, str]]:
    create_topic(bootstrap, topic, partitions=PARTITIONS)
    _produce(bootstrap, topic, 10, "before")
    groups = {f"conf-{topic}": {0: 4, 1: 7, 2: 10}, f"kp-{topic}": {0: 1, 1: 0, 2: 9}}
    clients = {f"conf-{topic}": "confluent", f"kp-{topic}": "kafka-python"}
    _confluent_commit(bootstrap, f"conf-{topic}", topic, groups[f"conf-{topic}"])
    _kafka_python_commit(bootstrap, f"kp-{topic}", topic, groups[f"kp-{topic}"])
    for group, offsets in groups.items():
        assert committed_offsets(bootstrap, group, topic, PARTITIONS) == offsets
    return groups, clients


def _check_after_restart(
    pool: MemberPool,
    bootstrap: str,
    topic: str,
    groups: dict[str, dict[int, int]],
    clients: dict[str, str],
) -> None:
    for group, offsets in groups.items():
        assert committed_offsets(bootstrap, group, topic, PARTITIONS) == offsets, f"{group} after restart"
    assert "__consumer_offsets" in admin(bootstrap).list_topics(timeout=10).topics
    _produce(bootstrap, topic, 1, "after")
    for group, offsets in groups.items():
        _assert_resumes_at(pool, clients[group], bootstrap, group, topic, offsets, 11)


def test_committed_offsets_survive_clean_restart(broker_factory, topic_name, pool):
    broker = broker_factory(overrides=GROUP_OVERRIDES)
    groups, clients = _commit_two_groups(broker.bootstrap, topic_name)
    assert broker.stop() == 0, broker.current_log()
    broker.start()
    _check_after_restart(pool, broker.bootstrap, topic_name, groups, clients)

    broker.restart()
    for group in groups:
        assert committed_offsets(broker.bootstrap, group, topic_name, PARTITIONS) == dict.fromkeys(
            range(PARTITIONS), 11
        ), f"{group}: offsets committed after the first restart were lost in the second"


def test_committed_offsets_survive_kill_9(broker_factory, topic_name, pool):
    broker = broker_factory(overrides=GROUP_OVERRIDES)
    groups, clients = _commit_two_groups(broker.bootstrap, topic_name)
    broker.kill()
    broker.start()
    _check_after_restart(pool, broker.bootstrap, topic_name, groups, clients)

    # The members above committed up to 11 and left; those commits must survive a crash too.
    broker.kill()
    broker.start()
    for group in groups:
        assert committed_offsets(broker.bootstrap, group, topic_name, PARTITIONS) == dict.fromkeys(
            range(PARTITIONS), 11
        ), f"{group}: offsets committed before kill -9 were lost"
