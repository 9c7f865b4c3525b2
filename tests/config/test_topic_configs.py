"""Topic configs: the Kafka 4.0 set, validation, effective values and DescribeConfigs."""

from __future__ import annotations

import pytest

from moldau.config import (
    BROKER_CONFIGS,
    TOPIC_CONFIG_SYNONYMS,
    TOPIC_CONFIGS,
    BrokerConfig,
    ConfigError,
    ConfigSource,
    ConfigType,
    DescribedConfig,
    DescribedSynonym,
    UnknownConfigError,
    broker_config_synonyms,
    describe_topic_configs,
    effective_topic_config,
    validate_topic_configs,
)
from moldau.protocol.errors import ErrorCode

S = ConfigSource

KAFKA_4_0_TOPIC_CONFIGS = {
    "cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
    "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
    "flush.ms", "follower.replication.throttled.replicas", "index.interval.bytes",
    "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
    "max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable",
    "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable",
    "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
    "segment.ms", "unclean.leader.election.enable",
}  # fmt: skip


def by_name(entries: list[DescribedConfig]) -> dict[str, DescribedConfig]:
    return {e.name: e for e in entries}


def describe_one(name: str, overrides: dict[str, str], broker: BrokerConfig) -> DescribedConfig:
    [entry] = describe_topic_configs(
        overrides, broker, include_synonyms=True, include_docs=False, keys=[name]
    )
    return entry


# --- the table -------------------------------------------------------------------------------


def test_exactly_the_kafka_4_0_topic_configs() -> None:
    assert set(TOPIC_CONFIGS) == KAFKA_4_0_TOPIC_CONFIGS


def test_removed_in_4_0_are_unknown() -> None:
    for key in ["message.format.version", "message.timestamp.difference.max.ms"]:
        with pytest.raises(UnknownConfigError, match=f"Unknown topic config name: {key}"):
            validate_topic_configs({key: "1"})


@pytest.mark.parametrize(
    ("name", "type_", "default"),
    [
        ("cleanup.policy", ConfigType.LIST, ("delete",)),
        ("compression.type", ConfigType.STRING, "producer"),
        ("max.message.bytes", ConfigType.INT, 1048588),
        ("message.timestamp.after.max.ms", ConfigType.LONG, 3600000),
        ("min.cleanable.dirty.ratio", ConfigType.DOUBLE, 0.5),
        ("retention.ms", ConfigType.LONG, 604800000),
        ("segment.bytes", ConfigType.INT, 1073741824),
        ("segment.index.bytes", ConfigType.INT, 10485760),
        ("local.retention.ms", ConfigType.LONG, -2),
        ("flush.ms", ConfigType.LONG, 2**63 - 1),
        ("unclean.leader.election.enable", ConfigType.BOOLEAN, False),
    ],
)
def test_types_and_defaults(name: str, type_: ConfigType, default: object) -> None:
    assert TOPIC_CONFIGS[name].type is type_
    assert TOPIC_CONFIGS[name].default == default


def test_every_synonym_is_a_broker_config_of_a_compatible_type() -> None:
    for topic_name, synonyms in TOPIC_CONFIG_SYNONYMS.items():
        assert topic_name in TOPIC_CONFIGS
        for synonym in synonyms:
            assert synonym.name in BROKER_CONFIGS, synonym.name
        # the describe path expands the first synonym the way the broker groups its names
        assert broker_config_synonyms(synonyms[0].name) == [s.name for s in synonyms]


def test_configs_without_broker_default() -> None:
    assert set(TOPIC_CONFIGS) - set(TOPIC_CONFIG_SYNONYMS) == {
        "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
        "message.downconversion.enable",
        "remote.log.copy.disable",
        "remote.log.delete.on.disable",
        "remote.storage.enable",
    }


def test_every_config_is_documented() -> None:
    for d in TOPIC_CONFIGS.values():
        assert d.doc.strip(), d.name


# --- validation ------------------------------------------------------------------------------


