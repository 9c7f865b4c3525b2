"""``moldau produce TOPIC``: one record per input line, from stdin or ``--file``.

Lines are bytes: the line terminator (``\\n`` or ``\\r\\n``) is dropped and nothing else is
touched, so an empty line is a record with an empty value. With ``--key-separator SEP`` the
line is split at the first SEP into key and value; a line without SEP is reported and
counted as a failed record. Every ``--header`` goes on every record.

The command waits for every delivery report. Failed records are reported on stderr (the first
few one by one, then a count) and make the exit code 1. Progress lines go to stderr every few
seconds when stderr is a terminal or ``--progress`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from confluent_kafka import KafkaError, Message, Producer

from moldau.cli import common
from moldau.cli.common import Cluster, CommandError

PROGRESS_INTERVAL_S = 2.0
REPORTED_FAILURES = 10
DEFAULT_DELIVERY_TIMEOUT_MS = 30_000


def add_parser(sub: Any) -> None:
    p = common.add_command(sub, "produce", run, "write records to a topic, one per input line")
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("--file", metavar="PATH", help="read the records from this file instead of stdin")
    p.add_argument(
        "--key-separator",
        metavar="SEP",
        help="split each line at the first SEP into key and value (default: no key)",
    )
    p.add_argument(
        "--header",
        type=common.key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a header on every record (repeatable)",
    )
    p.add_argument(
        "--partition",
        type=common.non_negative_int,
        help="write to this partition (default: by key, or spread out)",
    )
    p.add_argument(
        "--compression",
        choices=("none", "gzip", "snappy", "lz4", "zstd"),
        default="none",
        help="compression codec of the record batches (default none)",
    )
    p.add_argument("--acks", choices=("all", "-1", "0", "1"), default="all", help="default all")
    p.add_argument(
        "--delivery-timeout-ms",
        type=common.positive_int,
        default=DEFAULT_DELIVERY_TIMEOUT_MS,
        metavar="MS",
        help=f"a record not delivered within this time fails (default {DEFAULT_DELIVERY_TIMEOUT_MS})",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr even when it is not a terminal",
    )


@contextmanager
def open_input(path: str | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdin.buffer
        return
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, after the records are read
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None
    try:
        yield f
    finally:
        f.close()


def split_line(line: bytes, separator: bytes | None) -> tuple[bytes | None, bytes]:
    """(key, value) of one input line without its terminator; ValueError if SEP is missing."""
    if separator is None:
        return None, line
    key, sep, value = line.partition(separator)
    if not sep:
        raise ValueError("no key separator")
    return key, value


def strip_terminator(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
    return line


class Tally:
    """Counts sent, delivered and failed records; reports failures and progress on stderr."""

    def __init__(self, prog: str, topic: str, progress: bool) -> None:
        self.prog = prog
        self.topic = topic
        self.progress = progress
        self.sent = 0
        self.delivered = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_report = self.started

    def fail(self, line_no: int, reason: str) -> None:
        self.failed += 1
        if self.failed <= REPORTED_FAILURES:
            common.stderr(f"{self.prog}: line {line_no}: {reason}")
        elif self.failed == REPORTED_FAILURES + 1:
            common.stderr(f"{self.prog}: more records failed; not reporting each one")

    def on_delivery(self, line_no: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                self.delivered += 1
            else:
                self.fail(line_no, f"not delivered: {common.describe_kafka_error(err)}")

        return report

    def tick(self) -> None:
        now = time.monotonic()
        if self.progress and now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            rate = self.delivered / max(now - self.started, 1e-9)
            common.stderr(
                f"{self.prog}: {self.sent} records sent, {self.delivered} delivered, "
                f"{self.failed} failed ({rate:,.0f} records/s)"
            )

    def summary(self) -> None:
        elapsed = time.monotonic() - self.started
        failed = f", {self.failed} failed" if self.failed else ""
        if self.progress:
            common.stderr(
                f"{self.prog}: {self.delivered} records delivered to {self.topic} in {elapsed:.1f} s{failed}"
            )
        elif self.failed:
            common.stderr(f"{self.prog}: {self.failed} of {self.delivered + self.failed} records failed")


def send(producer: Producer, tally: Tally, line_no: int, **record: Any) -> None:
    """Hand one record to the producer, waiting for room when its queue is full."""
    while True:
        try:
            producer.produce(on_delivery=tally.on_delivery(line_no), **record)
            break
        except BufferError:
            producer.poll(0.05)
    tally.sent += 1
    producer.poll(0)


def run(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    if args.partition is not None:
        cluster.partitions(args.topic, [args.partition])
    else:
        cluster.topic(args.topic)
    producer = cluster.producer(
        {
            "compression.type": args.compression,
            "acks": args.acks,
            "message.timeout.ms": args.delivery_timeout_ms,
            "linger.ms": 5,
        }
    )
    separator = args.key_separator.encode() if args.key_separator else None
    headers = [(k, v.encode()) for k, v in args.header]
    tally = Tally(args.prog, args.topic, progress=args.progress or sys.stderr.isatty())
    record: dict[str, Any] = {"topic": args.topic}
    if args.partition is not None:
        record["partition"] = args.partition
    if headers:
        record["headers"] = headers
    interrupted = False
    with open_input(args.file) as source:
        try:
            for line_no, raw in enumerate(source, start=1):
                try:
                    key, value = split_line(strip_terminator(raw), separator)
                except ValueError:
                    tally.fail(line_no, f"no key separator {args.key_separator!r}")
                    continue
                send(producer, tally, line_no, key=key, value=value, **record)
                if line_no % 1000 == 0:
                    tally.tick()
        except KeyboardInterrupt:
            interrupted = True
    while len(producer) > 0:
        try:
            producer.flush(PROGRESS_INTERVAL_S)
        except KeyboardInterrupt:
            break
        tally.tick()
    unfinished = len(producer)
    if unfinished:
        tally.failed += unfinished
        common.stderr(f"{args.prog}: interrupted before {unfinished} records were delivered")
    tally.summary()
    if interrupted:
        return 130
    return 1 if tally.failed else 0
