"""The broker configs Moldau accepts: Kafka 4.0's names, types, defaults and checks.

Defaults are Kafka's, except where a single laptop-sized node needs something else; those are
marked ``(Moldau default)`` in their documentation:

* ``node.id`` / ``broker.id`` default to 1 (Kafka requires ``node.id``);
* ``listeners`` defaults to ``PLAINTEXT://127.0.0.1:9092`` (Kafka listens on every interface);
* ``log.dir`` defaults to ``/tmp/moldau-logs`` so it never shares a directory with a Kafka
  broker on the same machine;
* ``offsets.topic.replication.factor``, ``transaction.state.log.replication.factor`` and
  ``transaction.state.log.min.isr`` default to 1, the values of Kafka's own single-node
  ``server.properties``; with Kafka's 3 the internal topics could not be created on one node.

Configs that Kafka defines but that would be meaningless here are not listed, and loading them
is an error (see ``UNSUPPORTED`` in :mod:`moldau.config.broker_resolve`). A few are accepted and
documented as unused so that a typical ``server.properties`` still loads.
"""

from __future__ import annotations

import re
from typing import Any

from moldau.config.defs import (
    AtLeast,
    ConfigDef,
    Importance,
    OneOf,
    Predicate,
    index,
)
from moldau.config.defs import ConfigType as T
from moldau.config.topic import COMPRESSION_TYPES, INT_MAX, LONG_MAX, TOPIC_CONFIG_SYNONYMS, TOPIC_CONFIGS

__all__ = [
    "BROKER_CONFIGS",
    "DYNAMIC_BROKER_CONFIGS",
    "DYNAMIC_LOG_CONFIGS",
    "RESTART_ONLY_CONFIGS",
    "SECURITY_PROTOCOLS",
    "THREAD_COUNT_CONFIGS",
]

_H = Importance.HIGH
_M = Importance.MEDIUM
_L = Importance.LOW
_HOUR_MS = 60 * 60 * 1000

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

_LISTENER = re.compile(r"([A-Za-z0-9_]+)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)")
_PROTOCOL_ENTRY = re.compile(r"([A-Za-z0-9_]+):([A-Za-z0-9_]+)")


def _entries(text: str) -> list[str]:
    return [e for e in re.split(r"\s*,\s*", text.strip()) if e]


def _listeners_ok(text: Any) -> bool:
    return all(_LISTENER.fullmatch(e) for e in _entries(text))


def _protocol_map_ok(text: Any) -> bool:
    for entry in _entries(text):
        match = _PROTOCOL_ENTRY.fullmatch(entry)
        if match is None or match.group(2).upper() not in SECURITY_PROTOCOLS:
            return False
    return True


_LISTENER_LIST = Predicate(
    _listeners_ok,
    "expected comma-separated NAME://host:port entries, such as PLAINTEXT://127.0.0.1:9092",
    "NAME://host:port,...",
)
_PROTOCOL_MAP = Predicate(
    _protocol_map_ok,
    "expected comma-separated LISTENER_NAME:PROTOCOL entries with PROTOCOL one of "
    + ", ".join(SECURITY_PROTOCOLS),
    "LISTENER_NAME:PROTOCOL,...",
)


def _topic(name: str, topic_name: str, doc: str | None = None, importance: Importance = _M) -> ConfigDef:
    """A broker config that is the server default of a topic config, with the same rules."""
    t = TOPIC_CONFIGS[topic_name]
    return ConfigDef(
        name,
        t.type,
        t.default,
        t.validator,
        doc or f"Server default of the topic config {topic_name}. {t.doc}",
        importance,
    )


