"""The broker's state, owned by the event loop: config, metadata image, logs, waiters.

Handlers reach everything through ``ctx.broker``. Topic administration lives in
``broker/topic_admin.py``; this module holds state and the lookups every handler needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from moldau.broker.fetch_session import FetchSessionCache
from moldau.broker.group_runtime import GroupRuntime
from moldau.broker.handlers.api_versions import version_list
from moldau.broker.purgatory import FetchPurgatory
from moldau.broker.txn_runtime import TxnRuntime
from moldau.cluster.metadata import BrokerEndpoint, LocalMetadataStore, MetadataImage, TopicInfo
from moldau.config.broker import BrokerConfig
from moldau.config.dynamic import usable_layer
from moldau.config.topic import effective_topic_config
from moldau.coordinator.producer_ids import ProducerIdAllocator
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.records.batch import iter_headers
from moldau.protocol.schema import Api
from moldau.storage import AppendOrigin
from moldau.storage.cleaner import CleanerConfig
from moldau.storage.config import COMPACTION_SETTINGS, LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.manager import LogManager
from moldau.util.clock import Clock, SystemClock

if TYPE_CHECKING:
    from moldau.broker.server import Listener

log = logging.getLogger(__name__)


def log_config_of(effective: dict[str, Any]) -> LogConfig:
    """Map effective topic configs (Kafka names, typed values) onto the storage's LogConfig."""
    return LogConfig(
        segment_bytes=effective["segment.bytes"],
        segment_ms=effective["segment.ms"],
        segment_jitter_ms=effective["segment.jitter.ms"],
        index_interval_bytes=effective["index.interval.bytes"],
        segment_index_bytes=effective["segment.index.bytes"],
        max_message_bytes=effective["max.message.bytes"],
        flush_interval_messages=effective["flush.messages"],
        flush_interval_ms=effective["flush.ms"],
        message_timestamp_type=effective["message.timestamp.type"],
        retention_ms=effective["retention.ms"],
        retention_bytes=effective["retention.bytes"],
        file_delete_delay_ms=effective["file.delete.delay.ms"],
        cleanup_policy=",".join(effective["cleanup.policy"]),
        preallocate=effective["preallocate"],
        message_timestamp_before_max_ms=effective["message.timestamp.before.max.ms"],
        message_timestamp_after_max_ms=effective["message.timestamp.after.max.ms"],
        compression_type=effective["compression.type"],
        compression_gzip_level=effective["compression.gzip.level"],
        compression_lz4_level=effective["compression.lz4.level"],
        compression_zstd_level=effective["compression.zstd.level"],
        **{field: effective[name] for name, field in COMPACTION_SETTINGS.items()},
    )


