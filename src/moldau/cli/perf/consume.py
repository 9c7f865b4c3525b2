"""``moldau perf consume``: read a topic from the beginning without a group, measure."""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from moldau.cli.common import Cluster
from moldau.cli.perf.common import BrokerWatch, Progress, Summary, amount, ensure_topic, finish, perf_consumer


def run_consume(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    watch = BrokerWatch(args.bootstrap_server)
    partitions = ensure_topic(cluster, args, create=False)
    consumer = perf_consumer(cluster, watch)
    tps = [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    # The watermarks are the default amount, and asking for them connects before the clock starts.
    available = 0
    for tp in tps:
        low, high = consumer.get_watermark_offsets(tp, timeout=args.timeout)
        available += high - low
    limit, seconds = amount(args)
    if limit == math.inf and seconds == math.inf:
        limit = available
    progress = Progress(args.reporting_interval, "received")
    records = nbytes = 0
    first_at: float | None = None
    last_at = time.monotonic()
    problem, interrupted = None, False
    start = time.monotonic()
    consumer.assign(tps)
    try:
        while records < limit:
            now = time.monotonic()
            if now - start >= seconds:
                break
            if now - last_at > args.timeout and seconds == math.inf:
                problem = f"no record for {args.timeout:g} s; got {records} of {limit}"
                break
            batch = consumer.consume(int(min(10_000, limit - records)), timeout=0.2)
            got = got_bytes = 0
            for m in batch:
                err = m.error()
                if err is not None:
                    if not err.retriable():
                        problem = f"fetch failed: {err.str()}"
                    continue
                got += 1
                got_bytes += len(m)
            if got:
                last_at = time.monotonic()
                if first_at is None:
                    first_at = last_at
                records += got
                nbytes += got_bytes
                progress.add(got, got_bytes)
            if problem:
                break
            watch.check()
            progress.tick(time.monotonic())
    except KeyboardInterrupt:
        interrupted = True
    end = last_at if limit != math.inf and records >= limit else time.monotonic()
    consumer.close()
    extra: dict[str, Any] = {
        "first_record_ms": None if first_at is None else round((first_at - start) * 1000, 1)
    }
    if interrupted:
        extra["interrupted"] = True
    summary = Summary(
        mode="consume",
        topic=args.topic,
        records=records,
        bytes=nbytes,
        elapsed_s=end - start,
        extra=extra,
        settings={"bootstrap_server": args.bootstrap_server, "partitions": partitions},
        problem=problem,
    )
    return finish(args, summary)
