"""The workloads of ``make bench``, with the issue's targets.

Each workload is one ``moldau perf`` command line (or, for the "same requests" series, one
``bench/rawload.py``) and the number taken from its JSON summary.
Workloads with a ``series`` are points of a scaling curve (throughput against partitions or
against connections); their target is on the curve, not on a single point.

SCALING_TARGETS: the targets "1 -> 1,024 partitions" and "1 -> 256 connections, throughput
falls by less than half" are judged on the "same requests" series, whose client
(``bench/rawload.py``, pre-encoded requests) costs almost nothing, so that only the number of
partitions or connections changes. The librdkafka series beside them stay in the table for
reference: there the one client core is the limit at their far ends (at 1,024 partitions
librdkafka walks every partition at each wake-up of its broker thread; at 256 producers nearly
every record wakes another producer's threads), and at one partition or connection Moldau's
core is half idle, so those series measure the client, which the benchmark must not (see
docs/performance.md, "Where the scaling targets stand").
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True)
class Target:
    """``kind`` is "ratio" (Moldau/Tansu at least ``value``), "max" (Moldau at most ``value``)
    or "scaling" (the series' last point at least ``value`` times its first)."""

    kind: str
    value: float

    def describe(self, unit: str) -> str:
        if self.kind == "ratio":
            return f">= {self.value:g} x Tansu"
        if self.kind == "max":
            return f"<= {self.value:g} {unit}"
        return f"last >= {self.value:g} x first"


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    mode: str  # produce | consume | latency (moldau perf), raw (bench/rawload.py)
    args: tuple[str, ...]
    metric: str  # mb_per_s | records_per_s | p99_ms
    target: Target | None = None
    partitions: int = 1
    series: str | None = None  # partitions | connections
    x: int = 0
    repeat: int = 1  # runs per broker per round (short workloads)

    @property
    def unit(self) -> str:
        return {"mb_per_s": "MB/s", "records_per_s": "records/s", "p99_ms": "ms"}[self.metric]

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "p99_ms"

    def value(self, summary: dict[str, object]) -> float:
        if self.metric == "p99_ms":
            latency = summary["latency_ms"]
            assert isinstance(latency, dict)
            return float(latency["p99"])
        return float(summary[self.metric])  # type: ignore[arg-type]


def _produce(seconds: float, size: int, *extra: str) -> tuple[str, ...]:
    return ("--duration", f"{seconds:g}", "--record-size", str(size), *extra)


def workloads(seconds: float, partition_points: list[int], connection_points: list[int]) -> list[Workload]:
    """The table workloads, then the two scaling series."""
    table = [
        Workload(
            "produce-1k",
            "produce 1 KiB, acks=1, linger 5 ms, 1 partition",
            "produce",
            _produce(seconds, KIB, "--acks", "1", "--linger-ms", "5", "--partitions", "1"),
            "mb_per_s",
            Target("ratio", 1.0),
        ),
        Workload(
            "produce-100b",
            "produce 100 B, acks=1, linger 5 ms, 1 partition",
            "produce",
            _produce(seconds, 100, "--acks", "1", "--linger-ms", "5", "--partitions", "1"),
            "records_per_s",
            Target("ratio", 1.0),
        ),
        Workload(
            "produce-1k-all-16p",
            "produce 1 KiB, acks=all, linger 5 ms, 16 partitions",
            "produce",
            _produce(seconds, KIB, "--acks", "all", "--linger-ms", "5", "--partitions", "16"),
            "mb_per_s",
            Target("ratio", 1.0),
            partitions=16,
        ),
        Workload(
            "keyed-100b-16p",
            "keyed 100 B (10,000 keys), acks=1, linger 0, 16 partitions",
            "produce",
            _produce(
                seconds, 100, "--acks", "1", "--linger-ms", "0", "--partitions", "16", "--keys", "10000"
            ),
            "records_per_s",
            Target("ratio", 0.7),
            partitions=16,
        ),
        Workload(
            "consume-1k",
            "consume: drain the 1 KiB records of one partition",
            "consume",
            (),
            "mb_per_s",
            Target("ratio", 1.0),
            repeat=3,
        ),
        Workload(
            "latency-5k",
            "end-to-end p99 at 5,000 records/s, 100 B, linger 0",
            "latency",
            (
                "--duration",
                f"{seconds:g}",
                "--throughput",
                "5000",
                "--record-size",
                "100",
                "--linger-ms",
                "0",
            ),
            "p99_ms",
            Target("max", 5.0),
        ),
        Workload(
            "produce-1k-lz4",
            "produce 1 KiB, lz4, acks=1, linger 5 ms, 1 partition",
            "produce",
            _produce(
                seconds, KIB, "--acks", "1", "--linger-ms", "5", "--partitions", "1", "--compression", "lz4"
            ),
            "mb_per_s",
            None,
        ),
        Workload(
            "produce-100b-zstd",
            "produce 100 B, zstd, acks=1, linger 5 ms, 1 partition",
            "produce",
            _produce(
                seconds, 100, "--acks", "1", "--linger-ms", "5", "--partitions", "1", "--compression", "zstd"
            ),
            "records_per_s",
            None,
        ),
    ]
    scaling = []
    for p in partition_points:
        scaling.append(
            Workload(
                f"partitions-{p}",
                f"produce 1 KiB keyed (100,000 keys), linger 5 ms, {p} partitions",
                "produce",
                _produce(seconds, KIB, "--linger-ms", "5", "--partitions", str(p), "--keys", "100000"),
                "mb_per_s",
                None,  # for reference: bound by the client core (see SCALING_TARGETS)
                partitions=p,
                series="partitions",
                x=p,
            )
        )
    for n, p in enumerate(partition_points):
        scaling.append(
            Workload(
                f"requests-p{p}",
                (
                    f"the same Produce requests (16 x 1 KiB records) over {p} partitions, "
                    "16 connections, raw client"
                ),
                "raw",
                _raw(seconds, "--partitions", str(p), "--connections", "16"),
                "mb_per_s",
                Target("scaling", 0.5) if n == len(partition_points) - 1 else None,
                partitions=p,
                series="partitions, same requests",
                x=p,
            )
        )
    for c in connection_points:
        scaling.append(
            Workload(
                f"connections-{c}",
                f"produce 1 KiB, linger 5 ms, 16 partitions, {c} connections",
                "produce",
                _produce(seconds, KIB, "--linger-ms", "5", "--partitions", "16", "--connections", str(c)),
                "mb_per_s",
                None,  # for reference: bound by the client core (see SCALING_TARGETS)
                partitions=16,
                series="connections",
                x=c,
            )
        )
    for n, c in enumerate(connection_points):
        scaling.append(
            Workload(
                f"requests-{c}",
                f"the same Produce requests (16 x 1 KiB records) over {c} connections, raw client",
                "raw",
                _raw(seconds, "--connections", str(c)),
                "mb_per_s",
                Target("scaling", 0.5) if n == len(connection_points) - 1 else None,
                partitions=16,
                series="connections, same requests",
                x=c,
            )
        )
    return table + scaling


def _raw(seconds: float, *extra: str) -> tuple[str, ...]:
    """``bench/rawload.py``: requests of one 16-record batch of 1 KiB records each."""
    return ("--duration", f"{seconds:g}", "--records", "16", "--record-size", str(KIB), *extra)
