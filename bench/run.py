"""``make bench``: Moldau and the peer broker Tansu side by side, every workload in alternation.

Both brokers run at once on loopback, pinned to core 0; each workload is a ``moldau perf``
process pinned to core 1. Every workload runs against both brokers in the order A B, B A,
A B, ... for ``--rounds`` rounds; the table holds the medians and the ratio Moldau/Tansu.
Also measured: the time from exec to the first ApiVersions answer (fresh processes, in
alternation), and resident memory (VmRSS) idle and under the produce workloads.

Results go to ``bench/results/<timestamp>.json``; a full run also rewrites
``docs/performance.md`` and its chart. ``--quick`` (or ``BENCH_QUICK=1``) is a short sanity
run: one round, seconds per workload, fewer scaling points, and the docs are left alone.

    python bench/run.py [--quick] [--rounds N] [--seconds S] [--only KEY[,KEY...]] [--no-docs]
    python bench/run.py --report bench/results/<timestamp>.json     # the docs from a past run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from brokers import CLIENT_CORE, BrokerProcess, Moldau, Tansu, can_pin, hold_connections, pinned_to
from report import fmt, render_table, write_docs
from workloads import KIB, Workload, workloads

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONSUME_TOPIC = "bench-consume-source"
IDLE_CONNECTIONS = 1000  # for the resident memory of many idle connections


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Moldau and Tansu side by side")
    p.add_argument("--quick", action="store_true", help="a short sanity run (also BENCH_QUICK=1)")
    p.add_argument("--rounds", type=int, help="rounds of A B / B A (3; quick 1)")
    p.add_argument("--seconds", type=float, help="seconds per produce/latency workload (5; quick 2)")
    p.add_argument("--consume-mb", type=int, help="MiB of 1 KiB records the consume workload drains (300)")
    p.add_argument("--only", help="comma-separated workload keys (see bench/workloads.py)")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    p.add_argument("--report", metavar="RESULTS", help="only rewrite the docs from a results file")
    p.add_argument(
        "--disk",
        action="store_true",
        help="Moldau's data directory on disk rather than in memory (tmpfs, like Tansu's storage)",
    )
    args = p.parse_args()
    args.quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return args


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    import confluent_kafka

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "event_loop": loop,
        "confluent_kafka": confluent_kafka.version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "pinned": can_pin(),
    }


def moldau_source() -> str:
    """The commit of the checkout, or where the imported ``moldau`` package lives if elsewhere."""
    import moldau

    package = Path(moldau.__file__).resolve().parent
    if package != ROOT / "src" / "moldau":
        return f"from {package.parent}"
    return git_commit()


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


class RssSampler(threading.Thread):
    """The highest VmRSS of a broker while a workload runs, sampled every 100 ms."""

    def __init__(self, broker: BrokerProcess) -> None:
        super().__init__(daemon=True)
        self.broker = broker
        self.peak = broker.rss_mb()
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.1):
            self.peak = max(self.peak, self.broker.rss_mb())

    def finish(self) -> float:
        self.stop_event.set()
        self.join()
        return round(max(self.peak, self.broker.rss_mb()), 1)


def perf_command(broker: BrokerProcess, mode: str, topic: str, args: tuple[str, ...]) -> list[str]:
    if mode == "raw":
        return [
            sys.executable,
            str(ROOT / "bench" / "rawload.py"),
            *("--bootstrap-server", broker.bootstrap, "--topic", topic, "--output", "json"),
            *args,
        ]
    return [
        sys.executable,
        "-m",
        "moldau",
        "perf",
        mode,
        *("--bootstrap-server", broker.bootstrap, "--topic", topic),
        *("--output", "json", "--reporting-interval", "3600", "--timeout", "60"),
        *args,
    ]


def run_perf(broker: BrokerProcess, cmd: list[str], timeout: float) -> dict[str, Any]:
    """One ``moldau perf`` process on the client core; its summary plus CPU and memory."""
    sampler = RssSampler(broker)
    sampler.start()
    cpu_before = broker.cpu_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            preexec_fn=pinned_to(CLIENT_CORE),
        )
        error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]
        stdout = proc.stdout
    except subprocess.TimeoutExpired:
        error, stdout = f"timed out after {timeout:.0f} s", ""
    wall = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker_cpu = broker.cpu_seconds() - cpu_before
    client_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    summary = None
    if stdout.strip():
        try:
            summary = json.loads(stdout.strip().splitlines()[-1])
        except json.JSONDecodeError:
            error = error or "no JSON summary"
    return {
        "summary": summary,
        "error": error,
        "wall_s": round(wall, 3),
        "broker_cpu_s": round(broker_cpu, 3),
        "client_cpu_s": round(client_cpu, 3),
        "broker_cpu_share": round(broker_cpu / wall, 3) if wall > 0 else None,
        "peak_rss_mb": sampler.finish(),
    }


def run_workload(
    broker: BrokerProcess, w: Workload, r: int, consume_records: int, seconds: float
) -> dict[str, Any]:
    """One run of a workload on one broker; produce topics are deleted afterwards."""
    topic = CONSUME_TOPIC if w.mode == "consume" else f"{w.key}-r{r}"
    extra = ("--num-records", str(consume_records)) if w.mode == "consume" else ()
    if w.mode == "raw":
        create_topic(broker, topic, w.partitions)
    run = run_perf(broker, perf_command(broker, w.mode, topic, (*w.args, *extra)), seconds * 4 + 120)
    run["round"] = r
    run["value"] = w.value(run["summary"]) if run["summary"] and not run["error"] else None
    if w.mode != "consume":
        delete_topic(broker, topic)
        time.sleep(0.3)
    return run


def create_topic(broker: BrokerProcess, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new], operation_timeout=30)[topic].result(60)


def delete_topic(broker: BrokerProcess, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
    try:
        admin.delete_topics([topic], operation_timeout=30)[topic].result(60)
    except Exception as e:
        print(f"    (could not delete {topic} on {broker.name}: {e})", flush=True)


def measure_startup(runs: int, workdir: Path, data_root: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"moldau": [], "tansu": []}
    for i in range(runs):
        order = (Moldau, Tansu) if i % 2 == 0 else (Tansu, Moldau)
        for cls in order:
            broker = cls(workdir / f"startup-{i}-{cls.name}", data_root / f"startup-{i}")
            try:
                times[cls.name].append(round(broker.start() * 1000, 1))
            finally:
                broker.stop()
    return times


def idle_rss(broker: BrokerProcess) -> float:
    samples = []
    for _ in range(5):
        samples.append(broker.rss_mb())
        time.sleep(0.2)
    return round(statistics.median(samples), 1)


def connections_rss(broker: BrokerProcess, count: int) -> float:
    """Resident memory while ``count`` idle connections are open, each after one answered
    request."""
    held = hold_connections(broker.port, count)
    try:
        time.sleep(0.5)
        return idle_rss(broker)
    finally:
        for sock in held:
            sock.close()


def idle_connection_count() -> int:
    """``IDLE_CONNECTIONS``, or fewer when this process may not open that many sockets."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(IDLE_CONNECTIONS, soft - 64))


