"""Consumer groups through real clients: mixed-client groups, rebalances on leave and on crash.

Every group member here is a separate process (``MEMBER_SCRIPT``) running one real client
library: kafka-python, aiokafka or confluent-kafka. A member subscribes, reports each
rebalance callback and every change of its assignment as a JSON line on stdout, and commits
after processing each batch (commit-after-process, so a crash can only cause a record to be
processed again, never to be skipped). The parent closes a member by writing ``close`` to its
stdin (a clean close, with LeaveGroup for a dynamic member) or kills it with SIGKILL.

Other group modules (``test_groups_*.py``) reuse the harness defined here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from tests.conftest import BrokerProcess

from .clients import Out, admin, confluent_produce, create_topic

# Kafka's group settings, shortened so that rebalances and session expiry fit a test run.
GROUP_OVERRIDES = {
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
}

MEMBER_SCRIPT = r"""
import json
import sys
import threading
import time
import traceback

cfg = json.loads(sys.argv[1])
stop = threading.Event()
out_lock = threading.Lock()


def emit(ev, **data):
    with out_lock:
        sys.stdout.write(json.dumps({"ev": ev, **data}) + "\n")
        sys.stdout.flush()


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == "close":
            break
    stop.set()


def tps(items):
    return sorted([tp.topic, tp.partition] for tp in items)


class Assignment:
    def __init__(self):
        self.last = None

    def report(self, items, **extra):
        current = tps(items)
        if current != self.last:
            self.last = current
            emit("assignment", tps=current, **extra)


def next_offsets(recs):
    out = {}
    for topic, partition, offset, _ in recs:
        out[(topic, partition)] = max(out.get((topic, partition), 0), offset + 1)
    return out


def run_confluent():
    import confluent_kafka
    from confluent_kafka import TopicPartition

    conf = {
        "bootstrap.servers": cfg["bootstrap"],
        "group.id": cfg["group"],
        "client.id": cfg["name"],
        "partition.assignment.strategy": cfg["assignor"],
        "session.timeout.ms": cfg["session_timeout_ms"],
        "heartbeat.interval.ms": cfg["heartbeat_interval_ms"],
        "max.poll.interval.ms": cfg["max_poll_interval_ms"],
        "enable.auto.commit": False,
        "auto.offset.reset": cfg["auto_offset_reset"],
        "socket.timeout.ms": 10000,
    }
    if cfg["instance_id"]:
        conf["group.instance.id"] = cfg["instance_id"]
    c = confluent_kafka.Consumer(conf)
    c.subscribe(
        cfg["topics"],
        on_assign=lambda _c, parts: emit("assigned", tps=tps(parts)),
        on_revoke=lambda _c, parts: emit("revoked", tps=tps(parts)),
        on_lost=lambda _c, parts: emit("lost", tps=tps(parts)),
    )
    emit("started")
    assignment = Assignment()
    while not stop.is_set():
        msgs = c.consume(num_messages=500, timeout=0.2)
        assignment.report(c.assignment(), member_id=c.memberid())
        recs = []
        for m in msgs:
            if m.error() is not None:
                emit("error", error=str(m.error()))
                continue
            recs.append([m.topic(), m.partition(), m.offset(), m.value().decode()])
        if recs:
            emit("records", recs=recs)
            offsets = next_offsets(recs)
            try:
                c.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                         asynchronous=False)
                emit("committed", offsets=sorted([t, p, o] for (t, p), o in offsets.items()))
            except Exception as e:
                emit("commit_failed", error=repr(e))
    c.close()


