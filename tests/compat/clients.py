"""Thin produce/consume helpers over each real client, returning one common record shape.

Consumers here never join a group: they ``assign`` a partition and start at an explicit offset,
so they exercise Metadata, ListOffsets and Fetch only. Each helper fails with the records it
did get when fewer than expected arrive before its deadline.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

KCAT = shutil.which("kcat") or "/usr/bin/kcat"

CREATE = "create"
LOG_APPEND = "log_append"

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class Got:
    """A consumed record, whichever client read it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp: int = -1
    timestamp_type: str = CREATE


@dataclass
class Out:
    """A record to produce."""

    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp: int | None = None
    partition: int | None = None


@dataclass(frozen=True)
class Ack:
    partition: int
    offset: int
    timestamp: int = -1


# --- admin (confluent) ----------------------------------------------------------------------


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: dict[str, str] | None = None,
) -> None:
    """Create a topic with confluent's AdminClient and wait until producers can use it."""
    a = admin(bootstrap)  # must outlive the futures: destroying the handle cancels them
    futures = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10,
        request_timeout=15,
    )
    futures[name].result(timeout=20)


# --- confluent-kafka ------------------------------------------------------------------------


def confluent_producer(bootstrap: str, **conf: Any) -> confluent_kafka.Producer:
    base: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 20000,
        "socket.timeout.ms": 10000,
    }
    base.update(conf)
    return confluent_kafka.Producer(base)


def confluent_send(
    bootstrap: str,
    topic: str,
    records: Iterable[Out],
    producer: confluent_kafka.Producer | None = None,
    **conf: Any,
) -> list[Ack | confluent_kafka.KafkaError]:
    """Produce and flush; returns, in send order, an Ack or the delivery error of each record."""
    p = producer or confluent_producer(bootstrap, **conf)
    results: list[Ack | confluent_kafka.KafkaError | None] = []

    def on_delivery(index: int) -> Any:
        def cb(err: confluent_kafka.KafkaError | None, msg: confluent_kafka.Message) -> None:
            if err is not None:
                results[index] = err
            else:
                results[index] = Ack(msg.partition(), msg.offset(), msg.timestamp()[1])

        return cb

    for r in records:
        results.append(None)
        kwargs: dict[str, Any] = {
            "value": r.value,
            "key": r.key,
            "on_delivery": on_delivery(len(results) - 1),
        }
        if r.headers:
            kwargs["headers"] = list(r.headers)
        if r.timestamp is not None:
            kwargs["timestamp"] = r.timestamp
        if r.partition is not None:
            kwargs["partition"] = r.partition
        p.produce(topic, **kwargs)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0, f"{remaining} records still undelivered after 30 s"
    assert all(r is not None for r in results), f"delivery reports missing: {results}"
    return [r for r in results if r is not None]


def confluent_produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Out],
    producer: confluent_kafka.Producer | None = None,
    **conf: Any,
) -> list[Ack]:
    """Produce and flush; every delivery must succeed. Returns the acks in send order."""
    results = confluent_send(bootstrap, topic, records, producer, **conf)
    errors = [r for r in results if not isinstance(r, Ack)]
    assert not errors, f"delivery failed: {errors}"
    return [r for r in results if isinstance(r, Ack)]


def confluent_consumer(bootstrap: str, **conf: Any) -> confluent_kafka.Consumer:
    base: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        # The Python API insists on a group id; assign() with explicit offsets never uses it.
        "group.id": f"compat-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "socket.timeout.ms": 10000,
    }
    base.update(conf)
    return confluent_kafka.Consumer(base)


def _confluent_got(msg: confluent_kafka.Message) -> Got:
    ts_type, ts = msg.timestamp()
    headers = tuple((k, v) for k, v in (msg.headers() or []))
    return Got(
        partition=msg.partition(),
        offset=msg.offset(),
        key=msg.key(),
        value=msg.value(),
        headers=headers,
        timestamp=ts,
        timestamp_type=LOG_APPEND if ts_type == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME else CREATE,
    )


def confluent_consume(
    bootstrap: str,
    topic: str,
    count: int,
    partition: int = 0,
    offset: int = 0,
    timeout: float = 15.0,
    **conf: Any,
) -> list[Got]:
    c = confluent_consumer(bootstrap, **conf)
    got: list[Got] = []
    try:
        c.assign([confluent_kafka.TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                raise AssertionError(f"confluent consumer error: {msg.error()}")
            got.append(_confluent_got(msg))
    finally:
        c.close()
    assert len(got) >= count, f"confluent consumed {len(got)} of {count} records in {timeout} s: {got}"
    return got


# --- kafka-python ---------------------------------------------------------------------------


def kp_producer(bootstrap: str, **kw: Any) -> Any:
    from kafka import KafkaProducer

    # kafka-python's defaults: an idempotent producer (InitProducerId first) with acks=all.
    base: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "linger_ms": 5,
        "request_timeout_ms": 10000,
        "max_block_ms": 15000,
    }
    base.update(kw)
    return KafkaProducer(**base)


def kp_produce(
    bootstrap: str, topic: str, records: Iterable[Out], producer: Any = None, **kw: Any
) -> list[Ack]:
    p = producer or kp_producer(bootstrap, **kw)
    try:
        futures = [
            p.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers) or None,
                partition=r.partition,
                timestamp_ms=r.timestamp,
            )
            for r in records
        ]
        p.flush(30)
        acks = []
        for f in futures:
            md = f.get(timeout=30)
            acks.append(Ack(md.partition, md.offset, md.timestamp))
        return acks
    finally:
        if producer is None:
            p.close(timeout=5)


