"""Group administration through confluent-kafka's AdminClient and kafka-python's KafkaAdminClient.

Each test builds the groups it inspects with real members (see ``test_groups.MemberPool``) and
checks what the admin APIs report against what it did: which members hold which partitions,
the offsets it committed, and the lag those offsets leave (high watermark minus committed
offset, which must equal the number of records a member then consumes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import kafka.errors as kafka_errors
import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec
from kafka import KafkaAdminClient, OffsetAndMetadata
from kafka import TopicPartition as KpTopicPartition

from tests.conftest import BrokerProcess, api_versions_probe

from .clients import Out, admin, confluent_consumer, confluent_produce, create_topic
from .test_groups import (
    Member,
    MemberPool,
    committed_offsets,
    describe_all,
    start_group_broker,
    wait_balanced,
    wait_until,
)

PARTITIONS = 3
RECORDS_PER_PARTITION = 10
DESCRIBE_GROUPS_KEY = 15


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_group_broker(tmp_path_factory.mktemp("group-broker"))
    yield b
    b.close()


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[MemberPool]:
    with MemberPool(tmp_path / "members") as p:
        yield p


def _topic_with_records(bootstrap: str, topic: str) -> None:
    create_topic(bootstrap, topic, partitions=PARTITIONS)
    records = [
        Out(b"%d-%d" % (p, i), partition=p) for p in range(PARTITIONS) for i in range(RECORDS_PER_PARTITION)
    ]
    confluent_produce(bootstrap, topic, records)


def _commit_as_member(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Join ``group`` as its only member, commit ``offsets`` and leave: the group is then Empty."""
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


def _stable_group(pool: MemberPool, bootstrap: str, group: str, topic: str) -> list[Member]:
    members = [
        pool.start("kafka-python", bootstrap, group, topic, name=f"kp-{group}"),
        pool.start("confluent", bootstrap, group, topic, name=f"conf-{group}"),
    ]
    wait_balanced(members, PARTITIONS)
    return members


def _error_code(exc: BaseException) -> int:
    assert isinstance(exc, KafkaException), f"expected a KafkaException, got {exc!r}"
    return int(exc.args[0].code())


def _alter(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> dict[int, int]:
    """AlterConsumerGroupOffsets; returns {partition: error code} (0 for success)."""
    a = admin(bootstrap)
    request = [
        ConsumerGroupTopicPartitions(
            group, [TopicPartition(tp.topic, tp.partition, o) for tp, o in offsets.items()]
        )
    ]
    try:
        result = a.alter_consumer_group_offsets(request, request_timeout=10)[group].result(15)
    except KafkaException as e:
        return dict.fromkeys((tp.partition for tp in offsets), _error_code(e))
    return {tp.partition: (tp.error.code() if tp.error is not None else 0) for tp in result.topic_partitions}


def _high_watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    a = admin(bootstrap)
    tps = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}
    return {tp.partition: f.result(15).offset for tp, f in a.list_offsets(tps, request_timeout=10).items()}


def _listing(bootstrap: str, states: set[ConsumerGroupState] | None = None) -> dict[str, Any]:
    a = admin(bootstrap)
    kw = {"states": states} if states else {}
    result = a.list_consumer_groups(request_timeout=10, **kw).result(15)
    assert not result.errors, result.errors
    return {g.group_id: g for g in result.valid}


# --- confluent-kafka ------------------------------------------------------------------------