def run_kafka_python():
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit("revoked", tps=tps(revoked))

        def on_partitions_assigned(self, assigned):
            emit("assigned", tps=tps(assigned))

    kw = dict(
        bootstrap_servers=cfg["bootstrap"],
        group_id=cfg["group"],
        client_id=cfg["name"],
        partition_assignment_strategy=[assignors[cfg["assignor"]]],
        session_timeout_ms=cfg["session_timeout_ms"],
        heartbeat_interval_ms=cfg["heartbeat_interval_ms"],
        max_poll_interval_ms=cfg["max_poll_interval_ms"],
        enable_auto_commit=False,
        auto_offset_reset=cfg["auto_offset_reset"],
    )
    if cfg["instance_id"]:
        kw["group_instance_id"] = cfg["instance_id"]
    c = KafkaConsumer(**kw)
    c.subscribe(topics=cfg["topics"], listener=Listener())
    emit("started")
    assignment = Assignment()
    while not stop.is_set():
        batches = c.poll(timeout_ms=200)
        assignment.report(c.assignment())
        recs = [[r.topic, r.partition, r.offset, r.value.decode()] for rs in batches.values() for r in rs]
        if recs:
            emit("records", recs=recs)
            offsets = next_offsets(recs)
            try:
                c.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                          for (t, p), o in offsets.items()})
                emit("committed", offsets=sorted([t, p, o] for (t, p), o in offsets.items()))
            except Exception as e:
                emit("commit_failed", error=repr(e))
    c.close()


def run_aiokafka():
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}

    class Listener(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            emit("revoked", tps=tps(revoked))

        async def on_partitions_assigned(self, assigned):
            emit("assigned", tps=tps(assigned))

    async def main():
        c = AIOKafkaConsumer(
            bootstrap_servers=cfg["bootstrap"],
            group_id=cfg["group"],
            group_instance_id=cfg["instance_id"],
            client_id=cfg["name"],
            partition_assignment_strategy=(assignors[cfg["assignor"]],),
            session_timeout_ms=cfg["session_timeout_ms"],
            heartbeat_interval_ms=cfg["heartbeat_interval_ms"],
            max_poll_interval_ms=cfg["max_poll_interval_ms"],
            enable_auto_commit=False,
            auto_offset_reset=cfg["auto_offset_reset"],
        )
        await c.start()
        c.subscribe(topics=cfg["topics"], listener=Listener())
        emit("started")
        assignment = Assignment()
        while not stop.is_set():
            batches = await c.getmany(timeout_ms=200)
            assignment.report(c.assignment())
            recs = [[r.topic, r.partition, r.offset, r.value.decode()] for rs in batches.values() for r in rs]
            if recs:
                emit("records", recs=recs)
                offsets = next_offsets(recs)
                try:
                    await c.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
                    emit("committed", offsets=sorted([t, p, o] for (t, p), o in offsets.items()))
                except Exception as e:
                    emit("commit_failed", error=repr(e))
        await c.stop()

    asyncio.run(main())


threading.Thread(target=watch_stdin, daemon=True).start()
try:
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[cfg["client"]]()
except BaseException:
    emit("crashed", error=traceback.format_exc())
    sys.exit(1)
emit("closed")
"""


@dataclass(frozen=True)
class Event:
    """One line a member reported; ``t`` is the parent's monotonic clock when it was read."""

    t: float
    ev: str
    data: dict[str, Any]

    def partitions(self) -> frozenset[int]:
        return frozenset(p for _, p in self.data.get("tps", ()))


@dataclass
class Member:
    """One group member in its own process; see ``MEMBER_SCRIPT`` for what it reports."""

    client: str
    bootstrap: str
    group: str
    topic: str
    name: str
    log_dir: Path
    assignor: str = "range"
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 500
    max_poll_interval_ms: int = 20000
    instance_id: str | None = None
    auto_offset_reset: str = "earliest"
    proc: subprocess.Popen[bytes] | None = None
    _events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: threading.Thread | None = None

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.stderr"

    def start(self) -> Member:
        cfg = {
            "client": self.client,
            "bootstrap": self.bootstrap,
            "group": self.group,
            "topics": [self.topic],
            "name": self.name,
            "assignor": self.assignor,
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            # librdkafka refuses a max.poll.interval.ms below session.timeout.ms.
            "max_poll_interval_ms": max(self.max_poll_interval_ms, self.session_timeout_ms),
            "instance_id": self.instance_id,
            "auto_offset_reset": self.auto_offset_reset,
        }
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", MEMBER_SCRIPT, json.dumps(cfg)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                msg = {"ev": "output", "line": line}
            ev = msg.pop("ev", "output")
            with self._lock:
                self._events.append(Event(time.monotonic(), ev, msg))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def events(self, *kinds: str, since: float = 0.0) -> list[Event]:
        with self._lock:
            return [e for e in self._events if e.t >= since and (not kinds or e.ev in kinds)]

    @property
    def assignment(self) -> frozenset[int]:
        """The partitions this member holds now (empty once it stopped)."""
        if not self.alive:
            return frozenset()
        reports = self.events("assignment")
        return reports[-1].partitions() if reports else frozenset()

    def processed(self) -> list[tuple[int, int, str]]:
        """Every (partition, offset, value) this member handed to its processing step."""
        return [(p, o, v) for e in self.events("records") for _, p, o, v in e.data["recs"]]

    def close(self, timeout: float = 30.0) -> None:
        """A clean close: the client's own close/stop, which leaves the group if it is dynamic."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # already gone; the exit code below tells how
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not close within {timeout} s\n{self.describe()}") from None
        assert self._reader is not None
        self._reader.join(5)
        assert code == 0 and self.events("closed"), f"{self.name} did not close cleanly\n{self.describe()}"

    def kill(self) -> None:
        """kill -9: the member gets no chance to leave the group or commit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def describe(self) -> str:
        state = "running" if self.alive else f"exited {self.proc.returncode if self.proc else None}"
        tail = [
            f"  {e.ev} {e.data['error'] if e.ev == 'crashed' else json.dumps(e.data)[:300]}"
            for e in self.events()[-12:]
        ]
        stderr = self.stderr_path.read_text(errors="replace")[-1500:] if self.stderr_path.exists() else ""
        return (
            f"--- {self.name} ({self.client}, {state}), assignment {sorted(self.assignment)}\n"
            + "\n".join(tail)
            + (f"\n  stderr: {stderr}" if stderr.strip() else "")
        )


class MemberPool:
    """Starts members and makes sure none outlives the test."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.members: list[Member] = []

    def start(self, client: str, bootstrap: str, group: str, topic: str, **kw: Any) -> Member:
        name = kw.pop("name", None) or f"{client}-{len(self.members)}"
        m = Member(client, bootstrap, group, topic, name, self.log_dir, **kw)
        self.members.append(m)
        return m.start()

    def __enter__(self) -> MemberPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for m in self.members:
            m.kill()


def start_group_broker(root: Path) -> BrokerProcess:
    return BrokerProcess(root / "data", overrides=GROUP_OVERRIDES, log_path=root / "stderr.log").start()


def wait_until(cond: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
    """Poll ``cond`` until true; returns the seconds it took. Fails with ``what()`` on timeout."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s: {what()}")
        time.sleep(0.05)
    return time.monotonic() - start