def kp_consumer(bootstrap: str, **kw: Any) -> Any:
    from kafka import KafkaConsumer

    base: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "request_timeout_ms": 10000,
    }
    base.update(kw)
    return KafkaConsumer(**base)


def _kp_got(r: Any) -> Got:
    return Got(
        partition=r.partition,
        offset=r.offset,
        key=r.key,
        value=r.value,
        headers=tuple((k, v) for k, v in (r.headers or [])),
        timestamp=r.timestamp,
        timestamp_type=LOG_APPEND if r.timestamp_type == 1 else CREATE,
    )


def kp_consume(
    bootstrap: str,
    topic: str,
    count: int,
    partition: int = 0,
    offset: int = 0,
    timeout: float = 15.0,
    **kw: Any,
) -> list[Got]:
    from kafka import TopicPartition

    c = kp_consumer(bootstrap, **kw)
    got: list[Got] = []
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=200).values():
                got.extend(_kp_got(r) for r in records)
    finally:
        c.close()
    assert len(got) >= count, f"kafka-python consumed {len(got)} of {count} records in {timeout} s: {got}"
    return got


# --- aiokafka -------------------------------------------------------------------------------


def _aio_got(r: Any) -> Got:
    return Got(
        partition=r.partition,
        offset=r.offset,
        key=r.key,
        value=r.value,
        headers=tuple((k, v) for k, v in (r.headers or [])),
        timestamp=r.timestamp,
        timestamp_type=LOG_APPEND if r.timestamp_type == 1 else CREATE,
    )


async def aio_produce(bootstrap: str, topic: str, records: Iterable[Out], **kw: Any) -> list[Ack]:
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10000, **kw)
    await p.start()
    try:
        futures = [
            await p.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers) or None,
                partition=r.partition,
                timestamp_ms=r.timestamp,
            )
            for r in records
        ]
        acks = []
        for f in futures:
            md = await asyncio.wait_for(f, 30)
            acks.append(Ack(md.partition, md.offset, md.timestamp))
        return acks
    finally:
        await p.stop()


async def aio_consume(
    bootstrap: str,
    topic: str,
    count: int,
    partition: int = 0,
    offset: int = 0,
    timeout: float = 15.0,
    **kw: Any,
) -> list[Got]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **kw)
    await c.start()
    got: list[Got] = []
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            batches = await c.getmany(tp, timeout_ms=200)
            for records in batches.values():
                got.extend(_aio_got(r) for r in records)
    finally:
        await c.stop()
    assert len(got) >= count, f"aiokafka consumed {len(got)} of {count} records in {timeout} s: {got}"
    return got


def aio_produce_sync(bootstrap: str, topic: str, records: Iterable[Out], **kw: Any) -> list[Ack]:
    return asyncio.run(aio_produce(bootstrap, topic, records, **kw))


def aio_consume_sync(bootstrap: str, topic: str, count: int, **kw: Any) -> list[Got]:
    return asyncio.run(aio_consume(bootstrap, topic, count, **kw))


# --- kcat -----------------------------------------------------------------------------------


def kcat(
    args: Sequence[str], stdin: bytes | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([KCAT, *args], input=stdin, capture_output=True, timeout=timeout, check=False)


def kcat_produce(
    bootstrap: str,
    topic: str,
    lines: Sequence[str],
    extra: Sequence[str] = (),
    partition: int = 0,
) -> subprocess.CompletedProcess[bytes]:
    """``kcat -P``: one message per input line. Fails on a non-zero exit or a logged error."""
    data = ("\n".join(lines) + "\n").encode()
    proc = kcat(["-b", bootstrap, "-P", "-t", topic, "-p", str(partition), *extra], stdin=data)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"kcat -P exited {proc.returncode}: {err}"
    assert "ERROR" not in err, f"kcat -P reported errors: {err}"
    return proc


def kcat_consume(
    bootstrap: str,
    topic: str,
    partition: int = 0,
    offset: str = "beginning",
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``kcat -C -o OFFSET -e -J``: every message up to the end, as kcat's JSON envelopes."""
    proc = kcat(["-b", bootstrap, "-C", "-t", topic, "-p", str(partition), "-o", offset, "-e", "-J", *extra])
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"kcat -C exited {proc.returncode}: {err}"
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
