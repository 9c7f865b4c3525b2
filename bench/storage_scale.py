"""Start-up time, resident memory and open files of one log manager with many partitions.

    python bench/storage_scale.py [--partitions 10000] [--batches 3] [--dir DIR] [--drop-caches]

Every phase runs in a fresh process, so that its time and memory are its own:

1. populate: create the partitions through ``LogManager`` (topics of 100 partitions), append
   ``--batches`` batches of ``--records`` records of ``--value-bytes`` to each, shut down
   cleanly.
2. clean start-up, three times: ``LogManager.load`` after a clean shutdown; time, VmRSS,
   open descriptors, bytes read from segment files. The first run follows a page-cache drop
   when ``--drop-caches`` is given (root only), the others find the files cached.
3. serve, then crash: a clean start, one more batch appended to every partition and the
   latest batch of every partition read back (VmRSS and descriptors at that point: every
   partition has been touched), a flush and a recovery-point checkpoint as the broker's
   periodic upkeep writes it, one more batch to every partition, then ``os._exit`` (no
   shutdown, no clean-shutdown marker).
4. unclean start-up: ``LogManager.load`` recovering every partition; time, VmRSS, descriptors,
   bytes read (and how many of them recovery checked), then a clean shutdown. Steps 3 and 4
   run twice, the first unclean start-up after a page-cache drop when ``--drop-caches``.

fsync stays on (the checkpoints and the clean shutdown write through it) except while
populating, where ``--no-sync-populate`` (the default) skips it to keep set-up short.
Prints a Markdown table and the machine; docs/storage.md holds a run of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from moldau.protocol.records.batch import iter_headers  # noqa: E402
from moldau.protocol.records.records import build_batch  # noqa: E402
from moldau.storage.config import LogConfig  # noqa: E402
from moldau.storage.manager import LogManager  # noqa: E402
from moldau.storage.open_files import default_capacity  # noqa: E402
from moldau.storage.segment import LogSegment  # noqa: E402
from moldau.util.clock import SystemClock  # noqa: E402
from moldau.util.fs import FileSystem  # noqa: E402

PARTITIONS_PER_TOPIC = 100


class MeasuringFileSystem(FileSystem):
    """Counts bytes read by file kind; optionally skips fsync (populating only)."""

    def __init__(self, sync: bool = True) -> None:
        self.sync = sync
        self.paths: dict[int, str] = {}
        self.read_bytes: Counter[str] = Counter()

    def open(self, path: str, *, create: bool = False, read_only: bool = False) -> int:
        fd = super().open(path, create=create, read_only=read_only)
        self.paths[fd] = path
        return fd

    def close(self, fd: int) -> None:
        self.paths.pop(fd, None)
        super().close(fd)

    def pread(self, fd: int, size: int, position: int) -> bytes:
        data = super().pread(fd, size, position)
        self.read_bytes[os.path.splitext(self.paths.get(fd, ""))[1] or "other"] += len(data)
        return data

    def fsync(self, fd: int) -> None:
        if self.sync:
            super().fsync(fd)

    def fsync_dir(self, path: str) -> None:
        if self.sync:
            super().fsync_dir(path)


def topics(n: int) -> dict[tuple[str, int], tuple[uuid.UUID | None, LogConfig]]:
    ids = [uuid.UUID(int=t + 1) for t in range((n + PARTITIONS_PER_TOPIC - 1) // PARTITIONS_PER_TOPIC)]
    config = LogConfig()
    return {
        (f"topic-{p // PARTITIONS_PER_TOPIC}", p % PARTITIONS_PER_TOPIC): (
            ids[p // PARTITIONS_PER_TOPIC],
            config,
        )
        for p in range(n)
    }


def status(key: str) -> int:
    """A ``/proc/self/status`` figure in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def batch_bytes(args: argparse.Namespace, ts: int) -> bytes:
    records: list[tuple[bytes, bytes, list[tuple[str, bytes]], int]] = [
        (f"k{i}".encode(), b"v" * args.value_bytes, [], ts) for i in range(args.records)
    ]
    return build_batch(records)


