"""``moldau perf produce``: send records as fast as allowed (or at ``--throughput``), measure."""

from __future__ import annotations

import argparse
import random
import time
from array import array

from confluent_kafka import KafkaError, Message

from moldau.cli.common import Cluster
from moldau.cli.perf.common import (
    BrokerWatch,
    Progress,
    Summary,
    amount,
    ensure_topic,
    finish,
    key_sequence,
    payload_bytes,
    producer_config,
    producer_settings,
)

_POLL_EVERY = 1024  # records between checks of the clock, callbacks and progress


def run_produce(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    watch = BrokerWatch(args.bootstrap_server)
    partitions = ensure_topic(cluster, args, create=True)
    rng = random.Random(0x5EED)
    payload = payload_bytes(args.record_size, rng)
    keys = key_sequence(args.keys, rng)
    progress = Progress(args.reporting_interval, "sent")
    latencies: array[float] = array("d")
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(err.str())
            return
        ms = (msg.latency() or 0.0) * 1000.0
        latencies.append(ms)
        progress.latencies.append(ms)
        progress.records += 1
        progress.bytes += len(payload)

    conf = {**producer_config(watch, args), "on_delivery": on_delivery}
    producers = [cluster.producer(conf) for _ in range(args.connections)]
    for p in producers:  # connect before the clock starts
        p.list_topics(args.topic, timeout=args.timeout)

    limit, seconds = amount(args)
    rate = args.throughput if args.throughput > 0 else 0.0
    topic, count = args.topic, len(producers)
    sent, interrupted = 0, False
    start = time.monotonic()
    try:
        while sent < limit:
            now = time.monotonic()
            if now - start >= seconds:
                break
            chunk = int(min(_POLL_EVERY, limit - sent))
            if rate:
                behind = now - (start + sent / rate)
                if behind < 0:
                    time.sleep(min(-behind, 0.1))
                    continue
                chunk = min(chunk, int(behind * rate) + 1)
            end = sent + chunk
            while sent < end:
                p = producers[sent % count] if count > 1 else producers[0]
                try:
                    if keys is None:
                        p.produce(topic, payload)
                    else:
                        p.produce(topic, payload, keys[sent & 0xFFFF])
                except BufferError:
                    p.poll(0.005)
                    continue
                sent += 1
            for p in producers:
                p.poll(0)
            watch.check()
            progress.tick(time.monotonic())
    except KeyboardInterrupt:
        interrupted = True
    unflushed = 0
    flush_deadline = time.monotonic() + max(args.timeout, 30.0)
    for p in producers:
        while p.flush(0.5) > 0 and time.monotonic() < flush_deadline:
            watch.check()
        unflushed += len(p)
    elapsed = time.monotonic() - start
    problem = None
    if failures:
        problem = f"{len(failures)} records failed: {failures[0]}"
    elif unflushed:
        problem = f"{unflushed} records not acknowledged within the flush timeout"
    summary = Summary(
        mode="produce",
        topic=topic,
        records=len(latencies),
        bytes=len(latencies) * len(payload),
        elapsed_s=elapsed,
        latency_samples_ms=latencies,
        errors=len(failures) + unflushed,
        extra={"interrupted": True} if interrupted else {},
        settings={**producer_settings(args, partitions), "connections": args.connections},
        problem=problem,
    )
    return finish(args, summary)
