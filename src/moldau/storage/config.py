"""Per-topic log configuration, named after Kafka's topic configs.

``LogConfig`` holds the settings the storage layer acts on, one field per Kafka topic config
(``segment.bytes`` is ``segment_bytes``), with Kafka's defaults. It is immutable: a config
change builds a new instance (``with_overrides``) and hands it to the log, which reads it on
the next operation. Parsing and validation of the ``key=value`` strings that arrive in
CreateTopics / AlterConfigs lives here too, so every caller agrees on the names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

LONG_MAX = (1 << 63) - 1

CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"

_TIMESTAMP_TYPES = (CREATE_TIME, LOG_APPEND_TIME)
_CLEANUP_POLICIES = ("delete", "compact")


@dataclass(frozen=True, slots=True)
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
    retention_ms: int = 604800000
    retention_bytes: int = -1
    file_delete_delay_ms: int = 60000
    cleanup_policy: str = "delete"
    preallocate: bool = False

    def __post_init__(self) -> None:
        for name in ("segment_bytes", "segment_ms", "segment_index_bytes", "max_message_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{_kafka_name(name)} must be positive")
        for name in ("segment_jitter_ms", "index_interval_bytes", "file_delete_delay_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{_kafka_name(name)} must not be negative")
        for name in ("flush_interval_messages", "flush_interval_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_kafka_name(name)} must be at least 1")
        if self.segment_index_bytes < 12:
            raise ValueError("segment.index.bytes must hold at least one index entry")
        if self.retention_ms < -1 or self.retention_bytes < -1:
            raise ValueError("retention.ms and retention.bytes must be -1 or more")
        if self.message_timestamp_type not in _TIMESTAMP_TYPES:
            raise ValueError(f"message.timestamp.type must be one of {', '.join(_TIMESTAMP_TYPES)}")
        policies = self.cleanup_policy.split(",")
        if not policies or any(p.strip() not in _CLEANUP_POLICIES for p in policies):
            raise ValueError("cleanup.policy must be a list of delete and/or compact")

    @property
    def log_append_time(self) -> bool:
        return self.message_timestamp_type == LOG_APPEND_TIME

    def with_overrides(self, props: Mapping[str, str | None]) -> LogConfig:
        """A copy with the given Kafka-named topic configs applied (``{"segment.bytes": "1024"}``).
        Names that are not storage configs are ignored (the broker owns those); a value of
        ``None`` restores the default. Raises ValueError for a value that does not parse or
        validate."""
        changes: dict[str, object] = {}
        for key, raw in props.items():
            name = _FIELD_OF.get(key)
            if name is None:
                continue
            field = _FIELDS[name]
            if raw is None:
                changes[name] = field.default
            else:
                changes[name] = _parse(key, field.type, raw)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_kafka(self) -> dict[str, str]:
        """Every field under its Kafka name, as DescribeConfigs would show it."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            out[_kafka_name(field.name)] = text
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(LogConfig)}

# The topic config names differ from the field names only where Kafka's topic-level name is
# shorter than its broker-level one (flush.messages vs log.flush.interval.messages).
_KAFKA_NAMES = {
    "flush_interval_messages": "flush.messages",
    "flush_interval_ms": "flush.ms",
}
_FIELD_OF = {_KAFKA_NAMES.get(name, name.replace("_", ".")): name for name in _FIELDS}


def _kafka_name(field_name: str) -> str:
    return _KAFKA_NAMES.get(field_name, field_name.replace("_", "."))


def _parse(key: str, kind: object, raw: str) -> object:
    text = raw.strip()
    if kind in (bool, "bool"):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{key} must be true or false, not {raw!r}")
        return text.lower() == "true"
    if kind in (int, "int"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} must be an integer, not {raw!r}") from None
    return text
