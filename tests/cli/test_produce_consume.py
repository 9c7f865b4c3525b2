"""``moldau produce`` and ``moldau consume`` end to end against a live broker."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from tests.cli.helpers import MOLDAU, Cli
from tests.conftest import BrokerProcess


@pytest.fixture
def cli(shared_broker: BrokerProcess) -> Cli:
    return Cli(shared_broker.bootstrap)


def latest_offsets(cli: Cli, topic: str) -> list[int]:
    return [p["latest_offset"] for p in cli.json("topics", "describe", topic)["partitions"]]


def test_keys_headers_and_every_print_option(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "1")
    cli(
        "produce", topic_name, "--key-separator", ":", "--header", "trace=t1", "--header", "app=cli",
        input="k1:v1\nk2:v2:with:colons\n:empty-key\n",
    )  # fmt: skip
    out = cli(
        "consume", topic_name, "--from-beginning", "--max-messages", "3",
        "--print-key", "--print-headers", "--print-offset", "--print-partition", "--print-timestamp",
    )  # fmt: skip
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[1:] for line in lines] == [
        ["Partition:0", "Offset:0", "trace:t1,app:cli", "k1", "v1"],
        ["Partition:0", "Offset:1", "trace:t1,app:cli", "k2", "v2:with:colons"],
        ["Partition:0", "Offset:2", "trace:t1,app:cli", "", "empty-key"],
    ]
    assert all(line[0].startswith("CreateTime:") for line in lines)

    plain = cli("consume", topic_name, "--from-beginning", "--max-messages", "3")
    assert plain.splitlines() == ["v1", "v2:with:colons", "empty-key"]

    templated = cli(
        "consume", topic_name, "--from-beginning", "--max-messages", "2",
        "--format", r"{topic}/{partition}:{offset}\t{key}={value} [{headers}]",
    )  # fmt: skip
    assert templated.splitlines() == [
        f"{topic_name}/0:0\tk1=v1 [trace:t1,app:cli]",
        f"{topic_name}/0:1\tk2=v2:with:colons [trace:t1,app:cli]",
    ]

    out = cli("consume", topic_name, "--from-beginning", "--max-messages", "1", "--output", "json")
    records = [json.loads(line) for line in out.splitlines()]
    assert records == [
        {
            "topic": topic_name,
            "partition": 0,
            "offset": 0,
            "timestamp": records[0]["timestamp"],
            "key": "k1",
            "value": "v1",
            "headers": [["trace", "t1"], ["app", "cli"]],
        }
    ]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression(cli: Cli, topic_name: str, codec: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "1")
    lines = [f"record {i} " + "x" * (i % 50) for i in range(200)]
    cli("produce", topic_name, "--compression", codec, "--acks", "1", input="\n".join(lines) + "\n")
    out = cli("consume", topic_name, "--from-beginning", "--max-messages", "200")
    assert out.splitlines() == lines


def test_partitions_and_start_positions(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "2")
    cli("produce", topic_name, "--partition", "0", input="a\nb\nc\n")
    cli("produce", topic_name, "--partition", "1", input="d\ne\n")
    assert latest_offsets(cli, topic_name) == [3, 2]

    def consume(*args: str) -> list[str]:
        return cli("consume", topic_name, *args).splitlines()

    assert consume("--partition", "1", "--from-beginning", "--max-messages", "2") == ["d", "e"]
    assert consume("--partition", "0", "--offset", "1", "--max-messages", "2") == ["b", "c"]
    assert sorted(consume("--from-time", "2000-01-01T00:00:00Z", "--max-messages", "5")) == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
    # --timeout-ms ends the wait when nothing (more) comes.
    assert consume("--partition", "0", "--offset", "2", "--timeout-ms", "500") == ["c"]
    assert consume("--from-time", "2999-01-01T00:00:00Z", "--timeout-ms", "500") == []
    # Without a start option, only records that arrive from now on.
    assert consume("--timeout-ms", "500") == []


def test_file_input_with_progress(cli: Cli, topic_name: str, tmp_path: Path) -> None:
    cli("topics", "create", topic_name, "--partitions", "3")
    path = tmp_path / "records.txt"
    path.write_text("".join(f"key{i}|value{i}\n" for i in range(5000)))
    result = cli.run("produce", topic_name, "--file", str(path), "--key-separator", "|", "--progress")
    assert result.returncode == 0, result.stderr
    assert f"5000 records delivered to {topic_name}" in result.stderr
    assert sum(latest_offsets(cli, topic_name)) == 5000


def test_failed_records_are_reported(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "1")
    result = cli.run("produce", topic_name, "--key-separator", "=", input="a=1\nno separator\nb=2\n")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "moldau produce: line 2: no key separator '='",
        "moldau produce: 1 of 3 records failed",
    ]
    assert latest_offsets(cli, topic_name) == [2]


def test_follows_new_records_until_interrupted(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "1")
    cli("produce", topic_name, input="first\n")
    proc = subprocess.Popen(
        [str(MOLDAU), "consume", topic_name, "--from-beginning", "--bootstrap-server", cli.bootstrap],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Whoever started the test run may ignore SIGINT (a background job); the consumer should not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        assert lines.get(timeout=30) == "first\n"
        cli("produce", topic_name, input="second\nthird\n")
        assert lines.get(timeout=30) == "second\n"
        assert lines.get(timeout=30) == "third\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
