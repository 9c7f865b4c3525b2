"""Runs the sans-IO group coordinator on the event loop.

The coordinator decides; this runtime does the I/O around its decisions, in a fixed order for
every operation: call the coordinator, append the records it returned to their
``__consumer_offsets`` partitions, replay them into the coordinator, then deliver the replies.
A reply may answer the calling request or requests parked earlier (a JoinGroup waiting for the
rebalance to complete), which is why requests carry a token and wait on a future.

Timers: after every operation the runtime re-arms one loop timer at the coordinator's
``next_deadline()``; when it fires, ``tick()`` expires sessions, rebalances and offsets.

At start-up every partition of ``__consumer_offsets`` is read from its log start and replayed.
The topic itself is created on first use (FindCoordinator), as Kafka does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moldau.coordinator.group import CoordinatorRecord, GroupConfig, GroupCoordinator, Result
from moldau.protocol.errors import KafkaError
from moldau.protocol.records.batch import iter_headers
from moldau.protocol.records.records import build_batch, decode_records

if TYPE_CHECKING:
    from moldau.broker.core import Broker

log = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
_LOAD_CHUNK = 8 * 1024 * 1024


def group_config(broker: Broker) -> GroupConfig:
    get = broker.config.get
    return GroupConfig(
        offsets_topic_num_partitions=get("offsets.topic.num.partitions"),
        group_initial_rebalance_delay_ms=get("group.initial.rebalance.delay.ms"),
        group_min_session_timeout_ms=get("group.min.session.timeout.ms"),
        group_max_session_timeout_ms=get("group.max.session.timeout.ms"),
        group_max_size=get("group.max.size"),
        offsets_retention_minutes=get("offsets.retention.minutes"),
        offsets_retention_check_interval_ms=get("offsets.retention.check.interval.ms"),
        offset_metadata_max_bytes=get("offset.metadata.max.bytes"),
    )


class GroupRuntime:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.coordinator = GroupCoordinator(broker.clock, group_config(broker))
        self._waiting: dict[object, asyncio.Future[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    # -- start-up ------------------------------------------------------------------------------

    def load(self) -> None:
        """Replay every existing partition of ``__consumer_offsets``."""
        topic = self._broker.metadata.topics.get(OFFSETS_TOPIC)
        if topic is None:
            return
        count = 0
        for partition in range(len(topic.partitions)):
            plog = self._broker.partition_log(OFFSETS_TOPIC, partition)
            offset = plog.log_start_offset
            while offset < plog.high_watermark:
                data = plog.read(offset, _LOAD_CHUNK, max_offset=plog.high_watermark).data
                if not data:
                    break
                for pos, header in iter_headers(data):
                    offset = header.next_offset
                    if header.is_control:
                        continue
                    for record in decode_records(memoryview(data)[pos : pos + header.size]):
                        self.coordinator.replay(CoordinatorRecord(partition, record.key or b"", record.value))
                        count += 1
        if count:
            log.info("Loaded %d records of %s into the group coordinator", count, OFFSETS_TOPIC)
        self._apply(self.coordinator.loaded())

    def ensure_offsets_topic(self) -> None:
        from moldau.broker import topic_admin

        broker = self._broker
        if OFFSETS_TOPIC in broker.metadata.topics:
            return
        replication = min(
            broker.config.get("offsets.topic.replication.factor"), len(broker.metadata.brokers) or 1
        )
        topic_admin.create_topic(
            broker,
            OFFSETS_TOPIC,
            broker.config.get("offsets.topic.num.partitions"),
            replication,
            configs={
                "cleanup.policy": "compact",
                "compression.type": "producer",
                "segment.bytes": str(broker.config.get("offsets.topic.segment.bytes")),
            },
        )
        log.info("Created %s", OFFSETS_TOPIC)

    # -- operations ----------------------------------------------------------------------------

    def call(self, operation: Callable[[object], Result]) -> Any:
        """Run one coordinator operation. Returns the response when it is ready at once,
        otherwise an awaitable that completes when the coordinator replies."""
        token = object()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            self._apply(operation(token))
        except BaseException:
            self._waiting.pop(token, None)
            raise
        if future.done():
            return future.result()
        return future

    def _apply(self, result: Result) -> None:
        replies = result.replies
        if result.records:
            try:
                self._append(result.records)
            except KafkaError as e:
                log.error("Writing to %s failed: %s", OFFSETS_TOPIC, e)
                replies = result.replies_if_write_fails
            else:
                for record in result.records:
                    self.coordinator.replay(record)
        for token, response in replies:
            future = self._waiting.pop(token, None)
            if future is not None and not future.done():
                future.set_result(response)
        self._arm_timer()

    def _append(self, records: list[CoordinatorRecord]) -> None:
        broker = self._broker
        now = broker.clock.time_ms()
        by_partition: dict[int, list[CoordinatorRecord]] = defaultdict(list)
        for record in records:
            by_partition[record.partition].append(record)
        for partition, batch_records in by_partition.items():
            batch = bytearray(build_batch([(r.key, r.value, [], now) for r in batch_records]))
            plog = broker.partition_log(OFFSETS_TOPIC, partition)
            plog.append(
                batch,
                list(iter_headers(batch)),
                leader_epoch=broker.leader_epoch(OFFSETS_TOPIC, partition),
                now_ms=now,
                log_append_time=False,
            )
            broker.purgatory.notify(OFFSETS_TOPIC, partition, len(batch))

    # -- timers --------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.coordinator.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is None:
            return
        delay = max(0, deadline - self._broker.clock.time_ms()) / 1000.0
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._apply(self.coordinator.tick())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
