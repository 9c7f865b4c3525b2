"""Dynamic broker configs: layering, DescribeConfigs sources and synonyms, the checks of a
change, incremental operations, reading stored layers back, and the metadata image."""

from __future__ import annotations

import pytest

from moldau.cluster.metadata import MetadataImage
from moldau.config import BROKER_CONFIGS, BrokerConfig, ConfigError, ConfigSource, DescribedSynonym
from moldau.config.broker_defs import DYNAMIC_BROKER_CONFIGS, DYNAMIC_LOG_CONFIGS, RESTART_ONLY_CONFIGS
from moldau.config.dynamic import (
    APPEND,
    DELETE,
    SET,
    SUBTRACT,
    apply_incremental,
    check_layer,
    replacement_layer,
    usable_layer,
)
from moldau.config.topic import describe_topic_configs, effective_topic_config
from moldau.protocol.errors import ErrorCode, KafkaError

S = ConfigSource
HOUR_MS = 3_600_000


def code_and_message(exc: pytest.ExceptionInfo[KafkaError]) -> tuple[ErrorCode, str]:
    return exc.value.code, str(exc.value)


# --- the sets --------------------------------------------------------------------------------


def test_dynamic_sets_name_broker_configs() -> None:
    assert set(BROKER_CONFIGS) >= DYNAMIC_BROKER_CONFIGS
    assert set(BROKER_CONFIGS) >= RESTART_ONLY_CONFIGS
    assert not DYNAMIC_BROKER_CONFIGS & RESTART_ONLY_CONFIGS
    assert {
        "log.retention.ms",
        "log.roll.ms",
        "log.cleanup.policy",
        "message.max.bytes",
    } <= DYNAMIC_LOG_CONFIGS
    assert {
        "min.insync.replicas",
        "compression.type",
        "unclean.leader.election.enable",
    } <= DYNAMIC_LOG_CONFIGS
    # Only the first name of a synonym group is dynamic, as in Kafka.
    assert not {"log.retention.hours", "log.retention.minutes", "log.roll.hours"} & DYNAMIC_BROKER_CONFIGS
    assert "log.flush.scheduler.interval.ms" not in DYNAMIC_BROKER_CONFIGS
    assert "max.connections" in DYNAMIC_BROKER_CONFIGS
    for fixed in ("num.partitions", "auto.create.topics.enable", "connections.max.idle.ms", "log.dirs"):
        assert fixed not in DYNAMIC_BROKER_CONFIGS | RESTART_ONLY_CONFIGS


# --- layering --------------------------------------------------------------------------------


def test_layers_in_precedence_order() -> None:
    cfg = BrokerConfig({"log.retention.ms": "1000", "num.partitions": "3"})
    with_default = cfg.with_dynamic(default={"log.retention.ms": "2000"})
    assert with_default.get("log.retention.ms") == 2000
    assert with_default.log_retention_ms == 2000
    both = with_default.with_dynamic(per_broker={"log.retention.ms": "3000"})
    assert both.log_retention_ms == 3000
    assert both.get("num.partitions") == 3
    assert both.sources() == {
        "log.retention.ms": S.DYNAMIC_BROKER_CONFIG,
        "num.partitions": S.STATIC_BROKER_CONFIG,
    }
    # The original is untouched; settings() stays the static text.
    assert cfg.log_retention_ms == 1000
    assert both.settings() == {"log.retention.ms": "1000", "num.partitions": "3"}
    assert both.dynamic_layer(per_broker=False) == {"log.retention.ms": "2000"}
    assert both.dynamic_layer(per_broker=True) == {"log.retention.ms": "3000"}


def test_dynamic_ms_hides_static_hours() -> None:
    cfg = BrokerConfig({"log.retention.hours": "24"}).with_dynamic(default={"log.retention.ms": "5000"})
    assert cfg.log_retention_ms == 5000
    # Like Kafka, the overridden synonym falls back to its default in the values in effect...
    assert cfg.get("log.retention.hours") == 168
    # ...while the synonym chain still shows every layer that sets one of the names.
    [ms] = cfg.describe(include_synonyms=True, keys=["log.retention.ms"])
    assert ms.synonyms == [
        DescribedSynonym("log.retention.ms", "5000", S.DYNAMIC_DEFAULT_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "24", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "168", S.DEFAULT_CONFIG),
    ]