def balanced(members: Iterable[Member], partitions: int) -> bool:
    """Disjoint, complete, and as even as any assignor makes it."""
    held = [m.assignment for m in members]
    if not held:
        return False
    lo, hi = partitions // len(held), -(-partitions // len(held))
    covered = set().union(*held)
    return (
        sum(len(h) for h in held) == partitions
        and covered == set(range(partitions))
        and all(lo <= len(h) <= hi for h in held)
    )


def describe_all(members: Iterable[Member], broker: BrokerProcess | None = None) -> str:
    text = "\n".join(m.describe() for m in members)
    if broker is not None:
        text += "\n--- broker log tail ---\n" + broker.current_log()[-3000:]
    return text


def wait_balanced(
    members: list[Member],
    partitions: int,
    timeout: float = 30.0,
    hold: float = 1.0,
    broker: BrokerProcess | None = None,
) -> float:
    """Wait until ``members`` hold a balanced assignment that stays put for ``hold`` seconds.

    Returns the seconds until the assignment was first seen balanced.
    """
    start = time.monotonic()
    while True:
        wait_until(
            lambda: balanced(members, partitions),
            timeout - (time.monotonic() - start),
            lambda: (
                "no balanced assignment of "
                f"{partitions} partitions over {[m.name for m in members]}\n{describe_all(members, broker)}"
            ),
        )
        seen_after = time.monotonic() - start
        snapshot = [m.assignment for m in members]
        time.sleep(hold)
        if [m.assignment for m in members] == snapshot and balanced(members, partitions):
            return seen_after