def test_confluent_lists_and_describes_groups(group_broker, topic_name, pool):
    bootstrap = group_broker.bootstrap
    _topic_with_records(bootstrap, topic_name)
    stable, empty, simple = f"stable-{topic_name}", f"empty-{topic_name}", f"simple-{topic_name}"
    kp, conf = _stable_group(pool, bootstrap, stable, topic_name)
    _commit_as_member(bootstrap, empty, topic_name, {0: 10, 1: 6, 2: 0})
    assert _alter(bootstrap, simple, {TopicPartition(topic_name, 0): 5}) == {0: 0}

    listed = _listing(bootstrap)
    assert {stable, empty, simple} <= set(listed), sorted(listed)
    assert (listed[stable].state, listed[stable].is_simple_consumer_group) == (
        ConsumerGroupState.STABLE,
        False,
    )
    assert (listed[empty].state, listed[empty].is_simple_consumer_group) == (ConsumerGroupState.EMPTY, False)
    # A group that only ever stored offsets has no protocol type: a "simple" consumer group.
    assert (listed[simple].state, listed[simple].is_simple_consumer_group) == (ConsumerGroupState.EMPTY, True)

    only_stable = _listing(bootstrap, {ConsumerGroupState.STABLE})
    assert stable in only_stable and empty not in only_stable and simple not in only_stable
    only_empty = _listing(bootstrap, {ConsumerGroupState.EMPTY})
    assert empty in only_empty and simple in only_empty and stable not in only_empty

    a = admin(bootstrap)  # must outlive its futures
    (broker_id,) = a.list_topics(timeout=10).brokers
    futures = a.describe_consumer_groups([stable, empty], request_timeout=10)
    desc = futures[stable].result(15)
    assert desc.state == ConsumerGroupState.STABLE
    assert desc.partition_assignor == "range"
    assert not desc.is_simple_consumer_group
    assert desc.coordinator.id == broker_id
    by_client = {m.client_id: m for m in desc.members}
    assert set(by_client) == {kp.name, conf.name}, desc.members
    for member in (kp, conf):
        described = by_client[member.name]
        assert {(tp.topic, tp.partition) for tp in described.assignment.topic_partitions} == {
            (topic_name, p) for p in member.assignment
        }, f"{member.name}: described {described.assignment.topic_partitions}\n{member.describe()}"
        assert described.host, described
        assert described.group_instance_id is None
    assert by_client[conf.name].member_id == conf.events("assignment")[-1].data["member_id"]

    desc = futures[empty].result(15)
    assert desc.state == ConsumerGroupState.EMPTY
    assert desc.members == []
    kp.close()
    conf.close()


def test_confluent_group_offsets_and_lag(group_broker, topic_name, pool):
    """Lag (high watermark - committed) is exactly what a member then consumes; an altered
    offset is where the next member starts."""
    bootstrap = group_broker.bootstrap
    _topic_with_records(bootstrap, topic_name)
    group = f"lag-{topic_name}"
    _commit_as_member(bootstrap, group, topic_name, {0: 10, 1: 6, 2: 0})

    committed = committed_offsets(bootstrap, group, topic_name, PARTITIONS)
    assert committed == {0: 10, 1: 6, 2: 0}
    a = admin(bootstrap)
    whole = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(15)
    assert {(tp.topic, tp.partition, tp.offset) for tp in whole.topic_partitions} == {
        (topic_name, p, o) for p, o in committed.items()
    }
    high = _high_watermarks(bootstrap, topic_name)
    assert high == dict.fromkeys(range(PARTITIONS), RECORDS_PER_PARTITION)
    lag = {p: high[p] - committed[p] for p in range(PARTITIONS)}
    assert lag == {0: 0, 1: 4, 2: 10}

    member = pool.start("confluent", bootstrap, group, topic_name)
    wait_until(
        lambda: len(member.processed()) >= sum(lag.values()),
        20,
        lambda: (
            f"consumed {len(member.processed())} of {sum(lag.values())} lagging records\n{member.describe()}"
        ),
    )
    time.sleep(1.0)
    consumed = sorted((p, o) for p, o, _ in member.processed())
    assert consumed == [(p, o) for p in range(PARTITIONS) for o in range(committed[p], high[p])]
    wait_until(
        lambda: committed_offsets(bootstrap, group, topic_name, PARTITIONS) == high,
        10,
        lambda: f"committed {committed_offsets(bootstrap, group, topic_name, PARTITIONS)}, expected {high}",
    )
    member.close()

    assert _alter(bootstrap, group, {TopicPartition(topic_name, 0): 3}) == {0: 0}
    assert committed_offsets(bootstrap, group, topic_name, PARTITIONS) == {0: 3, 1: 10, 2: 10}
    again = pool.start("confluent", bootstrap, group, topic_name)
    wait_until(lambda: len(again.processed()) >= 7, 20, again.describe)
    time.sleep(1.0)
    assert sorted((p, o) for p, o, _ in again.processed()) == [(0, o) for o in range(3, 10)]
    again.close()


