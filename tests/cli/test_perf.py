"""``moldau perf`` end to end: the real command line against a real broker.

Counts and the shape of the output only; never timings (the machines running this are shared).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import BrokerProcess, free_port

RUN_TIMEOUT = 90


def perf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moldau", "perf", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_produce_then_consume_counts_match(broker: BrokerProcess) -> None:
    common = ["--bootstrap-server", broker.bootstrap, "--topic", "perf-counts", "--output", "json"]
    produced = summary(
        perf("produce", *common, "--num-records", "3000", "--record-size", "200", "--partitions", "3")
    )
    assert produced["mode"] == "produce"
    assert produced["records"] == 3000
    assert produced["errors"] == 0
    assert produced["bytes"] == 3000 * 200
    assert produced["settings"]["partitions"] == 3
    latency = produced["latency_ms"]
    assert set(latency) == {"avg", "p50", "p95", "p99", "p99_9", "max"}
    assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["p99_9"] <= latency["max"]

    consumed = summary(perf("consume", *common))
    assert consumed["mode"] == "consume"
    assert consumed["records"] == 3000
    assert consumed["bytes"] == 3000 * 200
    assert consumed["latency_ms"] is None

    partial = summary(perf("consume", *common, "--num-records", "1000"))
    assert partial["records"] == 1000


def test_keyed_compressed_produce_with_several_connections(broker: BrokerProcess) -> None:
    result = perf(
        "produce",
        *("--bootstrap-server", broker.bootstrap, "--topic", "perf-keyed", "--output", "json"),
        *("--num-records", "2000", "--keys", "50", "--compression", "zstd", "--connections", "3"),
        *("--partitions", "4", "--linger-ms", "0", "--acks", "all"),
    )
    produced = summary(result)
    assert produced["records"] == 2000
    assert produced["settings"]["connections"] == 3
    consumed = summary(
        perf("consume", "--bootstrap-server", broker.bootstrap, "--topic", "perf-keyed", "--output", "json")
    )
    assert consumed["records"] == 2000


def test_latency_mode_receives_every_record(broker: BrokerProcess) -> None:
    result = perf(
        "latency",
        *("--bootstrap-server", broker.bootstrap, "--topic", "perf-latency", "--output", "json"),
        *("--num-records", "300", "--throughput", "1000", "--warmup-seconds", "0.1"),
    )
    measured = summary(result)
    assert measured["mode"] == "latency"
    assert measured["sent"] == 300
    assert measured["records"] == 300
    assert measured["latency_ms"]["max"] >= measured["latency_ms"]["p50"] > 0


def test_text_summary_and_progress(broker: BrokerProcess) -> None:
    result = perf(
        "produce",
        *("--bootstrap-server", broker.bootstrap, "--topic", "perf-text"),
        *("--num-records", "500", "--reporting-interval", "0"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("500 records sent in ")
    assert "latency ms: avg " in result.stdout
    assert "records sent, " in result.stderr  # progress lines


def test_unreachable_broker_is_one_line_and_nonzero() -> None:
    port = free_port()
    result = perf("produce", "--bootstrap-server", f"127.0.0.1:{port}", "--topic", "t", "--num-records", "1")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("moldau perf produce: ")
    assert f"127.0.0.1:{port}" in lines[0]
    assert result.stdout == ""


def test_consume_of_a_missing_topic_is_one_line(broker: BrokerProcess) -> None:
    result = perf("consume", "--bootstrap-server", broker.bootstrap, "--topic", "no-such-topic")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no-such-topic" in lines[0]