def produce_round(bootstrap: str, topic: str, partitions: int, per_partition: int, tag: str) -> set[str]:
    """``per_partition`` records to each partition; returns their values."""
    records = [
        Out(f"{tag}-p{p}-{i}".encode(), partition=p) for i in range(per_partition) for p in range(partitions)
    ]
    confluent_produce(bootstrap, topic, records)
    return {r.value.decode() for r in records if r.value is not None}


def values_seen(members: Iterable[Member]) -> set[str]:
    return {v for m in members for _, _, v in m.processed()}


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    a = admin(bootstrap)
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])]
    result = a.list_consumer_group_offsets(request, request_timeout=10)[group].result(15)
    return {tp.partition: tp.offset for tp in result.topic_partitions}


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_group_broker(tmp_path_factory.mktemp("group-broker"))
    yield b
    b.close()


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[MemberPool]:
    with MemberPool(tmp_path / "members") as p:
        yield p


# --- one group, three client libraries ------------------------------------------------------

THREE_CLIENTS = ("kafka-python", "aiokafka", "confluent")


def _start_three(pool: MemberPool, bootstrap: str, group: str, topic: str, **kw: Any) -> list[Member]:
    return [pool.start(client, bootstrap, group, topic, **kw) for client in THREE_CLIENTS]


def test_three_clients_split_six_partitions(group_broker, topic_name, pool):
    """kafka-python, aiokafka and confluent-kafka in one group: 2 partitions each, and each
    member receives exactly the records of the partitions it was assigned."""
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    members = _start_three(pool, bootstrap, f"three-{topic_name}", topic_name)
    wait_balanced(members, 6, broker=group_broker)
    assert sorted(len(m.assignment) for m in members) == [2, 2, 2]

    sent = produce_round(bootstrap, topic_name, 6, 5, "r")
    wait_until(
        lambda: values_seen(members) >= sent,
        20,
        lambda: f"records not consumed: {sorted(sent - values_seen(members))[:10]}\n{describe_all(members)}",
    )
    for m in members:
        got_from = {p for p, _, _ in m.processed()}
        assert got_from == set(m.assignment), f"{m.name} read {got_from}, holds {m.assignment}"
        assert not m.events("commit_failed", "crashed", "error"), m.describe()
    for m in members:
        m.close()


def test_member_that_leaves_hands_its_partitions_to_the_others(group_broker, topic_name, pool):
    """A clean close sends LeaveGroup: the others rebalance at once, not after the session timeout."""
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    session_ms = 10000
    group = f"leave-{topic_name}"
    kp, aio, conf = _start_three(pool, bootstrap, group, topic_name, session_timeout_ms=session_ms)
    wait_balanced([kp, aio, conf], 6, broker=group_broker)

    left = aio.assignment
    aio.close()
    took = wait_balanced([kp, conf], 6, broker=group_broker)
    assert took < session_ms / 1000 * 0.7, f"reassignment after LeaveGroup took {took:.1f} s"
    assert left <= kp.assignment | conf.assignment

    kp.close()
    took = wait_balanced([conf], 6, broker=group_broker)
    assert took < session_ms / 1000 * 0.7, f"reassignment after LeaveGroup took {took:.1f} s"
    assert conf.assignment == set(range(6))
    conf.close()


def test_killed_member_partitions_move_after_session_timeout(group_broker, topic_name, pool):
    """kill -9 sends nothing: the coordinator notices only when the session times out."""
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    session_ms, heartbeat_ms = 4000, 500
    members = _start_three(
        pool,
        bootstrap,
        f"kill-{topic_name}",
        topic_name,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=heartbeat_ms,
    )
    kp, aio, conf = members
    wait_balanced(members, 6, broker=group_broker)

    orphaned = conf.assignment
    killed_at = time.monotonic()
    conf.kill()
    wait_balanced([kp, aio], 6, timeout=session_ms / 1000 + 20, broker=group_broker)
    moved_at = min(
        e.t for m in (kp, aio) for e in m.events("assignment", since=killed_at) if e.partitions() & orphaned
    )
    took = moved_at - killed_at
    # The member's last heartbeat came at most one interval before the kill.
    earliest = (session_ms - heartbeat_ms) / 1000 - 0.5
    assert took >= earliest, f"partitions moved {took:.1f} s after kill -9, before the session could expire"
    assert orphaned <= kp.assignment | aio.assignment
    kp.close()
    aio.close()


