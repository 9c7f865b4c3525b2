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

This module holds the command line; ``common`` the summary, progress lines and shared client
setup; ``produce``, ``consume`` and ``latency`` one mode each.
"""

from __future__ import annotations

import argparse
from typing import Any

from moldau.cli.common import add_command, add_output_arg, non_negative_int, positive_int
from moldau.cli.perf.consume import run_consume
from moldau.cli.perf.latency import run_latency
from moldau.cli.perf.produce import run_produce

__all__ = ["add_parser", "run_consume", "run_latency", "run_produce"]


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
