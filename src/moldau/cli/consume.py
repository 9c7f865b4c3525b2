"""``moldau consume TOPIC``: print records, following new ones until interrupted.

Two ways to read, as ``kafka-console-consumer``:

- Without ``--group`` the partitions are assigned directly (all of them, or ``--partition``)
  and nothing is committed. The start is the log end unless ``--from-beginning``,
  ``--offset N`` (an offset, or ``earliest``/``latest``) or ``--from-time`` (the first record
  at or after that instant) says otherwise.
- With ``--group`` the consumer subscribes as a member of that group and commits what it
  printed. It resumes from the group's committed offsets; ``--from-beginning`` only decides
  where a partition without a committed offset starts (``auto.offset.reset``).

The command ends after ``--max-messages`` records, after ``--timeout-ms`` without a record,
or on Ctrl-C / SIGTERM; all of these exit 0. The default line is Kafka's console format
(``CreateTime:... Partition:... Offset:... headers key value``, tab-separated, each part
only when asked for); ``--format`` takes a template instead, ``--output json`` prints one JSON
object per record.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import string
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    Message,
    TopicPartition,
)

from moldau.cli import common, timespec
from moldau.cli.common import Cluster, CommandError, UsageError

FIELDS = ("topic", "partition", "offset", "timestamp", "key", "value", "headers")
BATCH = 500
POLL_S = 0.5
_FATAL_CODES = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
}


def start_offset(text: str) -> int:
    """argparse type for --offset: a non-negative offset, 'earliest' or 'latest'."""
    word = text.strip().lower()
    if word == "earliest":
        return OFFSET_BEGINNING
    if word == "latest":
        return OFFSET_END
    return common.non_negative_int(text)


def unescape(text: str) -> str:
    """Backslash escapes people type in a shell template: \\t, \\n and \\\\."""
    return re.sub(r"\\([tn\\])", lambda m: {"t": "\t", "n": "\n", "\\": "\\"}[m.group(1)], text)


def template(text: str) -> str:
    """argparse type for --format: a str.format template over FIELDS."""
    value = unescape(text)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"bad template {text!r}: {e}") from None
    for name in names:
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if root not in FIELDS:
            shown = "{" + name + "}" if name else "{}"
            raise argparse.ArgumentTypeError(
                f"unknown field {shown} in {text!r}; the fields are {', '.join(FIELDS)}"
            )
    return value


def add_parser(sub: Any) -> None:
    p = common.add_command(sub, "consume", run, "print the records of a topic, following new ones")
    p.add_argument("topic", metavar="TOPIC")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="start at the earliest record")
    start.add_argument(
        "--offset", type=start_offset, metavar="N", help="start at offset N (or 'earliest', 'latest')"
    )
    start.add_argument(
        "--from-time",
        type=timespec.instant_ms,
        metavar="ISO8601",
        help="start at the first record at or after this instant",
    )
    p.add_argument("--partition", type=common.non_negative_int, metavar="P", help="read only this partition")
    p.add_argument("--group", metavar="G", help="consume as a member of group G and commit offsets")
    p.add_argument("--max-messages", type=common.positive_int, metavar="N", help="exit after N records")
    p.add_argument(
        "--timeout-ms", type=common.positive_int, metavar="T", help="exit when no record arrives for T ms"
    )
    shown = p.add_argument_group("what to print (default: the value only)")
    for part in ("key", "headers", "offset", "partition", "timestamp"):
        shown.add_argument(f"--print-{part}", action="store_true", help=f"print the record's {part}")
    shown.add_argument(
        "--format",
        type=template,
        metavar="TEMPLATE",
        help="a template such as '{partition}:{offset} {key}={value}' with the fields " + ", ".join(FIELDS),
    )
    common.add_output_arg(p, choices=("text", "json"))


# -- formatting --------------------------------------------------------------------------------


def decode(data: bytes | None, errors: str) -> str | None:
    return None if data is None else data.decode("utf-8", errors)


def header_pairs(m: Message) -> list[tuple[str, bytes | None]]:
    headers = m.headers()
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in pairs]


def headers_text(headers: list[tuple[str, bytes | None]]) -> str:
    if not headers:
        return "NO_HEADERS"
    return ",".join(f"{k}:{decode(v, 'surrogateescape') or ''}" for k, v in headers)


def timestamp_text(kind: int, ms: int) -> str:
    if kind == TIMESTAMP_CREATE_TIME:
        return f"CreateTime:{ms}"
    if kind == TIMESTAMP_LOG_APPEND_TIME:
        return f"LogAppendTime:{ms}"
    return "NO_TIMESTAMP"


class Formatter:
    """Turns a record into one output line (without the newline)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def line(self, m: Message) -> str:
        if self.args.output == "json":
            return self.json_line(m)
        if self.args.format is not None:
            return self.template_line(m)
        return self.console_line(m)

    def console_line(self, m: Message) -> str:
        a = self.args
        parts = []
        kind, ms = m.timestamp()
        if a.print_timestamp:
            parts.append(timestamp_text(kind, ms))
        if a.print_partition:
            parts.append(f"Partition:{m.partition()}")
        if a.print_offset:
            parts.append(f"Offset:{m.offset()}")
        if a.print_headers:
            parts.append(headers_text(header_pairs(m)))
        if a.print_key:
            parts.append(_or_null(decode(m.key(), "surrogateescape")))
        parts.append(_or_null(decode(m.value(), "surrogateescape")))
        return "\t".join(parts)

    def template_line(self, m: Message) -> str:
        _, ms = m.timestamp()
        fields = {
            "topic": m.topic(),
            "partition": m.partition(),
            "offset": m.offset(),
            "timestamp": ms,
            "key": _or_null(decode(m.key(), "surrogateescape")),
            "value": _or_null(decode(m.value(), "surrogateescape")),
            "headers": headers_text(header_pairs(m)),
        }
        text: str = self.args.format.format_map(fields)
        return text

    def json_line(self, m: Message) -> str:
        _, ms = m.timestamp()
        return json.dumps(
            {
                "topic": m.topic(),
                "partition": m.partition(),
                "offset": m.offset(),
                "timestamp": ms,
                "key": decode(m.key(), "replace"),
                "value": decode(m.value(), "replace"),
                "headers": [[k, decode(v, "replace")] for k, v in header_pairs(m)],
            }
        )


