"""The broker's Python cost per Produce request, without sockets or a second process.

A real ``Server`` runs in this process (data in a temporary directory under /dev/shm when it
exists); a ``KafkaConnection`` gets a stub transport, and pre-encoded Produce requests
(``rawload.encode_requests``: one batch of ``--records`` records for one partition each) are
fed into its receive buffer, ``--per-read`` frames at a time, as a socket read would deliver
them. Every request is handled inline (acks=1), so the time per request is the decode, the
handler, the append to the log (its ``pwrite`` included) and the encoded response. Prints the
best of ``--repeat`` timings; compare two trees by running this with each on ``PYTHONPATH``,
alternating:

    PYTHONPATH=/tmp/base/src python bench/request_cost.py      # a baseline checkout
    python bench/request_cost.py                                # this tree
    python bench/request_cost.py --profile                      # cProfile, by own time
    python bench/request_cost.py --instructions                 # user-space instructions

Times move with whatever else the machine runs; ``--instructions`` counts the CPU
instructions the process executes per request instead (``perf stat``, Debian package
``linux-perf``; where the machine gives perf no instruction counter, valgrind's callgrind
with N/10 requests, slower but just as repeatable): two runs of N and 4N requests, the
difference divided by 3N, so start-up and warm-up cancel out. Counts repeat within a
fraction of a percent, which makes changes of a few percent visible where timings cannot
show them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rawload import encode_requests

from moldau.broker.connection import KafkaConnection
from moldau.broker.server import Server
from moldau.config.broker import BrokerConfig


class StubTransport:
    """What ``KafkaConnection`` uses of a transport; counts the bytes written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def writelines(self, chunks: list[Any]) -> None:
        self.written += sum(map(len, chunks))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20_000, help="requests per timing (20000)")
    p.add_argument("--per-read", type=int, default=4, help="frames delivered per read (4)")
    p.add_argument("--records", type=int, default=16, help="records per request (16)")
    p.add_argument("--record-size", type=int, default=1024)
    p.add_argument("--partitions", type=int, default=16)
    p.add_argument("--repeat", type=int, default=5, help="timings; the best is printed (5)")
    p.add_argument("--profile", action="store_true", help="print a cProfile of one timing instead")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request (perf stat, or callgrind) instead",
    )
    return p.parse_args()


def _perf_count(command: list[str]) -> int | None:
    """User-space instructions of ``command`` by ``perf stat``; None where perf cannot count
    them (a virtual machine without the counters, or no perf)."""
    if shutil.which("perf") is None:
        return None
    done = subprocess.run(
        ["perf", "stat", "--no-inherit", "-x,", "-e", "instructions:u", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
            return int(fields[0])
    return None


def _callgrind_count(command: list[str]) -> int:
    """Instructions of ``command`` (child processes left out) counted by valgrind's callgrind,
    which runs it about 50 times slower but needs no hardware counters."""
    if shutil.which("valgrind") is None:
        raise SystemExit(
            "request_cost: --instructions needs perf with hardware counters, or valgrind "
            "(Debian packages linux-perf, valgrind)"
        )
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise SystemExit(f"request_cost: callgrind counted no instructions:\n{done.stderr[-2000:]}")


def instructions_per_request(args: argparse.Namespace) -> None:
    """Run this script with N and 4N requests under ``perf stat`` (or, where perf cannot count
    instructions, under callgrind with a tenth of the requests); print the difference per
    request. The topic is created by a child process, which neither counts."""
    shape = ["--per-read", str(args.per_read), "--records", str(args.records)]
    shape += ["--record-size", str(args.record_size), "--partitions", str(args.partitions)]

    def command(requests: int) -> list[str]:
        return [sys.executable, __file__, "--repeat", "1", "--requests", str(requests), *shape]

    requests, tool = args.requests, "perf stat"
    low: int | None = _perf_count(command(requests))
    if low is not None:
        high = _perf_count(command(4 * requests))
        assert high is not None
    else:
        requests, tool = max(400, args.requests // 10), "callgrind"
        low, high = _callgrind_count(command(requests)), _callgrind_count(command(4 * requests))
    print(
        f"{(high - low) / (3 * requests):,.0f} instructions per request "
        f"({args.per_read} per read, {args.records} x {args.record_size} B records; {tool})"
    )


async def create_topic(port: int, topic: str, partitions: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "moldau", "topics", "create", topic, "--partitions", str(partitions)),
        *("--bootstrap-server", f"127.0.0.1:{port}"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await proc.wait() != 0:
        raise SystemExit(f"request_cost: could not create topic {topic}")


class InProcessBroker:
    """A real ``Server`` in this process (data under /dev/shm when it exists), one topic, and
    a ``KafkaConnection`` on a stub transport that requests are fed to as socket reads."""

    def __init__(self, name: str) -> None:
        shm = Path("/dev/shm")
        self.data = tempfile.mkdtemp(prefix=f"moldau-{name}-", dir=shm if shm.is_dir() else None)
        config = BrokerConfig.load(None, {"log.dirs": self.data, "listeners": "PLAINTEXT://127.0.0.1:0"})
        self.server = Server(config)
        self.transport = StubTransport()
        self.conn = KafkaConnection(self.server, "PLAINTEXT")

    async def __aenter__(self) -> InProcessBroker:
        await self.server.start()
        self.conn.connection_made(self.transport)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    async def create_topic(self, topic: str, partitions: int) -> None:
        await create_topic(self.server.bound[0].port, topic, partitions)

    def feed(self, data: bytes) -> None:
        """Deliver ``data`` as the socket would: into the buffers the connection hands out."""
        conn, pos = self.conn, 0
        while pos < len(data):
            buf = conn.get_buffer(-1)
            n = min(len(buf), len(data) - pos)
            buf[:n] = data[pos : pos + n]
            conn.buffer_updated(n)
            pos += n


async def main(args: argparse.Namespace) -> None:
    async with InProcessBroker("request-cost") as broker:
        await broker.create_topic("cost", args.partitions)
        frames = encode_requests("cost", args.partitions, args.records, args.record_size)
        per_read = args.per_read
        reads = [b"".join(frames[(i + j) % len(frames)] for j in range(per_read)) for i in range(len(frames))]

        def feed(count: int) -> None:
            for i in range(count):
                broker.feed(reads[i % len(reads)])

        reads_per_timing = args.requests // args.per_read
        feed(reads_per_timing // 10)  # warm-up: codecs compiled, indexes loaded
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(feed, reads_per_timing)
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
            return
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            feed(reads_per_timing)
            best = min(best, time.perf_counter() - started)
        handled = reads_per_timing * args.per_read
        print(
            f"{best / handled * 1e6:.2f} us per request (best of {args.repeat} x {handled} requests, "
            f"{args.per_read} per read, {args.records} x {args.record_size} B records)"
        )


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.instructions:
        instructions_per_request(arguments)
    else:
        asyncio.run(main(arguments))
