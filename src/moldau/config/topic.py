"""Topic-level configs: Kafka 4.0's full set, their broker-level synonyms, validation, and
the DescribeConfigs answer for a TOPIC resource.

A topic config has three possible origins, in precedence order:

1. an override stored on the topic (set by CreateTopics, AlterConfigs or
   IncrementalAlterConfigs): source ``DYNAMIC_TOPIC_CONFIG``;
2. the broker's value for the config's *synonyms* (``retention.ms`` takes ``log.retention.ms``,
   else ``log.retention.minutes``, else ``log.retention.hours``, converting to milliseconds);
   the broker resolves these in :meth:`BrokerConfig.default_log_config`;
3. the topic config's own default, for configs without a broker synonym
   (``remote.storage.enable``, the replication throttles, ...).

Who calls this: the CreateTopics / AlterConfigs handlers validate with
:func:`validate_topic_configs` (an unknown key or a bad value raises :class:`ConfigError`,
which carries INVALID_CONFIG); the log manager builds each partition's settings with
:func:`effective_topic_config`; the DescribeConfigs handler calls
:func:`describe_topic_configs`.

Synonym reporting copies Kafka's algorithm (``ConfigHelper.createTopicConfigEntry`` with
``configSynonyms``) rather than an idealised one, because clients and tools show its output
verbatim. The broker-side list for a topic config is gathered from every broker layer in
precedence order, then everything *before* the first entry named like the highest-priority
synonym is dropped. A consequence Kafka users see, and that Moldau therefore reproduces: when
only ``log.retention.hours`` is set, ``retention.ms`` reports the converted value with source
``DEFAULT_CONFIG`` and no synonyms, because ``log.retention.ms`` (the head of the list) is not
set anywhere. The same holds for ``segment.ms`` / ``log.roll.hours`` and
``segment.jitter.ms`` / ``log.roll.jitter.hours``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from moldau.config.defs import (
    AtLeast,
    Between,
    ConfigDef,
    ConfigError,
    ConfigSource,
    DescribedConfig,
    DescribedSynonym,
    Importance,
    ListOf,
    OneOf,
    Predicate,
    UnknownConfigError,
    index,
)
from moldau.config.defs import ConfigType as T

if TYPE_CHECKING:
    from moldau.config.broker import BrokerConfig

__all__ = [
    "COMPRESSION_TYPES",
    "TOPIC_CONFIGS",
    "TOPIC_CONFIG_SYNONYMS",
    "BrokerSynonym",
    "DescribedConfig",
    "DescribedSynonym",
    "describe_topic_configs",
    "effective_topic_config",
    "validate_topic_configs",
]

LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
_HOUR_MS = 60 * 60 * 1000
_MINUTE_MS = 60 * 1000

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
"""Values of ``compression.type``; ``producer`` keeps whatever codec the producer used."""


def _is_throttle_list(value: Any) -> bool:
    entries = [item.strip() for item in value]
    if "".join(entries) == "*":
        return True
    return all(entry == "" or _is_replica(entry) for entry in entries)


def _is_replica(entry: str) -> bool:
    partition, sep, broker = entry.partition(":")
    return bool(sep) and partition.isascii() and partition.isdigit() and broker.isascii() and broker.isdigit()


_THROTTLED_REPLICAS = Predicate(
    _is_throttle_list,
    "expected '*' or a list of partitionId:brokerId pairs such as 0:101,1:102",
    "[partitionId]:[brokerId],[partitionId]:[brokerId],... or *",
)
_GZIP_LEVEL = Predicate(
    lambda v: v == -1 or 1 <= v <= 9,
    "Value must be between 1 and 9, or -1",
    "[1,...,9] or -1",
)

_M = Importance.MEDIUM
_L = Importance.LOW

TOPIC_CONFIGS: dict[str, ConfigDef] = index(
    [
        ConfigDef("cleanup.policy", T.LIST, ("delete",), ListOf("compact", "delete"),
                  "What happens to old segments: 'delete' drops them once they fall outside "
                  "the retention limits, 'compact' keeps only the latest record of each key; "
                  "both may be given, comma-separated.", _M),
        ConfigDef("compression.gzip.level", T.INT, -1, _GZIP_LEVEL,
                  "Level used when compression.type is gzip (-1: the codec's default).", _M),
        ConfigDef("compression.lz4.level", T.INT, 9, Between(1, 17),
                  "Level used when compression.type is lz4.", _M),
        ConfigDef("compression.type", T.STRING, "producer", OneOf(*COMPRESSION_TYPES),
                  "Codec of the batches as stored: one of gzip, snappy, lz4, zstd, "
                  "'uncompressed', or 'producer' to store them as the producer sent them.", _M),
        ConfigDef("compression.zstd.level", T.INT, 3, Between(-131072, 22),
                  "Level used when compression.type is zstd.", _M),
        ConfigDef("delete.retention.ms", T.LONG, 24 * _HOUR_MS, AtLeast(0),
                  "How long a tombstone (a record with a null value) survives in a compacted "
                  "log; a consumer reading from the start must finish within this time to be "
                  "sure of seeing the deletes.", _M),
        ConfigDef("file.delete.delay.ms", T.LONG, 60000, AtLeast(0),
                  "Time between a segment being marked deleted and its files being removed.", _M),
        ConfigDef("flush.messages", T.LONG, LONG_MAX, AtLeast(1),
                  "Force an fsync after this many records. Replication, not fsync, is the "
                  "recommended guarantee, so this is normally left alone.", _M),
        ConfigDef("flush.ms", T.LONG, LONG_MAX, AtLeast(0),
                  "Force an fsync when data has been unflushed for this long.", _M),
        ConfigDef("follower.replication.throttled.replicas", T.LIST, (), _THROTTLED_REPLICAS,
                  "Replicas whose follower-side fetching is throttled, as "
                  "partitionId:brokerId pairs, or '*' for all replicas of the topic.", _M),
        ConfigDef("index.interval.bytes", T.INT, 4096, AtLeast(0),
                  "Bytes of log between two entries of the offset index; smaller means "
                  "more precise lookups and a bigger index.", _M),
        ConfigDef("leader.replication.throttled.replicas", T.LIST, (), _THROTTLED_REPLICAS,
                  "Replicas whose leader-side replication is throttled, as "
                  "partitionId:brokerId pairs, or '*' for all replicas of the topic.", _M),
        ConfigDef("local.retention.bytes", T.LONG, -2, AtLeast(-2),
                  "Tiered storage: bytes kept locally before segments may be dropped from "
                  "local disk (-2: same as retention.bytes).", _M),
        ConfigDef("local.retention.ms", T.LONG, -2, AtLeast(-2),
                  "Tiered storage: time kept locally before segments may be dropped from "
                  "local disk (-2: same as retention.ms).", _M),
        ConfigDef("max.compaction.lag.ms", T.LONG, LONG_MAX, AtLeast(1),
                  "Longest time a record may stay uncompacted in a compacted log.", _M),
        ConfigDef("max.message.bytes", T.INT, 1024 * 1024 + 12, AtLeast(0),
                  "Largest record batch accepted, measured after compression.", _M),
        ConfigDef("message.downconversion.enable", T.BOOLEAN, True, None,
                  "Deprecated and without effect: Kafka 4.0 clients never need batches "
                  "converted to older formats. Accepted so that existing settings still "
                  "apply cleanly.", _L),
        ConfigDef("message.timestamp.after.max.ms", T.LONG, _HOUR_MS, AtLeast(0),
                  "With CreateTime, how far in the future (relative to the broker's clock) a "
                  "record's timestamp may be before the batch is rejected.", _M),
        ConfigDef("message.timestamp.before.max.ms", T.LONG, LONG_MAX, AtLeast(0),
                  "With CreateTime, how far in the past (relative to the broker's clock) a "
                  "record's timestamp may be before the batch is rejected.", _M),
        ConfigDef("message.timestamp.type", T.STRING, "CreateTime", OneOf("CreateTime", "LogAppendTime"),
                  "Whether stored timestamps are the producer's (CreateTime) or the "
                  "broker's clock at append (LogAppendTime).", _M),
        ConfigDef("min.cleanable.dirty.ratio", T.DOUBLE, 0.5, Between(0, 1),
                  "Share of a compacted log that must be uncompacted before the cleaner "
                  "works on it; max.compaction.lag.ms and min.compaction.lag.ms can force "
                  "or delay that.", _M),
        ConfigDef("min.compaction.lag.ms", T.LONG, 0, AtLeast(0),
                  "Shortest time a record stays uncompacted in a compacted log.", _M),
        ConfigDef("min.insync.replicas", T.INT, 1, AtLeast(1),
                  "With acks=all, the number of in-sync replicas that must hold a write; "
                  "below it produce fails with NOT_ENOUGH_REPLICAS.", _M),
        ConfigDef("preallocate", T.BOOLEAN, False, None,
                  "Allocate a new segment file at its full size on disk when it is created.", _M),
        ConfigDef("remote.log.copy.disable", T.BOOLEAN, False, None,
                  "Tiered storage: stop copying segments to remote storage while keeping "
                  "what is there readable.", _M),
        ConfigDef("remote.log.delete.on.disable", T.BOOLEAN, False, None,
                  "Tiered storage: acknowledges that turning remote storage off deletes "
                  "the remote copy.", _M),
        ConfigDef("remote.storage.enable", T.BOOLEAN, False, None,
                  "Tiered storage for this topic. Moldau has no tiered storage, so only "
                  "false is accepted.", _M),
        ConfigDef("retention.bytes", T.LONG, -1, None,
                  "Largest size a partition may reach before its oldest segments are "
                  "deleted under the 'delete' policy; -1 sets no size limit. It applies per "
                  "partition, not per topic.", _M),
        ConfigDef("retention.ms", T.LONG, 7 * 24 * _HOUR_MS, AtLeast(-1),
                  "Age after which segments are deleted under the 'delete' policy; -1 keeps "
                  "data forever.", _M),
        ConfigDef("segment.bytes", T.INT, 1024 * 1024 * 1024, AtLeast(1024 * 1024),
                  "Size at which the active segment is closed and a new one started. "
                  "Retention and compaction work on whole segments.", _M),
        ConfigDef("segment.index.bytes", T.INT, 10 * 1024 * 1024, AtLeast(4),
                  "Size of the offset index file allocated for each segment.", _M),
        ConfigDef("segment.jitter.ms", T.LONG, 0, AtLeast(0),
                  "Largest random time subtracted from segment.ms, so that many partitions "
                  "do not roll at the same moment.", _M),
        ConfigDef("segment.ms", T.LONG, 7 * 24 * _HOUR_MS, AtLeast(1),
                  "Age at which the active segment is rolled even if not full, so that "
                  "retention and compaction can reach its data.", _M),
        ConfigDef("unclean.leader.election.enable", T.BOOLEAN, False, None,
                  "Let a replica outside the ISR become leader when no in-sync replica is "
                  "left, trading possible data loss for availability.", _M),
    ]
)  # fmt: skip
"""Every topic config of Kafka 4.0, by name."""


class BrokerSynonym(NamedTuple):
    """A broker config that supplies a topic config's default, and the factor turning its
    value into the topic config's unit (3600000 for hours to milliseconds)."""

    name: str
    factor: int = 1


