"""BrokerConfig: loading, strictness, synonyms, typed access and DescribeConfigs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moldau.config import (
    BROKER_CONFIGS,
    TOPIC_CONFIGS,
    BrokerConfig,
    ConfigError,
    ConfigSource,
    ConfigType,
    DescribedSynonym,
    UnknownConfigError,
    broker_config_synonyms,
)

S = ConfigSource


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.properties"
    path.write_text(text, encoding="utf-8")
    return path


# --- loading ---------------------------------------------------------------------------------


def test_defaults() -> None:
    cfg = BrokerConfig()
    assert cfg.node_id == cfg.broker_id == 1
    assert cfg.listeners == ["PLAINTEXT://127.0.0.1:9092"]
    assert cfg.advertised_listeners == ["PLAINTEXT://127.0.0.1:9092"]
    assert cfg.get("num.partitions") == 1
    assert cfg.get("default.replication.factor") == 1
    assert cfg.get("auto.create.topics.enable") is True
    assert cfg.get("delete.topic.enable") is True
    assert cfg.get("socket.request.max.bytes") == 104857600
    assert cfg.get("connections.max.idle.ms") == 600000
    assert cfg.get("message.max.bytes") == 1048588
    assert cfg.get("offsets.topic.num.partitions") == 50
    assert cfg.get("log.cleanup.policy") == ("delete",)
    assert cfg.get("log.retention.ms") is None
    assert cfg.log_retention_ms == 7 * 24 * 3600 * 1000
    assert cfg.log_dirs == ["/tmp/moldau-logs"]
    assert cfg.sources() == {}
    assert cfg.listener_security_protocol_map == {
        "SASL_SSL": "SASL_SSL", "PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT",
    }  # fmt: skip


def test_load_file_then_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "num.partitions=3\nlog.dirs=/data/a, /data/b\nlog.retention.hours = 24\n")
    cfg = BrokerConfig.load(str(path), {"num.partitions": "6", "auto.create.topics.enable": "false"})
    assert cfg.get("num.partitions") == 6
    assert cfg.num_partitions == 6
    assert cfg.log_dirs == ["/data/a", "/data/b"]
    assert cfg.log_retention_ms == 24 * 3600 * 1000
    assert cfg.auto_create_topics_enable is False
    assert cfg.sources() == {
        "num.partitions": S.STATIC_BROKER_CONFIG,
        "log.dirs": S.STATIC_BROKER_CONFIG,
        "log.retention.hours": S.STATIC_BROKER_CONFIG,
        "auto.create.topics.enable": S.STATIC_BROKER_CONFIG,
    }
    assert cfg.is_set("log.dirs") and not cfg.is_set("log.dir")
    assert cfg.settings()["log.dirs"] == "/data/a, /data/b"


def test_load_without_file() -> None:
    assert BrokerConfig.load(None, {}).get("num.partitions") == 1
    assert BrokerConfig.load(None).node_id == 1


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        BrokerConfig.load(str(tmp_path / "absent.properties"), {})


def test_bad_file_syntax_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a=\\uZZZZ\n")
    with pytest.raises(ConfigError, match=r"server\.properties: line 1: Malformed"):
        BrokerConfig.load(path, {})
    path.write_bytes(b"log.dir=\xff\xfe\n")
    with pytest.raises(ConfigError, match=re.escape("server.properties")):
        BrokerConfig.load(path, {})


def test_invalid_value_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "num.partitions=abc\n")
    with pytest.raises(ConfigError) as e:
        BrokerConfig.load(path, {})
    assert str(e.value) == "Invalid value abc for configuration num.partitions: Not a number of type INT"
    with pytest.raises(ConfigError, match=re.escape("num.partitions: Value must be at least 1")):
        BrokerConfig({"num.partitions": "0"})
    with pytest.raises(ConfigError, match=re.escape("log.segment.bytes: Value must be at least 1048576")):
        BrokerConfig({"log.segment.bytes": "1000"})
    for internal in ("offsets.topic.segment.bytes", "transaction.state.log.segment.bytes"):
        # below the topic-level minimum the internal topic could never be created
        with pytest.raises(ConfigError, match=re.escape(f"{internal}: Value must be at least 1048576")):
            BrokerConfig({internal: "524288"})
    with pytest.raises(
        ConfigError, match=re.escape("offsets.topic.replication.factor: Not a number of type SHORT")
    ):
        BrokerConfig({"offsets.topic.replication.factor": "40000"})


def test_override_beats_file_even_when_the_file_value_is_bad(tmp_path: Path) -> None:
    path = write(tmp_path, "num.partitions=abc\n")
    assert BrokerConfig.load(path, {"num.partitions": "2"}).num_partitions == 2


def test_unknown_key_is_rejected_with_advice() -> None:
    with pytest.raises(UnknownConfigError) as e:
        BrokerConfig({"num.partitons": "3"})
    message = str(e.value)
    assert "num.partitons" in message
    assert "did you mean num.partitions?" in message
    assert "remove it" in message
    assert e.value.key == "num.partitons"


def test_topic_config_in_broker_file_points_to_its_broker_name() -> None:
    hint = "retention.ms is a topic config; its broker-wide default is log.retention.ms"
    with pytest.raises(UnknownConfigError, match=re.escape(hint)):
        BrokerConfig({"retention.ms": "1000"})
    with pytest.raises(UnknownConfigError, match="without a broker-wide default"):
        BrokerConfig({"remote.storage.enable": "false"})


@pytest.mark.parametrize(
    "key",
    ["process.roles", "controller.quorum.voters", "controller.quorum.bootstrap.servers",
     "controller.listener.names", "controller.quorum.election.timeout.ms", "metadata.log.dir"],
)  # fmt: skip
def test_kraft_settings_are_rejected_with_an_explanation(key: str) -> None:
    with pytest.raises(UnknownConfigError) as e:
        BrokerConfig({key: "x"})
    assert str(e.value).startswith(f"Unsupported broker config {key}: Moldau has no KRaft controller")
    assert "ZooKeeper" in str(e.value)


def test_removed_in_kafka_4_0_are_unknown() -> None:
    for key in ["log.message.format.version", "log.message.timestamp.difference.max.ms", "zookeeper.connect"]:
        with pytest.raises(UnknownConfigError):
            BrokerConfig({key: "1"})


def test_accepted_but_unused() -> None:
    cfg = BrokerConfig(
        {"num.io.threads": "16", "num.network.threads": "4", "log.message.downconversion.enable": "false"}
    )
    assert cfg.get("num.io.threads") == 16
    assert "not used" in BROKER_CONFIGS["num.io.threads"].doc


# --- synonyms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected_ms"),
    [
        ({}, 168 * 3600_000),
        ({"log.retention.hours": "1"}, 3600_000),
        ({"log.retention.minutes": "5", "log.retention.hours": "1"}, 300_000),
        ({"log.retention.ms": "1234", "log.retention.minutes": "5", "log.retention.hours": "1"}, 1234),
        ({"log.retention.ms": "-1"}, -1),
        ({"log.retention.ms": "-5"}, -1),
        ({"log.retention.hours": "-1"}, -1),
        ({"log.retention.minutes": "-1", "log.retention.hours": "1"}, -1),
    ],
)
def test_retention_precedence(settings: dict[str, str], expected_ms: int) -> None:
    cfg = BrokerConfig(settings)
    assert cfg.log_retention_ms == expected_ms
    assert cfg.default_log_config()["retention.ms"] == expected_ms


def test_zero_retention_is_rejected() -> None:
    with pytest.raises(ConfigError, match=re.escape("log.retention.ms: retention must be -1")):
        BrokerConfig({"log.retention.ms": "0"})
    with pytest.raises(ConfigError) as e:
        BrokerConfig({"log.retention.hours": "0"})
    assert e.value.key == "log.retention.hours"


def test_roll_and_jitter_precedence() -> None:
    assert BrokerConfig().log_roll_ms == 168 * 3600_000
    assert BrokerConfig({"log.roll.hours": "2"}).log_roll_ms == 2 * 3600_000
    assert BrokerConfig({"log.roll.ms": "500", "log.roll.hours": "2"}).log_roll_ms == 500
    assert BrokerConfig().log_roll_jitter_ms == 0
    assert BrokerConfig({"log.roll.jitter.hours": "1"}).log_roll_jitter_ms == 3600_000
    assert BrokerConfig({"log.roll.jitter.ms": "7", "log.roll.jitter.hours": "1"}).log_roll_jitter_ms == 7


def test_derived_topic_default_out_of_range_names_the_broker_key() -> None:
    with pytest.raises(ConfigError) as e:
        BrokerConfig({"log.roll.ms": "0"})
    assert e.value.key == "log.roll.ms"
    assert "segment.ms" in str(e.value)


def test_flush_interval_falls_back_to_scheduler_interval() -> None:
    assert BrokerConfig().log_flush_interval_ms == 2**63 - 1
    assert BrokerConfig({"log.flush.scheduler.interval.ms": "3000"}).log_flush_interval_ms == 3000
    assert (
        BrokerConfig(
            {"log.flush.interval.ms": "10", "log.flush.scheduler.interval.ms": "3000"}
        ).log_flush_interval_ms
        == 10
    )


def test_log_dirs_beats_log_dir() -> None:
    assert BrokerConfig({"log.dir": "/one"}).log_dirs == ["/one"]
    assert BrokerConfig({"log.dir": "/one", "log.dirs": "/two,/three"}).log_dirs == ["/two", "/three"]
    with pytest.raises(ConfigError) as e:
        BrokerConfig({"log.dirs": " , "})
    assert e.value.key == "log.dirs"


def test_node_id_and_broker_id_are_one_setting() -> None:
    cfg = BrokerConfig({"node.id": "5"})
    assert (cfg.node_id, cfg.broker_id) == (5, 5)
    assert cfg.sources() == {"node.id": S.STATIC_BROKER_CONFIG}
    cfg = BrokerConfig({"broker.id": "7"})
    assert (cfg.node_id, cfg.broker_id, cfg.get("node.id")) == (7, 7, 7)
    assert BrokerConfig({"broker.id": "3", "node.id": "3"}).node_id == 3
    with pytest.raises(ConfigError) as e:
        BrokerConfig({"broker.id": "3", "node.id": "4"})
    assert e.value.key == "broker.id"
    assert "must equal node.id (4)" in str(e.value)


def test_broker_synonym_groups() -> None:
    assert broker_config_synonyms("log.retention.hours") == [
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ]
    assert broker_config_synonyms("log.roll.hours") == ["log.roll.ms", "log.roll.hours"]
    assert broker_config_synonyms("log.flush.interval.ms") == [
        "log.flush.interval.ms",
        "log.flush.scheduler.interval.ms",
    ]
    assert broker_config_synonyms("log.flush.scheduler.interval.ms") == ["log.flush.scheduler.interval.ms"]
    assert broker_config_synonyms("num.partitions") == ["num.partitions"]


# --- listeners -------------------------------------------------------------------------------


def test_listeners_and_advertised_listeners() -> None:
    cfg = BrokerConfig(
        {
            "listeners": "PLAINTEXT://0.0.0.0:9092, INTERNAL://[::1]:9093",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT",
            "advertised.listeners": "PLAINTEXT://broker.example:9092",
        }
    )
    assert cfg.listeners == ["PLAINTEXT://0.0.0.0:9092", "INTERNAL://[::1]:9093"]
    assert cfg.advertised_listeners == ["PLAINTEXT://broker.example:9092"]
    assert cfg.get("listeners") == "PLAINTEXT://0.0.0.0:9092, INTERNAL://[::1]:9093"
    assert BrokerConfig({"listeners": "PLAINTEXT://:9092"}).listeners == ["PLAINTEXT://:9092"]


@pytest.mark.parametrize(
    ("settings", "key", "fragment"),
    [
        ({"listeners": "127.0.0.1:9092"}, "listeners", "NAME://host:port"),
        ({"listeners": "PLAINTEXT://a:1,PLAINTEXT://b:2"}, "listeners", "used twice"),
        ({"listeners": "CLIENT://a:1"}, "listeners", "no security protocol for listener CLIENT"),
        (
            {"listener.security.protocol.map": "PLAINTEXT:TLS"},
            "listener.security.protocol.map",
            "PROTOCOL one of",
        ),
        ({"advertised.listeners": "SSL://a:1"}, "advertised.listeners", "SSL is not among the listeners"),
        ({"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners", "wildcard"),
    ],
)
def test_listener_mistakes(settings: dict[str, str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        BrokerConfig(settings)
    assert e.value.key == key
    assert fragment in str(e.value)


# --- topic defaults --------------------------------------------------------------------------


def test_default_log_config_covers_every_topic_config() -> None:
    defaults = BrokerConfig().default_log_config()
    assert set(defaults) == set(TOPIC_CONFIGS)
    assert defaults == {name: d.default for name, d in TOPIC_CONFIGS.items()}


def test_default_log_config_follows_broker_settings() -> None:
    cfg = BrokerConfig(
        {
            "log.segment.bytes": "2097152",
            "log.cleanup.policy": "compact,delete",
            "message.max.bytes": "5000000",
            "log.cleaner.min.cleanable.ratio": "0.25",
            "compression.type": "zstd",
            "log.message.timestamp.type": "LogAppendTime",
            "min.insync.replicas": "2",
            "log.preallocate": "true",
            "log.roll.hours": "1",
        }
    )
    defaults = cfg.default_log_config()
    assert defaults["segment.bytes"] == 2097152
    assert defaults["cleanup.policy"] == ("compact", "delete")
    assert defaults["max.message.bytes"] == 5000000
    assert defaults["min.cleanable.dirty.ratio"] == 0.25
    assert defaults["compression.type"] == "zstd"
    assert defaults["message.timestamp.type"] == "LogAppendTime"
    assert defaults["min.insync.replicas"] == 2
    assert defaults["preallocate"] is True
    assert defaults["segment.ms"] == 3600_000
    defaults["segment.ms"] = 0  # a copy: the config itself is unchanged
    assert cfg.default_log_config()["segment.ms"] == 3600_000


# --- DescribeConfigs for the broker ----------------------------------------------------------


def test_describe_broker() -> None:
    cfg = BrokerConfig({"log.retention.hours": "1", "num.partitions": "4"})
    entries = {e.name: e for e in cfg.describe(include_synonyms=True)}
    assert set(entries) == set(BROKER_CONFIGS)
    assert entries["num.partitions"].read_only and entries["log.retention.hours"].read_only
    assert not entries["log.retention.ms"].read_only  # changeable dynamically

    hours = entries["log.retention.hours"]
    assert (hours.value, hours.source, hours.type) == ("1", S.STATIC_BROKER_CONFIG, ConfigType.INT)
    assert hours.synonyms == [
        DescribedSynonym("log.retention.hours", "1", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "168", S.DEFAULT_CONFIG),
    ]
    ms = entries["log.retention.ms"]
    assert (ms.value, ms.source, ms.synonyms) == (None, S.DEFAULT_CONFIG, [])
    partitions = entries["num.partitions"]
    assert partitions.synonyms == [
        DescribedSynonym("num.partitions", "4", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("num.partitions", "1", S.DEFAULT_CONFIG),
    ]
    assert entries["log.cleaner.io.max.bytes.per.second"].value == "1.7976931348623157E308"
    assert entries["log.cleanup.policy"].value == "delete"
    assert entries["advertised.listeners"].value is None


def test_describe_broker_with_ms_over_hours() -> None:
    cfg = BrokerConfig({"log.retention.ms": "1000", "log.retention.hours": "2"})
    [ms] = cfg.describe(include_synonyms=True, keys=["log.retention.ms"])
    assert ms.synonyms == [
        DescribedSynonym("log.retention.ms", "1000", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "2", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "168", S.DEFAULT_CONFIG),
    ]


def test_describe_broker_id_copied_from_node_id() -> None:
    [entry] = BrokerConfig({"node.id": "9"}).describe(include_synonyms=True, keys=["broker.id"])
    assert (entry.value, entry.source) == ("9", S.STATIC_BROKER_CONFIG)


def test_describe_broker_options() -> None:
    cfg = BrokerConfig({"num.partitions": "4"})
    [entry] = cfg.describe(include_synonyms=False, include_docs=True, keys=["num.partitions", "bogus"])
    assert (entry.source, entry.synonyms) == (S.STATIC_BROKER_CONFIG, [])
    assert entry.doc == BROKER_CONFIGS["num.partitions"].doc


def test_every_broker_config_is_documented_and_defaults_are_valid() -> None:
    for d in BROKER_CONFIGS.values():
        assert d.doc.strip(), d.name
        d.validate(d.default)
        if d.default is not None:
            assert d.parse(d.to_string(d.default) or "") == d.default, d.name


def test_repr_shows_settings() -> None:
    assert repr(BrokerConfig({"num.partitions": "2"})) == "BrokerConfig({'num.partitions': '2'})"