class Clock:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()

    def tick(self) -> str:
        self.done += 1
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        return f"[{self.done:3d}/{self.total} {elapsed / 60:4.1f} min, ~{left / 60:.1f} min left]"


def describe_run(w: Workload, run: dict[str, Any]) -> str:
    if run["value"] is None:
        return f"FAILED: {run['error']}"
    return (
        f"{fmt(run['value'], w.unit)} {w.unit}  (broker cpu {run['broker_cpu_share']:.0%}, "
        f"client cpu {run['client_cpu_s']:.1f} s, rss {run['peak_rss_mb']:.0f} MB)"
    )


def main() -> int:
    args = parse_args()
    if args.report:
        results = json.loads(Path(args.report).read_text())
        print(render_table(results))
        write_docs(results, ROOT / "docs")
        print("bench: docs/performance.md and docs/performance.png rewritten")
        return 0
    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    seconds = args.seconds or (2.0 if quick else 5.0)
    consume_mb = args.consume_mb or (30 if quick else 300)
    consume_records = consume_mb * 1024 * 1024 // KIB
    connection_points = [1, 16] if quick else [1, 16, 64, 256]
    plan = workloads(seconds, [1, 64] if quick else [1, 16, 128, 1024], connection_points)
    if args.only:
        keys = set(args.only.split(","))
        unknown = keys - {w.key for w in plan}
        if unknown:
            print(f"unknown workloads: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        plan = [w for w in plan if w.key in keys]

    started_at = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="moldau-bench-"))
    shm = Path("/dev/shm")
    in_memory = not args.disk and shm.is_dir() and os.access(shm, os.W_OK)
    data_root = Path(tempfile.mkdtemp(prefix="moldau-bench-", dir=shm)) if in_memory else workdir / "data"
    machine = machine_info()
    print(
        f"bench: {'quick, ' if quick else ''}{rounds} round(s), {seconds:g} s per workload, "
        f"{len(plan)} workloads x 2 brokers; work dir {workdir}",
        flush=True,
    )
    print(f"bench: Moldau's data in {data_root} ({'tmpfs' if in_memory else 'disk'})", flush=True)
    machine["moldau_data"] = "tmpfs" if in_memory else "disk"
    print(f"bench: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}", flush=True)
    if not machine["pinned"]:
        print("bench: cannot pin to cores 0 and 1; brokers and clients share the CPUs", flush=True)

    brokers: dict[str, BrokerProcess] = {}
    try:
        startup_runs = 2 if quick else 5
        print(f"bench: start-up to first ApiVersions answer, {startup_runs} fresh starts each", flush=True)
        startup = measure_startup(startup_runs, workdir, data_root)
        for name, ms in startup.items():
            print(f"    {name}: {', '.join(f'{t:.0f}' for t in ms)} ms", flush=True)

        brokers = {
            "moldau": Moldau(workdir / "moldau", data_root / "moldau"),
            "tansu": Tansu(workdir / "tansu"),
        }
        for broker in brokers.values():
            broker.start()
        time.sleep(1.0)
        idle = {name: idle_rss(b) for name, b in brokers.items()}
        print(f"bench: idle RSS {idle['moldau']:.1f} MB (moldau), {idle['tansu']:.1f} MB (tansu)", flush=True)
        held = idle_connection_count()
        with_connections = {name: connections_rss(b, held) for name, b in brokers.items()}
        print(
            f"bench: RSS with {held} idle connections {with_connections['moldau']:.1f} MB (moldau), "
            f"{with_connections['tansu']:.1f} MB (tansu)",
            flush=True,
        )
        versions = {
            "moldau": {"version": brokers["moldau"].version(), "commit": moldau_source()},
            "tansu": {
                "version": brokers["tansu"].version(),
                "binary": getattr(brokers["tansu"], "binary", ""),
            },
        }

        if any(w.mode == "consume" for w in plan):
            print(f"bench: filling {CONSUME_TOPIC} with {consume_mb} MiB of 1 KiB records", flush=True)
            fill_args = (
                "--num-records",
                str(consume_records),
                "--record-size",
                str(KIB),
                "--partitions",
                "1",
            )
            for broker in brokers.values():
                fill = run_perf(broker, perf_command(broker, "produce", CONSUME_TOPIC, fill_args), 600)
                if fill["error"]:
                    print(f"    {broker.name}: filling failed: {fill['error']}", flush=True)

        runs: dict[str, dict[str, list[dict[str, Any]]]] = {w.key: {"moldau": [], "tansu": []} for w in plan}
        clock = Clock(rounds * sum(w.repeat for w in plan) * 2)
        for r in range(rounds):
            for w in plan:
                for k in range(w.repeat):
                    # A B, B A, A B, ... across rounds and across the repeats within a round
                    order = ["moldau", "tansu"] if (r * w.repeat + k) % 2 == 0 else ["tansu", "moldau"]
                    for name in order:
                        run = run_workload(brokers[name], w, r, consume_records, seconds)
                        runs[w.key][name].append(run)
                        print(
                            f"{clock.tick()} r{r + 1} {w.key:<20} {name:<6} {describe_run(w, run)}",
                            flush=True,
                        )
    finally:
        for broker in brokers.values():
            broker.stop()
        shutil.rmtree(data_root, ignore_errors=True)

    finished_at = dt.datetime.now(dt.UTC)
    results = assemble(
        plan, runs, startup, idle, machine, versions, started_at, finished_at, quick, rounds, seconds
    )
    results["consume_mb"] = consume_mb
    results["rss_mb"]["idle_connections"] = {"count": held, **with_connections}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}{'-quick' if quick else ''}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(render_table(results))
    print(f"\nbench: results in {out.relative_to(ROOT)}", flush=True)
    if quick or args.no_docs or args.only:
        print("bench: docs/performance.md left as it is (full runs of every workload rewrite it)")
    else:
        write_docs(results, ROOT / "docs")
        print("bench: docs/performance.md and docs/performance.png rewritten")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def assemble(
    plan: list[Workload],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    startup: dict[str, list[float]],
    idle: dict[str, float],
    machine: dict[str, Any],
    versions: dict[str, Any],
    started_at: dt.datetime,
    finished_at: dt.datetime,
    quick: bool,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    entries = []
    for w in plan:
        by_broker = runs[w.key]
        medians = {name: median([r["value"] for r in rs]) for name, rs in by_broker.items()}
        cpu = {name: median([r["broker_cpu_share"] for r in rs]) for name, rs in by_broker.items()}
        m, t = medians["moldau"], medians["tansu"]
        entries.append(
            {
                "key": w.key,
                "title": w.title,
                "mode": w.mode,
                "metric": w.metric,
                "unit": w.unit,
                "higher_is_better": w.higher_is_better,
                "target": None if w.target is None else {"kind": w.target.kind, "value": w.target.value},
                "target_text": None if w.target is None else w.target.describe(w.unit),
                "series": w.series,
                "x": w.x,
                "args": list(w.args),
                "median": medians,
                "broker_cpu_share": cpu,
                "ratio": round(m / t, 3) if m is not None and t else None,
                "runs": by_broker,
            }
        )
    peak_load = {
        name: max(
            (
                r["peak_rss_mb"]
                for e in entries
                if e["mode"] == "produce" and not e["series"]
                for r in e["runs"][name]
            ),
            default=None,
        )
        for name in ("moldau", "tansu")
    }
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "quick": quick,
        "rounds": rounds,
        "seconds_per_workload": seconds,
        "machine": machine,
        "brokers": versions,
        "startup_ms": {name: {"runs": ms, "median": median(list(ms))} for name, ms in startup.items()},
        "rss_mb": {"idle": idle, "peak_under_produce": peak_load},
        "workloads": entries,
    }


if __name__ == "__main__":
    sys.exit(main())
