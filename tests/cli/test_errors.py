"""Failures are one line on stderr with a non-zero exit code, never a traceback."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.cli.helpers import MOLDAU, Cli, assert_one_line_error, assert_usage_error, run_moldau
from tests.conftest import BrokerProcess, free_port


@pytest.fixture
def cli(shared_broker: BrokerProcess) -> Cli:
    return Cli(shared_broker.bootstrap)


UNKNOWN_TOPIC_COMMANDS = [
    ["topics", "describe", "{t}"],
    ["topics", "alter", "{t}", "--config", "retention.ms=1000"],
    ["topics", "delete", "{t}"],
    ["produce", "{t}"],
    ["consume", "{t}", "--max-messages", "1"],
    ["consume", "{t}", "--group", "g", "--max-messages", "1"],
    ["configs", "describe", "--topic", "{t}"],
    ["configs", "alter", "--topic", "{t}", "--set", "retention.ms=1000"],
    ["groups", "reset-offsets", "g", "--topic", "{t}", "--to-earliest"],
]


def test_unknown_topic(cli: Cli, topic_name: str) -> None:
    procs = [
        subprocess.Popen(
            [str(MOLDAU), *(a.format(t=topic_name) for a in args), "--bootstrap-server", cli.bootstrap],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in UNKNOWN_TOPIC_COMMANDS
    ]
    for args, proc in zip(UNKNOWN_TOPIC_COMMANDS, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=60)
        result = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
        line = assert_one_line_error(result, f"unknown topic '{topic_name}'")
        assert line.startswith(f"moldau {args[0]}"), line
    # Nothing was created by asking.
    assert topic_name not in cli("topics", "list")


def test_unknown_group(cli: Cli) -> None:
    assert_one_line_error(cli.run("groups", "describe", "no-such-group"), "unknown group 'no-such-group'")
    assert_one_line_error(cli.run("groups", "delete", "no-such-group"), "unknown group 'no-such-group'")


UNREACHABLE_COMMANDS = [
    ["topics", "list"],
    ["topics", "describe", "t"],
    ["topics", "create", "t"],
    ["produce", "t"],
    ["consume", "t"],
    ["groups", "list"],
    ["groups", "describe", "g"],
    ["configs", "describe", "--broker", "1"],
    ["cluster", "describe"],
]


def test_unreachable_broker() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [str(MOLDAU), *args, "--bootstrap-server", bootstrap],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in UNREACHABLE_COMMANDS
    ]
    for args, proc in zip(UNREACHABLE_COMMANDS, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=60)
        result = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
        assert_one_line_error(result, f"cannot reach broker at {bootstrap}", "Connection refused")
        assert stdout == ""
    # A refused connection is reported within seconds, not after librdkafka's long timeouts.
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["topics", "frobnicate"], "invalid choice"),
        (["topics", "create"], "NAME"),
        (["topics", "create", "t", "--partitions", "0"], "--partitions"),
        (["topics", "create", "t", "--config", "retention.ms"], "KEY=VALUE"),
        (["topics", "alter", "t"], "nothing to alter"),
        (["configs", "alter", "--topic", "t", "--set", "a=1", "--delete", "a"], "both set and deleted"),
        (["configs", "describe"], "--topic"),
        (["produce", "t", "--compression", "brotli"], "--compression"),
        (["consume", "t", "--format", "{nope}"], "unknown field {nope}"),
        (["consume", "t", "--from-time", "yesterday"], "ISO 8601"),
        (["consume", "t", "--from-beginning", "--offset", "3"], "not allowed with"),
        (["consume", "t", "--group", "g", "--partition", "0"], "cannot be used with --group"),
        (["groups", "reset-offsets", "g", "--topic", "t"], "required"),
        (["groups", "reset-offsets", "g", "--topic", "t", "--by-duration", "10M"], "ISO 8601 duration"),
        (["groups", "reset-offsets", "g", "--topic", "t:x", "--to-earliest"], "partition numbers"),
    ],
)
def test_bad_arguments(args: list[str], fragment: str) -> None:
    # None of these needs a broker: they are refused before connecting.
    assert_usage_error(run_moldau(*args, "--bootstrap-server", "127.0.0.1:1"), fragment)