def test_update_dynamic_in_place_and_atomic() -> None:
    cfg = BrokerConfig()
    holder = cfg  # e.g. the server keeps the same object
    cfg.update_dynamic(per_broker={"max.connections": "5"})
    assert holder.get("max.connections") == 5
    with pytest.raises(ConfigError):
        cfg.update_dynamic(default={"log.retention.ms": "0"})
    assert holder.get("max.connections") == 5
    assert holder.dynamic_layer(per_broker=False) == {}
    cfg.update_dynamic(per_broker={})
    assert holder.get("max.connections") == 2**31 - 1


def test_topic_defaults_follow_the_layers() -> None:
    cfg = BrokerConfig({"log.segment.bytes": "2000000"})
    cfg.update_dynamic(default={"log.retention.ms": str(HOUR_MS), "log.cleanup.policy": "compact"})
    values = effective_topic_config({}, cfg)
    assert values["retention.ms"] == HOUR_MS
    assert values["cleanup.policy"] == ("compact",)
    assert values["segment.bytes"] == 2_000_000
    assert effective_topic_config({"retention.ms": "10"}, cfg)["retention.ms"] == 10


# --- DescribeConfigs ---------------------------------------------------------------------------


def test_topic_describe_reports_the_dynamic_source() -> None:
    cfg = BrokerConfig().with_dynamic(default={"log.retention.ms": str(HOUR_MS)})
    [entry] = describe_topic_configs({}, cfg, True, False, ["retention.ms"])
    assert (entry.value, entry.source) == (str(HOUR_MS), S.DYNAMIC_DEFAULT_BROKER_CONFIG)
    assert entry.synonyms == [
        DescribedSynonym("log.retention.ms", str(HOUR_MS), S.DYNAMIC_DEFAULT_BROKER_CONFIG),
        DescribedSynonym("log.retention.hours", "168", S.DEFAULT_CONFIG),
    ]

    cfg = cfg.with_dynamic(per_broker={"log.retention.ms": "7200000"})
    [entry] = describe_topic_configs({}, cfg, True, False, ["retention.ms"])
    assert (entry.value, entry.source) == ("7200000", S.DYNAMIC_BROKER_CONFIG)
    assert [s.source for s in entry.synonyms] == [
        S.DYNAMIC_BROKER_CONFIG,
        S.DYNAMIC_DEFAULT_BROKER_CONFIG,
        S.DEFAULT_CONFIG,
    ]
    # A topic override still wins, listed first.
    [entry] = describe_topic_configs({"retention.ms": "5"}, cfg, True, False, ["retention.ms"])
    assert (entry.value, entry.source) == ("5", S.DYNAMIC_TOPIC_CONFIG)
    assert entry.synonyms[0] == DescribedSynonym("retention.ms", "5", S.DYNAMIC_TOPIC_CONFIG)
    assert entry.synonyms[1].source is S.DYNAMIC_BROKER_CONFIG


def test_broker_describe_read_only_and_sources() -> None:
    cfg = BrokerConfig({"num.partitions": "4", "max.connections": "50"})
    cfg.update_dynamic(default={"max.connections": "60"}, per_broker={"max.connections": "70"})
    entries = {e.name: e for e in cfg.describe(include_synonyms=True)}
    assert {name for name, e in entries.items() if not e.read_only} == DYNAMIC_BROKER_CONFIGS
    conns = entries["max.connections"]
    assert (conns.value, conns.source) == ("70", S.DYNAMIC_BROKER_CONFIG)
    assert conns.synonyms == [
        DescribedSynonym("max.connections", "70", S.DYNAMIC_BROKER_CONFIG),
        DescribedSynonym("max.connections", "60", S.DYNAMIC_DEFAULT_BROKER_CONFIG),
        DescribedSynonym("max.connections", "50", S.STATIC_BROKER_CONFIG),
        DescribedSynonym("max.connections", "2147483647", S.DEFAULT_CONFIG),
    ]
    assert entries["num.partitions"].read_only