def append_everywhere(manager: LogManager, args: argparse.Namespace) -> None:
    now = int(time.time() * 1000)
    template = batch_bytes(args, now)
    for plog in manager.logs():
        data = bytearray(template)
        plog.append(data, list(iter_headers(data)), leader_epoch=0, now_ms=now)


def make_manager(args: argparse.Namespace, fs: FileSystem) -> LogManager:
    return LogManager([args.dir], SystemClock(), LogConfig(), fs=fs, max_open_files=args.max_open_files)


# -- phases (each in its own process) ------------------------------------------------------------


def phase_populate(args: argparse.Namespace) -> dict[str, Any]:
    fs = MeasuringFileSystem(sync=False)
    manager = make_manager(args, fs)
    started = time.perf_counter()
    manager.load(topics(args.partitions))
    for _ in range(args.batches):
        append_everywhere(manager, args)
    manager.shutdown()
    return {"seconds": time.perf_counter() - started}


def timed_load(args: argparse.Namespace, fs: MeasuringFileSystem) -> tuple[LogManager, dict[str, Any]]:
    checked: list[int] = []
    read_by_recovery = [0]
    real_recover = LogSegment.recover

    def recover(segment: LogSegment, *a: Any, **kw: Any) -> Any:
        before = fs.read_bytes[".log"]
        result = real_recover(segment, *a, **kw)
        read_by_recovery[0] += fs.read_bytes[".log"] - before
        checked.append(result.valid_bytes + result.truncated_bytes - result.checked_from)
        return result

    LogSegment.recover = recover
    rss_before = status("VmRSS")
    manager = make_manager(args, fs)
    started = time.perf_counter()
    manager.load(topics(args.partitions))
    seconds = time.perf_counter() - started
    LogSegment.recover = real_recover
    return manager, {
        "seconds": seconds,
        "rss_before_kb": rss_before,
        "rss_kb": status("VmRSS"),
        "hwm_kb": status("VmHWM"),
        "fds": open_descriptors(),
        "read": dict(fs.read_bytes),
        "recovery_checked": sum(checked),
        "recovery_read": read_by_recovery[0],
        "segments_recovered": len(checked),
        "data_bytes": sum(plog.size_in_bytes() for plog in manager.logs()),
        "cache_capacity": manager.files.capacity,
    }


def phase_clean(args: argparse.Namespace) -> dict[str, Any]:
    fs = MeasuringFileSystem()
    manager, out = timed_load(args, fs)
    manager.shutdown()
    return out


def phase_serve_then_crash(args: argparse.Namespace) -> dict[str, Any]:
    fs = MeasuringFileSystem()
    manager = make_manager(args, fs)
    manager.load(topics(args.partitions))
    append_everywhere(manager, args)
    for plog in manager.logs():
        plog.read(plog.log_end_offset - 1, 1 << 20)
    out = {
        "rss_kb": status("VmRSS"),
        "fds": open_descriptors(),
        "files_opened": manager.files.opened,
        "files_evicted": manager.files.evicted,
    }
    for plog in manager.logs():
        plog.flush()
    manager.checkpoint()
    append_everywhere(manager, args)
    out["written_after_checkpoint"] = args.partitions * len(batch_bytes(args, 0))
    print(json.dumps(out), flush=True)
    os._exit(0)


def phase_unclean(args: argparse.Namespace) -> dict[str, Any]:
    fs = MeasuringFileSystem()
    manager, out = timed_load(args, fs)
    manager.shutdown()
    return out


PHASES = {
    "populate": phase_populate,
    "clean": phase_clean,
    "serve-then-crash": phase_serve_then_crash,
    "unclean": phase_unclean,
}


# -- driver --------------------------------------------------------------------------------------