def test_confluent_delete_groups_and_error_paths(group_broker, topic_name, pool):
    bootstrap = group_broker.bootstrap
    _topic_with_records(bootstrap, topic_name)
    active, empty, unknown = f"active-{topic_name}", f"empty-{topic_name}", f"unknown-{topic_name}"
    member = pool.start("confluent", bootstrap, active, topic_name)
    wait_balanced([member], PARTITIONS, broker=group_broker)
    _commit_as_member(bootstrap, empty, topic_name, {0: 1, 1: 2, 2: 3})
    a = admin(bootstrap)

    with pytest.raises(KafkaException) as e:
        a.delete_consumer_groups([active], request_timeout=10)[active].result(15)
    assert _error_code(e.value) == KafkaError.NON_EMPTY_GROUP

    # Offsets of a group with live members belong to its members, not to an admin.
    assert _alter(bootstrap, active, {TopicPartition(topic_name, 0): 0}) == {0: KafkaError.UNKNOWN_MEMBER_ID}

    with pytest.raises(KafkaException) as e:
        a.delete_consumer_groups([unknown], request_timeout=10)[unknown].result(15)
    assert _error_code(e.value) == KafkaError.GROUP_ID_NOT_FOUND

    # librdkafka asks DescribeGroups v4, where an unknown group is answered as Dead, no error.
    desc = a.describe_consumer_groups([unknown], request_timeout=10)[unknown].result(15)
    assert desc.state == ConsumerGroupState.DEAD and desc.members == []

    assert a.delete_consumer_groups([empty], request_timeout=10)[empty].result(15) is None
    assert empty not in _listing(bootstrap)
    gone = committed_offsets(bootstrap, empty, topic_name, PARTITIONS)
    assert gone == dict.fromkeys(range(PARTITIONS), confluent_kafka.OFFSET_INVALID), gone
    desc = a.describe_consumer_groups([empty], request_timeout=10)[empty].result(15)
    assert desc.state == ConsumerGroupState.DEAD and desc.members == []

    member.close()
    assert a.delete_consumer_groups([active], request_timeout=10)[active].result(15) is None
    assert active not in _listing(bootstrap)


# --- kafka-python ---------------------------------------------------------------------------


def test_kafka_python_admin_groups(group_broker, topic_name, pool):
    bootstrap = group_broker.bootstrap
    _topic_with_records(bootstrap, topic_name)
    stable, empty, unknown = f"stable-{topic_name}", f"empty-{topic_name}", f"unknown-{topic_name}"
    kp, conf = _stable_group(pool, bootstrap, stable, topic_name)
    _commit_as_member(bootstrap, empty, topic_name, {0: 4, 1: 10, 2: 7})

    ka = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        listed = {g["group_id"]: g for g in ka.list_groups()}
        assert {stable, empty} <= set(listed), sorted(listed)
        assert listed[stable]["protocol_type"] == "consumer"
        assert listed[stable]["group_state"] == "Stable"
        assert listed[empty]["group_state"] == "Empty"
        only_stable = {g["group_id"] for g in ka.list_groups(states_filter=["Stable"])}
        assert stable in only_stable and empty not in only_stable

        described = ka.describe_groups([stable, empty])
        d = described[stable]
        assert d["error"] is None, d
        assert (d["group_state"], d["protocol_type"], d["protocol_data"]) == ("Stable", "consumer", "range")
        by_client = {m["client_id"]: m for m in d["members"]}
        assert set(by_client) == {kp.name, conf.name}, d["members"]
        for member in (kp, conf):
            # kafka-python decodes the consumer-protocol assignment bytes into a plain dict.
            assignment = by_client[member.name]["member_assignment"]
            described_tps = {
                (t["topic"], p) for t in assignment["assigned_partitions"] for p in t["partitions"]
            }
            assert described_tps == {(topic_name, p) for p in member.assignment}, (
                f"{member.name}: described {assignment}\n{describe_all([kp, conf])}"
            )
        d = described[empty]
        assert (d["error"], d["group_state"], d["members"]) == (None, "Empty", []), d

        # DescribeGroups v6 (KIP-1043) reports an unknown group as GROUP_ID_NOT_FOUND; v0-v5 as Dead.
        version = min(6, api_versions_probe("127.0.0.1", group_broker.port)[DESCRIBE_GROUPS_KEY][1])
        d = ka.describe_groups([unknown])[unknown]
        if version >= 6:
            assert d["error"] is not None and "GroupIdNotFoundError" in d["error"], d
        else:
            assert (d["error"], d["group_state"], d["members"]) == (None, "Dead", []), d

        offsets = ka.list_group_offsets(empty)[empty]
        assert {tp.partition: om.offset for tp, om in offsets.items()} == {0: 4, 1: 10, 2: 7}
        tp0 = KpTopicPartition(topic_name, 0)
        assert ka.alter_group_offsets(empty, {tp0: OffsetAndMetadata(8, "", -1)}) == {
            tp0: kafka_errors.NoError
        }
        assert committed_offsets(bootstrap, empty, topic_name, PARTITIONS) == {0: 8, 1: 10, 2: 7}
        refused = ka.alter_group_offsets(stable, {tp0: OffsetAndMetadata(0, "", -1)})
        assert refused == {tp0: kafka_errors.UnknownMemberIdError}

        deleted = ka.delete_groups([stable, empty, unknown])
        assert deleted == {stable: "NonEmptyGroupError", empty: "OK", unknown: "GroupIdNotFoundError"}
        remaining = {g["group_id"] for g in ka.list_groups()}
        assert stable in remaining and empty not in remaining
    finally:
        ka.close()
    kp.close()
    conf.close()