class _Every:
    """Calling it answers whether ``seconds`` passed since it last answered True."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last = time.monotonic()

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._seconds:
            return False
        self._last = now
        return True


class Broker:
    def __init__(self, config: BrokerConfig, apis: dict[int, Api], clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.node_id: int = config.node_id
        self.log_dirs: list[str] = [os.path.abspath(d) for d in config.log_dirs]
        self.api_version_list = version_list(apis)
        self.purgatory = FetchPurgatory()
        self.fetch_sessions = FetchSessionCache(
            config.get("max.incremental.fetch.session.cache.slots"),
            config.get("min.incremental.fetch.session.eviction.ms"),
        )
        self.logs: LogManager
        self.metadata: MetadataImage
        self._store: LocalMetadataStore
        self.producer_ids: ProducerIdAllocator
        self.groups: GroupRuntime
        self.txns: TxnRuntime

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for d in self.log_dirs:
            os.makedirs(d, exist_ok=True)
        self._store = LocalMetadataStore(self.log_dirs[0])
        image = self._store.load()
        if image is not None:
            self._load_dynamic_configs(image)
        defaults = log_config_of(effective_topic_config({}, self.config))
        self.logs = LogManager(self.log_dirs, self.clock, defaults, node_id=self.node_id)
        cluster_id = self.logs.open(image.cluster_id if image else None)
        if image is None:
            image = MetadataImage(cluster_id)
            self._store.save(image)
        self.metadata = image
        self.metadata.controller_id = self.node_id
        wanted = {
            (t.name, p): (t.topic_id, self.log_config(t))
            for t in image.topics.values()
            for p in range(len(t.partitions))
        }
        self.logs.load(wanted)
        self.producer_ids = ProducerIdAllocator(image.producer_id_block_end, self._reserve_producer_ids)
        self.groups = GroupRuntime(self)
        self.groups.load()
        self.txns = TxnRuntime(self)
        self.txns.load()

    def _load_dynamic_configs(self, image: MetadataImage) -> None:
        """Lay the dynamic broker configs kept in the image over the static ones (KIP-226),
        cluster-wide first. Entries that are no longer acceptable are skipped with an error in
        the log, as Kafka does, rather than keeping the broker from starting."""
        for resource, per_broker in (("", False), (str(self.node_id), True)):
            layer, dropped = usable_layer(self.config, per_broker, image.broker_config(resource))
            for problem in dropped:
                log.error("Ignoring the stored dynamic config %s (broker resource %r)", problem, resource)
            if per_broker:
                self.config.update_dynamic(per_broker=layer)
            else:
                self.config.update_dynamic(default=layer)

    def refresh_log_configs(self) -> None:
        """Re-derive every topic's log config from the broker config in effect and hand the
        changed ones to the log manager; called after a dynamic broker config changed, so that
        topics without an override of a changed default act on the new value at once."""
        self.logs.default_config = log_config_of(effective_topic_config({}, self.config))
        for topic in self.metadata.topics.values():
            config = self.log_config(topic)
            if self.logs.topic_config(topic.name) != config:
                self.logs.set_config(topic.name, config)

    def _reserve_producer_ids(self, block_end: int) -> None:
        self.metadata.producer_id_block_end = block_end
        self.save_metadata()

    def set_endpoints(self, bound: Sequence[Listener]) -> None:
        advertised = self.config.advertised_listeners if self.config.is_set("advertised.listeners") else []
        endpoints: dict[str, BrokerEndpoint] = {}
        for lst in bound:
            host = lst.host or "localhost"
            endpoints[lst.name] = BrokerEndpoint(self.node_id, host, lst.port, lst.name)
        for spec in advertised:
            from moldau.broker.server import Listener

            a = Listener.parse(spec)
            port = a.port or (endpoints[a.name].port if a.name in endpoints else a.port)
            endpoints[a.name] = BrokerEndpoint(self.node_id, a.host or "localhost", port, a.name)
        self.endpoints = endpoints
        first = next(iter(endpoints.values()))
        self.metadata.brokers = {self.node_id: first}

    def endpoint_for(self, listener: str) -> BrokerEndpoint:
        return self.endpoints.get(listener) or next(iter(self.endpoints.values()))

    async def maintain(self) -> None:
        """Background upkeep on the event loop, every second (or every
        ``log.retention.check.interval.ms`` / ``log.cleaner.backoff.ms`` when shorter): flushes
        that ``flush.ms`` asks for and of rolled segments; removal of deleted segments' files
        once ``file.delete.delay.ms`` passed; a turn of the log cleaner when
        ``log.cleaner.enable`` (its rewriting runs on ``log.cleaner.threads`` worker threads, all
        else here); retention every ``log.retention.check.interval.ms``; the recovery-point
        and log-start-offset checkpoints every ``log.flush.offset.checkpoint.interval.ms``; idle
        producers forgotten every ``producer.id.expiration.check.interval.ms``.
        A failing step is logged and retried at the next tick; it never stops the others."""
        config = self.config
        checkpoint_s = config.get("log.flush.offset.checkpoint.interval.ms") / 1000.0
        retention_s = config.get("log.retention.check.interval.ms") / 1000.0
        cleaning = bool(config.get("log.cleaner.enable"))
        tick_s = min(1.0, retention_s)
        if cleaning:
            self.logs.start_cleaner(
                CleanerConfig(
                    threads=config.get("log.cleaner.threads"),
                    dedupe_buffer_size=config.get("log.cleaner.dedupe.buffer.size"),
                    io_buffer_size=config.get("log.cleaner.io.buffer.size"),
                    load_factor=config.get("log.cleaner.io.buffer.load.factor"),
                    backoff_ms=config.get("log.cleaner.backoff.ms"),
                )
            )
            tick_s = min(tick_s, max(config.get("log.cleaner.backoff.ms"), 10) / 1000.0)
        retention_due = _Every(retention_s)
        checkpoint_due = _Every(checkpoint_s)
        expiry_due = _Every(config.get("producer.id.expiration.check.interval.ms") / 1000.0)
        while True:
            await asyncio.sleep(tick_s)
            now_ms = self.clock.time_ms()
            steps: list[tuple[str, Callable[[], object]]] = [
                ("flushing", partial(self.logs.flush_due, now_ms)),
                ("removing deleted segments", partial(self.logs.remove_deleted_files, now_ms)),
            ]
            if cleaning:
                steps.append(("cleaning", partial(self.logs.clean, now_ms)))
            if retention_due():
                steps.append(("retention", partial(self.logs.delete_old_segments, now_ms)))
            if expiry_due():
                expiration_ms = config.get("producer.id.expiration.ms")
                steps.append(
                    ("producer expiry", partial(self.logs.remove_expired_producers, now_ms, expiration_ms))
                )
            if checkpoint_due():
                steps.append(("checkpointing", self.logs.checkpoint))
            for what, step in steps:
                try:
                    step()
                except Exception:
                    log.exception("Background %s failed; retrying at the next tick", what)

    def wake_all_waiters(self) -> None:
        self.purgatory.wake_all()

    def shutdown(self) -> None:
        self.txns.stop()
        self.groups.stop()
        self.logs.shutdown()

    # -- lookups -----------------------------------------------------------------------------

    @property
    def cluster_id(self) -> str:
        return self.metadata.cluster_id

    def log_config(self, topic: TopicInfo) -> LogConfig:
        return log_config_of(effective_topic_config(topic.configs, self.config))

    def topic(self, name: str) -> TopicInfo:
        t = self.metadata.topics.get(name)
        if t is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"unknown topic {name}")
        return t

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicInfo:
        t = self.metadata.topics_by_id.get(topic_id)
        if t is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, f"unknown topic id {topic_id}")
        return t

    def partition_log(self, topic: str, partition: int) -> PartitionLog:
        """The local log of a partition this broker leads, or KafkaError."""
        t = self.metadata.topics.get(topic)
        if t is None or not 0 <= partition < len(t.partitions):
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"unknown partition {topic}-{partition}")
        if t.partitions[partition].leader != self.node_id:
            raise KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, f"not the leader of {topic}-{partition}")
        plog = self.logs.get_log(topic, partition)
        if plog is None:
            raise KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, f"no local log for {topic}-{partition}")
        return plog

    def leader_epoch(self, topic: str, partition: int) -> int:
        return self.metadata.topics[topic].partitions[partition].leader_epoch

    def check_leader_epoch(self, topic: str, partition: int, current_leader_epoch: int) -> int:
        """KIP-320 fencing: a client's ``current_leader_epoch`` (-1 = unknown, not checked)
        newer than ours is UNKNOWN_LEADER_EPOCH, older is FENCED_LEADER_EPOCH. Returns ours."""
        epoch = self.leader_epoch(topic, partition)
        if current_leader_epoch >= 0 and current_leader_epoch != epoch:
            if current_leader_epoch > epoch:
                raise KafkaError(ErrorCode.UNKNOWN_LEADER_EPOCH, None)
            raise KafkaError(ErrorCode.FENCED_LEADER_EPOCH, None)
        return epoch

    def append_internal(self, topic: str, partition: int, batch: bytearray) -> None:
        """Append a batch the broker built itself (coordinator records), assigning offsets and
        waking fetches, as a produce would but without a client's validation."""
        plog = self.partition_log(topic, partition)
        plog.append(
            batch,
            list(iter_headers(batch)),
            leader_epoch=self.leader_epoch(topic, partition),
            now_ms=self.clock.time_ms(),
            log_append_time=False,
            origin=AppendOrigin.COORDINATOR,
        )
        self.purgatory.notify(topic, partition, len(batch))

    def save_metadata(self) -> None:
        self._store.save(self.metadata)
