"""What the ``moldau perf`` modes share: the summary, progress lines and client setup."""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from moldau.cli.common import Cluster, CommandError, describe_kafka_error, stderr
from moldau.util.datatype import datatype

MB = 1024 * 1024
_PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p99_9", 0.999))


# --- measurements -----------------------------------------------------------------------------


def percentile_summary(samples_ms: Sequence[float]) -> dict[str, float] | None:
    """avg, p50, p95, p99, p99.9 and max of latency samples in ms (nearest rank); None if empty."""
    if not samples_ms:
        return None
    ordered = sorted(samples_ms)
    n = len(ordered)
    out = {"avg": round(math.fsum(ordered) / n, 3)}
    for name, q in _PERCENTILES:
        out[name] = round(ordered[max(0, math.ceil(q * n) - 1)], 3)
    out["max"] = round(ordered[-1], 3)
    return out


@datatype
class Summary:
    mode: str
    topic: str
    records: int
    bytes: int
    elapsed_s: float
    latency_samples_ms: Sequence[float] = ()
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(self.elapsed_s, 1e-9)
        return {
            "mode": self.mode,
            "topic": self.topic,
            "records": self.records,
            "errors": self.errors,
            "bytes": self.bytes,
            "elapsed_s": round(self.elapsed_s, 4),
            "records_per_s": round(self.records / elapsed, 1),
            "mb_per_s": round(self.bytes / MB / elapsed, 3),
            "latency_ms": percentile_summary(self.latency_samples_ms),
            **self.extra,
            "settings": self.settings,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict())

    def to_text(self) -> str:
        d = self.as_dict()
        verb = {"produce": "sent", "consume": "received", "latency": "received"}[self.mode]
        lines = [
            f"{d['records']} records {verb} in {d['elapsed_s']:.2f} s: "
            f"{d['records_per_s']:.1f} records/s ({d['mb_per_s']:.2f} MB/s)"
            + (f", {d['errors']} errors" if d["errors"] else "")
        ]
        lat = d["latency_ms"]
        if lat:
            label = "end-to-end latency" if self.mode == "latency" else "latency"
            lines.append(
                f"{label} ms: avg {lat['avg']:.2f}, p50 {lat['p50']:.2f}, p95 {lat['p95']:.2f}, "
                f"p99 {lat['p99']:.2f}, p99.9 {lat['p99_9']:.2f}, max {lat['max']:.2f}"
            )
        for key, value in self.extra.items():
            lines.append(f"{key.replace('_', ' ')}: {value}")
        return "\n".join(lines)


def finish(args: argparse.Namespace, summary: Summary) -> int:
    """Print the summary; a run that fell short adds one line on stderr and exits 1."""
    print(summary.to_json() if args.output == "json" else summary.to_text(), flush=True)
    if summary.problem:
        print(f"{args.prog}: {summary.problem}", file=sys.stderr)
        return 1
    return 0


class Progress:
    """Prints a line per reporting interval about the records seen in that interval."""

    def __init__(self, interval: float, verb: str) -> None:
        self.interval = interval
        self.verb = verb
        self.window_start = time.monotonic()
        self.records = 0
        self.bytes = 0
        self.latencies: list[float] = []

    def add(self, n: int, nbytes: int) -> None:
        self.records += n
        self.bytes += nbytes

    def tick(self, now: float) -> None:
        elapsed = now - self.window_start
        if elapsed < self.interval:
            return
        line = (
            f"{self.records} records {self.verb}, {self.records / elapsed:.1f} records/s "
            f"({self.bytes / MB / elapsed:.2f} MB/s)"
        )
        if self.latencies:
            avg = math.fsum(self.latencies) / len(self.latencies)
            line += f", {avg:.1f} ms avg latency, {max(self.latencies):.1f} ms max latency"
        print(line, file=sys.stderr, flush=True)
        self.window_start, self.records, self.bytes, self.latencies = now, 0, 0, []


# --- clients ------------------------------------------------------------------------------------