def test_kafka_python_and_confluent_share_a_group_with_roundrobin(group_broker, topic_name, pool):
    bootstrap = group_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=6)
    group = f"rr-{topic_name}"
    members = [
        pool.start("kafka-python", bootstrap, group, topic_name, assignor="roundrobin"),
        pool.start("confluent", bootstrap, group, topic_name, assignor="roundrobin"),
    ]
    wait_balanced(members, 6, broker=group_broker)
    assert [len(m.assignment) for m in members] == [3, 3]

    sent = produce_round(bootstrap, topic_name, 6, 4, "rr")
    wait_until(
        lambda: values_seen(members) >= sent,
        20,
        lambda: f"records not consumed: {sorted(sent - values_seen(members))[:10]}\n{describe_all(members)}",
    )
    for m in members:
        assert {p for p, _, _ in m.processed()} == set(m.assignment), m.describe()
    # Members commit right after reporting a batch; give the last commits a moment to land.
    wait_until(
        lambda: committed_offsets(bootstrap, group, topic_name, 6) == dict.fromkeys(range(6), 4),
        10,
        lambda: f"committed {committed_offsets(bootstrap, group, topic_name, 6)}\n{describe_all(members)}",
    )
    for m in members:
        m.close()


def test_no_record_lost_while_members_come_and_go(group_broker, topic_name, pool):
    """Records keep arriving while members join, leave and crash; every one is processed.

    Every partition starts with a committed offset of 0 and members reset to ``latest``, so a
    committed offset that the coordinator loses or serves wrong skips records instead of
    hiding behind a reset to the beginning.
    """
    bootstrap = group_broker.bootstrap
    partitions = 6
    group = f"churn-{topic_name}"
    create_topic(bootstrap, topic_name, partitions=partitions)
    a = admin(bootstrap)
    start = [TopicPartition(topic_name, p, 0) for p in range(partitions)]
    a.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, start)])[group].result(15)

    kw = {"session_timeout_ms": 4000, "auto_offset_reset": "latest"}
    kp = pool.start("kafka-python", bootstrap, group, topic_name, **kw)
    conf = pool.start("confluent", bootstrap, group, topic_name, **kw)
    wait_balanced([kp, conf], partitions, broker=group_broker)
    sent = produce_round(bootstrap, topic_name, partitions, 10, "w1")

    aio = pool.start("aiokafka", bootstrap, group, topic_name, **kw)
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w2")
    wait_balanced([kp, conf, aio], partitions, broker=group_broker)
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w3")

    kp.close()
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w4")
    wait_balanced([conf, aio], partitions, broker=group_broker)

    conf.kill()
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w5")
    conf2 = pool.start("confluent", bootstrap, group, topic_name, **kw)
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w6")
    wait_balanced([aio, conf2], partitions, timeout=40, broker=group_broker)
    sent |= produce_round(bootstrap, topic_name, partitions, 10, "w7")

    everyone = [kp, conf, aio, conf2]
    wait_until(
        lambda: values_seen(everyone) >= sent,
        30,
        lambda: (
            f"{len(sent - values_seen(everyone))} records never processed, e.g. "
            f"{sorted(sent - values_seen(everyone))[:10]}\n{describe_all(everyone, group_broker)}"
        ),
    )
    end = dict.fromkeys(range(partitions), len(sent) // partitions)
    wait_until(
        lambda: committed_offsets(bootstrap, group, topic_name, partitions) == end,
        15,
        lambda: (
            f"committed offsets {committed_offsets(bootstrap, group, topic_name, partitions)}, "
            f"partitions end at {end}\n{describe_all(everyone)}"
        ),
    )
    for m in everyone:
        assert not m.events("crashed"), m.describe()
    aio.close()
    conf2.close()
