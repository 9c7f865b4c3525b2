"""``moldau perf latency``: end-to-end latency at a fixed produce rate, in one process."""

from __future__ import annotations

import argparse
import math
import random
import struct
import threading
import time
from array import array
from typing import Any

from confluent_kafka import KafkaError, Message, TopicPartition

from moldau.cli.common import Cluster, UsageError
from moldau.cli.perf.common import (
    BrokerWatch,
    Progress,
    Summary,
    amount,
    ensure_topic,
    finish,
    key_sequence,
    payload_bytes,
    perf_consumer,
    producer_config,
    producer_settings,
)

_STAMP = struct.Struct(">qq")  # latency mode: send time (monotonic ns), sequence number


class _Receiver(threading.Thread):
    """The consumer side of ``latency``: polls one record at a time and keeps its latency.

    ``poll`` returns as soon as a record is there (``consume`` would wait to fill a batch), and
    releases the GIL while it waits, so the producer thread keeps its pace.
    """

    def __init__(self, consumer: Any, warmup: int, progress: Progress, run_id: int) -> None:
        super().__init__(name="perf-latency-consumer", daemon=True)
        self.consumer = consumer
        self.warmup = warmup
        self.progress = progress
        self.run_id = run_id
        self.latencies: array[float] = array("d")
        self.received = 0
        self.stop_at = math.inf  # set by the producer: the sequence number past the last record
        self.error: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        seen = 0
        try:
            while seen < self.stop_at and not self.done.is_set():
                m = self.consumer.poll(0.1)
                if m is None:
                    continue
                now = time.monotonic_ns()
                err = m.error()
                if err is not None:
                    if not err.retriable():
                        self.error = err.str()
                        return
                    continue
                value = m.value()
                if len(value) < 24 or struct.unpack_from(">q", value, 16)[0] != self.run_id:
                    continue
                sent_ns, seq = _STAMP.unpack_from(value)
                seen += 1
                if seq < self.warmup:
                    continue
                ms = (now - sent_ns) / 1e6
                self.latencies.append(ms)
                self.received += 1
                self.progress.latencies.append(ms)
                self.progress.add(1, len(value))
        finally:
            self.done.set()


def run_latency(args: argparse.Namespace) -> int:
    if args.record_size < 24:
        raise UsageError("--record-size must be at least 24 bytes in latency mode (send time, sequence, run)")
    if args.throughput <= 0:
        raise UsageError("--throughput must be a positive rate in latency mode")
    cluster = Cluster(args)
    watch = BrokerWatch(args.bootstrap_server)
    partitions = ensure_topic(cluster, args, create=True)
    limit, seconds = amount(args)
    if limit == math.inf and seconds == math.inf:
        seconds = 10.0
    rate = args.throughput
    warmup = int(rate * max(args.warmup_seconds, 0.0))

    consumer = perf_consumer(cluster, watch)
    start_offsets = []
    for p in range(partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=args.timeout)
        start_offsets.append(TopicPartition(args.topic, p, high))
    consumer.assign(start_offsets)
    progress = Progress(args.reporting_interval, "received")
    run_id = random.getrandbits(63)
    receiver = _Receiver(consumer, warmup, progress, run_id)
    receiver.start()

    failures: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(err.str())

    producer = cluster.producer({**producer_config(watch, args), "on_delivery": on_delivery})
    producer.list_topics(args.topic, timeout=args.timeout)
    padding = payload_bytes(args.record_size - 24, random.Random(7))
    tail = struct.pack(">q", run_id) + padding
    keys = key_sequence(args.keys, random.Random(0x5EED))
    seq, interrupted = 0, False
    start = time.monotonic()
    measured_from = start + warmup / rate
    try:
        while seq - warmup < limit:
            due = start + seq / rate
            if due - measured_from >= seconds:
                break
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            value = _STAMP.pack(time.monotonic_ns(), seq) + tail
            try:
                if keys is None:
                    producer.produce(args.topic, value)
                else:
                    producer.produce(args.topic, value, keys[seq & 0xFFFF])
            except BufferError:
                producer.poll(0.001)
                continue
            seq += 1
            producer.poll(0)
            if seq % 256 == 0:
                watch.check()
                if receiver.error:
                    break
                progress.tick(time.monotonic())
    except KeyboardInterrupt:
        interrupted = True
    send_end = time.monotonic()
    producer.flush(args.timeout)
    receiver.stop_at = seq
    receiver.done.wait(args.timeout)
    receiver.done.set()
    receiver.join(1.0)
    consumer.close()
    sent = max(0, seq - warmup)
    problem = None
    if receiver.error:
        problem = f"fetch failed: {receiver.error}"
    elif failures:
        problem = f"{len(failures)} records failed: {failures[0]}"
    elif receiver.received < sent and not interrupted:
        problem = f"{sent - receiver.received} of {sent} records did not arrive within {args.timeout:g} s"
    extra: dict[str, Any] = {"sent": sent, "target_rate": rate}
    if interrupted:
        extra["interrupted"] = True
    summary = Summary(
        mode="latency",
        topic=args.topic,
        records=receiver.received,
        bytes=receiver.received * args.record_size,
        elapsed_s=max(send_end - measured_from, 1e-9),
        latency_samples_ms=receiver.latencies,
        errors=len(failures),
        extra=extra,
        settings={**producer_settings(args, partitions), "warmup_seconds": args.warmup_seconds},
        problem=problem,
    )
    return finish(args, summary)
