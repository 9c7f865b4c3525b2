"""``moldau perf produce|consume|latency``: load tools in the spirit of Kafka's perf-test scripts.

They work against any Kafka-compatible bootstrap server and are built on confluent-kafka
(librdkafka), so that the client is rarely what limits a measurement.

* ``produce`` sends ``--num-records`` records (or sends for ``--duration`` seconds) of
  ``--record-size`` bytes, at up to ``--throughput`` records/s. A record's latency is
  librdkafka's own measure of it (``Message.latency()``): from ``produce()`` to the delivery
  report, linger and queueing included, as Kafka's ProducerPerformance measures from
  ``send()`` to its callback.
* ``consume`` reads a topic from the beginning of every partition without a consumer group
  (``assign``, no commits); by default it stops at the high watermarks seen at start.
* ``latency`` is end to end: a producer sends at a fixed rate and stamps each value with the
  send time; a consumer in the same process, assigned to the end of the topic before the first
  send, takes the difference when the record arrives.

Connection options, ``-X`` client properties and the one-line error contract are those of the
other client commands (``moldau.cli.common``). Progress lines go to stderr every
``--reporting-interval`` seconds; the summary goes to stdout, as text or (``--output json``) as
one JSON object on one line. A run that could not do what it was asked (failed deliveries,
records that never arrived) still prints its summary, then one line on stderr, and exits 1.
Ctrl-C stops a run early and still prints the summary of what was done.

Units: MB is 2**20 bytes, as in Kafka's tools; byte counts are of record values only.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from moldau.cli.common import (
    Cluster,
    CommandError,
    UsageError,
    add_command,
    add_output_arg,
    describe_kafka_error,
    non_negative_int,
    positive_int,
    stderr,
)

MB = 1024 * 1024
_POLL_EVERY = 1024  # records between checks of the clock, callbacks and progress
_STAMP = struct.Struct(">qq")  # latency mode: send time (monotonic ns), sequence number
_PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p99_9", 0.999))


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "perf",
        help="measure a Kafka-compatible broker",
        description="Load tools: produce, consume, and end-to-end latency.",
    )
    modes = p.add_subparsers(dest="perf_mode", metavar="MODE", required=True)

    prod = add_command(
        modes, "produce", run_produce, "produce records as fast as allowed, measure throughput"
    )
    _common_args(prod)
    _producer_args(prod, default_linger_ms=5)
    _amount_args(prod, 1_000_000, "1,000,000")
    prod.add_argument(
        "--throughput", type=float, default=-1, help="target rate in records/s; -1 for no limit (default)"
    )
    prod.add_argument(
        "--connections",
        type=positive_int,
        default=1,
        help="producer clients (a connection each) sharing the load (1)",
    )

    cons = add_command(modes, "consume", run_consume, "read a topic from the beginning, measure throughput")
    _common_args(cons)
    _amount_args(cons, None, "all there is at start")

    lat = add_command(modes, "latency", run_latency, "measure end-to-end latency at a fixed produce rate")
    _common_args(lat)
    _producer_args(lat, default_linger_ms=0)
    _amount_args(lat, None, "default: --duration 10")
    lat.add_argument("--throughput", type=float, default=5000, help="produce rate in records/s (5000)")
    lat.add_argument(
        "--warmup-seconds",
        type=float,
        default=1.0,
        help="records sent in this first stretch are not counted (1.0)",
    )


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topic", required=True)
    add_output_arg(p, ("text", "json"))
    p.add_argument(
        "--reporting-interval", type=float, default=5.0, metavar="SECONDS", help="progress lines (5)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="the longest wait for a record, a topic or a flush (10)",
    )


def _producer_args(p: argparse.ArgumentParser, default_linger_ms: int) -> None:
    p.add_argument("--record-size", type=non_negative_int, default=100, help="value size in bytes (100)")
    p.add_argument("--acks", choices=("0", "1", "all", "-1"), default="1", help="(1)")
    p.add_argument("--linger-ms", type=float, default=default_linger_ms, help=f"({default_linger_ms})")
    p.add_argument("--batch-size", type=positive_int, help="batch.size in bytes (librdkafka's default)")
    p.add_argument(
        "--partitions",
        type=positive_int,
        help="create the topic with this many partitions if it is missing (1)",
    )
    p.add_argument(
        "--keys", type=non_negative_int, default=0, metavar="N", help="random keys out of N distinct ones"
    )
    p.add_argument(
        "--compression", choices=("none", "gzip", "snappy", "lz4", "zstd"), default="none", help="(none)"
    )


def _amount_args(p: argparse.ArgumentParser, default_records: int | None, default_text: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--num-records", type=non_negative_int, help=f"how many records ({default_text})")
    group.add_argument("--duration", type=float, metavar="SECONDS", help="run this long instead")
    p.set_defaults(default_records=default_records)


def _finish(args: argparse.Namespace, summary: Summary) -> int:
    print(summary.to_json() if args.output == "json" else summary.to_text(), flush=True)
    if summary.problem:
        print(f"{args.prog}: {summary.problem}", file=sys.stderr)
        return 1
    return 0


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


@dataclass
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


def _amount(args: argparse.Namespace) -> tuple[float, float]:
    """(record limit, seconds limit) of a run; either may be infinite."""
    if args.duration is not None:
        return math.inf, args.duration
    limit = args.num_records if args.num_records is not None else args.default_records
    return (math.inf if limit is None else limit), math.inf


def _payload(size: int, rng: random.Random) -> bytes:
    """Random capital letters, as Kafka's producer perf test sends: compressible like text."""
    return bytes(rng.choices(range(65, 91), k=size))


def _key_sequence(space: int, rng: random.Random) -> list[bytes] | None:
    if space <= 0:
        return None
    return [b"key-%d" % rng.randrange(space) for _ in range(65536)]


def _producer_settings(args: argparse.Namespace, partitions: int) -> dict[str, Any]:
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


# --- produce ------------------------------------------------------------------------------------


def run_produce(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    watch = BrokerWatch(args.bootstrap_server)
    partitions = ensure_topic(cluster, args, create=True)
    rng = random.Random(0x5EED)
    payload = _payload(args.record_size, rng)
    keys = _key_sequence(args.keys, rng)
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

    limit, seconds = _amount(args)
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
        settings={**_producer_settings(args, partitions), "connections": args.connections},
        problem=problem,
    )
    return _finish(args, summary)


# --- consume ------------------------------------------------------------------------------------


def _consumer(cluster: Cluster, watch: BrokerWatch) -> Consumer:
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


def run_consume(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    watch = BrokerWatch(args.bootstrap_server)
    partitions = ensure_topic(cluster, args, create=False)
    consumer = _consumer(cluster, watch)
    tps = [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    # The watermarks are the default amount, and asking for them connects before the clock starts.
    available = 0
    for tp in tps:
        low, high = consumer.get_watermark_offsets(tp, timeout=args.timeout)
        available += high - low
    limit, seconds = _amount(args)
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
    return _finish(args, summary)


# --- latency ------------------------------------------------------------------------------------


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
    limit, seconds = _amount(args)
    if limit == math.inf and seconds == math.inf:
        seconds = 10.0
    rate = args.throughput
    warmup = int(rate * max(args.warmup_seconds, 0.0))

    consumer = _consumer(cluster, watch)
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
    padding = _payload(args.record_size - 24, random.Random(7))
    tail = struct.pack(">q", run_id) + padding
    keys = _key_sequence(args.keys, random.Random(0x5EED))
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
        settings={**_producer_settings(args, partitions), "warmup_seconds": args.warmup_seconds},
        problem=problem,
    )
    return _finish(args, summary)
