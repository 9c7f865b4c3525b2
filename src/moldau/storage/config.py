"""Per-topic log configuration, named after Kafka's topic configs.

``LogConfig`` holds the settings a partition log acts on, one typed field per Kafka topic
config (``segment.bytes`` is ``segment_bytes``; ``flush.messages`` and ``flush.ms`` carry
the broker-level names ``flush_interval_*``), with Kafka 4.0's defaults. Parsing the
``key=value`` strings of CreateTopics / AlterConfigs and resolving broker defaults is the
config layer's job (``moldau.config.topic``); this class only holds the result and refuses
values the storage cannot work with. It is immutable: a config change hands the log a new
instance, read from the next operation on.

Retention (retention.py) acts on ``retention_ms``, ``retention_bytes`` and the ``delete``
policy; the cleaner (cleaner.py) on the ``compact`` policy, ``min_cleanable_dirty_ratio``,
``min_compaction_lag_ms``, ``max_compaction_lag_ms`` and ``delete_retention_ms``; deleted
segment files wait ``file_delete_delay_ms`` before removal (deletion.py); produce stores
batches with ``codec`` when ``compression.type`` names one. Not acted on:
``preallocate`` (segment files are never preallocated; see index.py for why that suits
positioned writes).
"""

from __future__ import annotations

from dataclasses import field

from moldau.protocol.records.compression import Compression
from moldau.util.datatype import datatype

LONG_MAX = (1 << 63) - 1

CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"

_TIMESTAMP_TYPES = (CREATE_TIME, LOG_APPEND_TIME)
_CLEANUP_POLICIES = ("delete", "compact")
_CODECS: dict[str, int | None] = {
    "producer": None,
    "uncompressed": Compression.NONE,
    "gzip": Compression.GZIP,
    "snappy": Compression.SNAPPY,
    "lz4": Compression.LZ4,
    "zstd": Compression.ZSTD,
}


@datatype(frozen=True, slots=True)
class LogConfig:
    segment_bytes: int = 1073741824
    segment_ms: int = 604800000
    segment_jitter_ms: int = 0
    index_interval_bytes: int = 4096
    segment_index_bytes: int = 10485760
    max_message_bytes: int = 1048588
    flush_interval_messages: int = LONG_MAX
    flush_interval_ms: int = LONG_MAX
    message_timestamp_type: str = CREATE_TIME
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_after_max_ms: int = 3600000
    retention_ms: int = 604800000
    retention_bytes: int = -1
    file_delete_delay_ms: int = 60000
    cleanup_policy: str = "delete"
    preallocate: bool = False
    delete_retention_ms: int = 86400000
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX
    compression_type: str = "producer"
    compression_gzip_level: int = -1
    compression_lz4_level: int = 9
    compression_zstd_level: int = 3
    # Worked out from cleanup_policy once: the produce path reads ``compact`` per request.
    compact: bool = field(init=False, compare=False, repr=False)
    """``cleanup.policy`` includes ``compact``: the cleaner keeps the latest record per key,
    and produce refuses records without a key."""
    delete: bool = field(init=False, compare=False, repr=False)
    """``cleanup.policy`` includes ``delete``: retention by time and size applies."""
    codec: int | None = field(init=False, compare=False, repr=False)
    """The codec batches are stored with (``compression.type``); None keeps the producer's."""
    codec_level: int | None = field(init=False, compare=False, repr=False)
    """The level of ``codec`` (``compression.<codec>.level``); None for the codec's default."""

    def __post_init__(self) -> None:
        for name in ("segment_bytes", "segment_ms", "segment_index_bytes", "max_message_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{_kafka_name(name)} must be positive")
        for name in (
            "segment_jitter_ms",
            "index_interval_bytes",
            "file_delete_delay_ms",
            "flush_interval_ms",
            "message_timestamp_before_max_ms",
            "message_timestamp_after_max_ms",
            "delete_retention_ms",
            "min_compaction_lag_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{_kafka_name(name)} must not be negative")
        if self.flush_interval_messages < 1:
            raise ValueError("flush.messages must be at least 1")
        if self.segment_index_bytes < 12:
            raise ValueError("segment.index.bytes must hold at least one index entry")
        if self.retention_ms < -1 or self.retention_bytes < -1:
            raise ValueError("retention.ms and retention.bytes must be -1 or more")
        if self.message_timestamp_type not in _TIMESTAMP_TYPES:
            raise ValueError(f"message.timestamp.type must be one of {', '.join(_TIMESTAMP_TYPES)}")
        if self.max_compaction_lag_ms < 1:
            raise ValueError("max.compaction.lag.ms must be positive")
        if not 0 <= self.min_cleanable_dirty_ratio <= 1:
            raise ValueError("min.cleanable.dirty.ratio must be between 0 and 1")
        policies = [p.strip() for p in self.cleanup_policy.split(",") if p.strip()]
        if any(p not in _CLEANUP_POLICIES for p in policies):
            raise ValueError("cleanup.policy must be a list of delete and/or compact")
        object.__setattr__(self, "compact", "compact" in policies)
        object.__setattr__(self, "delete", "delete" in policies)
        if self.compression_type not in _CODECS:
            raise ValueError(f"compression.type must be one of {', '.join(_CODECS)}")
        codec = _CODECS[self.compression_type]
        levels: dict[int, int | None] = {
            Compression.GZIP: None if self.compression_gzip_level == -1 else self.compression_gzip_level,
            Compression.LZ4: self.compression_lz4_level,
            Compression.ZSTD: self.compression_zstd_level,
        }
        object.__setattr__(self, "codec", codec)
        object.__setattr__(self, "codec_level", None if codec is None else levels.get(codec))

    @property
    def log_append_time(self) -> bool:
        return self.message_timestamp_type == LOG_APPEND_TIME


def _kafka_name(field_name: str) -> str:
    return _KAFKA_NAMES.get(field_name, field_name.replace("_", "."))


# Kafka's topic-level names are shorter than the broker-level ones these fields are named after.
_KAFKA_NAMES = {"flush_interval_messages": "flush.messages", "flush_interval_ms": "flush.ms"}

COMPACTION_SETTINGS = {
    "delete.retention.ms": "delete_retention_ms",
    "min.cleanable.dirty.ratio": "min_cleanable_dirty_ratio",
    "min.compaction.lag.ms": "min_compaction_lag_ms",
    "max.compaction.lag.ms": "max_compaction_lag_ms",
}
"""The cleaner's topic configs (Kafka name → ``LogConfig`` field), for callers that map
effective topic configs onto a ``LogConfig``."""