def test_validate_returns_typed_values_of_given_keys() -> None:
    assert validate_topic_configs(
        {"cleanup.policy": "compact, delete", "retention.ms": "-1", "min.cleanable.dirty.ratio": "0.1",
         "preallocate": "TRUE", "message.timestamp.type": "LogAppendTime"}
    ) == {
        "cleanup.policy": ("compact", "delete"), "retention.ms": -1, "min.cleanable.dirty.ratio": 0.1,
        "preallocate": True, "message.timestamp.type": "LogAppendTime",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        (
            "retention.ms",
            "abc",
            "Invalid value abc for configuration retention.ms: Not a number of type LONG",
        ),
        ("retention.ms", "-2", "Invalid value -2 for configuration retention.ms: Value must be at least -1"),
        ("segment.bytes", "1000", "configuration segment.bytes: Value must be at least 1048576"),
        ("max.message.bytes", "2147483648", "configuration max.message.bytes: Not a number of type INT"),
        ("cleanup.policy", "compact,purge", "Invalid value purge for configuration cleanup.policy"),
        ("compression.type", "brotli", "configuration compression.type: String must be one of: uncompressed"),
        (
            "compression.gzip.level",
            "0",
            "configuration compression.gzip.level: Value must be between 1 and 9",
        ),
        ("compression.lz4.level", "18", "configuration compression.lz4.level: Value must be no more than 17"),
        ("compression.zstd.level", "-131073", "compression.zstd.level: Value must be at least -131072"),
        ("min.cleanable.dirty.ratio", "1.01", "min.cleanable.dirty.ratio: Value must be no more than 1"),
        ("min.insync.replicas", "0", "configuration min.insync.replicas: Value must be at least 1"),
        ("unclean.leader.election.enable", "yes", "Expected value to be either true or false"),
        ("message.timestamp.type", "createtime", "String must be one of: CreateTime, LogAppendTime"),
        ("segment.ms", "0", "configuration segment.ms: Value must be at least 1"),
        ("local.retention.ms", "-3", "configuration local.retention.ms: Value must be at least -2"),
        ("leader.replication.throttled.replicas", "0:1,x", "leader.replication.throttled.replicas"),
    ],
)
def test_bad_values_name_the_key(key: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as e:
        validate_topic_configs({"retention.bytes": "100", key: raw})
    assert message in str(e.value)
    assert e.value.key == key
    assert e.value.code is ErrorCode.INVALID_CONFIG


def test_unknown_key_is_invalid_config() -> None:
    with pytest.raises(UnknownConfigError) as e:
        validate_topic_configs({"retention.ms": "1", "retention.msx": "1"})
    assert str(e.value) == "Unknown topic config name: retention.msx"
    assert e.value.key == "retention.msx"
    assert e.value.code is ErrorCode.INVALID_CONFIG


def test_throttled_replicas_format() -> None:
    for good in ["*", " * ", "0:101,1:102", "", "0:1"]:
        validate_topic_configs({"follower.replication.throttled.replicas": good})
    for bad in ["*,0:1", "a:b", "0-1", "0:1:2"]:
        with pytest.raises(ConfigError):
            validate_topic_configs({"follower.replication.throttled.replicas": bad})


def test_compaction_lags_must_be_ordered() -> None:
    with pytest.raises(ConfigError, match=r"min\.compaction\.lag\.ms \(10\) must not be greater") as e:
        validate_topic_configs({"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})
    assert e.value.key == "min.compaction.lag.ms"
    with pytest.raises(ConfigError) as e:
        validate_topic_configs(
            {"max.compaction.lag.ms": "5"}, BrokerConfig({"log.cleaner.min.compaction.lag.ms": "9"})
        )
    assert e.value.key == "max.compaction.lag.ms"
    validate_topic_configs({"min.compaction.lag.ms": "5", "max.compaction.lag.ms": "5"})


def test_remote_storage_cannot_be_enabled() -> None:
    validate_topic_configs({"remote.storage.enable": "false"})
    with pytest.raises(ConfigError, match="no tiered storage") as e:
        validate_topic_configs({"remote.storage.enable": "true"})
    assert e.value.key == "remote.storage.enable"


def test_downconversion_is_accepted_as_a_no_op() -> None:
    assert validate_topic_configs({"message.downconversion.enable": "false"}) == {
        "message.downconversion.enable": False
    }


# --- effective values ------------------------------------------------------------------------


def test_effective_config_layers_override_on_broker_defaults() -> None:
    broker = BrokerConfig(
        {"log.retention.hours": "1", "log.cleanup.policy": "compact", "num.partitions": "3"}
    )
    effective = effective_topic_config({"cleanup.policy": "delete", "segment.bytes": "2097152"}, broker)
    assert set(effective) == KAFKA_4_0_TOPIC_CONFIGS
    assert effective["retention.ms"] == 3600000
    assert effective["cleanup.policy"] == ("delete",)
    assert effective["segment.bytes"] == 2097152
    assert effective["remote.storage.enable"] is False
    assert effective["max.message.bytes"] == 1048588


# --- DescribeConfigs -------------------------------------------------------------------------


def test_describe_defaults_only() -> None:
    entries = describe_topic_configs({}, BrokerConfig(), include_synonyms=True, include_docs=False)
    assert [e.name for e in entries] == sorted(KAFKA_4_0_TOPIC_CONFIGS)
    table = by_name(entries)
    assert table["cleanup.policy"] == DescribedConfig(
        name="cleanup.policy",
        value="delete",
        read_only=False,
        source=S.DEFAULT_CONFIG,
        sensitive=False,
        synonyms=[DescribedSynonym("log.cleanup.policy", "delete", S.DEFAULT_CONFIG)],
        type=ConfigType.LIST,
        doc=None,
    )
    assert table["max.message.bytes"].synonyms == [
        DescribedSynonym("message.max.bytes", "1048588", S.DEFAULT_CONFIG)
    ]
    assert table["min.cleanable.dirty.ratio"].value == "0.5"
    assert table["leader.replication.throttled.replicas"].value == ""
    assert table["leader.replication.throttled.replicas"].synonyms == []
    assert table["remote.storage.enable"].value == "false"
    # Kafka drops log.retention.hours / log.roll.hours from the chain because the first
    # synonym (log.retention.ms / log.roll.ms) has no value anywhere.
    for name, value in [
        ("retention.ms", "604800000"),
        ("segment.ms", "604800000"),
        ("segment.jitter.ms", "0"),
    ]:
        assert (table[name].value, table[name].source, table[name].synonyms) == (value, S.DEFAULT_CONFIG, [])
    # log.flush.interval.ms has no default, so flush.ms reports no synonyms either
    assert table["flush.ms"].synonyms == []
    assert all(not e.read_only and not e.sensitive and e.doc is None for e in entries)


def test_describe_topic_override() -> None:
    broker = BrokerConfig({"log.cleanup.policy": "compact"})
    entry = describe_one("cleanup.policy", {"cleanup.policy": "delete , compact"}, broker)
    assert entry.value == "delete,compact"
    assert entry.source is S.DYNAMIC_TOPIC_CONFIG
    assert entry.synonyms == [
        DescribedSynonym("cleanup.policy", "delete,compact", S.DYNAMIC_TOPIC_CONFIG),
        DescribedSynonym("log.cleanup.policy", "compact", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.cleanup.policy", "delete", S.DEFAULT_CONFIG),
    ]


def test_describe_override_of_a_time_config_keeps_only_itself_over_hours() -> None:
    entry = describe_one("retention.ms", {"retention.ms": "86400000"}, BrokerConfig())
    assert entry.source is S.DYNAMIC_TOPIC_CONFIG
    assert entry.synonyms == [DescribedSynonym("retention.ms", "86400000", S.DYNAMIC_TOPIC_CONFIG)]


def test_describe_broker_level_setting() -> None:
    broker = BrokerConfig({"log.segment.bytes": "2097152", "message.max.bytes": " 2000000 "})
    entry = describe_one("segment.bytes", {}, broker)
    assert (entry.value, entry.source) == ("2097152", S.STATIC_BROKER_CONFIG)
    assert entry.synonyms == [
        DescribedSynonym("log.segment.bytes", "2097152", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.segment.bytes", "1073741824", S.DEFAULT_CONFIG),
    ]
    # the value is rendered from the typed value; the synonym shows the broker text as given
    entry = describe_one("max.message.bytes", {}, broker)
    assert entry.value == "2000000"
    assert entry.synonyms[0] == DescribedSynonym("message.max.bytes", " 2000000 ", S.STATIC_BROKER_CONFIG)


def test_describe_retention_from_each_broker_unit() -> None:
    # log.retention.ms set: it heads the chain; the hours default follows
    broker = BrokerConfig({"log.retention.ms": "5000", "log.retention.hours": "2"})
    entry = describe_one("retention.ms", {}, broker)
    assert (entry.value, entry.source) == ("5000", S.STATIC_BROKER_CONFIG)
    assert entry.synonyms == [
        DescribedSynonym("log.retention.ms", "5000", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "2", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "168", S.DEFAULT_CONFIG),
    ]
    # only hours (or minutes) set: converted value, reported as Kafka does (no chain)
    entry = describe_one("retention.ms", {}, BrokerConfig({"log.retention.hours": "1"}))
    assert (entry.value, entry.source, entry.synonyms) == ("3600000", S.DEFAULT_CONFIG, [])
    entry = describe_one("retention.ms", {}, BrokerConfig({"log.retention.minutes": "2"}))
    assert entry.value == "120000"
    # with an override on top, the broker's ms setting still shows under it
    entry = describe_one("retention.ms", {"retention.ms": "-1"}, broker)
    assert [s.source for s in entry.synonyms] == [
        S.DYNAMIC_TOPIC_CONFIG, S.STATIC_BROKER_CONFIG, S.STATIC_BROKER_CONFIG, S.DEFAULT_CONFIG,
    ]  # fmt: skip


def test_describe_flush_ms_chain() -> None:
    entry = describe_one("flush.ms", {}, BrokerConfig({"log.flush.interval.ms": "1000"}))
    assert entry.value == "1000"
    assert entry.synonyms == [
        DescribedSynonym("log.flush.interval.ms", "1000", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.flush.scheduler.interval.ms", "9223372036854775807", S.DEFAULT_CONFIG),
    ]
    entry = describe_one("flush.ms", {}, BrokerConfig({"log.flush.scheduler.interval.ms": "3000"}))
    assert (entry.value, entry.synonyms) == ("3000", [])


def test_describe_without_synonyms_keeps_the_source() -> None:
    broker = BrokerConfig({"log.cleanup.policy": "compact"})
    [entry] = describe_topic_configs(
        {}, broker, include_synonyms=False, include_docs=True, keys=["cleanup.policy"]
    )
    assert entry.source is S.STATIC_BROKER_CONFIG
    assert entry.synonyms == []
    assert entry.doc == TOPIC_CONFIGS["cleanup.policy"].doc


def test_describe_selected_keys_ignores_unknown_names() -> None:
    entries = describe_topic_configs(
        {}, BrokerConfig(), True, False, keys=["segment.ms", "no.such.config", "flush.ms"]
    )
    assert [e.name for e in entries] == ["flush.ms", "segment.ms"]
    assert len(describe_topic_configs({}, BrokerConfig(), True, False, keys=[])) == len(TOPIC_CONFIGS)


def test_describe_rejects_a_bad_stored_override() -> None:
    with pytest.raises(ConfigError) as e:
        describe_topic_configs({"retention.ms": "soon"}, BrokerConfig(), True, False)
    assert e.value.key == "retention.ms"