TOPIC_CONFIG_SYNONYMS: dict[str, tuple[BrokerSynonym, ...]] = {
    "cleanup.policy": (BrokerSynonym("log.cleanup.policy"),),
    "compression.gzip.level": (BrokerSynonym("compression.gzip.level"),),
    "compression.lz4.level": (BrokerSynonym("compression.lz4.level"),),
    "compression.type": (BrokerSynonym("compression.type"),),
    "compression.zstd.level": (BrokerSynonym("compression.zstd.level"),),
    "delete.retention.ms": (BrokerSynonym("log.cleaner.delete.retention.ms"),),
    "file.delete.delay.ms": (BrokerSynonym("log.segment.delete.delay.ms"),),
    "flush.messages": (BrokerSynonym("log.flush.interval.messages"),),
    "flush.ms": (BrokerSynonym("log.flush.interval.ms"), BrokerSynonym("log.flush.scheduler.interval.ms")),
    "index.interval.bytes": (BrokerSynonym("log.index.interval.bytes"),),
    "local.retention.bytes": (BrokerSynonym("log.local.retention.bytes"),),
    "local.retention.ms": (BrokerSynonym("log.local.retention.ms"),),
    "max.compaction.lag.ms": (BrokerSynonym("log.cleaner.max.compaction.lag.ms"),),
    "max.message.bytes": (BrokerSynonym("message.max.bytes"),),
    "message.timestamp.after.max.ms": (BrokerSynonym("log.message.timestamp.after.max.ms"),),
    "message.timestamp.before.max.ms": (BrokerSynonym("log.message.timestamp.before.max.ms"),),
    "message.timestamp.type": (BrokerSynonym("log.message.timestamp.type"),),
    "min.cleanable.dirty.ratio": (BrokerSynonym("log.cleaner.min.cleanable.ratio"),),
    "min.compaction.lag.ms": (BrokerSynonym("log.cleaner.min.compaction.lag.ms"),),
    "min.insync.replicas": (BrokerSynonym("min.insync.replicas"),),
    "preallocate": (BrokerSynonym("log.preallocate"),),
    "retention.bytes": (BrokerSynonym("log.retention.bytes"),),
    "retention.ms": (
        BrokerSynonym("log.retention.ms"),
        BrokerSynonym("log.retention.minutes", _MINUTE_MS),
        BrokerSynonym("log.retention.hours", _HOUR_MS),
    ),
    "segment.bytes": (BrokerSynonym("log.segment.bytes"),),
    "segment.index.bytes": (BrokerSynonym("log.index.size.max.bytes"),),
    "segment.jitter.ms": (
        BrokerSynonym("log.roll.jitter.ms"),
        BrokerSynonym("log.roll.jitter.hours", _HOUR_MS),
    ),
    "segment.ms": (BrokerSynonym("log.roll.ms"), BrokerSynonym("log.roll.hours", _HOUR_MS)),
    "unclean.leader.election.enable": (BrokerSynonym("unclean.leader.election.enable"),),
}
"""Broker configs standing in for a topic config, highest precedence first (Kafka's
``ServerTopicConfigSynonyms``). Topic configs missing here have no broker-level default."""


