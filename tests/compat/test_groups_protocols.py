"""Incremental rebalancing (cooperative-sticky) and static membership, through librdkafka.

Both features live mostly in the client; what the coordinator must get right is the classic
protocol underneath: a member may rejoin while still owning partitions (cooperative), and a
member with a ``group.instance.id`` that comes back within its session timeout takes over its
old identity without a rebalance (static membership, KIP-345).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess

from .clients import admin, create_topic
from .test_groups import Member, MemberPool, describe_all, start_group_broker, wait_balanced, wait_until


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_group_broker(tmp_path_factory.mktemp("group-broker"))
    yield b
    b.close()


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[MemberPool]:
    with MemberPool(tmp_path / "members") as p:
        yield p


def test_cooperative_sticky_second_member_takes_only_what_moves(group_broker, topic_name, pool):
    """The first member gives up exactly the partitions that move and never stops owning the rest."""
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    group = f"coop-{topic_name}"
    first = pool.start("confluent", bootstrap, group, topic_name, assignor="cooperative-sticky", name="first")
    wait_balanced([first], 6, broker=group_broker)
    assert set().union(*(e.partitions() for e in first.events("assigned"))) == set(range(6))

    joined_at = time.monotonic()
    second = pool.start(
        "confluent", bootstrap, group, topic_name, assignor="cooperative-sticky", name="second"
    )
    wait_balanced([first, second], 6, broker=group_broker)
    kept, moved = first.assignment, second.assignment
    assert len(kept) == 3 and len(moved) == 3

    revoked = [e.partitions() for e in first.events("revoked", since=joined_at)]
    assert revoked, f"the first member revoked nothing\n{describe_all([first, second])}"
    assert set().union(*revoked) == moved, (
        f"the first member revoked {revoked}; only the moved partitions {sorted(moved)} should go\n"
        f"{describe_all([first, second])}"
    )
    for e in first.events("assignment", since=joined_at):
        assert kept <= e.partitions(), f"the first member lost partitions it kept: {sorted(e.partitions())}"
    for e in first.events("assigned", since=joined_at):
        assert not e.partitions(), f"the first member was re-assigned {sorted(e.partitions())}"
    assert not first.events("lost"), first.describe()
    assert set().union(*(e.partitions() for e in second.events("assigned"))) == moved
    assert not second.events("revoked", "lost"), second.describe()
    first.close()
    second.close()


def _rebalance_callbacks(m: Member, since: float) -> list[str]:
    return [f"{e.ev} {sorted(e.partitions())}" for e in m.events("assigned", "revoked", "lost", since=since)]


def _rejoin_without_rebalance(
    pool: MemberPool,
    broker: BrokerProcess,
    other: Member,
    gone: Member,
    held: frozenset[int],
    stop: str,
) -> Member:
    """Stop ``gone`` (``close`` or ``kill``), start it again under the same instance id, and check
    that it gets ``held`` back while ``other`` sees no rebalance at all."""
    since = time.monotonic()
    other_held = other.assignment
    if stop == "close":
        gone.close()
    else:
        gone.kill()
    back = pool.start(
        "confluent",
        gone.bootstrap,
        gone.group,
        gone.topic,
        name=f"{gone.name}-again",
        instance_id=gone.instance_id,
        session_timeout_ms=gone.session_timeout_ms,
    )
    wait_until(
        lambda: bool(back.assignment),
        20,
        lambda: f"the restarted static member got no partitions\n{describe_all([other, back], broker)}",
    )
    assert back.assignment == held, f"the static member came back with {sorted(back.assignment)}, not {held}"
    # Several heartbeats, long enough for a rebalance to reach the other member if one started.
    time.sleep(2.0)
    assert back.assignment == held
    assert other.assignment == other_held
    assert _rebalance_callbacks(other, since) == [], (
        f"the other member saw a rebalance when the static member came back ({stop})\n"
        f"{describe_all([other, back], broker)}"
    )
    assert all(e.partitions() == other_held for e in other.events("assignment", since=since))
    assert _rebalance_callbacks(back, since) == [f"assigned {sorted(held)}"]
    return back


def test_static_member_restarts_within_session_timeout_without_rebalance(group_broker, topic_name, pool):
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    group = f"static-{topic_name}"
    dynamic = pool.start("confluent", bootstrap, group, topic_name, name="dynamic")
    wait_balanced([dynamic], 6, broker=group_broker)
    static = pool.start(
        "confluent",
        bootstrap,
        group,
        topic_name,
        name="static",
        instance_id="static-a",
        session_timeout_ms=30000,
    )
    wait_balanced([dynamic, static], 6, broker=group_broker)
    held = static.assignment

    # librdkafka's close() does not send LeaveGroup for a static member.
    static = _rejoin_without_rebalance(pool, group_broker, dynamic, static, held, "close")
    static = _rejoin_without_rebalance(pool, group_broker, dynamic, static, held, "kill")

    a = admin(bootstrap)  # must outlive its futures
    desc = a.describe_consumer_groups([group], request_timeout=10)[group].result(15)
    by_instance = {m.group_instance_id: m for m in desc.members}
    assert set(by_instance) == {None, "static-a"}, desc.members
    assert {tp.partition for tp in by_instance["static-a"].assignment.topic_partitions} == held
    static.close()
    dynamic.close()
