"""Every client reads what every other client wrote; Metadata auto-creation; fetch long-polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import kafka.errors as Errors
import pytest

from . import wire
from .clients import (
    CREATE,
    LOG_APPEND,
    Got,
    Out,
    admin,
    aio_consume_sync,
    aio_produce_sync,
    confluent_consume,
    confluent_produce,
    create_topic,
    kcat_consume,
    kcat_produce,
    kp_consume,
    kp_produce,
    kp_producer,
)

HEADERS = [("trace", b"t-1"), ("origin", b"compat")]
T0 = 1_640_000_000_000

# (key, value) pairs every producer below can express, null key and null value included.
RECORDS: list[tuple[bytes | None, bytes | None]] = [
    (b"k0", b"v0"),
    (None, b"value without key"),
    (b"k2", None),
    (b"k3", b"v3 " * 40),
    (b"k4", b"v4"),
]


def _kcat_got(m: dict) -> Got:
    flat = m.get("headers") or []
    return Got(
        partition=m["partition"],
        offset=m["offset"],
        key=None if m["key"] is None else m["key"].encode(),
        value=None if m["payload"] is None else m["payload"].encode(),
        headers=tuple(
            (k, None if v is None else v.encode()) for k, v in zip(flat[0::2], flat[1::2], strict=True)
        ),
        timestamp=m["ts"],
        timestamp_type=LOG_APPEND if m["tstype"] == "logappend" else CREATE,
    )


def _outs() -> list[Out]:
    return [Out(v, key=k, headers=list(HEADERS), timestamp=T0 + i) for i, (k, v) in enumerate(RECORDS)]


def produce_confluent(bootstrap: str, topic: str) -> None:
    confluent_produce(bootstrap, topic, _outs())


def produce_kafka_python(bootstrap: str, topic: str) -> None:
    kp_produce(bootstrap, topic, _outs())


def produce_aiokafka(bootstrap: str, topic: str) -> None:
    aio_produce_sync(bootstrap, topic, _outs())


def produce_kcat(bootstrap: str, topic: str) -> None:
    lines = [f"{(k or b'').decode()}:{(v or b'').decode()}" for k, v in RECORDS]
    headers = [arg for name, value in HEADERS for arg in ("-H", f"{name}={value.decode()}")]
    kcat_produce(bootstrap, topic, lines, extra=["-K:", "-Z", *headers])


PRODUCERS: dict[str, Callable[[str, str], None]] = {
    "confluent": produce_confluent,
    "kafka-python": produce_kafka_python,
    "aiokafka": produce_aiokafka,
    "kcat": produce_kcat,
}

CONSUMERS: dict[str, Callable[[str, str, int], list[Got]]] = {
    "confluent": lambda b, t, n: confluent_consume(b, t, n),
    "kafka-python": lambda b, t, n: kp_consume(b, t, n),
    "aiokafka": lambda b, t, n: aio_consume_sync(b, t, n),
    "kcat": lambda b, t, n: [_kcat_got(m) for m in kcat_consume(b, t)],
}


@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_every_client_reads_what_this_client_wrote(shared_broker, topic_name, producer):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    PRODUCERS[producer](bootstrap, topic_name)

    seen: dict[str, list[Got]] = {}
    for consumer, consume in CONSUMERS.items():
        got = consume(bootstrap, topic_name, len(RECORDS))
        assert [g.offset for g in got] == list(range(len(RECORDS))), consumer
        assert [(g.key, g.value) for g in got] == RECORDS, consumer
        assert all(g.headers == tuple(HEADERS) for g in got), (consumer, [g.headers for g in got])
        assert all(g.timestamp_type == CREATE for g in got), consumer
        if producer != "kcat":
            assert [g.timestamp for g in got] == [T0 + i for i in range(len(RECORDS))], consumer
        seen[consumer] = got
    # All four clients decoded the very same records.
    first = next(iter(seen.values()))
    for consumer, got in seen.items():
        assert got == first, f"{consumer} disagrees with the others"


# --- Metadata auto-creation -----------------------------------------------------------------


def _raw_metadata(port: int, topic: str, allow_auto_create: bool) -> wire.MetadataTopic:
    with wire.connect(port) as sock:
        sock.sendall(wire.metadata_v4(7, [topic], allow_auto_create))
        _, topics = wire.parse_metadata_v4(wire.read_response(sock, 7))
    (t,) = topics
    assert t.name == topic
    return t


def test_producing_to_unknown_topic_creates_it_with_num_partitions(broker_factory, topic_name):
    b = broker_factory(overrides={"num.partitions": "3"})

    # A Metadata request that does not allow auto-creation must not create anything.
    assert _raw_metadata(b.port, topic_name, allow_auto_create=False).error_code == (
        wire.ERR_UNKNOWN_TOPIC_OR_PARTITION
    )
    assert topic_name not in admin(b.bootstrap).list_topics(timeout=10).topics

    acks = kp_produce(b.bootstrap, topic_name, [Out(b"auto", partition=2)])
    assert (acks[0].partition, acks[0].offset) == (2, 0)
    md = admin(b.bootstrap).list_topics(timeout=10)
    assert sorted(md.topics[topic_name].partitions) == [0, 1, 2]
    assert confluent_consume(b.bootstrap, topic_name, 1, partition=2)[0].value == b"auto"


def test_auto_create_disabled_gives_unknown_topic(broker_factory, topic_name):
    b = broker_factory(overrides={"auto.create.topics.enable": "false"})
    t = _raw_metadata(b.port, topic_name, allow_auto_create=True)
    assert t.error_code == wire.ERR_UNKNOWN_TOPIC_OR_PARTITION
    assert t.partitions == []

    p = kp_producer(b.bootstrap, max_block_ms=2000)
    try:
        with pytest.raises(Errors.KafkaTimeoutError):
            p.send(topic_name, b"x").get(timeout=10)
    finally:
        p.close(timeout=5)
    assert topic_name not in admin(b.bootstrap).list_topics(timeout=10).topics

    # Explicit creation still works.
    create_topic(b.bootstrap, topic_name)
    assert _raw_metadata(b.port, topic_name, allow_auto_create=False).error_code == wire.ERR_NONE


# --- fetch long-polling, on the wire --------------------------------------------------------


def test_fetch_parks_until_max_wait_then_wakes_on_produce(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    with wire.connect(shared_broker.port, timeout=15) as sock:
        # Nothing to return: the broker holds the fetch for (about) max wait, then answers empty.
        started = time.monotonic()
        sock.sendall(wire.fetch_v4(1, topic_name, 0, 0, max_wait_ms=1000))
        (empty,) = wire.parse_fetch_v4(wire.read_response(sock, 1))
        held = time.monotonic() - started
        assert empty.error_code == wire.ERR_NONE
        assert empty.high_watermark == 0
        assert not empty.records
        assert held >= 0.8, f"an empty fetch with max wait 1000 ms was answered after {held:.2f} s"

        # A record arriving while the fetch is parked answers it before max wait.
        max_wait_s = 5.0
        sent_at: list[float] = []

        def produce_later() -> None:
            time.sleep(0.3)
            sent_at.append(time.monotonic())
            confluent_produce(bootstrap, topic_name, [Out(b"wake-up")], **{"linger.ms": 0})

        t = threading.Thread(target=produce_later)
        t.start()
        sock.sendall(wire.fetch_v4(2, topic_name, 0, 0, max_wait_ms=int(max_wait_s * 1000)))
        (woken,) = wire.parse_fetch_v4(wire.read_response(sock, 2))
        answered_at = time.monotonic()
        t.join()
    assert woken.error_code == wire.ERR_NONE
    assert woken.high_watermark == 1
    assert woken.records, "the fetch returned no records"
    # Answered well before max wait. The producer's own connect/metadata time is included.
    assert answered_at - sent_at[0] < max_wait_s - 2.0


def test_fetch_out_of_range_offset(shared_broker, topic_name):
    create_topic(shared_broker.bootstrap, topic_name)
    confluent_produce(shared_broker.bootstrap, topic_name, [Out(b"x")])
    with wire.connect(shared_broker.port) as sock:
        sock.sendall(wire.fetch_v4(3, topic_name, 0, 5, max_wait_ms=100))
        (p,) = wire.parse_fetch_v4(wire.read_response(sock, 3))
    assert p.error_code == 1  # OFFSET_OUT_OF_RANGE
    assert p.high_watermark == 1