def run_phase(args: argparse.Namespace, name: str, *, drop_caches: bool = False) -> dict[str, Any]:
    if drop_caches:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    argv = [sys.executable, __file__, "--phase", name, "--dir", args.dir, *phase_options(args)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def phase_options(args: argparse.Namespace) -> list[str]:
    out = [
        f"--partitions={args.partitions}",
        f"--batches={args.batches}",
        f"--records={args.records}",
        f"--value-bytes={args.value_bytes}",
    ]
    if args.max_open_files:
        out.append(f"--max-open-files={args.max_open_files}")
    return out


def baseline_rss() -> int:
    """VmRSS of a process that imported the storage layer and did nothing else."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r}); import moldau.storage.manager; "
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')][0])"
    )
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)


def machine(data_dir: str) -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    stat = subprocess.run(["stat", "-f", "-c", "%T", data_dir], capture_output=True, text=True)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "filesystem": stat.stdout.strip(),
        "nofile": soft,
        "cache_capacity": default_capacity(),
    }


def mib(kb: float) -> str:
    return f"{kb / 1024:.0f} MiB"


def segment_read(r: dict[str, Any]) -> int:
    return sum(r["read"].get(k, 0) for k in (".log", ".index", ".timeindex"))


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    base, n = results["baseline_rss_kb"], args.partitions
    clean, serve, unclean = results["clean"], results["serve"][-1], results["unclean"]
    cold = "cold cache" if args.drop_caches else "first run (cache not dropped)"

    def row(label: str, r: dict[str, Any], seconds: float | None, read: str) -> str:
        per_partition = (r["rss_kb"] - base) / n
        time_cell = "" if seconds is None else f"{seconds:.2f} s"
        return (
            f"| {label} | {time_cell} | {mib(r['rss_kb'])} | {per_partition:.1f} KiB | {r['fds']} | {read} |"
        )

    def recovery_read(r: dict[str, Any]) -> str:
        return f"{segment_read(r):,} (recovery: {r['recovery_read']:,})"

    warm = clean[1:]
    warm_seconds = statistics.median(r["seconds"] for r in warm)
    data = clean[0]["data_bytes"] / 1024 / 1024
    lines = [
        f"{n:,} partitions; {args.batches} batches of {args.records} records of {args.value_bytes} "
        f"bytes each ({data:.1f} MiB of segments); open-file cache of {clean[0]['cache_capacity']:,} files.",
        "",
        "| | time | VmRSS | per partition | open files | segment bytes read |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| import only (baseline) | | {mib(base)} | | | |",
        row(f"clean start-up, {cold}", clean[0], clean[0]["seconds"], f"{segment_read(clean[0]):,}"),
        row(
            f"clean start-up, warm (median of {len(warm)})",
            warm[-1],
            warm_seconds,
            f"{segment_read(warm[-1]):,}",
        ),
        row("after writing to and reading from every partition", serve, None, ""),
        row(f"unclean start-up, {cold}", unclean[0], unclean[0]["seconds"], recovery_read(unclean[0])),
        row("unclean start-up, warm", unclean[1], unclean[1]["seconds"], recovery_read(unclean[1])),
        "",
        f"Written after the last recovery-point checkpoint before each crash: "
        f"{serve['written_after_checkpoint']:,} bytes. "
        f"Populating took {results['populate']['seconds']:.1f} s.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()),
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--partitions", type=int, default=10_000)
    p.add_argument("--batches", type=int, default=3, help="batches per partition when populating")
    p.add_argument("--records", type=int, default=5, help="records per batch")
    p.add_argument("--value-bytes", type=int, default=100)
    p.add_argument(
        "--max-open-files", type=int, default=0, help="cache capacity (default: from the fd limit)"
    )
    p.add_argument("--dir", help="data directory (default: a new temporary directory, removed after)")
    p.add_argument("--drop-caches", action="store_true", help="drop the page cache before cold runs (root)")
    p.add_argument("--json", help="also write the raw results to this file")
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.max_open_files == 0:
        args.max_open_files = None

    if args.phase:
        print(json.dumps(PHASES[args.phase](args)), flush=True)
        return

    temporary = args.dir is None
    args.dir = args.dir or tempfile.mkdtemp(prefix="moldau-scale-")
    try:
        results: dict[str, Any] = {"machine": machine(args.dir), "baseline_rss_kb": baseline_rss()}
        results["populate"] = run_phase(args, "populate")
        results["clean"] = [
            run_phase(args, "clean", drop_caches=args.drop_caches and i == 0) for i in range(3)
        ]
        results["serve"], results["unclean"] = [], []
        for i in range(2):
            results["serve"].append(run_phase(args, "serve-then-crash"))
            results["unclean"].append(run_phase(args, "unclean", drop_caches=args.drop_caches and i == 0))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        print(report(args, results))
    finally:
        if temporary:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
