"""Shared fixtures: a real ``moldau serve`` process on a free port.

``BrokerProcess`` runs the broker exactly as a user would (``python -m moldau serve``), captures
its stderr to a file so tests can assert on log lines, and knows three ways to stop it: a clean
SIGTERM (``stop``), a crash (``kill``, SIGKILL) and ``restart`` on the same data directory and
port. Readiness is judged the way a client would: the port answers an ApiVersions v0 request.

Fixtures:

* ``broker``: a fresh broker per test, data directory under ``tmp_path``.
* ``broker_factory``: call it with broker config overrides to get more brokers, all stopped
  at teardown.
* ``module_broker``: one broker for the tests of one module.
* ``shared_broker``: one broker for the whole session, for tests that only need topics of
  their own; pair it with ``topic_name`` for a unique topic per test.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests explore the same examples on every run, so CI results do not depend on luck;
# widen a search locally with a larger max_examples or another seed (--hypothesis-seed).
settings.register_profile("moldau", derandomize=True)
settings.load_profile("moldau")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

_API_VERSIONS_KEY = 18


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def api_versions_probe(host: str, port: int, timeout: float = 2.0) -> dict[int, tuple[int, int]]:
    """Send ApiVersions v0 on a new connection; return {api_key: (min, max)}.

    Raises OSError (or ConnectionError) if the port does not answer a well-formed response.
    """
    correlation_id = 0x5EED
    client_id = b"moldau-tests"
    header = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(header)) + header)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        body = _recv_exact(sock, size)
    got_correlation, error_code, count = struct.unpack_from(">ihi", body, 0)
    if got_correlation != correlation_id:
        raise ConnectionError(f"ApiVersions answered with correlation id {got_correlation}")
    if error_code != 0:
        raise ConnectionError(f"ApiVersions v0 answered with error code {error_code}")
    apis = {}
    for i in range(count):
        key, lo, hi = struct.unpack_from(">hhh", body, 10 + 6 * i)
        apis[key] = (lo, hi)
    return apis


class BrokerNotReady(RuntimeError):
    pass


class BrokerProcess:
    """One ``moldau serve`` process bound to ``127.0.0.1:port`` over ``data_dir``.

    Stderr (and stdout) of every run is appended to ``log_path``; ``log_text()`` reads it all
    and ``current_log()`` only the part written since the latest ``start()``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        overrides: dict[str, str] | None = None,
        log_path: Path | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args or [])  # more ``moldau serve`` options
        self.port = port if port is not None else free_port()
        self.overrides = dict(overrides or {})
        self.log_path = log_path if log_path is not None else self.data_dir.parent / f"broker-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "moldau",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listeners",
            f"PLAINTEXT://127.0.0.1:{self.port}",
        ]
        for key, value in self.overrides.items():
            cmd += ["--override", f"{key}={value}"]
        return cmd + self.args

    def start(self, timeout: float = START_TIMEOUT) -> BrokerProcess:
        if self.running:
            raise RuntimeError("broker is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise BrokerNotReady(
                    f"broker exited with code {self.proc.returncode} before answering ApiVersions "
                    f"on {self.bootstrap}\n--- broker stderr ---\n{self.current_log()}"
                )
            try:
                api_versions_probe("127.0.0.1", self.port, timeout=1.0)
                return
            except OSError as e:
                last_error = e
            time.sleep(0.05)
        log = self.current_log()
        self.kill()
        raise BrokerNotReady(
            f"broker did not answer ApiVersions on {self.bootstrap} within {timeout:.0f} s "
            f"(last error: {last_error!r})\n--- broker stderr ---\n{log}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code. Kills and raises if it does not exit in time."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(
                    f"broker did not exit within {timeout:.0f} s of SIGTERM\n"
                    f"--- broker stderr ---\n{self.current_log()}"
                ) from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: the broker gets no chance to flush or close anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float = START_TIMEOUT) -> BrokerProcess:
        """Clean stop (if running), then start again on the same port and data directory."""
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def current_log(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", "replace")

    def __enter__(self) -> BrokerProcess:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Teardown: clean stop, falling back to SIGKILL."""
        try:
            self.stop()
        except RuntimeError:
            pass
        finally:
            self.kill()


BrokerFactory = Callable[..., BrokerProcess]


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """``broker_factory(overrides={...}, args=[...])`` starts a fresh broker (``args``: more
    ``moldau serve`` options); all are stopped at teardown."""
    started: list[BrokerProcess] = []

    def make(
        overrides: dict[str, str] | None = None, name: str | None = None, args: list[str] | None = None
    ) -> BrokerProcess:
        name = name or f"broker{len(started)}"
        b = BrokerProcess(
            tmp_path / name / "data",
            overrides=overrides,
            log_path=tmp_path / name / "stderr.log",
            args=args,
        )
        started.append(b)
        return b.start()

    yield make
    for b in started:
        b.close()


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> BrokerProcess:
    """A fresh broker for this test only."""
    return broker_factory()


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker shared by one test module only (so a crash stays inside that module)."""
    root = tmp_path_factory.mktemp("module-broker")
    b = BrokerProcess(root / "data", log_path=root / "stderr.log")
    b.start()
    yield b
    b.close()


@pytest.fixture(scope="session")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for the session; tests must use topics of their own (see ``topic_name``)."""
    root = tmp_path_factory.mktemp("shared-broker")
    b = BrokerProcess(root / "data", log_path=root / "stderr.log")
    b.start()
    yield b
    b.close()


_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test: its name, made topic-safe, plus a short uuid."""
    base = _TOPIC_UNSAFE.sub("-", request.node.name).strip("-")[:80]
    return f"{base}-{uuid.uuid4().hex[:8]}"
