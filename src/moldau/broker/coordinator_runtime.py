"""Runs a sans-IO coordinator (groups, transactions) on the event loop.

The coordinator decides; this runtime does the I/O around its decisions, in a fixed order for
every operation: call the coordinator, append the records it returned to their partitions of
the coordinator's internal topic, replay them into the coordinator, then deliver the replies.
A reply may answer the calling request or requests parked earlier (a JoinGroup waiting for the
rebalance to complete), which is why requests carry a token and wait on a future.

Timers: after every operation the runtime re-arms one loop timer at the coordinator's
``next_deadline()``; when it fires, ``tick()`` expires what is due.

At start-up every partition of the internal topic is read from its log start and replayed;
then ``loaded()`` lets the coordinator act on what it found. The topic itself is created on
first use, as Kafka does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from moldau.coordinator.group import CoordinatorRecord
from moldau.protocol.errors import KafkaError
from moldau.protocol.records.batch import BatchHeader, iter_headers
from moldau.protocol.records.records import build_batch, decode_records
from moldau.util.datatype import datatype

if TYPE_CHECKING:
    from moldau.broker.core import Broker

log = logging.getLogger(__name__)

_LOAD_CHUNK = 8 * 1024 * 1024


class CoordinatorResult(Protocol):
    records: list[CoordinatorRecord]
    replies: list[tuple[Any, Any]]
    replies_if_write_fails: list[tuple[Any, Any]]


class Coordinator(Protocol):
    def replay(self, record: CoordinatorRecord) -> None: ...
    def tick(self) -> Any: ...
    def next_deadline(self) -> int | None: ...
    def loaded(self) -> Any: ...


@datatype(frozen=True, slots=True)
class InternalTopic:
    """How to create a coordinator's internal topic."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


class CoordinatorRuntime:
    def __init__(self, broker: Broker, topic: InternalTopic, coordinator: Coordinator) -> None:
        self._broker = broker
        self.topic = topic
        self.coordinator = coordinator
        self._waiting: dict[object, asyncio.Future[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    # -- start-up ------------------------------------------------------------------------------

    def load(self) -> None:
        """Replay every existing partition of the internal topic, then ``loaded()``."""
        name = self.topic.name
        topic = self._broker.metadata.topics.get(name)
        count = 0
        for partition in range(len(topic.partitions) if topic else 0):
            plog = self._broker.partition_log(name, partition)
            offset = plog.log_start_offset
            while offset < plog.high_watermark:
                data = plog.read(offset, _LOAD_CHUNK, max_offset=plog.high_watermark).data
                if not data:
                    break
                for pos, header in iter_headers(data):
                    offset = header.next_offset
                    batch = memoryview(data)[pos : pos + header.size]
                    if header.is_control:
                        self.on_control_batch(partition, header, batch)
                        continue
                    for record in decode_records(batch):
                        self.coordinator.replay(
                            CoordinatorRecord(
                                partition,
                                record.key or b"",
                                record.value,
                                *self._producer_of(header),
                            )
                        )
                        count += 1
        if count:
            log.info("Loaded %d records of %s", count, name)
        self._apply(self.coordinator.loaded())

    @staticmethod
    def _producer_of(header: BatchHeader) -> tuple[int, int]:
        if header.is_transactional:
            return header.producer_id, header.producer_epoch
        return -1, -1

    def on_control_batch(self, partition: int, header: BatchHeader, batch: memoryview) -> None:
        """A transaction marker in the internal topic; the group runtime replays these."""

    def ensure_topic(self) -> None:
        from moldau.broker import topic_admin

        broker, t = self._broker, self.topic
        if t.name in broker.metadata.topics:
            return
        replication = min(t.replication_factor, len(broker.metadata.brokers) or 1)
        topic_admin.create_topic(broker, t.name, t.partitions, replication, configs=t.configs)
        log.info("Created %s", t.name)

    # -- operations ----------------------------------------------------------------------------

    def call(self, operation: Callable[[object], Any]) -> Any:
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

    def _apply(self, result: CoordinatorResult) -> None:
        if result.records:
            try:
                self._append(result.records)
            except KafkaError as e:
                log.error("Writing to %s failed: %s", self.topic.name, e)
                self.write_failed(result.records)
                self._deliver(result.replies_if_write_fails)
                self._arm_timer()
                return
            for record in result.records:
                self.coordinator.replay(record)
        self._deliver(result.replies)
        self.after_write(result)
        self._arm_timer()

    def write_failed(self, records: list[CoordinatorRecord]) -> None:
        """Records that could not be appended (the transaction coordinator must hear of it)."""

    def after_write(self, result: Any) -> None:
        """Work that follows a result whose records (if any) are durable and replayed, and
        whose replies went out; the transaction runtime writes markers here."""

    def _deliver(self, replies: list[tuple[Any, Any]]) -> None:
        for token, response in replies:
            future = self._waiting.pop(token, None)
            if future is not None and not future.done():
                future.set_result(response)

    def _append(self, records: list[CoordinatorRecord]) -> None:
        broker = self._broker
        now = broker.clock.time_ms()
        batches: dict[tuple[int, int, int], list[CoordinatorRecord]] = defaultdict(list)
        for record in records:
            batches[(record.partition, record.producer_id, record.producer_epoch)].append(record)
        for (partition, producer_id, producer_epoch), batch_records in batches.items():
            batch = bytearray(
                build_batch(
                    [(r.key, r.value, [], now) for r in batch_records],
                    producer_id=producer_id,
                    producer_epoch=producer_epoch,
                    transactional=producer_id >= 0,
                )
            )
            broker.append_internal(self.topic.name, partition, batch)

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