def test_cluster_default_resource_lists_only_its_own_layer() -> None:
    cfg = BrokerConfig({"log.retention.hours": "2"})
    assert cfg.describe_cluster_defaults(include_synonyms=True) == []
    cfg.update_dynamic(
        default={"log.retention.ms": "5000", "max.connections": "9"}, per_broker={"log.retention.ms": "6000"}
    )
    entries = cfg.describe_cluster_defaults(include_synonyms=True)
    assert [e.name for e in entries] == ["log.retention.ms", "max.connections"]
    ms = entries[0]
    assert (ms.value, ms.source, ms.read_only) == ("5000", S.DYNAMIC_DEFAULT_BROKER_CONFIG, False)
    assert ms.synonyms == [DescribedSynonym("log.retention.ms", "5000", S.DYNAMIC_DEFAULT_BROKER_CONFIG)]
    [only] = cfg.describe_cluster_defaults(include_synonyms=False, keys=["max.connections", "bogus"])
    assert (only.name, only.synonyms) == ("max.connections", [])


# --- checking a change -------------------------------------------------------------------------


def test_check_layer_accepts_and_returns_the_candidate() -> None:
    cfg = BrokerConfig()
    candidate = check_layer(cfg, False, {"log.retention.ms": "60000", "log.cleanup.policy": "compact,delete"})
    assert candidate.log_retention_ms == 60000
    assert cfg.log_retention_ms == 7 * 24 * HOUR_MS  # untouched
    assert check_layer(cfg, True, {}).dynamic_layer(per_broker=True) == {}


@pytest.mark.parametrize(
    ("layer", "code", "message"),
    [
        (
            {"num.partitions": "3"},
            ErrorCode.INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(num.partitions)",
        ),
        (
            {"log.retention.ms": "1", "auto.create.topics.enable": "false", "log.retention.hours": "1"},
            ErrorCode.INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(auto.create.topics.enable, log.retention.hours)",
        ),
        ({"no.such.config": "1"}, ErrorCode.INVALID_CONFIG, "Unknown broker config no.such.config"),
        (
            {"retention.ms": "1"},
            ErrorCode.INVALID_CONFIG,
            "Unknown broker config retention.ms (retention.ms is a topic config; "
            "its broker-wide default is log.retention.ms)",
        ),
        (
            {"log.retention.ms": "abc"},
            ErrorCode.INVALID_REQUEST,
            "Invalid value abc for configuration log.retention.ms: Not a number of type LONG",
        ),
        (
            {"log.cleanup.policy": "shred"},
            ErrorCode.INVALID_REQUEST,
            "Invalid value shred for configuration log.cleanup.policy: "
            "String must be one of: compact, delete",
        ),
        (
            {"log.retention.ms": "0"},
            ErrorCode.INVALID_REQUEST,
            "Invalid value 0 for configuration log.retention.ms: "
            "retention must be -1 (unlimited) or at least 1 ms",
        ),
        (
            {"num.io.threads": "17"},
            ErrorCode.INVALID_REQUEST,
            "Dynamic thread count update validation failed for num.io.threads=17, "
            "value should not be greater than double the current value 8",
        ),
        (
            {"num.io.threads": "3"},
            ErrorCode.INVALID_REQUEST,
            "Dynamic thread count update validation failed for num.io.threads=3, "
            "value should be at least half the current value 8",
        ),
    ],
)
def test_check_layer_refusals(layer: dict[str, str], code: ErrorCode, message: str) -> None:
    with pytest.raises(KafkaError) as exc:
        check_layer(BrokerConfig(), True, layer)
    assert code_and_message(exc) == (code, message)


def test_restart_only_configs_explain_themselves() -> None:
    with pytest.raises(KafkaError) as exc:
        check_layer(BrokerConfig(), True, {"log.cleaner.threads": "2"})
    code, message = code_and_message(exc)
    assert code is ErrorCode.INVALID_REQUEST
    assert message.startswith("Cannot update these configs dynamically: Set(log.cleaner.threads) (")
    assert "restart" in message


def test_thread_counts_within_a_factor_of_two() -> None:
    cfg = check_layer(BrokerConfig(), False, {"num.io.threads": "16"})
    assert cfg.get("num.io.threads") == 16
    assert check_layer(BrokerConfig(), False, {"num.io.threads": "4"}).get("num.io.threads") == 4


