"""kcat (Debian's build on librdkafka 2.0, an old client) against a real broker."""

from __future__ import annotations

import json

import pytest

from .clients import (
    Out,
    confluent_consume,
    create_topic,
    kcat,
    kcat_consume,
    kcat_produce,
    kp_consume,
    kp_produce,
)


def _headers(msg: dict) -> list[tuple[str, str | None]]:
    flat = msg.get("headers") or []
    return list(zip(flat[0::2], flat[1::2], strict=True))


def test_metadata_listing(shared_broker, topic_name):
    create_topic(shared_broker.bootstrap, topic_name, partitions=3)
    proc = kcat(["-b", shared_broker.bootstrap, "-L", "-J"])
    assert proc.returncode == 0, proc.stderr.decode()
    md = json.loads(proc.stdout)

    (b,) = md["brokers"]
    assert b["name"] == f"127.0.0.1:{shared_broker.port}"
    assert md["controllerid"] == b["id"]
    (topic,) = [t for t in md["topics"] if t["topic"] == topic_name]
    assert "error" not in topic
    assert sorted(p["partition"] for p in topic["partitions"]) == [0, 1, 2]
    for p in topic["partitions"]:
        assert "error" not in p
        assert p["leader"] == b["id"]
        assert p["replicas"] == [{"id": b["id"]}]
        assert p["isrs"] == [{"id": b["id"]}]

    plain = kcat(["-b", shared_broker.bootstrap, "-L", "-t", topic_name])
    assert plain.returncode == 0, plain.stderr.decode()
    text = plain.stdout.decode()
    assert f'topic "{topic_name}" with 3 partitions:' in text
    assert f"broker {b['id']} at 127.0.0.1:{shared_broker.port}" in text


def test_produce_keys_headers_and_nulls_consumed_by_confluent(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    lines = ["k1:v1", "k2:value two", "no-delimiter", "k4:", ":v5"]
    kcat_produce(bootstrap, topic_name, lines, extra=["-K:", "-Z", "-H", "source=kcat", "-H", "n=1"])

    got = confluent_consume(bootstrap, topic_name, len(lines))
    assert [(g.key, g.value) for g in got] == [
        (b"k1", b"v1"),
        (b"k2", b"value two"),
        (None, b"no-delimiter"),
        (b"k4", None),  # -Z: empty value is sent as NULL
        (None, b"v5"),  # -Z: empty key is sent as NULL
    ]
    for g in got:
        assert g.headers == (("source", b"kcat"), ("n", b"1"))
    assert [g.offset for g in got] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_produced_by_kcat_consumed_by_kafka_python(shared_broker, topic_name, codec):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    lines = [f"key{i}:{codec} record {i} " + "x" * 50 for i in range(25)]
    kcat_produce(bootstrap, topic_name, lines, extra=["-K:", "-z", codec, "-X", "linger.ms=50"])

    got = kp_consume(bootstrap, topic_name, len(lines))
    assert [(g.offset, g.key, g.value) for g in got] == [
        (i, line.split(":", 1)[0].encode(), line.split(":", 1)[1].encode()) for i, line in enumerate(lines)
    ]
    again = kcat_consume(bootstrap, topic_name)
    assert [m["payload"] for m in again] == [line.split(":", 1)[1] for line in lines]


def test_consume_from_beginning_to_end(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    records = [
        Out(b"first", key=b"a", headers=[("h", b"1")], timestamp=1_620_000_000_000),
        Out(None, key=b"tomb", timestamp=1_620_000_000_001),
        Out(b"no-key", timestamp=1_620_000_000_002),
    ]
    kp_produce(bootstrap, topic_name, records)
    got = kcat_consume(bootstrap, topic_name)
    assert [(m["offset"], m["key"], m["payload"]) for m in got] == [
        (0, "a", "first"),
        (1, "tomb", None),
        (2, None, "no-key"),
    ]
    assert [(m["tstype"], m["ts"]) for m in got] == [("create", r.timestamp) for r in records]
    assert _headers(got[0]) == [("h", "1")]
    assert all(m["partition"] == 0 and m["topic"] == topic_name for m in got)


def test_consume_from_offsets_and_timestamps(shared_broker, topic_name):
    bootstrap = shared_broker.bootstrap
    create_topic(bootstrap, topic_name)
    t0 = 1_630_000_000_000
    kp_produce(bootstrap, topic_name, [Out(b"r%d" % i, timestamp=t0 + 1000 * i) for i in range(6)])

    assert [m["offset"] for m in kcat_consume(bootstrap, topic_name, offset="4")] == [4, 5]
    assert [m["offset"] for m in kcat_consume(bootstrap, topic_name, offset="-2")] == [4, 5]
    assert kcat_consume(bootstrap, topic_name, offset="end") == []
    # s@ts looks the start offset up with ListOffsets by timestamp.
    assert [m["payload"] for m in kcat_consume(bootstrap, topic_name, offset=f"s@{t0 + 2500}")] == [
        "r3",
        "r4",
        "r5",
    ]

    proc = kcat(["-b", bootstrap, "-Q", "-J", "-t", f"{topic_name}:0:{t0 + 1000}"])
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)[topic_name]["0"]["offset"] == 1


def test_empty_topic_consume_exits_at_end(shared_broker, topic_name):
    create_topic(shared_broker.bootstrap, topic_name)
    assert kcat_consume(shared_broker.bootstrap, topic_name) == []