def validate_topic_configs(configs: Mapping[str, str], broker: BrokerConfig | None = None) -> dict[str, Any]:
    """Parse topic config overrides; return the typed values of exactly the given keys.

    Raises :class:`UnknownConfigError` for a key that is no topic config and
    :class:`ConfigError` for a value that does not parse or validate, both naming the key.
    Checks that span keys (``min.compaction.lag.ms`` not above ``max.compaction.lag.ms``) see
    the overrides on top of ``broker``'s topic defaults (the built-in defaults without one).
    """
    parsed: dict[str, Any] = {}
    for key, raw in configs.items():
        definition = TOPIC_CONFIGS.get(key)
        if definition is None:
            raise UnknownConfigError(key, raw, "", message=f"Unknown topic config name: {key}")
        parsed[key] = definition.parse(raw)
    base = broker.default_log_config() if broker is not None else _builtin_defaults()
    _check_combination({**base, **parsed}, parsed)
    return parsed


def effective_topic_config(overrides: Mapping[str, str], broker: BrokerConfig) -> dict[str, Any]:
    """Every topic config's typed value for a topic with these overrides on this broker."""
    return {**broker.default_log_config(), **validate_topic_configs(overrides, broker)}


def describe_topic_configs(
    topic_overrides: Mapping[str, str],
    broker: BrokerConfig,
    include_synonyms: bool,
    include_docs: bool,
    keys: Iterable[str] | None = None,
) -> list[DescribedConfig]:
    """DescribeConfigs for one TOPIC resource, sorted by config name.

    ``keys`` None or empty asks for every config; names that are no topic config are left
    out, as Kafka does. Sources and synonyms follow Kafka (see the module docstring).
    """
    wanted = set(keys) if keys else None
    values = effective_topic_config(topic_overrides, broker)
    result: list[DescribedConfig] = []
    for name in sorted(TOPIC_CONFIGS):
        if wanted is not None and name not in wanted:
            continue
        definition = TOPIC_CONFIGS[name]
        text = None if definition.sensitive else definition.to_string(values[name])
        chain: list[DescribedSynonym] = []
        synonyms = TOPIC_CONFIG_SYNONYMS.get(name)
        if synonyms:
            chain = broker.synonym_chain(synonyms[0].name, [s.name for s in synonyms], definition.sensitive)
        if name in topic_overrides:
            chain.insert(0, DescribedSynonym(name, text, ConfigSource.DYNAMIC_TOPIC_CONFIG))
        result.append(
            DescribedConfig(
                name=name,
                value=text,
                read_only=False,
                source=chain[0].source if chain else ConfigSource.DEFAULT_CONFIG,
                sensitive=definition.sensitive,
                synonyms=chain if include_synonyms else [],
                type=definition.type,
                doc=definition.doc if include_docs else None,
            )
        )
    return result


def _builtin_defaults() -> dict[str, Any]:
    return {name: d.default for name, d in TOPIC_CONFIGS.items()}


def _check_combination(combined: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    low, high = combined["min.compaction.lag.ms"], combined["max.compaction.lag.ms"]
    if low > high:
        key = "min.compaction.lag.ms" if "min.compaction.lag.ms" in given else "max.compaction.lag.ms"
        raise ConfigError(
            key,
            combined[key],
            f"min.compaction.lag.ms ({low}) must not be greater than max.compaction.lag.ms ({high})",
        )
    if combined["remote.storage.enable"]:
        raise ConfigError(
            "remote.storage.enable",
            "true",
            "Moldau has no tiered storage, so a topic cannot be configured with remote log storage",
        )
