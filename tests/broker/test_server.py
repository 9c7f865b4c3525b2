"""The server's own rules, through real sockets: start-up config errors, max.connections,
idle connections, graceful stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import BrokerFactory, api_versions_probe


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "moldau", "serve", "--data-dir", str(tmp_path / "d"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_unknown_config_key_stops_startup_naming_it(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--override", "num.partitons=3")
    assert result.returncode == 2
    assert "num.partitons" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_value_stops_startup_naming_it(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--override", "num.partitions=many")
    assert result.returncode == 2
    assert "num.partitions" in result.stderr and "many" in result.stderr


def test_config_file_errors_name_the_key(tmp_path: Path) -> None:
    props = tmp_path / "server.properties"
    props.write_text("# a comment\nlog.retention.hours=24\nauto.create.topics.enable=maybe\n")
    result = _serve(tmp_path, "--config", str(props))
    assert result.returncode == 2
    assert "auto.create.topics.enable" in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--config", str(tmp_path / "nope.properties"))
    assert result.returncode == 2
    assert "nope.properties" in result.stderr and "Traceback" not in result.stderr


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_max_connections_refuses_the_extra_one(broker_factory: BrokerFactory) -> None:
    broker = broker_factory({"max.connections": "3"})
    # The readiness probe's connection is gone; hold three open.
    held = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(3)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", broker.port))
    assert _closed_by_peer(extra, 5.0)
    for s in held:
        s.close()
    time.sleep(0.2)
    assert api_versions_probe("127.0.0.1", broker.port)[0] == (0, 12)


def test_idle_connections_are_closed(broker_factory: BrokerFactory) -> None:
    broker = broker_factory({"connections.max.idle.ms": "400"})
    idle = socket.create_connection(("127.0.0.1", broker.port))
    assert _closed_by_peer(idle, 5.0)
    assert "closing idle connection" in broker.current_log()


def test_sigterm_stops_cleanly_and_next_start_reads_a_clean_log(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    assert broker.stop() == 0
    assert "shut down cleanly" in broker.current_log()
    assert (broker.data_dir / ".kafka_cleanshutdown").exists()
    broker.start()
    assert "unclean" not in broker.current_log()