class BrokerWatch:
    """The error callback of the load clients: notices when the broker goes away mid-run.

    librdkafka retries connections forever and reports through callbacks, not exceptions;
    ``_ALL_BROKERS_DOWN`` (or a fatal error) ends the run with the latest transport error as
    the reason.
    """

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.failure: str | None = None
        self._transport: str | None = None

    def on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._TRANSPORT:
            self._transport = err.str()
        elif err.fatal() or err.code() == KafkaError._ALL_BROKERS_DOWN:
            self.failure = self._transport or err.str()

    def check(self) -> None:
        if self.failure:
            raise CommandError(f"lost the broker at {self.bootstrap}: {self.failure}")


def ensure_topic(cluster: Cluster, args: argparse.Namespace, create: bool) -> int:
    """The topic's partition count; creates the topic (``--partitions``, or 1) if it is missing."""
    wanted = getattr(args, "partitions", None)
    existing = cluster.metadata.topics.get(args.topic)
    if existing is not None and existing.error is None:
        count = len(existing.partitions)
        if wanted and wanted != count:
            stderr(f"{args.prog}: topic {args.topic} has {count} partitions, not {wanted}; using it as it is")
        return count
    if not create:
        cluster.topic(args.topic)  # raises "unknown topic"
    count = wanted or 1
    future = cluster.admin.create_topics([NewTopic(args.topic, num_partitions=count, replication_factor=1)])
    try:
        future[args.topic].result(args.timeout)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise CommandError(f"cannot create topic {args.topic}: {describe_kafka_error(e)}") from None
    except TimeoutError:
        raise CommandError(f"topic {args.topic} was not created within {args.timeout:g} s") from None
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        topic = cluster.admin.list_topics(topic=args.topic, timeout=args.timeout).topics.get(args.topic)
        partitions = topic.partitions if topic is not None and topic.error is None else {}
        if len(partitions) == count and all(p.leader >= 0 for p in partitions.values()):
            return count
        time.sleep(0.05)
    raise CommandError(f"topic {args.topic} has no leaders after {args.timeout:g} s")


def producer_config(watch: BrokerWatch, args: argparse.Namespace) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "acks": args.acks,
        "linger.ms": args.linger_ms,
        "compression.type": args.compression,
        # Kafka's buffer.memory default, shared by the connections: a deeper queue only adds
        # queueing time to the latency of a saturated run.
        "queue.buffering.max.kbytes": max(1024, 32 * 1024 // getattr(args, "connections", 1)),
        "queue.buffering.max.messages": 1_000_000,
        "error_cb": watch.on_error,
    }
    if args.batch_size:
        conf["batch.size"] = args.batch_size
    return conf


def perf_consumer(cluster: Cluster, watch: BrokerWatch) -> Consumer:
    """The consumer of ``consume`` and ``latency``: used with assign(), it joins no group."""
    return cluster.consumer(
        {
            # The client insists on a group id; with assign() and no commits no group forms.
            "group.id": f"moldau-perf-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # When the application queue is full the client stops fetching for this long
            # (1 s by default): with a broker faster than the consuming thread that pause, not
            # the broker, would set the measured rate.
            "fetch.queue.backoff.ms": 10,
            "error_cb": watch.on_error,
        }
    )


def amount(args: argparse.Namespace) -> tuple[float, float]:
    """(record limit, seconds limit) of a run; either may be infinite."""
    if args.duration is not None:
        return math.inf, args.duration
    limit = args.num_records if args.num_records is not None else args.default_records
    return (math.inf if limit is None else limit), math.inf


def payload_bytes(size: int, rng: random.Random) -> bytes:
    """Random capital letters, as Kafka's producer perf test sends: compressible like text."""
    return bytes(rng.choices(range(65, 91), k=size))


def key_sequence(space: int, rng: random.Random) -> list[bytes] | None:
    """65536 keys drawn from ``space`` distinct ones, cycled through by the senders; None for no keys."""
    if space <= 0:
        return None
    return [b"key-%d" % rng.randrange(space) for _ in range(65536)]


def producer_settings(args: argparse.Namespace, partitions: int) -> dict[str, Any]:
    """The producer options of a run, as its summary reports them."""
    return {
        "bootstrap_server": args.bootstrap_server,
        "record_size": args.record_size,
        "acks": args.acks,
        "linger_ms": args.linger_ms,
        "batch_size": args.batch_size,
        "partitions": partitions,
        "keys": args.keys,
        "compression": args.compression,
        "throughput": args.throughput,
    }