def _or_null(text: str | None) -> str:
    return "null" if text is None else text


# -- consuming ---------------------------------------------------------------------------------


def check_args(args: argparse.Namespace) -> None:
    if args.group is not None and (args.partition is not None or args.offset is not None or args.from_time):
        raise UsageError(
            "--partition, --offset and --from-time cannot be used with --group "
            "(a group member starts from the group's committed offsets)"
        )
    if args.format is not None and args.output == "json":
        raise UsageError("--format and --output json cannot be used together")


def assignment(cluster: Cluster, consumer: Consumer, args: argparse.Namespace) -> list[TopicPartition]:
    """The partitions to read without a group, each with its start offset."""
    wanted = None if args.partition is None else [args.partition]
    partitions = cluster.partitions(args.topic, wanted)
    if args.from_time is not None:
        found = consumer.offsets_for_times(
            [TopicPartition(args.topic, p, args.from_time) for p in partitions],
            timeout=common.REQUEST_TIMEOUT_S,
        )
        return [
            TopicPartition(args.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
            for tp in found
        ]
    if args.from_beginning:
        start = OFFSET_BEGINNING
    elif args.offset is not None:
        start = args.offset
    else:
        start = OFFSET_END
    return [TopicPartition(args.topic, p, start) for p in partitions]


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the command the way Ctrl-C does: cleanly, committing what was printed."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    check_args(args)
    cluster = Cluster(args)
    if args.group is None:
        cluster.partitions(args.topic, None if args.partition is None else [args.partition])
        consumer = cluster.consumer(
            {
                # librdkafka insists on a group id; it is only used for the coordinator
                # lookup, since nothing is committed.
                "group.id": f"moldau-console-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "latest",
            }
        )
    else:
        cluster.topic(args.topic)
        consumer = cluster.consumer(
            {
                "group.id": args.group,
                "enable.auto.commit": True,
                "auto.offset.reset": "earliest" if args.from_beginning else "latest",
            }
        )
    count = 0
    try:
        with sigterm_interrupts():
            if args.group is None:
                consumer.assign(assignment(cluster, consumer, args))
            else:
                consumer.subscribe([args.topic])
            count = follow(consumer, args)
    except KeyboardInterrupt:
        pass
    finally:
        finish(consumer, args)
    if sys.stderr.isatty():
        common.stderr(f"Processed a total of {count} messages")
    return 0


def follow(consumer: Consumer, args: argparse.Namespace) -> int:
    """Print records until --max-messages or --timeout-ms says stop; returns how many.

    The --timeout-ms clock starts once the consumer has partitions: a group member first
    waits for the group to rebalance, which may take longer than the timeout itself.
    """
    formatter = Formatter(args)
    out = sys.stdout
    count = 0
    last_record: float | None = None
    while args.max_messages is None or count < args.max_messages:
        want = BATCH if args.max_messages is None else min(BATCH, args.max_messages - count)
        try:
            messages = consumer.consume(num_messages=want, timeout=POLL_S)
        except KeyboardInterrupt:
            break
        lines = []
        for m in messages:
            err = m.error()
            if err is not None:
                check_error(err, args)
                continue
            lines.append(formatter.line(m))
        if lines:
            count += len(lines)
            last_record = time.monotonic()
            out.buffer.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
            out.buffer.flush()
        elif args.timeout_ms is not None:
            if last_record is None:
                if consumer.assignment():
                    last_record = time.monotonic()
            elif (time.monotonic() - last_record) * 1000 >= args.timeout_ms:
                break
    return count


def check_error(err: KafkaError, args: argparse.Namespace) -> None:
    if err.code() == KafkaError._PARTITION_EOF:
        return
    if err.fatal() or err.code() in _FATAL_CODES:
        if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise CommandError(f"unknown topic '{args.topic}'")
        raise CommandError(common.describe_kafka_error(err))
    common.stderr(f"{args.prog}: {common.describe_kafka_error(err)}")


def finish(consumer: Consumer, args: argparse.Namespace) -> None:
    """Commit what was printed (in a group) and leave; a second Ctrl-C skips the wait."""
    try:
        if args.group is not None:
            try:
                consumer.commit(asynchronous=False)
            except Exception as e:
                err = common.kafka_error(e)
                if err is None or err.code() != KafkaError._NO_OFFSET:
                    common.stderr(f"{args.prog}: cannot commit offsets: {common.describe_kafka_error(e)}")
        consumer.close()
    except KeyboardInterrupt:
        pass
