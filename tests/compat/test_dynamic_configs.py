"""Dynamic broker configs end to end: a real broker, changed through IncrementalAlterConfigs
and AlterConfigs on BROKER resources, described by real clients, restarted.

confluent-kafka, kafka-python and aiokafka all refuse a BROKER resource named "" (the
cluster-wide defaults) before sending anything, so the cluster-wide requests here go over a
raw socket (IncrementalAlterConfigs v0, DescribeConfigs v1, encoded with ``wire.py``'s
primitives); everything per broker goes through the real clients.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import TypeVar

import confluent_kafka
import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, ResourceType
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType

from ..conftest import BrokerFactory, BrokerProcess
from .clients import Out, admin, confluent_consumer, confluent_produce, create_topic
from .wire import Reader, closed_by_peer, connect, i8, i32, read_response, request, string

HOUR_MS = 3_600_000
WEEK_MS = 7 * 24 * HOUR_MS
BROKER_ID = "1"

INVALID_REQUEST = 42
INVALID_CONFIG = 40
SET, DELETE, APPEND = 0, 1, 2
_SOURCE_DYNAMIC_DEFAULT = 3

T = TypeVar("T")


# --- raw requests for the cluster-wide resource ----------------------------------------------

_correlation = count(1)


def incremental_alter(
    sock: socket.socket, name: str, ops: list[tuple[str, int, str | None]], validate_only: bool = False
) -> tuple[int, str | None]:
    """IncrementalAlterConfigs v0 on one BROKER resource; (error code, message)."""
    correlation_id = next(_correlation)
    configs = b"".join(string(key) + i8(op) + string(value) for key, op, value in ops)
    body = i32(1) + i8(4) + string(name) + i32(len(ops)) + configs + i8(1 if validate_only else 0)
    sock.sendall(request(44, 0, correlation_id, body))
    r = read_response(sock, correlation_id)
    r.i32()  # throttle
    assert r.i32() == 1
    code, message = r.i16(), r.string()
    assert (r.i8(), r.string()) == (4, name)
    return code, message


@dataclass
class Described:
    value: str | None
    read_only: bool
    source: int
    synonyms: list[tuple[str, str | None, int]]


def describe_broker(sock: socket.socket, name: str) -> tuple[int, dict[str, Described]]:
    """DescribeConfigs v1 (with synonyms) on one BROKER resource; (error code, entries)."""
    correlation_id = next(_correlation)
    body = i32(1) + i8(4) + string(name) + i32(-1) + i8(1)
    sock.sendall(request(32, 1, correlation_id, body))
    r: Reader = read_response(sock, correlation_id)
    r.i32()  # throttle
    assert r.i32() == 1
    code = r.i16()
    r.string()
    assert (r.i8(), r.string()) == (4, name)
    entries: dict[str, Described] = {}
    for _ in range(max(r.i32(), 0)):
        key, value, read_only, source = r.string(), r.string(), r.i8(), r.i8()
        r.i8()  # sensitive
        synonyms = [(r.string() or "", r.string(), r.i8()) for _ in range(r.i32())]
        entries[key or ""] = Described(value, bool(read_only), source, synonyms)
    return code, entries


# --- helpers --------------------------------------------------------------------------------


def eventually(check: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not within {timeout} s: {what} (last: {value!r})"
            return value
        time.sleep(0.1)


def describe_topic(bootstrap: str, topic: str) -> dict[str, ConfigEntry]:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    a = admin(bootstrap)
    return a.describe_configs([resource])[resource].result(10)


def describe_this_broker(bootstrap: str) -> dict[str, ConfigEntry]:
    resource = ConfigResource(ResourceType.BROKER, BROKER_ID)
    a = admin(bootstrap)
    return a.describe_configs([resource])[resource].result(10)


def alter_this_broker(bootstrap: str, *entries: ConfigEntry, validate_only: bool = False) -> None:
    resource = ConfigResource(ResourceType.BROKER, BROKER_ID, incremental_configs=list(entries))
    a = admin(bootstrap)
    a.incremental_alter_configs([resource], validate_only=validate_only)[resource].result(10)


def set_entry(name: str, value: str) -> ConfigEntry:
    return ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)


def refused(bootstrap: str, *entries: ConfigEntry) -> confluent_kafka.KafkaError:
    with pytest.raises(confluent_kafka.KafkaException) as exc:
        alter_this_broker(bootstrap, *entries)
    error = exc.value.args[0]
    assert isinstance(error, confluent_kafka.KafkaError)
    return error


def synonyms_of(entry: ConfigEntry) -> list[tuple[str, str, ConfigSource]]:
    """The synonyms confluent-kafka reports; it keys them by name, so a name set in two
    layers shows once (kafka-python keeps the whole list)."""
    return [(s.name, s.value, ConfigSource(s.source)) for s in entry.synonyms.values()]


def low_watermark(bootstrap: str, topic: str) -> int:
    c = confluent_consumer(bootstrap)
    try:
        low, _ = c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0), timeout=10)
        return int(low)
    finally:
        c.close()


@pytest.fixture
def raw(broker: BrokerProcess) -> Iterator[socket.socket]:
    sock = connect(broker.port)
    yield sock
    sock.close()


# --- tests ----------------------------------------------------------------------------------


def test_cluster_wide_retention_reaches_topics_and_survives_restart(
    broker: BrokerProcess, raw: socket.socket, topic_name: str
) -> None:
    bootstrap = broker.bootstrap
    own = f"{topic_name}-own"
    create_topic(bootstrap, topic_name)
    create_topic(bootstrap, own, config={"retention.ms": "5000"})

    assert incremental_alter(raw, "", [("log.retention.ms", SET, str(HOUR_MS))]) == (0, None)

    retention = describe_topic(bootstrap, topic_name)["retention.ms"]
    assert retention.value == str(HOUR_MS)
    assert ConfigSource(retention.source) == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
    assert synonyms_of(retention) == [
        ("log.retention.ms", str(HOUR_MS), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG),
    ]
    overridden = describe_topic(bootstrap, own)["retention.ms"]
    assert (overridden.value, ConfigSource(overridden.source)) == ("5000", ConfigSource.DYNAMIC_TOPIC_CONFIG)

    # The cluster-wide resource lists only its own layer.
    code, defaults = describe_broker(raw, "")
    assert code == 0 and list(defaults) == ["log.retention.ms"]
    assert defaults["log.retention.ms"] == Described(
        str(HOUR_MS),
        False,
        _SOURCE_DYNAMIC_DEFAULT,
        [("log.retention.ms", str(HOUR_MS), _SOURCE_DYNAMIC_DEFAULT)],
    )

    # This broker's own setting beats the cluster-wide one.
    alter_this_broker(bootstrap, set_entry("log.retention.ms", str(2 * HOUR_MS)))
    retention = describe_topic(bootstrap, topic_name)["retention.ms"]
    assert (retention.value, ConfigSource(retention.source)) == (
        str(2 * HOUR_MS),
        ConfigSource.DYNAMIC_BROKER_CONFIG,
    )
    entries = describe_this_broker(bootstrap)
    assert entries["log.retention.ms"].value == str(2 * HOUR_MS)
    assert ConfigSource(entries["log.retention.ms"].source) == ConfigSource.DYNAMIC_BROKER_CONFIG
    assert not entries["log.retention.ms"].is_read_only
    assert entries["num.partitions"].is_read_only

    stored = json.loads((broker.data_dir / "moldau-metadata.json").read_text())
    assert stored["broker_configs"] == {
        "": {"log.retention.ms": str(HOUR_MS)},
        BROKER_ID: {"log.retention.ms": str(2 * HOUR_MS)},
    }

    raw.close()
    broker.restart()
    retention = describe_topic(bootstrap, topic_name)["retention.ms"]
    assert (retention.value, ConfigSource(retention.source)) == (
        str(2 * HOUR_MS),
        ConfigSource.DYNAMIC_BROKER_CONFIG,
    )
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = kadmin.describe_configs(
            [KpConfigResource(ConfigResourceType.TOPIC, topic_name, ["retention.ms"])], include_synonyms=True
        )
    finally:
        kadmin.close()
    entry = described["topic"][topic_name]["retention.ms"]
    assert entry["config_source"] == "DYNAMIC_BROKER_CONFIG"
    assert [(s["name"], s["value"], s["source"]) for s in entry["synonyms"]] == [
        ("log.retention.ms", str(2 * HOUR_MS), "DYNAMIC_BROKER_CONFIG"),
        ("log.retention.ms", str(HOUR_MS), "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("log.retention.hours", "168", "DEFAULT_CONFIG"),
    ]

    # Deleting both returns the topic to the built-in default.
    alter_this_broker(
        bootstrap, ConfigEntry("log.retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)
    )
    with connect(broker.port) as sock:
        assert incremental_alter(sock, "", [("log.retention.ms", DELETE, None)]) == (0, None)
    retention = describe_topic(bootstrap, topic_name)["retention.ms"]
    assert (retention.value, ConfigSource(retention.source)) == (str(WEEK_MS), ConfigSource.DEFAULT_CONFIG)


def test_changed_retention_default_deletes_old_segments_at_once(
    broker_factory: BrokerFactory, topic_name: str
) -> None:
    broker = broker_factory({"log.retention.check.interval.ms": "200", "log.segment.delete.delay.ms": "200"})
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name, config={"segment.ms": "50"})
    hour_ago = int(time.time() * 1000) - HOUR_MS
    for i in range(2):  # two old segments, then an active one
        confluent_produce(bootstrap, topic_name, [Out(f"old-{i}".encode(), timestamp=hour_ago)])
        time.sleep(0.15)
    confluent_produce(bootstrap, topic_name, [Out(b"new")])
    time.sleep(0.5)
    assert low_watermark(bootstrap, topic_name) == 0  # a week of retention keeps them

    alter_this_broker(bootstrap, set_entry("log.retention.ms", "60000"))
    eventually(lambda: low_watermark(bootstrap, topic_name) == 2, what="old segments deleted")


def test_refusals(broker: BrokerProcess, raw: socket.socket) -> None:
    bootstrap = broker.bootstrap
    error = refused(bootstrap, set_entry("num.partitions", "3"))
    assert error.code() == confluent_kafka.KafkaError.INVALID_REQUEST
    assert error.str() == "Cannot update these configs dynamically: Set(num.partitions)"

    error = refused(bootstrap, set_entry("auto.create.topics.enable", "false"))
    assert error.code() == confluent_kafka.KafkaError.INVALID_REQUEST

    error = refused(bootstrap, set_entry("log.cleaner.threads", "2"))
    assert error.code() == confluent_kafka.KafkaError.INVALID_REQUEST
    assert "restart" in error.str()

    error = refused(bootstrap, set_entry("no.such.config", "1"))
    assert error.code() == confluent_kafka.KafkaError.INVALID_CONFIG

    error = refused(bootstrap, set_entry("log.retention.ms", "soon"))
    assert error.code() == confluent_kafka.KafkaError.INVALID_REQUEST
    assert error.str() == "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"

    # The cluster-wide resource follows the same rules; another broker's id is refused.
    code, message = incremental_alter(raw, "", [("num.partitions", SET, "3")])
    assert (code, message) == (
        INVALID_REQUEST,
        "Cannot update these configs dynamically: Set(num.partitions)",
    )
    code, message = incremental_alter(raw, "42", [("log.retention.ms", SET, "1000")])
    assert (code, message) == (INVALID_REQUEST, "Unexpected broker id, expected 1, but received 42")
    code, _ = describe_broker(raw, "42")
    assert code == INVALID_REQUEST

    # validate_only checks without changing anything.
    assert incremental_alter(raw, "", [("log.retention.ms", SET, "1000")], validate_only=True) == (0, None)
    alter_this_broker(bootstrap, set_entry("log.retention.ms", "1000"), validate_only=True)
    assert describe_this_broker(bootstrap)["log.retention.ms"].value is None
    assert describe_broker(raw, "")[1] == {}

    # Nothing refused was stored.
    stored = json.loads((broker.data_dir / "moldau-metadata.json").read_text())
    assert stored["broker_configs"] == {}


def test_kafka_python_alter_configs_on_a_broker(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    kadmin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        # IncrementalAlterConfigs, APPEND on a list config.
        result = kadmin.alter_configs(
            [
                KpConfigResource(
                    ConfigResourceType.BROKER, BROKER_ID, {"log.cleanup.policy": ("APPEND", "compact")}
                )
            ]
        )
        assert result == {"broker": {BROKER_ID: "OK"}}
        # AlterConfigs (the whole set; the client re-sends the other dynamic keys it finds).
        result = kadmin.alter_configs(
            [KpConfigResource(ConfigResourceType.BROKER, BROKER_ID, {"log.segment.bytes": "2000000"})],
            incremental=False,
        )
        assert result == {"broker": {BROKER_ID: "OK"}}
        # A key that is not dynamic is refused by the broker itself.
        result = kadmin.alter_configs(
            [KpConfigResource(ConfigResourceType.BROKER, BROKER_ID, {"num.partitions": "2"})],
            raise_on_unknown=False,
        )
        assert "Cannot update these configs dynamically: Set(num.partitions)" in result["broker"][BROKER_ID]
        dynamic = kadmin.describe_configs(
            [KpConfigResource(ConfigResourceType.BROKER, BROKER_ID)], config_filter="modified"
        )["broker"][BROKER_ID]
    finally:
        kadmin.close()
    assert {name: c["value"] for name, c in dynamic.items()} == {
        "log.cleanup.policy": "delete,compact",
        "log.segment.bytes": "2000000",
    }
    configs = describe_topic(bootstrap, topic_name)
    assert (configs["cleanup.policy"].value, ConfigSource(configs["cleanup.policy"].source)) == (
        "delete,compact",
        ConfigSource.DYNAMIC_BROKER_CONFIG,
    )
    assert configs["segment.bytes"].value == "2000000"


def test_max_connections_takes_effect_at_once(broker: BrokerProcess, raw: socket.socket) -> None:
    assert incremental_alter(raw, BROKER_ID, [("max.connections", SET, "1")]) == (0, None)
    late = connect(broker.port)
    try:
        assert closed_by_peer(late), "a second connection should be refused"
    finally:
        late.close()
    assert incremental_alter(raw, BROKER_ID, [("max.connections", DELETE, None)]) == (0, None)
    with connect(broker.port) as again:
        code, entries = describe_broker(again, BROKER_ID)
    assert code == 0 and entries["max.connections"].value == "2147483647"