BROKER_CONFIGS: dict[str, ConfigDef] = index(
    [
        # --- identity ----------------------------------------------------------------------
        ConfigDef("node.id", T.INT, 1, AtLeast(0),
                  "This broker's id in the cluster (Moldau default: 1). broker.id is a synonym; "
                  "when both are given they must be equal.", _H),
        ConfigDef("broker.id", T.INT, 1, AtLeast(0),
                  "Older name of node.id (Moldau default: 1).", _H),
        # --- network -----------------------------------------------------------------------
        ConfigDef("listeners", T.STRING, "PLAINTEXT://127.0.0.1:9092", _LISTENER_LIST,
                  "Comma-separated NAME://host:port addresses to listen on; an empty host "
                  "means every interface (Moldau default: PLAINTEXT://127.0.0.1:9092).", _H),
        ConfigDef("advertised.listeners", T.STRING, None, _LISTENER_LIST,
                  "Addresses handed to clients in metadata, one per listener name, when they "
                  "differ from listeners (behind NAT, in containers). Unset: listeners.", _H),
        ConfigDef("listener.security.protocol.map", T.STRING,
                  "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
                  _PROTOCOL_MAP,
                  "Security protocol of each listener name, as NAME:PROTOCOL pairs.", _L),
        ConfigDef("inter.broker.listener.name", T.STRING, None, None,
                  "Listener the brokers of a cluster use to talk to each other.", _M),
        ConfigDef("socket.request.max.bytes", T.INT, 104857600, AtLeast(1),
                  "Largest request the broker reads; a bigger frame closes the connection.", _H),
        ConfigDef("socket.send.buffer.bytes", T.INT, 102400, None,
                  "SO_SNDBUF of client sockets; -1 keeps the operating system's size.", _H),
        ConfigDef("socket.receive.buffer.bytes", T.INT, 102400, None,
                  "SO_RCVBUF of client sockets; -1 keeps the operating system's size.", _H),
        ConfigDef("max.connections", T.INT, INT_MAX, AtLeast(0),
                  "Most client connections the broker holds open at once; further ones are "
                  "closed as they arrive.", _M),
        ConfigDef("connections.max.idle.ms", T.LONG, 600000, None,
                  "Idle time after which the broker closes a connection.", _M),
        ConfigDef("queued.max.requests", T.INT, 500, AtLeast(1),
                  "Requests a connection may have read but not yet answered before the "
                  "broker stops reading from it.", _H),
        ConfigDef("num.network.threads", T.INT, 3, AtLeast(1),
                  "Accepted for compatibility and not used: Moldau serves every connection "
                  "from one event loop.", _H),
        ConfigDef("num.io.threads", T.INT, 8, AtLeast(1),
                  "Accepted for compatibility and not used: Moldau serves every connection "
                  "from one event loop.", _H),
        ConfigDef("message.max.bytes", T.INT, 1024 * 1024 + 12, AtLeast(0),
                  "Largest record batch accepted, after compression; the server default of "
                  "the topic config max.message.bytes.", _H),
        ConfigDef("fetch.max.bytes", T.INT, 55 * 1024 * 1024, AtLeast(1024),
                  "Most bytes returned by one fetch, over all partitions.", _M),
        ConfigDef("replica.fetch.max.bytes", T.INT, 1024 * 1024, AtLeast(0),
                  "Bytes a follower asks for per partition when it fetches from a leader.", _M),
        ConfigDef("max.incremental.fetch.session.cache.slots", T.INT, 1000, AtLeast(0),
                  "Most incremental fetch sessions the broker keeps; 0 turns them off.", _M),
        ConfigDef("min.incremental.fetch.session.eviction.ms", T.INT, 120000, AtLeast(0),
                  "How long a fetch session must be idle before a new one may take its place "
                  "in a full cache.", _L),
        # --- topics ------------------------------------------------------------------------
        ConfigDef("num.partitions", T.INT, 1, AtLeast(1),
                  "Partitions of a topic created without a partition count.", _M),
        ConfigDef("default.replication.factor", T.INT, 1, None,
                  "Replication factor of a topic created without one.", _M),
        ConfigDef("auto.create.topics.enable", T.BOOLEAN, True, None,
                  "Create a topic when a client asks for metadata of, or produces to, a topic "
                  "that does not exist.", _H),
        ConfigDef("delete.topic.enable", T.BOOLEAN, True, None,
                  "Allow DeleteTopics; when false, deleting a topic is refused.", _H),
        # --- log storage -------------------------------------------------------------------
        ConfigDef("log.dirs", T.STRING, None, None,
                  "Comma-separated directories holding the partition logs. Unset: log.dir.", _H),
        ConfigDef("log.dir", T.STRING, "/tmp/moldau-logs", None,
                  "Directory holding the partition logs when log.dirs is unset "
                  "(Moldau default: /tmp/moldau-logs).", _H),
        ConfigDef("num.recovery.threads.per.data.dir", T.INT, 2, AtLeast(1),
                  "Accepted for compatibility and not used.", _H),
        _topic("log.segment.bytes", "segment.bytes", importance=_H),
        ConfigDef("log.roll.ms", T.LONG, None, None,
                  "Age at which the active segment is rolled, in milliseconds; takes "
                  "precedence over log.roll.hours. Server default of segment.ms.", _H),
        ConfigDef("log.roll.hours", T.INT, 168, AtLeast(1),
                  "Age at which the active segment is rolled, in hours, when log.roll.ms is "
                  "unset.", _H),
        ConfigDef("log.roll.jitter.ms", T.LONG, None, None,
                  "Largest random time subtracted from the roll age, in milliseconds; takes "
                  "precedence over log.roll.jitter.hours. Server default of segment.jitter.ms.", _H),
        ConfigDef("log.roll.jitter.hours", T.INT, 0, AtLeast(0),
                  "Largest random time subtracted from the roll age, in hours, when "
                  "log.roll.jitter.ms is unset.", _H),
        ConfigDef("log.retention.ms", T.LONG, None, None,
                  "Age after which segments are deleted, in milliseconds; -1 keeps data "
                  "forever. Takes precedence over log.retention.minutes and "
                  "log.retention.hours. Server default of retention.ms.", _H),
        ConfigDef("log.retention.minutes", T.INT, None, None,
                  "Retention age in minutes, when log.retention.ms is unset; takes precedence "
                  "over log.retention.hours.", _H),
        ConfigDef("log.retention.hours", T.INT, 168, None,
                  "Retention age in hours, when neither log.retention.ms nor "
                  "log.retention.minutes is set.", _H),
        _topic("log.retention.bytes", "retention.bytes", importance=_H),
        ConfigDef("log.retention.check.interval.ms", T.LONG, 300000, AtLeast(1),
                  "How often the broker looks for segments to delete under retention.", _M),
        _topic("log.cleanup.policy", "cleanup.policy"),
        _topic("log.index.size.max.bytes", "segment.index.bytes"),
        _topic("log.index.interval.bytes", "index.interval.bytes"),
        _topic("log.segment.delete.delay.ms", "file.delete.delay.ms", importance=_H),
        _topic("log.flush.interval.messages", "flush.messages", importance=_H),
        ConfigDef("log.flush.interval.ms", T.LONG, None, None,
                  "Force an fsync when data has been unflushed for this long; unset means "
                  "log.flush.scheduler.interval.ms. Server default of flush.ms.", _H),
        ConfigDef("log.flush.scheduler.interval.ms", T.LONG, LONG_MAX, None,
                  "How often the broker checks whether a log is due for a time-based flush.", _H),
        ConfigDef("log.flush.offset.checkpoint.interval.ms", T.INT, 60000, AtLeast(0),
                  "How often the recovery point of each log is written to disk.", _H),
        ConfigDef("log.flush.start.offset.checkpoint.interval.ms", T.INT, 60000, AtLeast(0),
                  "How often the log start offset of each log is written to disk.", _H),
        _topic("log.preallocate", "preallocate"),
        _topic("log.message.timestamp.type", "message.timestamp.type"),
        _topic("log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms"),
        _topic("log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms"),
        _topic("log.message.downconversion.enable", "message.downconversion.enable", importance=_L,
               doc="Deprecated and without effect, like the topic config "
                   "message.downconversion.enable; accepted for compatibility."),
        _topic("log.local.retention.ms", "local.retention.ms"),
        _topic("log.local.retention.bytes", "local.retention.bytes"),
        ConfigDef("compression.type", T.STRING, "producer", OneOf(*COMPRESSION_TYPES),
                  "Server default of the topic config compression.type.", _H),
        _topic("compression.gzip.level", "compression.gzip.level"),
        _topic("compression.lz4.level", "compression.lz4.level"),
        _topic("compression.zstd.level", "compression.zstd.level"),
        _topic("min.insync.replicas", "min.insync.replicas", importance=_H),
        _topic("unclean.leader.election.enable", "unclean.leader.election.enable", importance=_H),
        # --- log cleaner -------------------------------------------------------------------
        ConfigDef("log.cleaner.enable", T.BOOLEAN, True, None,
                  "Run the log cleaner, which compacts topics with cleanup.policy=compact "
                  "(including __consumer_offsets).", _M),
        ConfigDef("log.cleaner.threads", T.INT, 1, AtLeast(0),
                  "Number of cleaner workers; in Moldau they are processes, which keeps "
                  "compaction's work off the interpreter that serves requests.", _M),
        ConfigDef("log.cleaner.backoff.ms", T.LONG, 15000, AtLeast(0),
                  "Pause of the cleaner when no log needs cleaning.", _M),
        ConfigDef("log.cleaner.dedupe.buffer.size", T.LONG, 128 * 1024 * 1024, None,
                  "Memory for the key-to-offset map of all cleaner workers together.", _M),
        ConfigDef("log.cleaner.io.buffer.size", T.INT, 512 * 1024, AtLeast(0),
                  "Memory for the read and write buffers of all cleaner workers together.", _M),
        ConfigDef("log.cleaner.io.buffer.load.factor", T.DOUBLE, 0.9, None,
                  "How full the cleaner's key map may get before a pass stops.", _M),
        ConfigDef("log.cleaner.io.max.bytes.per.second", T.DOUBLE, 1.7976931348623157e308, None,
                  "Throttle on the cleaner's reads and writes together.", _M),
        _topic("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio"),
        _topic("log.cleaner.delete.retention.ms", "delete.retention.ms"),
        _topic("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
        _topic("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
        # --- consumer groups and offsets ---------------------------------------------------
        ConfigDef("offsets.topic.num.partitions", T.INT, 50, AtLeast(1),
                  "Partitions of __consumer_offsets; fixed once the topic exists.", _H),
        ConfigDef("offsets.topic.replication.factor", T.SHORT, 1, AtLeast(1),
                  "Replication factor of __consumer_offsets (Moldau default: 1).", _H),
        ConfigDef("offsets.topic.segment.bytes", T.INT, 100 * 1024 * 1024, AtLeast(1024 * 1024),
                  "Segment size of __consumer_offsets, kept small for fast loading (at least the "
                  "topic-level segment.bytes minimum, 1 MiB, or the topic could not be created).", _H),
        ConfigDef("offsets.retention.minutes", T.INT, 7 * 24 * 60, AtLeast(1),
                  "How long the committed offsets of an empty group are kept.", _H),
        ConfigDef("offsets.retention.check.interval.ms", T.LONG, 600000, AtLeast(1),
                  "How often expired offsets are looked for.", _H),
        ConfigDef("offset.metadata.max.bytes", T.INT, 4096, None,
                  "Largest metadata string accepted with a committed offset.", _H),
        ConfigDef("group.initial.rebalance.delay.ms", T.INT, 3000, None,
                  "How long the first rebalance of a new group waits for more members.", _M),
        ConfigDef("group.min.session.timeout.ms", T.INT, 6000, None,
                  "Shortest session timeout a classic-protocol member may ask for.", _M),
        ConfigDef("group.max.session.timeout.ms", T.INT, 1800000, None,
                  "Longest session timeout a classic-protocol member may ask for.", _M),
        ConfigDef("group.max.size", T.INT, INT_MAX, AtLeast(1),
                  "Most members a classic-protocol group may have.", _M),
        # --- transactions and producer ids -------------------------------------------------
        ConfigDef("transaction.state.log.num.partitions", T.INT, 50, AtLeast(1),
                  "Partitions of __transaction_state; fixed once the topic exists.", _H),
        ConfigDef("transaction.state.log.replication.factor", T.SHORT, 1, AtLeast(1),
                  "Replication factor of __transaction_state (Moldau default: 1).", _H),
        ConfigDef("transaction.state.log.min.isr", T.INT, 1, AtLeast(1),
                  "min.insync.replicas of __transaction_state (Moldau default: 1).", _H),
        ConfigDef("transaction.state.log.segment.bytes", T.INT, 100 * 1024 * 1024, AtLeast(1024 * 1024),
                  "Segment size of __transaction_state, kept small for fast loading (at least the "
                  "topic-level segment.bytes minimum, 1 MiB, or the topic could not be created).", _H),
        ConfigDef("transaction.max.timeout.ms", T.INT, 900000, AtLeast(1),
                  "Longest transaction timeout a producer may ask for.", _H),
        ConfigDef("transactional.id.expiration.ms", T.INT, 7 * 24 * _HOUR_MS, AtLeast(1),
                  "How long the state of an idle transactional id is kept.", _H),
        ConfigDef("transaction.abort.timed.out.transaction.cleanup.interval.ms", T.INT, 10000, AtLeast(1),
                  "How often transactions past their timeout are aborted.", _L),
        ConfigDef("transaction.remove.expired.transaction.cleanup.interval.ms", T.INT, _HOUR_MS, AtLeast(1),
                  "How often expired transactional ids are removed.", _L),
        ConfigDef("producer.id.expiration.ms", T.INT, 24 * _HOUR_MS, AtLeast(1),
                  "How long a partition remembers an idempotent producer that has stopped "
                  "writing to it.", _L),
        ConfigDef("producer.id.expiration.check.interval.ms", T.INT, 600000, AtLeast(1),
                  "How often partitions forget producers idle past producer.id.expiration.ms.", _L),
    ]
)  # fmt: skip
"""Every broker config Moldau accepts, by name."""


# --- dynamic broker configs (KIP-226) --------------------------------------------------------

DYNAMIC_LOG_CONFIGS: frozenset[str] = frozenset(
    synonyms[0].name for synonyms in TOPIC_CONFIG_SYNONYMS.values()
)
"""The broker-wide defaults of topic configs, under their first (highest-precedence) name:
``log.retention.ms`` but not ``log.retention.hours``, ``log.roll.ms`` but not
``log.roll.hours``. Kafka lets exactly these change dynamically; a change reaches every topic
that does not override the topic config at once."""

THREAD_COUNT_CONFIGS: frozenset[str] = frozenset(
    {"num.io.threads", "num.network.threads", "num.recovery.threads.per.data.dir"}
)
"""Thread counts Kafka resizes at run time. Moldau accepts and keeps them (they have no effect
here, dynamic or static) with Kafka's rule that one change may at most halve or double the
current value."""

DYNAMIC_BROKER_CONFIGS: frozenset[str] = DYNAMIC_LOG_CONFIGS | THREAD_COUNT_CONFIGS | {"max.connections"}
"""Broker configs that AlterConfigs and IncrementalAlterConfigs may change, for one broker or
for the cluster, and that take effect without a restart. Every one of them is dynamic in
Kafka too; DescribeConfigs reports all other broker configs as read-only."""

RESTART_ONLY_CONFIGS: frozenset[str] = frozenset(
    {
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "log.cleaner.threads",
        "log.cleaner.dedupe.buffer.size",
        "log.cleaner.io.buffer.size",
        "log.cleaner.io.buffer.load.factor",
        "log.cleaner.io.max.bytes.per.second",
        "log.cleaner.backoff.ms",
        "producer.id.expiration.ms",
    }
)
"""Broker configs Kafka can change dynamically but Moldau reads only at start-up (the
listeners are bound once, the cleaner's workers and buffers are sized once). A request to
change them dynamically is refused with an explanation instead of being stored without
effect."""