# --- building the layer ------------------------------------------------------------------------


def test_replacement_layer() -> None:
    assert replacement_layer([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}
    with pytest.raises(KafkaError) as exc:
        replacement_layer([("a", None), ("b", None)])
    assert code_and_message(exc) == (ErrorCode.INVALID_REQUEST, "Null value not supported for : a, b")
    with pytest.raises(KafkaError) as exc:
        replacement_layer([("a", "1"), ("a", "2")])
    assert code_and_message(exc) == (ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")


def test_apply_incremental() -> None:
    stored = {"log.retention.ms": "1000", "max.connections": "5"}
    updated = apply_incremental(
        stored,
        [
            ("log.retention.ms", DELETE, None),
            ("log.segment.bytes", SET, "2000000"),
            ("max.connections", SET, "6"),
        ],
    )
    assert updated == {"log.segment.bytes": "2000000", "max.connections": "6"}
    assert stored == {"log.retention.ms": "1000", "max.connections": "5"}

    # APPEND starts from the layer's value, else the built-in default (not the static setting).
    assert apply_incremental({}, [("log.cleanup.policy", APPEND, "compact")]) == {
        "log.cleanup.policy": "delete,compact"
    }
    assert apply_incremental(
        {"log.cleanup.policy": "compact"}, [("log.cleanup.policy", APPEND, "compact")]
    ) == {"log.cleanup.policy": "compact"}
    assert apply_incremental({}, [("log.cleanup.policy", SUBTRACT, "delete")]) == {"log.cleanup.policy": ""}


@pytest.mark.parametrize(
    ("ops", "code", "message"),
    [
        ([("max.connections", APPEND, "1")], ErrorCode.INVALID_REQUEST,
         "Config value append is not allowed for config key: max.connections"),
        ([("max.connections", SUBTRACT, "1")], ErrorCode.INVALID_REQUEST,
         "Config value subtract is not allowed for config key: max.connections"),
        ([("nope", APPEND, "1")], ErrorCode.INVALID_CONFIG, "Unknown broker config nope"),
        ([("max.connections", SET, None)], ErrorCode.INVALID_REQUEST,
         "Null value not supported for : max.connections"),
        ([("a", DELETE, None), ("a", DELETE, None)], ErrorCode.INVALID_REQUEST,
         "Error due to duplicate config keys"),
        ([("a", 7, "x")], ErrorCode.INVALID_REQUEST, "Unknown operations type 7"),
    ],
)  # fmt: skip
def test_apply_incremental_refusals(
    ops: list[tuple[str, int, str | None]], code: ErrorCode, message: str
) -> None:
    with pytest.raises(KafkaError) as exc:
        apply_incremental({}, ops)
    assert code_and_message(exc) == (code, message)


# --- stored layers -----------------------------------------------------------------------------


def test_usable_layer_drops_what_is_no_longer_acceptable() -> None:
    stored = {
        "log.retention.ms": "60000",
        "num.partitions": "3",
        "log.segment.bytes": "tiny",
        "num.io.threads": "64",
    }
    kept, dropped = usable_layer(BrokerConfig(), False, stored)
    # Thread counts read back are not held to the factor-of-two rule of a change.
    assert kept == {"log.retention.ms": "60000", "num.io.threads": "64"}
    assert len(dropped) == 2
    assert dropped[0].startswith("num.partitions=3: Cannot update these configs dynamically")
    assert dropped[1].startswith("log.segment.bytes=tiny: Invalid value tiny")


def test_metadata_image_round_trip() -> None:
    image = MetadataImage("cluster")
    image.set_broker_config("", {"log.retention.ms": "60000"})
    image.set_broker_config("1", {"max.connections": "5"})
    image.set_broker_config("2", {})
    copy = MetadataImage.from_json(image.to_json())
    assert copy.broker_configs == {"": {"log.retention.ms": "60000"}, "1": {"max.connections": "5"}}
    assert copy.broker_config("3") == {}
    copy.set_broker_config("1", {})
    assert "1" not in copy.broker_configs

    # A file written before dynamic broker configs existed.
    old = image.to_json()
    del old["broker_configs"]
    assert MetadataImage.from_json(old).broker_configs == {}
